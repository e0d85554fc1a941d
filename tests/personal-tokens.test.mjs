// Personal access tokens end to end: `npm run token` makes one in wrangler's local D1, the
// Worker (in workerd, on that same database) accepts it at /mcp through the official SDK
// client with an Authorization header, as Claude Code and Copilot send it; its scopes
// hold; the path form works only when MCP_PATH_TOKENS allows it; the token works nowhere
// else; revoking it stops it at once. (The account page's part is in account.test.mjs.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { localState, startWorker } from "./helpers/worker.mjs";
import { runNode } from "./helpers/process.mjs";
import { createUser, fullFlow, register, token as tokenRequest } from "./helpers/oauth.mjs";
import { mcpPost } from "./helpers/mcp.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let dir, w, closed, alice, bob;

const cli = (...args) => runNode(join(ROOT, "scripts", "token.mjs"), [...args, "--persist-to", dir], { cwd: ROOT });

before(async () => {
  dir = await localState("pat-");
  [w, closed] = await Promise.all([
    startWorker({ persistTo: dir, bindings: { MCP_PATH_TOKENS: "on" } }),
    startWorker(),
  ]);
  alice = await createUser(w.db, "alice@example.com", "alice-password-1", "Alice");
  bob = await createUser(w.db, "bob@example.com", "bob-password-12", "Bob");
});
after(async () => {
  await w?.stop();
  await closed?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function create(email, scope, extra = []) {
  const r = await cli("create", "--user", email, "--name", `${email} laptop`, "--scope", scope, ...extra);
  assert.equal(r.code, 0, r.stderr);
  const token = r.stdout.trim();
  assert.match(token, /^mcp_pat_[A-Za-z0-9_-]{43}$/);
  assert.match(r.stderr, /will not be shown again/);
  return token;
}

async function sdk(headers, url = w.url + "/mcp") {
  const client = new Client({ name: "pat-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

test("a token from the CLI works at /mcp with the SDK client, only its hash is stored", async () => {
  const token = await create("alice@example.com", "mcp:read mcp:write", ["--expires", "7d"]);
  const { results } = await w.db.prepare("SELECT * FROM personal_tokens").all();
  assert.equal(results.length, 1);
  assert.equal(results[0].token_hash, createHash("sha256").update(token).digest("base64url"));
  assert.ok(!JSON.stringify(results).includes(token.slice(8)));
  assert.ok(results[0].expires_at - results[0].created_at === 7 * 86400);

  const client = await sdk({ Authorization: `Bearer ${token}` });
  try {
    const stored = await client.callTool({ name: "memory_store", arguments: { text: "Alice's token note" } });
    assert.equal(stored.isError, false);
    const found = await client.callTool({ name: "search", arguments: { query: "token note" } });
    assert.equal(found.structuredContent.results.length, 1);
  } finally {
    await client.close();
  }
  const after = (await w.db.prepare("SELECT last_used_at FROM personal_tokens").first()).last_used_at;
  assert.ok(after > 0, "the use is recorded");

  const logged = await w.db.prepare("SELECT event, user_id, detail FROM audit_events WHERE request_id = 'cli'").all();
  assert.deepEqual(logged.results, [{ event: "token_created", user_id: alice.id, detail: "alice@example.com laptop" }]);

  const listed = await cli("list", "--user", "alice@example.com");
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /alice@example\.com laptop/);
  assert.ok(!listed.stdout.includes(token));
});

test("scopes hold: a read-only token cannot write", async () => {
  const token = await create("bob@example.com", "mcp:read");
  const client = await sdk({ Authorization: `Bearer ${token}` });
  try {
    const write = await client.callTool({ name: "memory_store", arguments: { text: "nope" } });
    assert.equal(write.isError, true);
    assert.match(write.content[0].text, /mcp:write/);
    const read = await client.callTool({ name: "search", arguments: { query: "token note" } });
    assert.equal(read.structuredContent.results.length, 0, "Bob does not see Alice's notes");
  } finally {
    await client.close();
  }
});

test("the path form works when allowed, never for OAuth tokens, and never when off", async () => {
  const token = await create("alice@example.com", "mcp:read");
  const client = await sdk({}, `${w.url}/mcp/t/${token}`);
  try {
    const found = await client.callTool({ name: "search", arguments: { query: "token note" } });
    assert.equal(found.structuredContent.results.length, 1);
  } finally {
    await client.close();
  }
  const get = await fetch(`${w.url}/mcp/t/${token}`);
  assert.equal(get.status, 405);
  assert.ok(!(await get.text()).includes(token), "an error never repeats the token");
  assert.ok(w.logs.some((l) => l.includes("/mcp/t/[token]")));
  assert.ok(!w.logs.some((l) => l.includes(token)), "the token never reaches the log");

  const oauth = await fullFlow(w.url, alice);
  const list = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };
  const jwtInPath = await fetch(`${w.url}/mcp/t/${oauth.tokens.access_token.replaceAll(".", "_")}`, {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(list),
  });
  assert.notEqual(jwtInPath.status, 200, "an access token never works in the path");
  const notPersonal = await fetch(`${w.url}/mcp/t/not_a_personal_token`, {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(list),
  });
  assert.equal(notPersonal.status, 401);
  assert.match((await notPersonal.json()).error_description, /only personal access tokens/);
  const both = await fetch(`${w.url}/mcp/t/${token}`, {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${token}` }, body: JSON.stringify(list),
  });
  assert.equal(both.status, 401);
  const off = await fetch(`${closed.url}/mcp/t/${token}`, {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(list),
  });
  assert.equal(off.status, 404);
});

test("a personal token is not an OAuth token at /token, /userinfo or /introspect", async () => {
  const token = await create("alice@example.com", "mcp:read");
  const flow = await fullFlow(w.url, alice);
  const client = flow.client;
  const refresh = await tokenRequest(w.url, { grant_type: "refresh_token", refresh_token: token, client_id: client.client_id });
  assert.equal(refresh.status, 400);
  assert.equal(refresh.body.error, "invalid_grant");
  const userinfo = await fetch(w.url + "/userinfo", { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(userinfo.status, 401);
  const { body: confidential } = await register(w.url, { redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "client_secret_basic" });
  const basic = Buffer.from(`${confidential.client_id}:${confidential.client_secret}`).toString("base64");
  const introspect = await fetch(w.url + "/introspect", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${basic}` },
    body: new URLSearchParams({ token }),
  });
  assert.equal(introspect.status, 200);
  const body = await introspect.json();
  assert.equal(body.active, false, JSON.stringify(body));
});

test("bad tokens and bad CLI input get clear errors", async () => {
  const forged = "mcp_pat_" + "A".repeat(43);
  const res = await mcpPost(w.url, forged, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/);
  assert.match(res.json.error_description, /unknown, expired or revoked/);

  for (const [args, says] of [
    [["create", "--user", "nobody@example.com", "--name", "x", "--scope", "mcp:read"], /No user/],
    [["create", "--user", "alice@example.com", "--name", "x", "--scope", "profile"], /not a scope/],
    [["create", "--user", "alice@example.com", "--name", "x", "--scope", "mcp:read", "--expires", "1d"], /7d, 30d, 90d or never/],
    [["create", "--user", "alice@example.com", "--name", " ", "--scope", "mcp:read"], /name/],
    [["create", "--user", "alice@example.com", "--scope", "mcp:read"], /needs --name/],
    [["revoke", "nope"], /Not a token id/],
    [["revoke", "pt_doesnotexist"], /No live token/],
    [["frobnicate"], /Unknown command/],
  ]) {
    const r = await cli(...args);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.match(r.stderr, says, args.join(" "));
  }
});

test("revoking stops the token at once; a disabled account's tokens stop too", async () => {
  const token = await create("alice@example.com", "mcp:read");
  const ok = await mcpPost(w.url, token, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }, { "MCP-Protocol-Version": "2025-06-18" });
  assert.notEqual(ok.status, 401);
  const row = await w.db.prepare("SELECT id FROM personal_tokens WHERE token_hash = ?").bind(createHash("sha256").update(token).digest("base64url")).first();
  const r = await cli("revoke", row.id);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Revoked/);
  const after = await mcpPost(w.url, token, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
  assert.equal(after.status, 401);
  const again = await cli("revoke", row.id);
  assert.notEqual(again.code, 0);

  const bobToken = await create("bob@example.com", "mcp:read");
  await w.db.prepare("UPDATE users SET disabled_at = 1 WHERE id = ?").bind(bob.id).run();
  const disabled = await mcpPost(w.url, bobToken, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
  assert.equal(disabled.status, 401);
});

test("disabling an account revokes its tokens for good; enabling it does not bring them back", async () => {
  const carol = await createUser(w.db, "carol@example.com", "carol-password-1");
  const token = await create(carol.email, "mcp:read", ["--expires", "never"]);
  const user = (...args) => runNode(join(ROOT, "scripts", "user.mjs"), [...args, "--persist-to", dir], { cwd: ROOT });
  const off = await user("disable", carol.email);
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /personal access tokens revoked/);
  const on = await user("enable", carol.email);
  assert.equal(on.code, 0, on.stderr);
  const res = await mcpPost(w.url, token, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
  assert.equal(res.status, 401, "a token from before the disable stays dead");
});

test("an expired token is refused", async () => {
  const token = await create("alice@example.com", "mcp:read");
  const hash = createHash("sha256").update(token).digest("base64url");
  await w.db.prepare("UPDATE personal_tokens SET expires_at = 1 WHERE token_hash = ?").bind(hash).run();
  const res = await mcpPost(w.url, token, { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
  assert.equal(res.status, 401);
});
