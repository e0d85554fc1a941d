// /mcp over raw HTTP against the built Worker in workerd: authorization (401 challenges,
// forged and revoked tokens), the session era (initialize, session ids, versions,
// batches, notifications, DELETE), the 2026-07-28 stateless requests and their header
// rules, content negotiation, Origin, and the JSON-RPC error codes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, token } from "./helpers/oauth.mjs";
import { serverKey, signJwt, unsignedJwt, verifyIssued } from "./helpers/jwt.mjs";
import { mcpPost, initialize, sessionCall, modernCall, toolValue, MODERN } from "./helpers/mcp.mjs";

let w, alice, bob, aliceToken, bobToken;
before(async () => {
  w = await startWorker({ bindings: { MCP_ALLOWED_ORIGINS: "https://app.example.org" } });
  [alice, bob] = await Promise.all([
    createUser(w.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(w.db, "bob@example.com", "bob-password-12", "Bob"),
  ]);
  aliceToken = (await fullFlow(w.url, alice)).tokens.access_token;
  bobToken = (await fullFlow(w.url, bob)).tokens.access_token;
});
after(() => w?.stop());

const metadataUrl = () => `${w.url}/.well-known/oauth-protected-resource/mcp`;
const listTools = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };

// ---------------------------------------------------------------------------------------
// Authorization

test("no token: 401 with resource_metadata and the scopes, and no error attribute", async () => {
  const res = await mcpPost(w.url, null, listTools);
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), `Bearer resource_metadata="${metadataUrl()}", scope="mcp:read mcp:write"`);
  // The metadata it names says where to sign in.
  const prm = await (await fetch(metadataUrl())).json();
  assert.equal(prm.resource, w.url + "/mcp");
});

test("expired, forged, alg:none and wrong-audience tokens: 401 invalid_token", async () => {
  const header = decodeProtectedHeader(aliceToken);
  const claims = decodeJwt(aliceToken);
  // What is copied below is a token the Worker issued for its /mcp.
  assert.deepEqual((await verifyIssued(w, aliceToken, { audience: w.url + "/mcp" })).payload, claims);
  const now = Math.floor(Date.now() / 1000);
  const other = generateKeyPairSync("ed25519").privateKey;
  // The test's signer is trusted by the server: a fresh self-signed token works.
  const fresh = await signJwt(header, { ...claims, iat: now, exp: now + 600 }, serverKey(w));
  await verifyIssued(w, fresh, { audience: w.url + "/mcp" });
  assert.equal((await modernCall(w.url, fresh, "tools/list")).status, 200);
  const cases = {
    expired: await signJwt(header, { ...claims, iat: now - 7200, exp: now - 3600 }, serverKey(w)),
    "not yet valid": await signJwt(header, { ...claims, nbf: now + 3600, exp: now + 7200 }, serverKey(w)),
    "other key": await signJwt(header, claims, other),
    "alg none": unsignedJwt(header, claims),
    "wrong audience": await signJwt(header, { ...claims, aud: "https://other.example/mcp" }, serverKey(w)),
    "wrong issuer": await signJwt(header, { ...claims, iss: "https://evil.example" }, serverKey(w)),
    garbage: "not-a-jwt",
  };
  for (const [name, jwt] of Object.entries(cases)) {
    const res = await mcpPost(w.url, jwt, listTools);
    assert.equal(res.status, 401, name);
    const challenge = res.headers.get("www-authenticate");
    assert.ok(challenge.startsWith(`Bearer resource_metadata="${metadataUrl()}", scope="mcp:read mcp:write", error="invalid_token"`), `${name}: ${challenge}`);
  }
});

