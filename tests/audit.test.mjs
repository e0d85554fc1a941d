// The audit log end to end: real flows against the Worker in workerd write their events to
// D1, each row with a truncated IP and the request id of the Worker's log line and never a
// secret; the account page shows a person their own events; `npm run audit` shows them to
// the operator (as a table, or as CSV or JSON lines like the console's downloads); the
// cron trigger deletes rows past the retention period.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { localState, startWorker } from "./helpers/worker.mjs";
import { runNode } from "./helpers/process.mjs";
import { approve, authorizeUrl, Browser, createUser, formFields, fullFlow, pkcePair, publicClient, token } from "./helpers/oauth.mjs";
import { mcpPost } from "./helpers/mcp.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let dir, w, alice, bob;
const secrets = [];

const audit = (...args) => runNode(join(ROOT, "scripts", "audit.mjs"), [...args, "--persist-to", dir], { cwd: ROOT });
const rows = async (where = "1 = 1", ...binds) =>
  (await w.db.prepare(`SELECT * FROM audit_events WHERE ${where} ORDER BY id`).bind(...binds).all()).results;

before(async () => {
  dir = await localState("audit-");
  w = await startWorker({ persistTo: dir, bindings: { LOGIN_MAX_FAILURES: "3" } });
  alice = await createUser(w.db, "alice@example.com", "alice-password-1", "Alice");
  bob = await createUser(w.db, "bob@example.com", "bob-password-12", "Bob");
  secrets.push(alice.password, bob.password);
});
after(async () => {
  await w?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("registration, sign-in, consent, code, refresh, reuse and revocation are recorded", async () => {
  const reg = await fetch(w.url + "/register", {
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": "203.0.113.77" },
    body: JSON.stringify({ client_name: "Audit App", redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none" }),
  });
  assert.equal(reg.status, 201);
  const client = await reg.json();
  const [registered] = await rows("event = 'client_registered' AND client_id = ?", client.client_id);
  assert.equal(registered.ip, "203.0.113.0/24");
  assert.equal(registered.detail, "Audit App");
  assert.equal(registered.outcome, "ok");
  assert.ok(w.logs.some((l) => l.includes(`[${registered.request_id}] POST /register 201`)), "the request id is in the log line");

  const flow = await fullFlow(w.url, alice, { client });
  assert.equal(flow.status, 200);
  secrets.push(flow.code, flow.tokens.access_token, flow.tokens.refresh_token, flow.verifier);
  const r1 = await token(w.url, { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token, client_id: client.client_id });
  assert.equal(r1.status, 200);
  const r2 = await token(w.url, { grant_type: "refresh_token", refresh_token: r1.body.refresh_token, client_id: client.client_id });
  assert.equal(r2.status, 200);
  secrets.push(r1.body.refresh_token, r2.body.refresh_token, r1.body.access_token);
  // The first refresh token again, after its successor was used: reuse.
  const reuse = await token(w.url, { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token, client_id: client.client_id });
  assert.equal(reuse.body.error, "invalid_grant");

  // A second app, so its grant is not the one the reuse above revoked a moment ago.
  const other = await publicClient(w.url, "https://app.example/cb");
  const flow2 = await fullFlow(w.url, alice, { client: other });
  secrets.push(flow2.code, flow2.tokens.refresh_token);
  const revoked = await fetch(w.url + "/revoke", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: flow2.tokens.refresh_token, client_id: other.client_id }),
  });
  assert.equal(revoked.status, 200);
  // A replayed code.
  const replay = await token(w.url, { grant_type: "authorization_code", code: flow2.code, code_verifier: flow2.verifier, client_id: other.client_id, redirect_uri: "https://app.example/cb" });
  assert.equal(replay.body.error, "invalid_grant");

  const events = (await rows("user_id = ? AND client_id IN (?, ?)", alice.id, client.client_id, other.client_id)).map((r) => `${r.event}:${r.outcome}`);
  for (const e of ["consent_given:ok", "code_issued:ok", "code_redeemed:ok", "refresh:ok", "refresh_reuse:failed", "revocation:ok", "code_reuse:failed"]) {
    assert.ok(events.includes(e), `${e} in ${events.join(", ")}`);
  }
  assert.equal(events.filter((e) => e === "refresh:ok").length, 2);
  assert.ok((await rows("event = 'sign_in' AND user_id = ?", alice.id)).length >= 1);
});

test("personal tokens: created, used at most once a minute, revoked", async () => {
  const browser = new Browser();
  const fields = formFields(await (await browser.get(w.url + "/account")).text());
  const signIn = await browser.post(w.url + "/account", { ...fields, action: "signin", email: alice.email, password: alice.password });
  assert.equal(signIn.status, 303);
  const page = formFields(await (await browser.get(w.url + "/account")).text());
  const created = await (await browser.post(w.url + "/account", { ...page, action: "create_token", token_name: "CI", token_scope: "mcp:read", token_expires: "7", token_password: alice.password })).text();
  const pat = /value="(mcp_pat_[^"]+)"/.exec(created)[1];
  secrets.push(pat);
  for (let i = 0; i < 3; i++) {
    const res = await mcpPost(w.url, pat, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }, { "MCP-Protocol-Version": "2025-06-18" });
    assert.notEqual(res.status, 401);
  }
  assert.equal((await rows("event = 'token_used' AND user_id = ?", alice.id)).length, 1, "one row a minute");
  const id = (await w.db.prepare("SELECT id FROM personal_tokens WHERE user_id = ?").bind(alice.id).first()).id;
  await browser.post(w.url + "/account", { ...page, action: "revoke_token", token_id: id });
  const events = (await rows("user_id = ? AND event LIKE 'token_%'", alice.id)).map((r) => `${r.event}:${r.detail}`);
  assert.deepEqual(events, ["token_created:CI", `token_used:${id}`, "token_revoked:CI"]);

  // The account page shows Alice her own events, and none of Bob's.
  const html = await (await browser.get(w.url + "/account")).text();
  const activity = html.slice(html.indexOf('id="activity"'));
  assert.match(activity, /Personal access token revoked/);
  assert.match(activity, /App connected<\/strong> · Audit App/);
  assert.match(activity, /class="failed"><time[^>]*>[^<]*<\/time> <strong>Reused refresh token/);
  assert.doesNotMatch(activity, /Declined an app/, "Bob's events are not Alice's");
});

