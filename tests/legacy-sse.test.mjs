// The legacy HTTP+SSE transport (MCP 2024-11-05) end to end, with the official SDK's
// SSEClientTransport: the stream and the posted messages meet in the session's Durable
// Object (running in Miniflare), with OAuth and personal access tokens, one person's
// session is 404 to another, and quiet streams get keep-alives and close when idle.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { startWorker } from "./helpers/worker.mjs";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { createUser, fullFlow } from "./helpers/oauth.mjs";
import { PersonProvider } from "./helpers/person-provider.mjs";

let w, off, alice, bob, aliceToken, bobToken;
before(async () => {
  [w, off] = await Promise.all([
    startWorker({ bindings: { LEGACY_SSE: "on", SSE_KEEPALIVE_SECONDS: "1", SSE_IDLE_SECONDS: "3", SSE_SESSIONS_PER_HOUR: "8" } }),
    startWorker(),
  ]);
  alice = await createUser(w.db, "alice@example.com", "alice-password-1", "Alice");
  bob = await createUser(w.db, "bob@example.com", "bob-password-12", "Bob");
  aliceToken = (await fullFlow(w.url, alice)).tokens.access_token;
  bobToken = (await fullFlow(w.url, bob)).tokens.access_token;
});
after(async () => {
  await w?.stop();
  await off?.stop();
});

async function sdk(token) {
  const client = new Client({ name: "legacy-sse-test", version: "1" });
  const transport = new SSEClientTransport(new URL(w.url + "/sse"), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return { client, transport };
}

/** Opens a raw stream and reads events until `until` says stop; returns them. */
async function readStream(token, until, { timeoutMs = 8000 } = {}) {
  const controller = new AbortController();
  const res = await fetch(w.url + "/sse", { headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" }, signal: controller.signal });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { res, text, ended: true };
      text += decoder.decode(value, { stream: true });
      if (until(text)) return { res, text, ended: false, stop: () => controller.abort() };
    }
  } catch (e) {
    if (e.name === "AbortError") return { res, text, ended: false, timedOut: true };
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

test("the SDK's SSE client initializes, lists and calls tools through the session object", async () => {
  const { client } = await sdk(aliceToken);
  try {
    assert.equal(client.getServerVersion().name, "mcp-oauth-worker");
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === "memory_store"));
    const stored = await client.callTool({ name: "memory_store", arguments: { text: "Legacy transport note" } });
    assert.equal(stored.isError, false, JSON.stringify(stored));
    const found = await client.callTool({ name: "search", arguments: { query: "legacy transport" } });
    assert.equal(JSON.parse(found.content[0].text).results.length, 1);
  } finally {
    await client.close();
  }
});

test("a personal access token works too", async () => {
  const pat = "mcp_pat_" + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const hash = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(pat))).toString("base64url");
  await w.db.prepare("INSERT INTO personal_tokens (id, user_id, name, token_hash, scope, created_at) VALUES ('pt_sse', ?, 'old client', ?, 'mcp:read', 1)").bind(alice.id, hash).run();
  const { client } = await sdk(pat);
  try {
    const found = await client.callTool({ name: "search", arguments: { query: "legacy transport" } });
    assert.equal(JSON.parse(found.content[0].text).results.length, 1, "Alice's note, through her token");
    const write = await client.callTool({ name: "memory_store", arguments: { text: "nope" } });
    assert.equal(write.isError, true, "a read-only token cannot write");
  } finally {
    await client.close();
  }
});

