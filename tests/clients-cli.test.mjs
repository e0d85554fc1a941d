// Pre-registered clients end to end: `npm run client` writes to wrangler's local D1 and KV,
// and the Worker (in workerd, on that same state, with dynamic registration turned off)
// runs the whole authorization-code flow for them: a confidential client with its secret,
// a public one with PKCE. Rotating the secret and removing the client take effect at
// /token at once. `hosts` sets the rules for the hosts of client ID metadata documents
// (served to the Worker by `documents` below), which the Worker follows at /authorize.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { localState, startWorker } from "./helpers/worker.mjs";
import { runNode } from "./helpers/process.mjs";
import { approve, authorizeUrl, Browser, createUser, pkcePair, register, token } from "./helpers/oauth.mjs";
import { mcpPost } from "./helpers/mcp.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CHATGPT = "https://chatgpt.com/connector_platform_oauth_redirect";
let dir, w, ann;

const cli = (...args) => runNode(join(ROOT, "scripts", "client.mjs"), [...args, "--persist-to", dir], { cwd: ROOT });

// The Worker's outbound fetch: any URL answers with a client ID metadata document naming
// it, sending people back to https://<its host>/cb. `fetched` lists the URLs asked for.
const fetched = [];
function documents(req) {
  fetched.push(req.url);
  const u = new URL(req.url);
  const doc = { client_id: req.url, client_name: "Doc App " + u.host, redirect_uris: [`https://${u.host}/cb`], token_endpoint_auth_method: "none" };
  return new Response(JSON.stringify(doc), { headers: { "Content-Type": "application/json", "Cache-Control": "max-age=300" } });
}

before(async () => {
  dir = await localState("clients-");
  w = await startWorker({ persistTo: dir, bindings: { DYNAMIC_REGISTRATION: "off" }, outbound: documents });
  ann = await createUser(w.db, "ann@example.com", "ann-password-1", "Ann");
});
after(async () => {
  await w?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function add(...args) {
  const r = await cli("add", ...args);
  assert.equal(r.code, 0, r.stderr);
  const id = /client_id:\s+(\S+)/.exec(r.stdout)?.[1];
  const secret = /client_secret:\s+(\S+)/.exec(r.stdout)?.[1];
  assert.ok(id, r.stdout);
  return { client_id: id, client_secret: secret, stdout: r.stdout };
}

/** Sign-in and consent in a browser, then the code at /token with `auth` (headers + fields). */
async function codeFlow(client, redirectUri, { headers = {}, fields = {} } = {}) {
  const { verifier, challenge } = pkcePair();
  const browser = new Browser();
  const url = authorizeUrl(w.url, { client_id: client.client_id, redirect_uris: [redirectUri] }, { challenge });
  const consent = await browser.get(url);
  assert.equal(consent.status, 200);
  const res = await approve(w.url, browser, url, ann);
  assert.equal(res.status, 302, await res.text());
  const code = new URL(res.headers.get("location")).searchParams.get("code");
  return token(w.url, { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: redirectUri, resource: w.url + "/mcp", ...fields }, headers);
}

const basic = (id, secret) => ({ Authorization: "Basic " + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64") });

test("with dynamic registration off, /register says so and the metadata does not offer it", async () => {
  const res = await register(w.url, { redirect_uris: ["https://app.example/cb"] });
  assert.equal(res.status, 404);
  assert.match(res.body.error_description, /dynamic client registration is turned off/);
  const meta = await (await fetch(w.url + "/.well-known/oauth-authorization-server")).json();
  assert.equal(meta.registration_endpoint, undefined);
  assert.equal(meta.client_id_metadata_document_supported, true);
  const oidc = await (await fetch(w.url + "/.well-known/openid-configuration")).json();
  assert.equal(oidc.registration_endpoint, undefined);
  // A client that registered itself while registration was on is unknown now.
  const earlier = { client_id: "self-registered-earlier", redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], client_id_issued_at: 1, source: "registered" };
  await w.db.prepare("INSERT INTO clients (client_id, metadata, created_at) VALUES (?, ?, 1)").bind(earlier.client_id, JSON.stringify(earlier)).run();
  const { challenge } = pkcePair();
  const page = await new Browser().get(authorizeUrl(w.url, earlier, { challenge }));
  assert.equal(page.status, 400);
  assert.match(await page.text(), /not registered|unknown|don.t know/i);
});

test("a confidential client (ChatGPT's custom OAuth client) signs in, refreshes, and its name is vouched for", async () => {
  const client = await add("--name", "ChatGPT", "--redirect-uri", CHATGPT, "--confidential", "--auth-method", "client_secret_post");
  assert.match(client.stdout, /will not be shown again/);
  const { results } = await w.db.prepare("SELECT metadata FROM clients WHERE client_id = ?").bind(client.client_id).all();
  const stored = JSON.parse(results[0].metadata);
  assert.equal(stored.source, "preregistered");
  assert.ok(!results[0].metadata.includes(client.client_secret), "only the hash is stored");

  const browser = new Browser();
  const { challenge } = pkcePair();
  const page = await (await browser.get(authorizeUrl(w.url, { client_id: client.client_id, redirect_uris: [CHATGPT] }, { challenge }))).text();
  assert.match(page, /verified by this server(&#39;|')s operator/);

  const auth = { fields: { client_id: client.client_id, client_secret: client.client_secret } };
  const t = await codeFlow(client, CHATGPT, auth);
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const mcp = await mcpPost(w.url, t.body.access_token, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }, { "MCP-Protocol-Version": "2025-06-18" });
  assert.notEqual(mcp.status, 401);
  const wrongSecret = await codeFlow(client, CHATGPT, { fields: { client_id: client.client_id, client_secret: "nope" } });
  assert.equal(wrongSecret.status, 401);
  assert.equal(wrongSecret.body.error, "invalid_client");
  const refreshed = await token(w.url, { grant_type: "refresh_token", refresh_token: t.body.refresh_token, ...auth.fields });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));

  // rotate-secret: the old secret stops at once, the new one works.
  const r = await cli("rotate-secret", client.client_id);
  assert.equal(r.code, 0, r.stderr);
  const secret2 = /client_secret:\s+(\S+)/.exec(r.stdout)[1];
  const old = await token(w.url, { grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, ...auth.fields });
  assert.equal(old.body.error, "invalid_client");
  const fresh = await token(w.url, { grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, client_id: client.client_id, client_secret: secret2 });
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));

  const shown = await cli("show", client.client_id);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /connected for:\s+1 person/);
  assert.ok(!shown.stdout.includes(secret2));

  // remove: the client and its grants are gone; the refresh token stops at once.
  const removed = await cli("remove", client.client_id);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /revoked its 1 grant/);
  const after = await token(w.url, { grant_type: "refresh_token", refresh_token: fresh.body.refresh_token, client_id: client.client_id, client_secret: secret2 });
  assert.equal(after.status, 401);
  assert.equal(after.body.error, "invalid_client");
  const marks = await w.mf.getKVNamespace("OAUTH_KV");
  assert.equal(await marks.get(`client:${client.client_id}`), null);
  const { results: grants } = await w.db.prepare("SELECT id, revoked_at FROM grants WHERE client_id = ?").bind(client.client_id).all();
  assert.ok(grants.length > 0 && grants.every((g) => g.revoked_at !== null));
  const { results: logged } = await w.db.prepare("SELECT event, request_id FROM audit_events WHERE client_id = ? AND request_id = 'cli' ORDER BY id").bind(client.client_id).all();
  assert.deepEqual(logged.map((r) => r.event), ["client_registered", "client_secret_rotated", "client_removed"]);
  assert.equal(await marks.get(`revoked-grant:${grants[0].id}`), "1");
});