test("a token in the query string is never read", async () => {
  const res = await fetch(`${w.url}/mcp?access_token=${aliceToken}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(listTools),
  });
  assert.equal(res.status, 401);
  assert.doesNotMatch(res.headers.get("www-authenticate"), /error=/);
  await res.text();
});

test("a token with none of the MCP scopes: 403 insufficient_scope with the scopes to ask for", async () => {
  const { tokens } = await fullFlow(w.url, alice, { scope: "profile" });
  assert.equal(tokens.scope, "profile");
  const res = await mcpPost(w.url, tokens.access_token, listTools);
  assert.equal(res.status, 403);
  const challenge = res.headers.get("www-authenticate");
  assert.match(challenge, /^Bearer resource_metadata="[^"]+", error="insufficient_scope", scope="mcp:read mcp:write"/);
});

test("after /revoke of the grant's refresh token the access token stops at /mcp", async () => {
  const flow = await fullFlow(w.url, alice);
  const session = await initialize(w.url, flow.tokens.access_token);
  assert.equal((await sessionCall(w.url, flow.tokens.access_token, session, "tools/list")).status, 200);
  const revoked = await fetch(w.url + "/revoke", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: flow.tokens.refresh_token, client_id: flow.client.client_id }),
  });
  assert.equal(revoked.status, 200);
  const res = await sessionCall(w.url, flow.tokens.access_token, session, "tools/list");
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/);
});

// ---------------------------------------------------------------------------------------
// Session era

test("initialize negotiates the version, names the server and issues a session id", async () => {
  for (const [asked, expected] of [["2025-06-18", "2025-06-18"], ["2024-11-05", "2024-11-05"], ["2025-11-25", "2025-11-25"], ["1999-01-01", "2025-11-25"]]) {
    const s = await initialize(w.url, aliceToken, asked);
    assert.equal(s.version, expected, asked);
    assert.match(s.sessionId, /^[\x21-\x7e]{20,}$/);
    assert.equal(s.result.serverInfo.name, "mcp-oauth-worker");
    assert.ok(s.result.serverInfo.version && s.result.serverInfo.title);
    assert.deepEqual(s.result.capabilities, { tools: { listChanged: false }, resources: { listChanged: false }, prompts: { listChanged: false } });
    assert.ok(s.result.instructions.length > 20);
  }
});

test("after initialize: missing session id 400, another user's or a made-up id 404", async () => {
  const s = await initialize(w.url, aliceToken);
  const noId = await mcpPost(w.url, aliceToken, listTools, { "MCP-Protocol-Version": s.version });
  assert.equal(noId.status, 400);
  const bobs = await sessionCall(w.url, bobToken, s, "tools/list");
  assert.equal(bobs.status, 404, "Alice's session id with Bob's token");
  // One character changed in the middle: the last one of base64url carries bits a decoder
  // may ignore, so changing the end could leave the same id (a flake, once in 256 runs).
  const flipped = s.sessionId[5] === "A" ? "B" : "A";
  const madeUp = await sessionCall(w.url, aliceToken, { ...s, sessionId: s.sessionId.slice(0, 5) + flipped + s.sessionId.slice(6) }, "tools/list");
  assert.equal(madeUp.status, 404);
  const ok = await sessionCall(w.url, aliceToken, s, "tools/list");
  assert.equal(ok.status, 200);
  assert.equal(ok.json.result.tools.length, 6);
});

test("MCP-Protocol-Version: unsupported 400, absent means the session's, other than the session's 400", async () => {
  const s = await initialize(w.url, aliceToken, "2025-06-18");
  const unsupported = await sessionCall(w.url, aliceToken, { ...s, version: "1999-01-01" }, "ping");
  assert.equal(unsupported.status, 400);
  assert.equal(unsupported.json.error.code, -32022);
  assert.ok(unsupported.json.error.data.supported.includes("2025-06-18"));
  const absent = await mcpPost(w.url, aliceToken, { jsonrpc: "2.0", id: 9, method: "ping" }, { "Mcp-Session-Id": s.sessionId });
  assert.equal(absent.status, 200);
  assert.deepEqual(absent.json, { jsonrpc: "2.0", id: 9, result: {} });
  const other = await sessionCall(w.url, aliceToken, { ...s, version: "2025-11-25" }, "ping");
  assert.equal(other.status, 400);
});

test("notifications and responses get 202 with no body; ping answers {}", async () => {
  const s = await initialize(w.url, aliceToken);
  const headers = { "Mcp-Session-Id": s.sessionId, "MCP-Protocol-Version": s.version };
  const n = await mcpPost(w.url, aliceToken, { jsonrpc: "2.0", method: "notifications/initialized" }, headers);
  assert.equal(n.status, 202);
  assert.equal(n.text, "");
  const r = await mcpPost(w.url, aliceToken, { jsonrpc: "2.0", id: "srv-1", result: {} }, headers);
  assert.equal(r.status, 202);
  const ping = await sessionCall(w.url, aliceToken, s, "ping", {}, "p-1");
  assert.deepEqual(ping.json, { jsonrpc: "2.0", id: "p-1", result: {} });
});

test("batches are answered at 2025-03-26 only; -32600 otherwise", async () => {
  const old = await initialize(w.url, aliceToken, "2025-03-26");
  const batch = [
    { jsonrpc: "2.0", id: 1, method: "ping" },
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", id: 2, method: "tools/list" },
    { jsonrpc: "2.0", id: 3, method: "nope" },
  ];
  const res = await mcpPost(w.url, aliceToken, batch, { "Mcp-Session-Id": old.sessionId, "MCP-Protocol-Version": "2025-03-26" });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json.map((m) => m.id), [1, 2, 3]);
  assert.equal(res.json[1].result.tools.length, 6);
  assert.equal(res.json[2].error.code, -32601);
  const s = await initialize(w.url, aliceToken, "2025-06-18");
  const refused = await mcpPost(w.url, aliceToken, batch, { "Mcp-Session-Id": s.sessionId, "MCP-Protocol-Version": s.version });
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.code, -32600);
});

test("GET /mcp without a token gets the same 401 challenge as a POST, so clients that probe with GET learn where to sign in", async () => {
  for (const method of ["GET", "HEAD"]) {
    const res = await fetch(w.url + "/mcp", { method, headers: { Accept: "text/event-stream" } });
    await res.text();
    assert.equal(res.status, 401, method);
    const challenge = res.headers.get("www-authenticate") ?? "";
    assert.match(challenge, /^Bearer /, method);
    assert.match(challenge, /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/, method);
    const post = await fetch(w.url + "/mcp", { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" }, body: "{}" });
    await post.text();
    assert.equal(challenge, post.headers.get("www-authenticate"), `${method}: the same challenge as a POST's`);
  }
  // A GET with a token still has no stream to open: 405 with Allow, as before.
  const bad = await fetch(w.url + "/mcp", { headers: { Authorization: "Bearer not-a-token" } });
  await bad.text();
  assert.equal(bad.status, 405);
  // Other methods stay 405 without a token too.
  const put = await fetch(w.url + "/mcp", { method: "PUT" });
  await put.text();
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "POST, DELETE, OPTIONS");
});

