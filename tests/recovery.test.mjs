// Revocation that never depends on Workers KV, and account recovery, end to end against
// the built Worker in workerd:
//
// A. With a KV binding whose writes (and, in one test, reads) fail on a switch flipped from
//    here, Disconnect on /account and /revoke still revoke: the refresh token is refused at
//    once, D1 holds the revocation without its mark (grants.marked_at NULL), /mcp refuses
//    the grant's access tokens from D1's list of unmarked revocations (or, when KV cannot be
//    read, by asking D1 about the grant) while a live grant keeps working, and once KV
//    takes writes again the daily cron writes the missing `revoked-grant:<id>` marks and
//    records them in D1. /register with KV writes failing still registers (D1 holds the
//    client, KV has no copy of it) and the client works at /authorize and through a
//    whole code flow.
// B. Account recovery moves users.sessions_after: `npm run user -- reset-password` signs the
//    person out of every browser and ends their connected apps and personal tokens (and a
//    new sign-in with the new password works), `disable` then `enable` leaves a session
//    from before refused, and "Sign out everywhere" on /account ends every session of that
//    person (not another person's) while their connected apps keep working, audited. An
//    authorization code approved before a reset or "Sign out everywhere" and redeemed
//    after it is refused (invalid_grant, no grant created); another person's is not.
//
// Two Workers, started together: `kv` (its own Miniflare: OAUTH_KV is a wrapped binding
// over a real in-memory KV namespace, failing on the switch `kvFault`) and `persisted`
// (startWorker on a wrangler --persist-to state the operator CLI shares). The two groups
// run side by side; the tests inside each group run in order.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { localState, migrationStatements, newSigningKey, startWorker } from "./helpers/worker.mjs";
import { runNode } from "./helpers/process.mjs";
import { authorizeUrl, Browser, codeFor, createUser, exchange, formFields, fullFlow, pkcePair, publicClient, register, token } from "./helpers/oauth.mjs";
import { modernCall } from "./helpers/mcp.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const KV_ID = "00000000000000000000000000000000";

// ---------------------------------------------------------------------------------------
// A Worker whose OAUTH_KV fails on demand.

/** What the KV binding refuses right now, and every operation it refused. */
const kvFault = { writes: false, reads: false, refused: [] };

// The wrapped binding: the object the Worker gets as env.OAUTH_KV (worker-rs takes any
// object with get, getWithMetadata, put, list and delete). Before each operation it asks
// the test (SWITCH, answered in Node) whether to refuse it; otherwise it hands the call to
// a real KV namespace (INNER).
const KV_WRAPPER = `
export default function (env) {
  const inner = env.INNER;
  async function allowed(kind, key) {
    const res = await env.SWITCH.fetch("http://switch/" + kind, { method: "POST", body: String(key ?? "") });
    if ((await res.text()) !== "ok") throw new Error("KV " + kind + " refused (test switch): " + key);
  }
  return {
    async get(key, options) { await allowed("read", key); return inner.get(key, options); },
    async getWithMetadata(key, options) { await allowed("read", key); return inner.getWithMetadata(key, options); },
    async list(options) { await allowed("read", options?.prefix); return inner.list(options); },
    async put(key, value, options) { await allowed("write", key); return inner.put(key, value, options); },
    async delete(key) { await allowed("write", key); return inner.delete(key); },
  };
}
`;