test("a public client uses PKCE alone; client_secret_basic works for a confidential one", async () => {
  const pub = await add("--name", "My script", "--redirect-uri", "http://127.0.0.1:7777/cb", "--redirect-uri", "myapp://callback");
  assert.equal(pub.client_secret, undefined);
  const t = await codeFlow(pub, "http://127.0.0.1:7777/cb", { fields: { client_id: pub.client_id } });
  assert.equal(t.status, 200, JSON.stringify(t.body));

  const conf = await add("--name", "Own app", "--redirect-uri", "https://app.example/cb", "--confidential", "--scope", "mcp:read offline_access");
  const t2 = await codeFlow(conf, "https://app.example/cb", { headers: basic(conf.client_id, conf.client_secret) });
  assert.equal(t2.status, 200, JSON.stringify(t2.body));
  assert.equal(t2.body.scope, "mcp:read offline_access");
  const post = await codeFlow(conf, "https://app.example/cb", { fields: { client_id: conf.client_id, client_secret: conf.client_secret } });
  assert.equal(post.body.error, "invalid_client", "the registered method only");

  const listed = await cli("list");
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /My script/);
  assert.match(listed.stdout, /Own app/);
});

test("bad input gets a clear error and registers nothing", async () => {
  const before = (await w.db.prepare("SELECT COUNT(*) AS n FROM clients").first()).n;
  for (const [args, says] of [
    [["add", "--name", "x", "--redirect-uri", "http://app.example/cb"], /only allowed on a loopback host/],
    [["add", "--name", "x", "--redirect-uri", "https://app.example/*"], /Wildcards/],
    [["add", "--name", "x", "--redirect-uri", "https://app.example/cb#frag"], /Fragments/],
    [["add", "--name", "x", "--redirect-uri", "javascript:alert(1)"], /scheme is not allowed/],
    [["add", "--name", "x", "--redirect-uri", "not a uri"], /whitespace|Not an absolute URI/],
    [["add", "--name", " ", "--redirect-uri", "https://a.example/cb"], /Give the client a name/],
    [["add", "--name", "x\u202ey", "--redirect-uri", "https://a.example/cb"], /text-direction/],
    [["add", "--name", "x", "--redirect-uri", "https://a.example/cb", "--scope", 'a"b'], /is not a scope/],
    [["add", "--name", "x", "--redirect-uri", "https://a.example/cb", "--access-token-ttl", "2"], /--access-token-ttl must be between 5 and 86400/],
    [["add", "--name", "x", "--redirect-uri", "https://a.example/cb", "--refresh-token-ttl", "soon"], /--refresh-token-ttl must be a number/],
    [["add", "--name", "x", "--redirect-uri", "https://a.example/cb", "--auth-method", "client_secret_post"], /goes with --confidential/],
    [["add", "--name", "x"], /needs --redirect-uri/],
    [["add", "--name", "x", "--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://a.example/cb"], /given twice/],
    [["add", "--name", "x", ...Array.from({ length: 11 }, (_, i) => ["--redirect-uri", `https://a.example/${i}`]).flat()], /At most 10/],
    [["show", "nope-not-there"], /No client with the ID/],
    [["rotate-secret", "bad id!"], /Not a client ID/],
    [["remove", "nope-not-there"], /No client with the ID/],
  ]) {
    const r = await cli(...args);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.match(r.stderr, says, args.join(" "));
  }
  const pub = await add("--name", "Public", "--redirect-uri", "https://p.example/cb");
  const r = await cli("rotate-secret", pub.client_id);
  assert.match(r.stderr, /public client/);
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM clients").first()).n, before + 1);
});

