// Public tools beside protected ones (OpenAI Apps SDK "mixed auth"), with PUBLIC_TOOLS set:
// the official SDK client connects without a token, lists the tools with their
// securitySchemes, calls the public one, and is asked to sign in for a protected one in
// the shape its client acts on: an HTTP 401 with the challenge in WWW-Authenticate for
// Claude, the MCP SDKs and everyone else (so they sign in on demand), and an isError
// tool result carrying the same challenge in _meta["mcp/www_authenticate"] for ChatGPT
// (User-Agent openai-mcp/...), which shows Connect only from a tool result. A bad token
// is still a 401, and a token still works. (tests/sign-in-on-demand.test.mjs has the rest.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
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

/** The official SDK client on `<base>/mcp`; every response it gets is noted in `seen`. */
async function sdkClient(base, headers = {}, seen = []) {
  const noting = async (url, init) => {
    const res = await fetch(url, init);
    seen.push({ method: init?.method ?? "GET", status: res.status, challenge: res.headers.get("www-authenticate") });
    return res;
  };
  const client = new Client({ name: "mixed-auth-test", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(base + "/mcp"), { requestInit: { headers }, fetch: noting }));
  return client;
}

/** A challenge's parameters (`Bearer a="x", b="y"`), checked to be a Bearer challenge. */
function challengeParams(header) {
  assert.match(header ?? "", /^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

// ChatGPT's connector says who it is in its User-Agent.
const CHATGPT = { "User-Agent": "openai-mcp/1.0.0" };
const rejectsWith = (status) => (e) => e instanceof StreamableHTTPError && e.code === status;

test("without a token: initialize, list, call the public tool; protected tools ask for sign-in", async () => {
  const seen = [];
  const client = await sdkClient(w.url, {}, seen);
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

    // A protected tool is an HTTP 401 for this client (Node's User-Agent, a token-less
    // app): the answer Claude and the SDKs start sign-in from. This client has no OAuth
    // provider, so the SDK stops there (tests/sign-in-on-demand.test.mjs signs in).
    await assert.rejects(client.callTool({ name: "search", arguments: { query: "anything" } }), rejectsWith(401));
    const refused = seen.filter((r) => r.method === "POST").at(-1);
    assert.equal(refused.status, 401);
    assert.deepEqual(challengeParams(refused.challenge), {
      resource_metadata: `${w.url}/.well-known/oauth-protected-resource/mcp`,
      scope: "mcp:read mcp:write",
    });
    await assert.rejects(client.callTool({ name: "memory_store", arguments: { text: "sneaky" } }), rejectsWith(401));
    // The session goes on: the public tool still answers after the refusals.
    assert.equal((await client.callTool({ name: "about", arguments: {} })).isError, false);
  } finally {
    await client.close();
  }
  // ChatGPT's connector gets the same challenge in an isError tool result instead: it
  // shows its Connect button only from a tool result.
  const chatgpt = await sdkClient(w.url, CHATGPT);
  try {
    const about = await chatgpt.callTool({ name: "about", arguments: {} });
    assert.equal(about.structuredContent.signed_in, false);
    const search = await chatgpt.callTool({ name: "search", arguments: { query: "anything" } });
    assert.equal(search.isError, true);
    const [challenge] = search._meta["mcp/www_authenticate"];
    assert.match(challenge, new RegExp(`^Bearer resource_metadata="${w.url}/\\.well-known/oauth-protected-resource/mcp"`));
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="mcp:read mcp:write"/);
    assert.match(challenge, /error_description="the search tool needs sign-in"/);
    const store = await chatgpt.callTool({ name: "memory_store", arguments: { text: "sneaky" } });
    assert.equal(store.isError, true);
    assert.match(store._meta["mcp/www_authenticate"][0], /error_description="the memory_store tool needs sign-in"/);
  } finally {
    await chatgpt.close();
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
  // A protected tool: 401 with the challenge for any client but ChatGPT (Claude and the
  // SDKs sign in from it)...
  const fetchNote = await modernCall(w.url, null, "tools/call", { name: "fetch", arguments: { id: "n_x" } });
  assert.equal(fetchNote.status, 401, fetchNote.text);
  const asked = challengeParams(fetchNote.headers.get("www-authenticate"));
  assert.equal(asked.resource_metadata, `${w.url}/.well-known/oauth-protected-resource/mcp`);
  assert.equal(asked.scope, "mcp:read mcp:write");
  assert.equal(asked.error, undefined, "no error code for a request that sent no token (RFC 6750 §3.1)");
  // ...and a tool error carrying it for ChatGPT, which shows Connect only from a tool result.
  const forChatgpt = await modernCall(w.url, null, "tools/call", { name: "fetch", arguments: { id: "n_x" } }, { headers: CHATGPT });
  assert.equal(forChatgpt.status, 200, forChatgpt.text);
  assert.equal(forChatgpt.json.result.isError, true);
  const inResult = challengeParams(forChatgpt.json.result._meta["mcp/www_authenticate"][0]);
  assert.equal(inResult.resource_metadata, asked.resource_metadata);
  assert.equal(inResult.scope, asked.scope);
  assert.equal(inResult.error, "insufficient_scope");
  assert.equal(inResult.error_description, "the fetch tool needs sign-in");
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