test("one person's session is 404 to another, and bad requests get clear errors", async () => {
  const opened = await readStream(aliceToken, (t) => t.includes("event: endpoint"));
  const endpoint = /event: endpoint\ndata: (\S+)/.exec(opened.text)[1];
  assert.match(endpoint, /^\/messages\?sessionId=[A-Za-z0-9_-]{22}$/);
  assert.equal(opened.res.headers.get("content-type"), "text/event-stream");
  const post = (token, body, headers = {}) =>
    fetch(w.url + endpoint, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}`, ...headers }, body });
  const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  assert.equal((await post(bobToken, ping)).status, 404, "Bob cannot post into Alice's session");
  assert.equal((await post(aliceToken, ping)).status, 202);
  assert.equal((await post("not-a-token", ping)).status, 401);
  const noToken = await fetch(w.url + endpoint, { method: "POST", headers: { "Content-Type": "application/json" }, body: ping });
  assert.equal(noToken.status, 401);
  assert.match(noToken.headers.get("www-authenticate"), /^Bearer resource_metadata=/);
  // Alice's other app (another grant) cannot use this session either.
  const aliceOtherApp = (await fullFlow(w.url, alice)).tokens.access_token;
  assert.equal((await post(aliceOtherApp, ping)).status, 404, "a session belongs to the credential that opened it");
  const bad = await post(aliceToken, "{not json");
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, -32700);
  assert.equal((await post(aliceToken, ping, { "Content-Type": "text/plain" })).status, 415);
  const unknown = await fetch(w.url + "/messages?sessionId=" + "A".repeat(22), { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${aliceToken}` }, body: ping });
  assert.equal(unknown.status, 404);
  const missing = await fetch(w.url + "/messages", { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${aliceToken}` }, body: ping });
  assert.equal(missing.status, 400);
  opened.stop();

  const streamWithoutToken = await fetch(w.url + "/sse", { headers: { Accept: "text/event-stream" } });
  assert.equal(streamWithoutToken.status, 401);
  assert.equal((await fetch(w.url + "/sse", { headers: { Authorization: `Bearer ${aliceToken}`, Accept: "application/json" } })).status, 406);
  assert.equal((await fetch(w.url + "/sse", { method: "POST", headers: { Authorization: `Bearer ${aliceToken}` } })).status, 405);
});

test("answers arrive on the stream; quiet streams get keep-alives and close when idle", async () => {
  let endpoint;
  const result = await readStream(aliceToken, (t) => {
    if (!endpoint && /event: endpoint\ndata: (\S+)/.test(t)) {
      endpoint = /event: endpoint\ndata: (\S+)/.exec(t)[1];
      fetch(w.url + endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${aliceToken}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
      });
    }
    return false;
  });
  assert.equal(result.ended, true, "the idle stream was closed by the server");
  const answer = JSON.parse(/event: message\ndata: (.*)\n\n/.exec(result.text)[1]);
  assert.equal(answer.id, 7);
  assert.equal(answer.result.protocolVersion, "2024-11-05");
  assert.match(result.text, /: keep-alive\n\n/);
  assert.match(result.text, /: idle, closing\n\n$/);
  // The session is gone with its stream.
  const after = await fetch(w.url + endpoint, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${aliceToken}` }, body: JSON.stringify({ jsonrpc: "2.0", id: 8, method: "ping" }) });
  assert.equal(after.status, 404);
});

test("off by default; a batch of one is answered with an array; streams per hour are limited", async () => {
  const closed = await fetch(off.url + "/sse", { headers: { Authorization: `Bearer ${aliceToken}`, Accept: "text/event-stream" } });
  assert.equal(closed.status, 404);
  assert.equal((await fetch(off.url + "/messages?sessionId=x", { method: "POST" })).status, 404);

  let endpoint;
  const result = await readStream(bobToken, (t) => {
    if (!endpoint && /event: endpoint\ndata: (\S+)/.test(t)) {
      endpoint = /event: endpoint\ndata: (\S+)/.exec(t)[1];
      fetch(w.url + endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${bobToken}` },
        body: JSON.stringify([{ jsonrpc: "2.0", id: 9, method: "ping" }]),
      });
    }
    return /event: message/.test(t);
  });
  result.stop?.();
  const answer = JSON.parse(/event: message\ndata: (.*)\n\n/.exec(result.text)[1]);
  assert.deepEqual(answer, [{ jsonrpc: "2.0", id: 9, result: {} }]);

  // SSE_SESSIONS_PER_HOUR is 8 here; Bob has opened 1 above.
  const statuses = [];
  for (let i = 0; i < 8; i++) {
    const controller = new AbortController();
    const res = await fetch(w.url + "/sse", { headers: { Authorization: `Bearer ${bobToken}`, Accept: "text/event-stream" }, signal: controller.signal });
    statuses.push(res.status);
    if (res.status === 429) assert.ok(Number(res.headers.get("retry-after")) > 0);
    controller.abort();
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 429]);
});

test("at /mcp/sse the SDK's SSE client signs in with OAuth by itself", async () => {
  const provider = new PersonProvider(w.url, "http://127.0.0.1:33419/callback", alice, "Old SSE client");
  const make = () => new SSEClientTransport(new URL(w.url + "/mcp/sse"), { authProvider: provider });
  await assert.rejects(new Client({ name: "old", version: "1" }).connect(make()), UnauthorizedError, "the stream meets the 401");
  assert.ok(provider.code, "the person approved");
  assert.equal(provider.authorizationUrls[0].searchParams.get("resource"), w.url + "/mcp");
  const transport = make();
  await transport.finishAuth(provider.code);
  const client = new Client({ name: "old", version: "1" });
  await client.connect(transport);
  try {
    const found = await client.callTool({ name: "search", arguments: { query: "legacy transport" } });
    assert.equal(JSON.parse(found.content[0].text).results.length, 1, "Alice's note from the first test");
  } finally {
    await client.close();
  }
  assert.ok(w.logs.some((l) => / POST \/mcp\/messages 202$/.test(l)), "messages went to /mcp/messages");
});