test("DELETE ends the session; GET is 405 with Allow", async () => {
  const s = await initialize(w.url, aliceToken);
  const del = await fetch(w.url + "/mcp", {
    method: "DELETE",
    headers: { Authorization: "Bearer " + aliceToken, "Mcp-Session-Id": s.sessionId, "MCP-Protocol-Version": s.version },
  });
  assert.equal(del.status, 204);
  assert.equal((await sessionCall(w.url, aliceToken, s, "tools/list")).status, 404);
  const get = await fetch(w.url + "/mcp", { headers: { Authorization: "Bearer " + aliceToken, Accept: "text/event-stream" } });
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST, DELETE, OPTIONS");
  await get.text();
});

// ---------------------------------------------------------------------------------------
// JSON-RPC errors and content negotiation

test("parse error -32700 with id null; invalid request -32600; unknown method -32601; unknown tool -32602", async () => {
  const parse = await mcpPost(w.url, aliceToken, "{not json");
  assert.equal(parse.status, 400);
  assert.deepEqual([parse.json.id, parse.json.error.code], [null, -32700]);
  const invalid = await mcpPost(w.url, aliceToken, { jsonrpc: "2.0", id: 4, method: 42 });
  assert.deepEqual([invalid.status, invalid.json.id, invalid.json.error.code], [400, 4, -32600]);
  const s = await initialize(w.url, aliceToken);
  const unknown = await sessionCall(w.url, aliceToken, s, "completion/complete");
  assert.equal(unknown.json.error.code, -32601);
  const tool = await sessionCall(w.url, aliceToken, s, "tools/call", { name: "no_such_tool", arguments: {} });
  assert.equal(tool.json.error.code, -32602);
  const cursor = await sessionCall(w.url, aliceToken, s, "tools/list", { cursor: "bogus" });
  assert.equal(cursor.json.error.code, -32602);
});