// ---- hosts of client ID metadata documents -------------------------------------------

const hostRules = async () => (await w.db.prepare("SELECT host, rule, created_by FROM document_hosts ORDER BY host").all()).results;
const hostAudit = async () =>
  (await w.db.prepare("SELECT event, outcome, user_id, client_id, ip, request_id, detail FROM audit_events WHERE event = 'document_host_changed' ORDER BY id").all()).results;
const dataError = (html) => /<h1 data-error="([^"]*)"/.exec(html)?.[1];

/** /authorize for the document at `docUrl`, without following redirects. */
async function authorizeDocument(docUrl) {
  const host = new URL(docUrl).host;
  const res = await fetch(authorizeUrl(w.url, { client_id: docUrl, redirect_uris: [`https://${host}/cb`] }, { challenge: pkcePair().challenge }), { redirect: "manual" });
  return { status: res.status, location: res.headers.get("location"), html: await res.text() };
}

test("hosts block, allow and remove set the rules the Worker follows at /authorize, each in the audit log", async () => {
  const none = await cli("hosts", "list");
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, "No host rules: documents on any host are used.\n");

  // The first rules this Worker reads (it keeps them a minute): set before any document is asked for.
  const blocked = await cli("hosts", "block", " Blocked.Example. ");
  assert.equal(blocked.code, 0, blocked.stderr);
  assert.match(blocked.stdout, /^Documents on blocked\.example and its subdomains are blocked/);
  assert.match(blocked.stdout, /within a minute/);
  // allow, then block: the block replaces the allow (no allowed host is left).
  assert.equal((await cli("hosts", "allow", "replaced.example")).code, 0);
  const replaced = await cli("hosts", "block", "replaced.example");
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.deepEqual(await hostRules(), [
    { host: "blocked.example", rule: "block", created_by: "cli" },
    { host: "replaced.example", rule: "block", created_by: "cli" },
  ]);

  // The Worker refuses a document on a blocked host, or on its subdomain, without fetching
  // it; a document on another host is used.
  for (const docUrl of ["https://blocked.example/app.json", "https://sub.blocked.example/app.json", "https://replaced.example/app.json"]) {
    const page = await authorizeDocument(docUrl);
    assert.equal(page.status, 400, `${docUrl}: ${page.status} ${page.html.slice(0, 300)}`);
    assert.equal(page.location, null, docUrl);
    assert.equal(dataError(page.html), "unknown_client", `${docUrl}: ${page.html.slice(0, 300)}`);
  }
  assert.deepEqual(fetched, [], "a document on a blocked host was fetched");
  const open = await authorizeDocument("https://open.example/app.json");
  assert.equal(open.status, 200, open.html.slice(0, 300));
  assert.equal(dataError(open.html), undefined);
  assert.match(open.html, /name="password"/, "the sign-in form");
  assert.deepEqual(fetched, ["https://open.example/app.json"]);

  // remove, and remove again: nothing to remove is an error, and writes no audit row.
  const removed = await cli("hosts", "remove", "REPLACED.example");
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /^replaced\.example has no rule any more/);
  const again = await cli("hosts", "remove", "replaced.example");
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^replaced\.example has no rule to remove\. See the rules with: npm run client -- hosts list/);
  const allowed = await cli("hosts", "allow", "chatgpt.com..");
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(allowed.stdout, /^Documents on chatgpt\.com and its subdomains are allowed; while any host is allowed, documents on hosts not allowed are not used\./);

  const listed = await cli("hosts", "list");
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^HOST\s+RULE\s+SINCE\s+BY$/);
  assert.equal(lines.length, 3, listed.stdout);
  assert.match(lines[1], /^chatgpt\.com\s+allow\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+cli$/, "allowed hosts first, as the console lists them");
  assert.match(lines[2], /^blocked\.example\s+block\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+cli$/);

  assert.deepEqual(
    (await hostAudit()).map((r) => r.detail),
    [
      "blocked.example blocked by cli",
      "replaced.example allowed by cli",
      "replaced.example blocked by cli",
      "replaced.example rule removed by cli",
      "chatgpt.com allowed by cli",
    ],
  );
  for (const r of await hostAudit()) {
    assert.deepEqual({ ...r, detail: undefined }, { event: "document_host_changed", outcome: "ok", user_id: null, client_id: null, ip: null, request_id: "cli", detail: undefined });
  }

  for (const host of ["chatgpt.com", "blocked.example"]) assert.equal((await cli("hosts", "remove", host)).code, 0);
  assert.deepEqual(await hostRules(), []);
});

