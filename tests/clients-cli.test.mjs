// Pre-registered clients end to end: `npm run client` writes to wrangler's local D1 and KV,
// and the Worker (in workerd, on that same state, with dynamic registration turned off)
// runs the whole authorization-code flow for them: a confidential client with its secret,
// a public one with PKCE. Rotating the secret and removing the client take effect at
// /token at once.
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

before(async () => {
  dir = await localState("clients-");
  w = await startWorker({ persistTo: dir, bindings: { DYNAMIC_REGISTRATION: "off" } });
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