test("a body sent without Content-Length is cut off at 1 MiB: 413", async () => {
  // On a connection of its own: the server answers before the upload ends, and a pooled
  // connection left mid-upload would reset the next test's request.
  const url = new URL(w.url + "/mcp");
  const status = await new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        agent: false,
        headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: "Bearer " + aliceToken },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode);
        req.destroy();
      },
    );
    // Writes after the answer may fail once the server stops reading; the status decides.
    req.on("error", (e) => (req.destroyed ? undefined : reject(e)));
    const chunk = " ".repeat(64 * 1024);
    let sent = 0;
    const more = () => {
      while (sent < 40 && !req.destroyed) {
        sent++;
        if (!req.write(chunk)) return req.once("drain", more); // 2.5 MiB in all
      }
      if (!req.destroyed) req.end();
    };
    more();
  });
  assert.equal(status, 413);
});

test("a 2025-03-26 batch of more than 20 messages is refused", async () => {
  const old = await initialize(w.url, aliceToken, "2025-03-26");
  const batch = Array.from({ length: 21 }, (_, i) => ({ jsonrpc: "2.0", id: i + 1, method: "ping" }));
  const res = await mcpPost(w.url, aliceToken, batch, { "Mcp-Session-Id": old.sessionId, "MCP-Protocol-Version": "2025-03-26" });
  assert.equal(res.status, 400);
  assert.equal(res.json.error.code, -32600);
});