test("hosts take host names as the Worker reads them, and refuse anything else with nothing written", async () => {
  const before = { rules: (await hostRules()).length, audit: (await hostAudit()).length };
  const label63 = "a".repeat(63);
  const refused = [
    "https://a.example", "a.example:443", "a.example/x", "localhost", "", "   ", "-a.example", "a-.example", "a..example", ".a.example",
    `${"a".repeat(64)}.example`, `${label63}.${label63}.${label63}.${"d".repeat(62)}`, "ex_ample.com", "b\u00fccher.example",
    // JavaScript lower-cases the Kelvin sign to "k"; the Worker lower-cases ASCII only.
    "\u212aelvin.example", "a.example\ufeff", "a example.com", "a.example'; DROP TABLE document_hosts; --",
  ];
  for (const raw of refused) {
    for (const command of ["allow", "block", "remove"]) {
      const r = await cli("hosts", command, raw);
      assert.equal(r.code, 1, `${command} ${JSON.stringify(raw)}: ${r.stdout}`);
      assert.match(r.stderr, /^'.*' is not a host name such as chatgpt\.com \(no scheme, port or path\)\.\n$/s, JSON.stringify(raw));
      if (/^[\x20-\x7e]*$/.test(raw)) assert.ok(r.stderr.startsWith(`'${raw.trim().slice(0, 80)}'`), r.stderr);
    }
  }
  for (const [args, says] of [
    [["hosts"], /^hosts needs a command right after it: list, allow <host>, block <host> or remove <host>\./],
    [["hosts", "forget", "a.example"], /^Unknown hosts command: forget; use list, allow <host>/],
    [["hosts", "allow"], /^hosts allow needs <host>\./],
    [["hosts", "block", "a.example", "b.example"], /^hosts block needs <host>\./],
    [["hosts", "list", "a.example"], /^hosts list takes no arguments/],
    [["hosts", "allow", "a.example", "--frob"], /^Unknown option for hosts allow: --frob/],
  ]) {
    const r = await cli(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, says, args.join(" "));
  }
  assert.deepEqual({ rules: (await hostRules()).length, audit: (await hostAudit()).length }, before, "a refused host changed something");

  // What the Worker accepts: the longest host (253 characters), digits and inner hyphens,
  // upper case and trailing dots (dropped).
  const longest = `${label63}.${label63}.${label63}.${"d".repeat(61)}`;
  for (const [raw, host] of [[longest, longest], ["X-1.Example.", "x-1.example"], ["\t0.example\n", "0.example"]]) {
    const r = await cli("hosts", "block", raw);
    assert.equal(r.code, 0, `${JSON.stringify(raw)}: ${r.stderr}`);
    assert.deepEqual((await hostRules()).map((h) => h.host), [host]);
    assert.equal((await cli("hosts", "remove", host)).code, 0);
  }
  const details = (await hostAudit()).slice(before.audit).map((r) => r.detail);
  assert.equal(details.length, 6);
  assert.equal(details[0], `${longest} blocked by cli`.slice(0, 120), "the detail is cut at 120 characters, as the Worker cuts it");
  assert.deepEqual(details.slice(2), ["x-1.example blocked by cli", "x-1.example rule removed by cli", "0.example blocked by cli", "0.example rule removed by cli"]);
});
