// Public tools beside protected ones (OpenAI Apps SDK "mixed auth"), with PUBLIC_TOOLS set:
// the official SDK client connects without a token, lists the tools with their
// securitySchemes, calls the public one, and gets a tool error carrying the sign-in
// challenge for a protected one. A bad token is still a 401, and a token still works.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow } from "./helpers/oauth.mjs";
import { initialize, mcpPost, modernCall, sessionCall, toolValue } from "./helpers/mcp.mjs";

let w, closed, alice;
before(async () => {
  // `search` works on a person's notes: the Worker must refuse to make it public.
  [w, closed] = await Promise.all([
    startWorker({ bindings: { PUBLIC_TOOLS: "about, search, nope" } }),
    startWorker(),
  ]);
  alice = await createUser(w.db, "alice@example.com", "alice-password-1", "Alice");
});
after(async () => {
  await w?.stop();
  await closed?.stop();
});

async function sdkClient(base, headers = {}) {
  const client = new Client({ name: "mixed-auth-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(base + "/mcp"), { requestInit: { headers } }));
  return client;
}

test("without a token: initialize, list, call the public tool; protected tools ask for sign-in", async () => {
  const client = await sdkClient(w.url);
  try {
    const { tools } = await client.listTools();
    // The SDK keeps `_meta` (the Apps SDK reads `securitySchemes` from both places).
    const schemes = Object.fromEntries(tools.map((t) => [t.name, t._meta.securitySchemes.map((s) => s.type)]));
    assert.deepEqual(schemes.about, ["noauth"]);
    for (const name of ["search", "fetch", "memory_store", "memory_list", "memory_delete"]) {
      assert.deepEqual(schemes[name], ["oauth2"], name);
    }
    const about = await client.callTool({ name: "about", arguments: {} });
    assert.equal(about.isError, false);
    assert.equal(about.structuredContent.signed_in, false);
    assert.equal(about.structuredContent.tools.find((t) => t.name === "about").needs_sign_in, false);
    assert.equal(about.structuredContent.tools.find((t) => t.name === "search").needs_sign_in, true);

    const search = await client.callTool({ name: "search", arguments: { query: "anything" } });
    assert.equal(search.isError, true);
    const [challenge] = search._meta["mcp/www_authenticate"];
    assert.match(challenge, new RegExp(`^Bearer resource_metadata="${w.url}/\\.well-known/oauth-protected-resource/mcp"`));
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="mcp:read mcp:write"/);
    const store = await client.callTool({ name: "memory_store", arguments: { text: "sneaky" } });
    assert.equal(store.isError, true);
  } finally {
    await client.close();
  }
  // Nothing was stored for anyone.
  const { results } = await w.db.prepare("SELECT COUNT(*) AS n FROM notes").all();
  assert.equal(results[0].n, 0);
  assert.ok(w.logs.some((l) => /PUBLIC_TOOLS: ignored search, nope/.test(l)), "the ignored names are logged");
});

test("without a token in the 2026-07-28 revision too", async () => {
  const list = await modernCall(w.url, null, "tools/list");
  assert.equal(list.status, 200, list.text);
  for (const t of list.json.result.tools) {
    assert.deepEqual(t.securitySchemes, t._meta.securitySchemes);
    assert.equal(t.securitySchemes[0].type, t.name === "about" ? "noauth" : "oauth2", t.name);
  }
  const about = await modernCall(w.url, null, "tools/call", { name: "about", arguments: {} });
  assert.equal(about.status, 200, about.text);
  assert.equal(toolValue(about.json.result).signed_in, false);
  const fetchNote = await modernCall(w.url, null, "tools/call", { name: "fetch", arguments: { id: "n_x" } });
  assert.equal(fetchNote.status, 200);
  assert.equal(fetchNote.json.result.isError, true);
  assert.ok(fetchNote.json.result._meta["mcp/www_authenticate"][0].startsWith("Bearer "));
});

test("a present but invalid token is still a 401", async () => {
  const res = await mcpPost(w.url, "not-a-token", { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} });
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/);
  const malformed = await mcpPost(w.url, null, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { Authorization: "Basic abc" });
  assert.equal(malformed.status, 401);
});

test("with public tools, a GET of /mcp without a token is 405 (no token is needed, and there is no stream), not a challenge", async () => {
  const res = await fetch(w.url + "/mcp", { headers: { Accept: "text/event-stream" } });
  const body = await res.json();
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("www-authenticate"), null);
  assert.equal(res.headers.get("allow"), "POST, DELETE, OPTIONS");
  assert.equal(body.error.code, -32600);
});

test("with a token every tool works, and an anonymous session is not the person's", async () => {
  const flow = await fullFlow(w.url, alice);
  assert.equal(flow.status, 200);
  const token = flow.tokens.access_token;
  const client = await sdkClient(w.url, { Authorization: "Bearer " + token });
  try {
    const stored = await client.callTool({ name: "memory_store", arguments: { text: "alice's plan" } });
    assert.equal(stored.isError, false);
    const about = await client.callTool({ name: "about", arguments: {} });
    assert.equal(about.structuredContent.signed_in, true);
  } finally {
    await client.close();
  }
  const anonymous = await initialize(w.url, null);
  const reused = await sessionCall(w.url, token, anonymous, "tools/list");
  assert.equal(reused.status, 404, "a session begun without a token does not carry over to a signed-in caller");
  const mine = await initialize(w.url, token);
  const stolen = await sessionCall(w.url, null, mine, "tools/list");
  assert.equal(stolen.status, 404, "a person's session cannot be used without their token");
});

test("with no public tools (the default) /mcp answers 401 without a token", async () => {
  const res = await mcpPost(closed.url, null, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate"), /^Bearer resource_metadata=/);
});