// Last of the page tests: the lockout pauses this network's sign-ins.
test("a declined consent, failed sign-ins and a lockout are recorded without the password", async () => {
  const client = await publicClient(w.url, "https://app.example/cb");
  const { challenge } = pkcePair();
  const denied = await approve(w.url, new Browser(), authorizeUrl(w.url, client, { challenge }), bob, "deny");
  assert.equal(denied.status, 302);
  assert.equal((await rows("event = 'consent_denied' AND user_id = ?", bob.id)).length, 1);

  const browser = new Browser();
  const fields = formFields(await (await browser.get(w.url + "/account")).text());
  for (let i = 0; i < 3; i++) {
    await browser.post(w.url + "/account", { ...fields, action: "signin", email: bob.email, password: "wrong-password-" + i });
  }
  const failed = await rows("user_id = ? AND event IN ('sign_in_failed', 'lockout')", bob.id);
  assert.deepEqual(failed.map((r) => r.event), ["sign_in_failed", "sign_in_failed", "lockout"]);
  assert.ok(failed.every((r) => r.outcome === "failed" && r.detail === "wrong password"));
  const unknown = await browser.post(w.url + "/account", { ...fields, action: "signin", email: "nobody@example.com", password: "whatever-pass" });
  assert.equal(unknown.status, 429, "the network is paused too");
  const all = JSON.stringify(await rows());
  for (const s of ["wrong-password-0", "whatever-pass", ...secrets]) assert.ok(!all.includes(s), "no secret in the log");
});