async function startKvFaultWorker() {
  const logs = [];
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    handleStructuredLogs: ({ message }) => {
      logs.push(message);
    },
    workers: [
      {
        name: "main",
        modules: true,
        scriptPath: join(ROOT, "build/index.js"),
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
        compatibilityDate: "2026-06-01",
        compatibilityFlags: ["global_fetch_strictly_public"],
        d1Databases: { DB: "00000000-0000-0000-0000-000000000000" },
        durableObjects: { SSE_SESSIONS: { className: "SseSession", useSQLite: true } },
        wrappedBindings: { OAUTH_KV: "kv-fault" },
        bindings: { JWT_SIGNING_KEY: newSigningKey() },
        outboundService: () => new Response("tests have no internet", { status: 502 }),
      },
      {
        name: "kv-fault",
        modules: true,
        script: KV_WRAPPER,
        kvNamespaces: { INNER: KV_ID },
        serviceBindings: {
          SWITCH: async (req) => {
            const kind = new URL(req.url).pathname.slice(1);
            const key = await req.text();
            const refuse = kind === "write" ? kvFault.writes : kvFault.reads;
            if (refuse) kvFault.refused.push(`${kind} ${key}`);
            return new Response(refuse ? "refused" : "ok");
          },
        },
      },
      // The same namespace (same id), for the test to read what the Worker wrote.
      {
        name: "kv-peek",
        modules: true,
        script: "export default { fetch() { return new Response(null, { status: 404 }); } }",
        kvNamespaces: { KV: KV_ID },
      },
    ],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB");
  for (const statement of migrationStatements()) await db.prepare(statement).run();
  const kv = await mf.getKVNamespace("KV", "kv-peek");
  return { url, mf, db, kv, logs, stop: () => mf.dispose() };
}

// ---------------------------------------------------------------------------------------
// Small helpers.

/** tools/list at /mcp with an access token: the response ({ status, text, json }). */
const useToken = (w, accessToken) => modernCall(w.url, accessToken, "tools/list");

const refresh = (w, flow) =>
  token(w.url, { grant_type: "refresh_token", refresh_token: flow.tokens.refresh_token, client_id: flow.client.client_id });

/** POST /revoke for a public client. */
async function revoke(w, flow, tokenValue = flow.tokens.refresh_token) {
  const res = await fetch(w.url + "/revoke", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: tokenValue, client_id: flow.client.client_id }).toString(),
  });
  await res.arrayBuffer();
  return res.status;
}

/** A completed flow whose tokens were issued (status 200). */
async function flowFor(w, user, client) {
  const flow = await fullFlow(w.url, user, client ? { client } : {});
  assert.equal(flow.status, 200, "token exchange: " + JSON.stringify(flow.tokens));
  return flow;
}

/** The grant id behind a flow's refresh token. */
async function grantOf(w, flow) {
  const hash = createHash("sha256").update(flow.tokens.refresh_token).digest("base64url");
  const row = await w.db.prepare("SELECT grant_id FROM refresh_tokens WHERE token_hash = ?").bind(hash).first();
  assert.ok(row, "the refresh token's row");
  return row.grant_id;
}

const grantRow = (w, id) => w.db.prepare("SELECT id, revoked_at, marked_at FROM grants WHERE id = ?").bind(id).first();

/**
 * A code redeemed after its authorization was withdrawn: 400 invalid_grant, and neither a
 * grant (by the code's hash) nor any grant or refresh token of `user` for `client` exists.
 */
async function assertCodeRefused(w, user, client, c, why) {
  const r = await exchange(w, client, c);
  assert.equal(r.status, 400, `${why}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, "invalid_grant", `${why}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.access_token, undefined, why);
  const codeHash = createHash("sha256").update(c.code).digest("base64url");
  assert.equal(await w.db.prepare("SELECT id FROM grants WHERE code_hash = ?").bind(codeHash).first(), null, `${why}: a grant for the code`);
  const count = async (table) =>
    (await w.db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE user_id = ? AND client_id = ?`).bind(user.id, client.client_id).first()).n;
  assert.equal(await count("grants"), 0, `${why}: grants of ${user.email} for the app`);
  assert.equal(await count("refresh_tokens"), 0, `${why}: refresh tokens of ${user.email} for the app`);
}

/** A 401 with error invalid_token from /mcp. */
function assertRefused(res, why) {
  assert.equal(res.status, 401, `${why}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.json?.error, "invalid_token", `${why}: ${res.text.slice(0, 300)}`);
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/, why);
}