test("413 for a body over 1 MiB, 415 for a wrong Content-Type, 406 for an impossible Accept", async () => {
  const big = await mcpPost(w.url, aliceToken, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", pad: "x".repeat(1024 * 1024) }));
  assert.equal(big.status, 413);
  const form = await mcpPost(w.url, aliceToken, JSON.stringify(listTools), { "Content-Type": "text/plain" });
  assert.equal(form.status, 415);
  const html = await mcpPost(w.url, aliceToken, listTools, { Accept: "text/html" });
  assert.equal(html.status, 406);
});

test("Origin: absent or allowed passes, anything else 403; preflight names only allowed origins", async () => {
  for (const origin of ["https://chatgpt.com", "https://claude.ai", "https://chat.openai.com", "https://app.example.org", w.url, "http://localhost:6274"]) {
    const res = await mcpPost(w.url, aliceToken, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "o", version: "1" } } }, { Origin: origin });
    assert.equal(res.status, 200, origin);
    assert.equal(res.headers.get("access-control-allow-origin"), origin);
    assert.match(res.headers.get("access-control-expose-headers"), /Mcp-Session-Id/);
  }
  const evil = await mcpPost(w.url, aliceToken, listTools, { Origin: "https://evil.example" });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get("access-control-allow-origin"), null);
  const pre = await fetch(w.url + "/mcp", { method: "OPTIONS", headers: { Origin: "https://chatgpt.com", "Access-Control-Request-Method": "POST" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "https://chatgpt.com");
  assert.match(pre.headers.get("access-control-allow-headers"), /Mcp-Session-Id/);
  const badPre = await fetch(w.url + "/mcp", { method: "OPTIONS", headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" } });
  assert.equal(badPre.status, 403);
  assert.equal(badPre.headers.get("access-control-allow-origin"), null);
  await pre.text();
  await badPre.text();
});

// ---------------------------------------------------------------------------------------
// 2026-07-28: stateless requests

test("2026-07-28: server/discover, tools/list with caching hints, no session id issued", async () => {
  const d = await modernCall(w.url, aliceToken, "server/discover");
  assert.equal(d.status, 200, d.text);
  assert.equal(d.headers.get("mcp-session-id"), null);
  const r = d.json.result;
  assert.equal(r.resultType, "complete");
  assert.ok(r.supportedVersions.includes(MODERN) && r.supportedVersions.includes("2025-06-18"));
  assert.ok(r.capabilities.tools);
  assert.equal(r._meta["io.modelcontextprotocol/serverInfo"].name, "mcp-oauth-worker");
  assert.ok(Number.isInteger(r.ttlMs) && ["public", "private"].includes(r.cacheScope));
  const list = await modernCall(w.url, aliceToken, "tools/list");
  assert.equal(list.json.result.resultType, "complete");
  assert.ok(Number.isInteger(list.json.result.ttlMs));
  assert.equal(list.json.result.cacheScope, "public");
  assert.equal(list.json.result.tools.length, 6);
});

test("2026-07-28: a tool call works without any session", async () => {
  const stored = await modernCall(w.url, aliceToken, "tools/call", { name: "memory_store", arguments: { text: "stateless era note about zebras" } });
  assert.equal(stored.status, 200, stored.text);
  assert.equal(stored.json.result.resultType, "complete");
  const { id } = toolValue(stored.json.result);
  const found = await modernCall(w.url, aliceToken, "tools/call", { name: "search", arguments: { query: "zebras" } });
  assert.deepEqual(toolValue(found.json.result).results.map((r) => r.id), [id]);
});

test("2026-07-28: header rules (-32020), _meta rules (-32602), versions (-32022), removed methods (404)", async () => {
  const expect = async (res, status, code, why) => {
    assert.equal(res.status, status, `${why}: ${res.text}`);
    assert.equal(res.json.error.code, code, why);
    assert.equal(res.json.id, 7, `${why}: the error echoes the request id`);
  };
  const call = (method, params, opts) => modernCall(w.url, aliceToken, method, params, { id: 7, ...opts });
  await expect(await call("tools/list", {}, { headers: { "Mcp-Method": "tools/call" } }), 400, -32020, "Mcp-Method differs");
  await expect(await call("tools/list", {}, { headers: { "Mcp-Method": "TOOLS/LIST" } }), 400, -32020, "values are case-sensitive");
  await expect(await call("tools/call", { name: "search", arguments: { query: "x" } }, { headers: { "Mcp-Name": "fetch" } }), 400, -32020, "Mcp-Name differs");
  await expect(await call("tools/list", {}, { meta: { "io.modelcontextprotocol/protocolVersion": "v999.0.0" } }), 400, -32020, "header and body versions differ");
  const v999 = await call("tools/list", {}, { meta: { "io.modelcontextprotocol/protocolVersion": "v999.0.0" }, headers: { "MCP-Protocol-Version": "v999.0.0" } });
  await expect(v999, 400, -32022, "unknown version");
  assert.equal(v999.json.error.data.requested, "v999.0.0");
  assert.ok(v999.json.error.data.supported.includes(MODERN));
  await expect(await call("tools/list", {}, { meta: { "io.modelcontextprotocol/clientCapabilities": undefined } }), 400, -32602, "no clientCapabilities");
  const noMeta = await mcpPost(w.url, aliceToken, { jsonrpc: "2.0", id: 7, method: "tools/list", params: {} }, { "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list" });
  await expect(noMeta, 400, -32602, "no _meta at all");
  for (const removed of ["initialize", "ping", "unknown/method"]) {
    await expect(await call(removed, {}), 404, -32601, removed);
  }
  // Mcp-Name's base64 form is decoded; whitespace around a value is not significant.
  const encoded = await call("tools/call", { name: "search", arguments: { query: "x" } }, { headers: { "Mcp-Name": "=?base64?" + Buffer.from("search").toString("base64") + "?=" } });
  assert.equal(encoded.status, 200, encoded.text);
});

test("progress: with a progressToken and an event-stream Accept, notifications then the response", async () => {
  const res = await modernCall(w.url, aliceToken, "tools/call", { name: "search", arguments: { query: "anything" } }, { meta: { progressToken: "pt-1" } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  const events = res.text.split("\n\n").filter(Boolean).map((e) => JSON.parse(e.split("\n").find((l) => l.startsWith("data: ")).slice(6)));
  assert.ok(events.length >= 2);
  assert.ok(events.every((e) => e.data !== ""), "no empty priming events");
  for (const n of events.slice(0, -1)) {
    assert.equal(n.method, "notifications/progress");
    assert.equal(n.params.progressToken, "pt-1");
  }
  const steps = events.slice(0, -1).map((n) => n.params.progress);
  assert.deepEqual(steps, [...steps].sort((a, b) => a - b));
  assert.equal(events.at(-1).id, 1);
  assert.ok(events.at(-1).result.content);
  // JSON only: the same call answers plain JSON.
  const json = await modernCall(w.url, aliceToken, "tools/call", { name: "search", arguments: { query: "anything" } }, { meta: { progressToken: "pt-2" }, headers: { Accept: "application/json" } });
  assert.match(json.headers.get("content-type"), /^application\/json/);
  assert.ok(json.json.result.content);
});