test("npm run audit shows the operator the log, with filters and clear errors", async () => {
  const r = await audit("--user", "bob@example.com", "--since", "1h");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /TIME\s+EVENT\s+OUTCOME\s+USER/);
  assert.match(r.stdout, /lockout\s+failed\s+bob@example\.com/);
  assert.doesNotMatch(r.stdout, /alice@example\.com/);
  const only = await audit("--event", "refresh_reuse");
  assert.equal(only.code, 0, only.stderr);
  assert.match(only.stdout, /1 event$/m);
  for (const [args, says] of [
    [["--since", "yesterday"], /--since must be/],
    [["--limit", "0"], /--limit must be/],
    [["--event", "DROP TABLE"], /Not an event name/],
    [["--frob"], /Unknown option/],
  ]) {
    const bad = await audit(...args);
    assert.equal(bad.code, args[0] === "--frob" ? 2 : 1, args.join(" "));
    assert.match(bad.stderr, says);
  }
});

test("the cron trigger deletes rows older than the retention period", async () => {
  const old = Math.floor(Date.now() / 1000) - 91 * 86_400;
  await w.db.prepare("INSERT INTO audit_events (at, event, outcome, request_id) VALUES (?, 'sign_in', 'ok', 'old')").bind(old).run();
  await w.db.prepare("INSERT INTO audit_events (at, event, outcome, request_id) VALUES (?, 'sign_in', 'ok', 'recent')").bind(old + 2 * 86_400).run();
  const before = (await rows()).length;
  const worker = await w.mf.getWorker();
  await worker.scheduled({ cron: "17 3 * * *" });
  assert.equal((await rows("request_id = 'old'")).length, 0);
  assert.equal((await rows("request_id = 'recent'")).length, 1);
  assert.equal((await rows()).length, before - 1);
  assert.ok(w.logs.some((l) => /cron: deleted 1 audit rows older than 90 days/.test(l)));
});

test("every request an audit row names is in the Worker's log; quiet successes at /mcp are not, failures always are", async (t) => {
  // A Worker of its own: the tests above lock this network out of signing in.
  const w = await startWorker();
  t.after(() => w.stop());
  const bob = await createUser(w.db, "bob@example.com", "bob-password-12", "Bob");
  const rows = async (where, ...binds) => (await w.db.prepare(`SELECT * FROM audit_events WHERE ${where} ORDER BY id`).bind(...binds).all()).results;
  const flow = await fullFlow(w.url, bob);
  const refresh = await token(w.url, { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token, client_id: flow.client.client_id });
  assert.equal(refresh.status, 200);
  const [renewed] = (await rows("event = 'refresh' AND client_id = ?", flow.client.client_id)).slice(-1);
  assert.ok(w.logs.some((l) => l.includes(`[${renewed.request_id}] POST /token 200`)), "the audited refresh has its line");
  const before = w.logs.length;
  const list = await mcpPost(w.url, flow.tokens.access_token, { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } }, { "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list" });
  assert.equal(list.status, 200, list.text);
  const meta = await fetch(w.url + "/.well-known/oauth-authorization-server");
  assert.equal(meta.status, 200);
  assert.deepEqual(w.logs.slice(before).filter((l) => / (POST \/mcp|GET \/\.well-known\/oauth-authorization-server) 200$/.test(l)), [], "no line for a quiet success");
  const refused = await mcpPost(w.url, "not-a-token", { jsonrpc: "2.0", id: 1, method: "tools/list" });
  assert.equal(refused.status, 401);
  assert.ok(w.logs.slice(before).some((l) => / POST \/mcp 401$/.test(l)), "a failure is always logged");
});

// ---- npm run audit -- --format csv|jsonl, --app -----------------------------------------

/**
 * Parses CSV as RFC 4180 writes it, with every record ending CRLF: returns the records
 * (arrays of fields) and fails on a bare line feed or carriage return outside quotes.
 */