function assertServed(res, why) {
  assert.equal(res.status, 200, `${why}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(Array.isArray(res.json?.result?.tools), `${why}: a tools/list result: ${res.text.slice(0, 300)}`);
}

/**
 * Uses the access token at /mcp every `stepMs` until it is refused or `withinMs` has
 * passed; returns { res, seconds } of the last answer.
 */
async function pollUntilRefused(w, accessToken, withinMs, stepMs = 1000) {
  const start = Date.now();
  for (;;) {
    const res = await useToken(w, accessToken);
    const seconds = (Date.now() - start) / 1000;
    if (res.status !== 200 || Date.now() - start >= withinMs) return { res, seconds };
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A browser with a copy of another's cookies: the same session cookie, replayed later. */
function copyOf(browser) {
  const copy = new Browser();
  copy.cookies = new Map(browser.cookies);
  return copy;
}

const SIGN_IN_FORM = /Sign in to see your connected apps/;
const SIGNED_IN = /<h1>Connected apps<\/h1>/;

/** GET /account: { status, html }. */
async function accountPage(w, browser) {
  const res = await browser.get(w.url + "/account");
  return { status: res.status, html: await res.text() };
}

/** Signs `user` in with /account's own form; returns the browser, on the account page. */
async function accountSignIn(w, user) {
  const browser = new Browser();
  const form = await accountPage(w, browser);
  assert.equal(form.status, 200);
  assert.match(form.html, SIGN_IN_FORM);
  const res = await browser.post(w.url + "/account", { ...formFields(form.html), action: "signin", email: user.email, password: user.password });
  const body = await res.text();
  assert.equal(res.status, 303, `sign-in of ${user.email} on /account: ${res.status} ${body.slice(0, 300)}`);
  assert.equal(res.headers.get("location"), "/account");
  const page = await accountPage(w, browser);
  assert.equal(page.status, 200);
  assert.match(page.html, SIGNED_IN, `${user.email} is signed in`);
  return browser;
}

/** `browser` is on /account's sign-in form: its session, if any, signs no one in. */
async function assertSignedOut(w, browser, why) {
  const page = await accountPage(w, browser);
  assert.equal(page.status, 200, why);
  assert.match(page.html, SIGN_IN_FORM, `${why}: the account page's sign-in form`);
  assert.doesNotMatch(page.html, SIGNED_IN, why);
}

async function assertSignedIn(w, browser, why) {
  const page = await accountPage(w, browser);
  assert.equal(page.status, 200, why);
  assert.match(page.html, SIGNED_IN, `${why}: the connected apps page`);
  return page.html;
}

/** A personal access token for `user`, stored as the Worker stores them (by hash). */
async function personalToken(w, user, name = "laptop") {
  const value = "mcp_pat_" + randomBytes(32).toString("base64url");
  const id = "pt_" + randomBytes(9).toString("base64url");
  const hash = createHash("sha256").update(value).digest("base64url");
  await w.db
    .prepare("INSERT INTO personal_tokens (id, user_id, name, token_hash, scope, created_at) VALUES (?, ?, ?, ?, 'mcp:read', ?)")
    .bind(id, user.id, name, hash, Math.floor(Date.now() / 1000))
    .run();
  return { id, value };
}

/** Runs a Node script without blocking the event loop workerd needs, `input` on stdin. */
const runScript = (file, args, input = "") =>
  runNode(file, args, { cwd: ROOT, env: { WRANGLER_SEND_METRICS: "false", CI: "true" }, input });

// =======================================================================================

describe("recovery", { concurrency: 2 }, () => {
  // -------------------------------------------------------------------------------------
  describe("A. revocation when KV fails", { concurrency: 1 }, () => {
    let w, ann;
    before(async () => {
      w = await startKvFaultWorker();
      ann = await createUser(w.db, "ann@example.com", "ann-password-1", "Ann");
    });
    after(() => w?.stop());
    const reset = () => {
      kvFault.writes = false;
      kvFault.reads = false;
      kvFault.refused.length = 0;
    };

    // Grants revoked below without their KV mark, for the cron test.
    const unmarked = [];

    test("1 Disconnect with KV writes failing: the page answers, refresh and access tokens are refused, D1 holds it unmarked", async (t) => {
      reset();
      t.after(reset);
      const app = await publicClient(w.url);
      const used = await flowFor(w, ann, app);
      const fresh = await flowFor(w, ann, app);
      const kept = await flowFor(w, ann);
      // One of the app's access tokens is in use right before the Disconnect; the other
      // never reaches /mcp before it.
      assertServed(await useToken(w, used.tokens.access_token), "the used token before");
      assertServed(await useToken(w, kept.tokens.access_token), "the other app's token before");
      const ids = [await grantOf(w, used), await grantOf(w, fresh)];

      const browser = await accountSignIn(w, ann);
      const { csrf_token } = formFields((await accountPage(w, browser)).html);
      assert.ok(csrf_token, "the account page's CSRF token");

      kvFault.writes = true;
      const res = await browser.post(w.url + "/account", { csrf_token, action: "disconnect", client_id: app.client_id });
      const html = await res.text();
      // Straight after the answer, in the isolate that revoked.
      const freshAtOnce = await useToken(w, fresh.tokens.access_token);
      const usedAtOnce = await useToken(w, used.tokens.access_token);

      assert.equal(res.status, 200, html.slice(0, 300));
      assert.match(html, /is disconnected/);
      for (const id of ids) {
        assert.ok(kvFault.refused.includes(`write revoked-grant:${id}`), `the Worker tried to write the mark of ${id}: ${kvFault.refused.join(", ")}`);
        const row = await grantRow(w, id);
        assert.notEqual(row.revoked_at, null, `grant ${id} revoked in D1`);
        assert.equal(row.marked_at, null, `grant ${id} has no mark`);
        assert.equal(await w.kv.get(`revoked-grant:${id}`), null);
      }
      unmarked.push(...ids);
      for (const flow of [used, fresh]) {
        const r = await refresh(w, flow);
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.error, "invalid_grant");
      }

      // Within the minute promised for access tokens (two 20 s memo windows at most).
      const usedLater = await pollUntilRefused(w, used.tokens.access_token, 45_000);
      assertRefused(usedLater.res, `the used token, ${usedLater.seconds} s after Disconnect`);
      const freshLater = await pollUntilRefused(w, fresh.tokens.access_token, 45_000);
      assertRefused(freshLater.res, `the never-used token, ${freshLater.seconds} s after Disconnect`);

      // The other app keeps working: its access token and its refresh token.
      assertServed(await useToken(w, kept.tokens.access_token), "the other app's token after");
      assert.equal((await refresh(w, kept)).status, 200);

      // Last, so that everything above is checked whatever this finds: the isolate that
      // revoked refuses the grant's tokens at once (it forgets its memo of the grant), the
      // one used right before and the one never used alike, although this isolate read
      // D1's list of unmarked revocations moments before the Disconnect (the uses above).
      assert.deepEqual(
        { neverUsed: freshAtOnce.status, usedRightBefore: usedAtOnce.status },
        { neverUsed: 401, usedRightBefore: 401 },
        `/mcp at once after Disconnect, in the isolate that revoked (refused only after ${usedLater.seconds} s and ${freshLater.seconds} s of polling)`,
      );
      assertRefused(freshAtOnce, "the never-used token, at once after Disconnect");
      assertRefused(usedAtOnce, "the token used right before, at once after Disconnect");
    });

    test("2 /revoke of a refresh token with KV writes failing answers 200 and revokes the grant", async (t) => {
      reset();
      t.after(reset);
      const flow = await flowFor(w, ann);
      const id = await grantOf(w, flow);
      kvFault.writes = true;
      assert.equal(await revoke(w, flow), 200);
      const atOnce = await useToken(w, flow.tokens.access_token);
      assert.ok(kvFault.refused.includes(`write revoked-grant:${id}`), kvFault.refused.join(", "));
      const row = await grantRow(w, id);
      assert.notEqual(row.revoked_at, null);
      assert.equal(row.marked_at, null);
      unmarked.push(id);
      const r = await refresh(w, flow);
      assert.equal(r.body.error, "invalid_grant", JSON.stringify(r.body));
      const later = await pollUntilRefused(w, flow.tokens.access_token, 45_000);
      assertRefused(later.res, `the access token, ${later.seconds} s after /revoke`);
      // Last: the isolate that revoked refuses the (never used) access token at once.
      assertRefused(atOnce, `the never-used access token, at once after /revoke in the isolate that revoked (refused after ${later.seconds} s of polling)`);
    });

    test("3 with KV reads failing too, D1 decides at /mcp: 200 for a live grant, 401 for a revoked one", async (t) => {
      reset();
      t.after(reset);
      const app = await publicClient(w.url);
      const live = await flowFor(w, ann, app);
      const dead = await flowFor(w, ann, app);
      const deadId = await grantOf(w, dead);
      kvFault.writes = true;
      assert.equal(await revoke(w, dead), 200);
      unmarked.push(deadId);
      kvFault.reads = true;
      const served = await useToken(w, live.tokens.access_token);
      const refused = await useToken(w, dead.tokens.access_token);
      assertServed(served, "the live grant's token with KV unreadable");
      assertRefused(refused, "the revoked grant's token with KV unreadable");
      assert.ok(kvFault.refused.some((r) => r.startsWith("read revoked-grant:")), `the marks were looked up and refused: ${kvFault.refused.join(", ")}`);
      assert.ok(w.logs.some((l) => /revocation mark unreadable, asking D1/.test(l)), "the Worker says it asked D1");
      // A second use of each, after the first answers: the same.
      assertServed(await useToken(w, live.tokens.access_token), "the live token again");
      assertRefused(await useToken(w, dead.tokens.access_token), "the revoked token again");
    });

    test("4 once KV takes writes again, the cron writes the missing marks and records them", async (t) => {
      reset();
      t.after(reset);
      assert.ok(unmarked.length >= 4, `grants left unmarked above: ${unmarked.join(", ")}`);
      for (const id of unmarked) {
        assert.equal((await grantRow(w, id)).marked_at, null, `${id} unmarked before the cron`);
        assert.equal(await w.kv.get(`revoked-grant:${id}`), null);
      }
      const live = await flowFor(w, ann);
      const liveId = await grantOf(w, live);
      const cronAt = Math.floor(Date.now() / 1000);
      const worker = await w.mf.getWorker();
      await worker.scheduled({ cron: "17 3 * * *" });
      for (const id of unmarked) {
        assert.equal(await w.kv.get(`revoked-grant:${id}`), "1", `the mark of ${id}`);
        const row = await grantRow(w, id);
        assert.ok(row.marked_at >= cronAt && row.marked_at <= Math.floor(Date.now() / 1000) + 1, `${id} marked_at ${row.marked_at}`);
      }
      assert.equal(await w.kv.get(`revoked-grant:${liveId}`), null, "no mark for a live grant");
      assert.equal((await grantRow(w, liveId)).marked_at, null);
      assert.ok(
        w.logs.some((l) => new RegExp(`cron: wrote ${unmarked.length} of ${unmarked.length} missing revocation marks`).test(l)),
        w.logs.filter((l) => /cron/.test(l)).join("\n"),
      );
      assert.equal(
        (await w.db.prepare("SELECT COUNT(*) AS n FROM grants WHERE revoked_at IS NOT NULL AND marked_at IS NULL").first()).n,
        0,
        "no revoked grant left without its mark",
      );
      assertServed(await useToken(w, live.tokens.access_token), "a live grant after the cron");
    });

    test("8 /register with KV writes failing: 201, D1 holds the client and KV no copy; it works at /authorize and through a whole code flow", async (t) => {
      reset();
      t.after(reset);
      kvFault.writes = true;
      const redirect = "http://127.0.0.1:9999/callback";
      const r = await register(w.url, {
        redirect_uris: [redirect],
        token_endpoint_auth_method: "none",
        client_name: "Registered While KV Fails",
        grant_types: ["authorization_code", "refresh_token"],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const client = r.body;
      const id = client.client_id;
      assert.ok(id, JSON.stringify(r.body));
      assert.deepEqual(client.redirect_uris, [redirect]);
      // The Worker tried to write its KV copy, and KV refused it.
      assert.ok(kvFault.refused.includes(`write client:${id}`), `the KV copy was tried: ${kvFault.refused.join(", ")}`);
      const row = await w.db.prepare("SELECT client_id, metadata FROM clients WHERE client_id = ?").bind(id).first();
      assert.ok(row, "the client in D1");
      assert.deepEqual(JSON.parse(row.metadata).redirect_uris, [redirect], row.metadata);

      // /authorize finds it (through D1): the sign-in page, naming the app.
      const page = await new Browser().get(authorizeUrl(w.url, client, { challenge: pkcePair().challenge }));
      const html = await page.text();
      assert.equal(page.status, 200, html.slice(0, 300));
      assert.match(html, /name="password"/, "the sign-in page");
      assert.doesNotMatch(html, /data-error=/, html.slice(0, 300));
      assert.match(html, /Registered While KV Fails/);

      // A whole code flow, KV writes still failing: the code redeemed, the tokens used.
      const flow = await flowFor(w, ann, client);
      assertServed(await useToken(w, flow.tokens.access_token), "the new client's access token");
      const refreshed = await refresh(w, flow);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assertServed(await useToken(w, refreshed.body.access_token), "the refreshed access token");

      assert.equal(await w.kv.get(`client:${id}`), null, "a KV copy of the client");
    });
  });

  // -------------------------------------------------------------------------------------
  describe("B. account recovery", { concurrency: 1 }, () => {
    let dir, w;
    const user = (args, input = "") => runScript(join(ROOT, "scripts", "user.mjs"), [...args, "--persist-to", dir], input);
    before(async () => {
      dir = await localState("recovery-");
      w = await startWorker({ persistTo: dir });
    });
    after(async () => {
      await w?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("5 reset-password ends sessions, connected apps and personal tokens; the new password signs in", async () => {
      const rita = await createUser(w.db, "rita@example.com", "rita-password-1", "Rita");
      const other = await createUser(w.db, "olga@example.com", "olga-password-1", "Olga");
      const browser = await accountSignIn(w, rita);
      const oldCookies = copyOf(browser);
      const used = await flowFor(w, rita);
      const fresh = await flowFor(w, rita);
      const pat = await personalToken(w, rita);
      const othersApp = await flowFor(w, other);
      assertServed(await useToken(w, used.tokens.access_token), "the app's token before");
      assertServed(await useToken(w, pat.value), "the personal token before");
      const ids = [await grantOf(w, used), await grantOf(w, fresh)];

      const NEW_PASSWORD = "rita new password, longer";
      const r = await user(["reset-password", "Rita@example.com"], NEW_PASSWORD + "\n");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Changed the password of rita@example\.com/);
      assert.match(r.stdout, /signed it out everywhere/);
      assert.match(r.stdout, /disconnected 2 app authorizations/);
      assert.match(r.stdout, /revoked 1 personal access token\b/);
      assert.ok(!r.stdout.includes(NEW_PASSWORD) && !r.stderr.includes(NEW_PASSWORD));

      // The browser signed in before: signed out, on /account and at /authorize.
      await assertSignedOut(w, copyOf(oldCookies), "the browser signed in before the reset");
      const client = await publicClient(w.url);
      const authorize = await copyOf(oldCookies).get(authorizeUrl(w.url, client, { challenge: pkcePair().challenge }));
      const authorizeHtml = await authorize.text();
      assert.equal(authorize.status, 200, authorizeHtml.slice(0, 300));
      assert.match(authorizeHtml, /name="password"/, "/authorize asks to sign in");
      assert.doesNotMatch(authorizeHtml, /value="approve"/, "not the consent page");

      // The connected apps: refresh refused at once; access tokens at once (never used)
      // or within the minute (used right before).
      for (const flow of [used, fresh]) {
        const t = await refresh(w, flow);
        assert.equal(t.body.error, "invalid_grant", JSON.stringify(t.body));
      }
      assertRefused(await useToken(w, fresh.tokens.access_token), "the never-used access token after the reset");
      const later = await pollUntilRefused(w, used.tokens.access_token, 60_000);
      assertRefused(later.res, `the used access token, ${later.seconds} s after the reset`);
      for (const id of ids) {
        const row = await grantRow(w, id);
        assert.notEqual(row.revoked_at, null, `grant ${id} revoked`);
        assert.notEqual(row.marked_at, null, `grant ${id} marked (KV works here)`);
      }
      // The personal token.
      const patRes = await useToken(w, pat.value);
      assert.equal(patRes.status, 401, patRes.text.slice(0, 300));
      assert.notEqual((await w.db.prepare("SELECT revoked_at FROM personal_tokens WHERE id = ?").bind(pat.id).first()).revoked_at, null);
      // Another person's app is untouched.
      assert.equal((await refresh(w, othersApp)).status, 200);

      const row = await w.db.prepare("SELECT sessions_after FROM users WHERE id = ?").bind(rita.id).first();
      assert.ok(row.sessions_after > Date.now() - 120_000 && row.sessions_after <= Date.now(), `sessions_after ${row.sessions_after} (ms)`);

      // The old password no longer signs in; the new one does.
      const signInBrowser = new Browser();
      const form = await accountPage(w, signInBrowser);
      const wrong = await signInBrowser.post(w.url + "/account", { ...formFields(form.html), action: "signin", email: rita.email, password: rita.password });
      await wrong.text();
      assert.equal(wrong.status, 401, "the old password");
      const again = await accountSignIn(w, { ...rita, password: NEW_PASSWORD });
      await assertSignedIn(w, again, "a new sign-in with the new password");
      const flow = await flowFor(w, { ...rita, password: NEW_PASSWORD });
      assertServed(await useToken(w, flow.tokens.access_token), "a new app connection after the reset");
    });

    test("6 disable then enable: a session from before stays refused; a fresh sign-in works", async () => {
      const dora = await createUser(w.db, "dora@example.com", "dora-password-1", "Dora");
      const browser = await accountSignIn(w, dora);
      const oldCookies = copyOf(browser);

      const off = await user(["disable", dora.email]);
      assert.equal(off.code, 0, off.stderr);
      assert.match(off.stdout, /Disabled dora@example\.com/);
      await assertSignedOut(w, copyOf(oldCookies), "the old session while disabled");

      const on = await user(["enable", dora.email]);
      assert.equal(on.code, 0, on.stderr);
      assert.match(on.stdout, /Enabled dora@example\.com/);
      const row = await w.db.prepare("SELECT disabled_at, sessions_after FROM users WHERE id = ?").bind(dora.id).first();
      assert.equal(row.disabled_at, null);
      assert.ok(row.sessions_after > 0);
      await assertSignedOut(w, copyOf(oldCookies), "the old session after enable");

      const fresh = await accountSignIn(w, dora);
      await assertSignedIn(w, fresh, "a fresh sign-in after enable");
      // And it is the fresh one that works, the old one still does not.
      await assertSignedOut(w, copyOf(oldCookies), "the old session after the fresh sign-in");
    });

    test('7 "Sign out everywhere" ends every session of that person, not another\'s; apps keep working; audited', async () => {
      const sam = await createUser(w.db, "sam@example.com", "sam-password-12", "Sam");
      const tess = await createUser(w.db, "tess@example.com", "tess-password-1", "Tess");
      const first = await accountSignIn(w, sam);
      const second = await accountSignIn(w, sam);
      const firstCookies = copyOf(first);
      const tessBrowser = await accountSignIn(w, tess);
      const app = await flowFor(w, sam);
      const pressedAt = Date.now();

      const { csrf_token } = formFields(await assertSignedIn(w, first, "Sam, first browser"));
      assert.ok(csrf_token);
      const res = await first.post(w.url + "/account", { csrf_token, action: "signout_everywhere" });
      const body = await res.text();
      assert.equal(res.status, 303, body.slice(0, 300));
      assert.equal(res.headers.get("location"), "/account");

      await assertSignedOut(w, first, "the browser that pressed it");
      await assertSignedOut(w, copyOf(firstCookies), "its session cookie replayed");
      await assertSignedOut(w, second, "Sam's other browser");
      await assertSignedIn(w, tessBrowser, "another person's browser");

      // Connected apps keep working.
      const r = await refresh(w, app);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assertServed(await useToken(w, r.body.access_token), "the app's new access token");
      assertServed(await useToken(w, app.tokens.access_token), "the app's access token from before");
      assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM grants WHERE user_id = ? AND revoked_at IS NOT NULL").bind(sam.id).first()).n, 0);

      const events = (await w.db.prepare("SELECT event, outcome FROM audit_events WHERE user_id = ? AND event = 'signed_out_everywhere'").bind(sam.id).all()).results;
      assert.deepEqual(events, [{ event: "signed_out_everywhere", outcome: "ok" }]);
      const rows = await w.db.prepare("SELECT id, sessions_after FROM users WHERE id IN (?, ?)").bind(sam.id, tess.id).all();
      const sessionsAfter = Object.fromEntries(rows.results.map((u) => [u.id, u.sessions_after]));
      assert.ok(sessionsAfter[sam.id] >= pressedAt && sessionsAfter[sam.id] <= Date.now(), `Sam's sessions_after ${sessionsAfter[sam.id]}`);
      assert.equal(sessionsAfter[tess.id], 0, "Tess's sessions untouched");

      // Sam signs in again.
      await assertSignedIn(w, await accountSignIn(w, sam), "Sam signs in again");
    });

    // In both tests below the app is new to both people, so no withdrawn grant of theirs
    // for it can be what refuses the code: only the sessions ended after it was issued.

    test("9 a code approved before reset-password and redeemed after it is refused, and creates no grant", async () => {
      const rose = await createUser(w.db, "rose@example.com", "rose-password-1", "Rose");
      const otto = await createUser(w.db, "otto@example.com", "otto-password-1", "Otto");
      const client = await publicClient(w.url);
      const rosesCode = await codeFor(w, rose, client);
      const ottosCode = await codeFor(w, otto, client);

      const NEW_PASSWORD = "rose new password, longer";
      const r = await user(["reset-password", rose.email], NEW_PASSWORD + "\n");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Changed the password of rose@example\.com/);

      await assertCodeRefused(w, rose, client, rosesCode, "Rose's code from before the reset");
      // Redeemed again: still refused, still nothing created.
      await assertCodeRefused(w, rose, client, rosesCode, "Rose's code from before the reset, again");
      // Another person's code from before the reset, same app: redeemed (the refusal was
      // the reset's, not the code's age or the app's).
      const others = await exchange(w, client, ottosCode);
      assert.equal(others.status, 200, JSON.stringify(others.body));
      // A code Rose approves after the reset, with the new password: redeemed.
      const after = await exchange(w, client, await codeFor(w, { ...rose, password: NEW_PASSWORD }, client));
      assert.equal(after.status, 200, JSON.stringify(after.body));
      assertServed(await useToken(w, after.body.access_token), "Rose's token from a code after the reset");
    });

    test('10 a code approved before "Sign out everywhere" and redeemed after it is refused, and creates no grant', async () => {
      const una = await createUser(w.db, "una@example.com", "una-password-12", "Una");
      const vic = await createUser(w.db, "vic@example.com", "vic-password-12", "Vic");
      const client = await publicClient(w.url);
      // Approved in a browser already signed in on /account (the session "Sign out
      // everywhere" is for), and in another browser signing in at /authorize.
      const signedIn = await accountSignIn(w, una);
      const unasCode = await codeFor(w, una, client, { browser: signedIn });
      const unasOtherCode = await codeFor(w, una, client);
      const vicsCode = await codeFor(w, vic, client);

      const pressing = await accountSignIn(w, una);
      const { csrf_token } = formFields(await assertSignedIn(w, pressing, "Una, the browser pressing it"));
      const res = await pressing.post(w.url + "/account", { csrf_token, action: "signout_everywhere" });
      const body = await res.text();
      assert.equal(res.status, 303, body.slice(0, 300));
      await assertSignedOut(w, copyOf(signedIn), "the browser that approved the first code");

      await assertCodeRefused(w, una, client, unasCode, "Una's code from before, approved with the /account session");
      await assertCodeRefused(w, una, client, unasOtherCode, "Una's code from before, approved in another browser");
      const others = await exchange(w, client, vicsCode);
      assert.equal(others.status, 200, JSON.stringify(others.body));
      const after = await exchange(w, client, await codeFor(w, una, client));
      assert.equal(after.status, 200, JSON.stringify(after.body));
      assertServed(await useToken(w, after.body.access_token), "Una's token from a code after signing out everywhere");
    });
  });
});