function parseCsv(text) {
  const records = [];
  let record = [];
  let field = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"' && field === "") {
      // A quoted field: up to the closing quote; "" is a quote.
      i++;
      for (;;) {
        assert.ok(i < text.length, "an unclosed quote");
        if (text[i] === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
        if (text[i] === '"') { i++; break; }
        field += text[i++];
      }
      assert.ok([",", "\r"].includes(text[i]), `a quoted field followed by ${JSON.stringify(text[i])}`);
      continue;
    }
    if (text[i] === ",") { record.push(field); field = ""; i++; continue; }
    if (text[i] === "\r") {
      assert.equal(text[i + 1], "\n", "a carriage return outside quotes that does not end a line");
      record.push(field);
      records.push(record);
      record = [];
      field = "";
      i += 2;
      continue;
    }
    assert.notEqual(text[i], "\n", "a bare line feed ends a line");
    assert.notEqual(text[i], '"', "a quote inside an unquoted field");
    field += text[i++];
  }
  assert.equal(field + record.join(""), "", "the last line ends CRLF");
  return records;
}

/** What the console's CSV writes for a value: ' before a formula, "" for none. */
const defused = (v) => (v === null ? "" : /^[=+\-@\t\r]/.test(v) ? `'${v}` : v);

test("npm run audit --format csv and jsonl write the rows the log holds, and nothing else; --app keeps one app's", async () => {
  const app = "https://csv-" + randomBytes(4).toString("hex") + ".example/app.json";
  const other = "other-app-" + randomBytes(4).toString("hex");
  const day = 1_796_601_600; // 2026-12-07T00:00:00Z
  const details = ['=HYPERLINK("x"),1', "-1", "+1", "@SUM(A1)", "\tTab", "\rCarriage", "a\nb, \"quoted\"", "plain", "x=1", null, "\u00fcn\u00efc\u00f6d\u00e9, \u202e text"];
  const insert = (at, event, outcome, user, client, ip, request, detail) =>
    w.db.prepare("INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(at, event, outcome, user, client, ip, request, detail).run();
  for (const [i, detail] of details.entries()) {
    await insert(day + i, i % 2 ? "sign_in_failed" : "consent_given", i % 2 ? "failed" : "ok", i % 3 === 2 ? null : alice.id, app, i % 4 ? "203.0.113.0/24" : null, `req-${i}`, detail);
  }
  await insert(day + 3, "consent_given", "ok", "no-such-user", app, null, "req-gone", "=1+1");
  await insert(day + 5, "consent_given", "ok", alice.id, other, "198.51.100.0/24", "req-other", "other app");
  // What the log holds for the app, as the command sorts it: newest first.
  const held = (
    await w.db.prepare(
      "SELECT a.at, a.event, a.outcome, u.email, a.user_id, a.client_id, a.ip, a.request_id, a.detail FROM audit_events a " +
        "LEFT JOIN users u ON u.id = a.user_id WHERE a.client_id = ? ORDER BY a.at DESC, a.id DESC",
    ).bind(app).all()
  ).results;
  assert.equal(held.length, details.length + 1);
  const iso = (at) => new Date(at * 1000).toISOString().replace(".000Z", "Z");
  const since = ["--since", "999999d"];

  const csv = await audit("--app", app, "--format", "csv", ...since, "--limit", "10000");
  assert.equal(csv.code, 0, csv.stderr);
  assert.equal(csv.stderr, "");
  assert.ok(csv.stdout.startsWith("time,event,outcome,email,user_id,client_id,ip,request_id,detail\r\n"), csv.stdout.slice(0, 100));
  assert.doesNotMatch(csv.stdout, /\d+ events?\s*$/, "no count line");
  const [header, ...records] = parseCsv(csv.stdout);
  assert.deepEqual(header, ["time", "event", "outcome", "email", "user_id", "client_id", "ip", "request_id", "detail"]);
  assert.deepEqual(
    records,
    held.map((r) => [iso(r.at), r.event, r.outcome, r.email, r.user_id, r.client_id, r.ip, r.request_id, r.detail].map(defused)),
  );
  // As src/audit_export.rs's own test writes it.
  assert.ok(
    csv.stdout.includes(`\r\n2026-12-07T00:00:00Z,consent_given,ok,alice@example.com,${alice.id},${app},,req-0,"'=HYPERLINK(""x""),1"\r\n`),
    csv.stdout,
  );
  for (const cell of ["'-1", "'+1", "'@SUM(A1)", "'\tTab", "'=1+1", ",x=1\r\n", '"a\nb, ""quoted"""', '"\'\rCarriage"']) {
    assert.ok(csv.stdout.includes(cell), `${JSON.stringify(cell)} in ${JSON.stringify(csv.stdout)}`);
  }
  assert.ok(!csv.stdout.includes(other), "--app keeps only that app's events");

  const jsonl = await audit("--app", app, "--format", "jsonl", ...since);
  assert.equal(jsonl.code, 0, jsonl.stderr);
  assert.ok(jsonl.stdout.endsWith("}\n"));
  const objects = jsonl.stdout.slice(0, -1).split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(
    objects,
    held.map((r) => ({ time: iso(r.at), at: r.at, event: r.event, outcome: r.outcome, email: r.email, user_id: r.user_id, client_id: r.client_id, ip: r.ip, request_id: r.request_id, detail: r.detail })),
  );
  assert.equal(objects.at(-1).time, "2026-12-07T00:00:00Z");
  assert.deepEqual(Object.keys(objects[0]), ["time", "at", "event", "outcome", "email", "user_id", "client_id", "ip", "request_id", "detail"]);
  assert.ok(objects.some((o) => o.email === null && o.user_id === "no-such-user"), "a user gone from users: no email");
  assert.ok(objects.some((o) => o.detail === null) && objects.some((o) => o.ip === null), "null when absent");

  // --app with the other filters and --limit, in each format; the table as before.
  const two = await audit("--app", app, "--event", "sign_in_failed", "--user", "Alice@Example.com", "--limit", "2", "--format", "jsonl", ...since);
  assert.equal(two.code, 0, two.stderr);
  const expected = held.filter((r) => r.event === "sign_in_failed" && r.email === "alice@example.com").slice(0, 2).map((r) => r.request_id);
  assert.equal(expected.length, 2);
  assert.deepEqual(two.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).request_id), expected);
  const table = await audit("--app", other, ...since);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^TIME\s+EVENT\s+OUTCOME\s+USER\s+CLIENT/);
  assert.match(table.stdout, /consent_given\s+ok\s+alice@example\.com\s+other-app-\S+\s+198\.51\.100\.0\/24\s+req-other\s+other app\n1 event\n$/);
  assert.equal((await audit("--app", other, "--format", "table", ...since)).stdout, table.stdout, "--format table is the default");

  // Nothing matches: the header alone, or nothing at all.
  const nothing = ["--app", "no-such-app", ...since];
  assert.equal((await audit(...nothing, "--format", "csv")).stdout, "time,event,outcome,email,user_id,client_id,ip,request_id,detail\r\n");
  assert.equal((await audit(...nothing, "--format", "jsonl")).stdout, "");
  assert.equal((await audit(...nothing)).stdout, "No events match.\n");

  for (const [args, code, says] of [
    [["--format", "xml"], 1, /--format must be table, csv or jsonl; got xml\./],
    [["--format"], 2, /--format needs a value/],
    [["--format", "csv", "--format", "jsonl"], 2, /--format was given twice/],
    [["--app", "a\nb"], 1, /--app takes an app's client ID/],
    [["--app", "x".repeat(2049)], 1, /--app takes an app's client ID/],
    [["--app"], 2, /--app needs a value/],
  ]) {
    const bad = await audit(...args);
    assert.equal(bad.code, code, args.join(" "));
    assert.match(bad.stderr, says, args.join(" "));
    assert.equal(bad.stdout, "", args.join(" "));
  }
});
