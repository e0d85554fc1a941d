// Sign-in on demand, with PUBLIC_TOOLS=about: a client may connect, list and call `about`
// without a token, and a protected tool asks for sign-in (or, with a token lacking its
// scope, for more access) in the shape the client acts on. ChatGPT's connector shows its
// Connect button only from an isError tool result carrying the challenge in
// _meta["mcp/www_authenticate"]; Claude's connector and the MCP SDKs start sign-in or
// step-up only from an HTTP 401 or 403 with WWW-Authenticate. The request says which:
// `User-Agent: openai-mcp/...` is ChatGPT, `Claude-User` is Claude, and otherwise the app
// behind the token (its redirect URIs or its client ID metadata document on chatgpt.com or
// openai.com) is ChatGPT, and everyone else gets HTTP. A 2025-03-26 batch and the legacy
// SSE transport have no status per message, so they always get the tool result.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, publicClient } from "./helpers/oauth.mjs";
import { PersonProvider } from "./helpers/person-provider.mjs";
import { mcpPost, modernCall } from "./helpers/mcp.mjs";

const CHATGPT = { "User-Agent": "openai-mcp/1.0.0" };
const CLAUDE = { "User-Agent": "Claude-User" };
const CHATGPT_REDIRECT = "https://chatgpt.com/connector_platform_oauth_redirect";

// Client ID metadata documents, as the apps' hosts would serve them (tests have no
// internet): any URL names itself and sends people back to the redirect URI its path
// names (…/to-elsewhere.json: https://elsewhere.example/cb), else to https://<host>/cb.
function documents(req) {
  const u = new URL(req.url);
  const redirect = u.pathname.endsWith("/to-elsewhere.json") ? "https://elsewhere.example/cb" : `https://${u.host}/cb`;
  const doc = { client_id: req.url, client_name: "Doc app " + u.host, redirect_uris: [redirect], token_endpoint_auth_method: "none" };
  return new Response(JSON.stringify(doc), { headers: { "Content-Type": "application/json", "Cache-Control": "max-age=300" } });
}

// `w`: PUBLIC_TOOLS=about and nothing else. `extra`: the same with LEGACY_SSE=on and an
// upstream configured (never reached here), for the legacy transport and the names of
// tools nobody knows.
let w, extra, alice, ada;
before(async () => {
  [w, extra] = await Promise.all([
    startWorker({ bindings: { PUBLIC_TOOLS: "about" }, outbound: documents }),
    startWorker({
      bindings: { PUBLIC_TOOLS: "about", LEGACY_SSE: "on", UPSTREAMS: JSON.stringify([{ name: "acme", url: "https://tools.acme.test/mcp" }]) },
    }),
  ]);
  [alice, ada] = await Promise.all([
    createUser(w.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(extra.db, "ada@example.com", "ada-password-123", "Ada"),
  ]);
});
after(async () => {
  await w?.stop();
  await extra?.stop();
});

// ---------------------------------------------------------------------------------------
// Helpers.

const resourceMetadata = (on = w) => `${on.url}/.well-known/oauth-protected-resource/mcp`;
const call = (name, args = {}) => ({ name, arguments: args });

/** A challenge's parameters (`Bearer a="x", b="y"`), checked to be a Bearer challenge. */
function challengeParams(header) {
  assert.match(header ?? "", /^Bearer \w+="/, `a Bearer challenge: ${header}`);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

/** The challenge an isError tool result carries (ChatGPT's shape), as its parameters. */
function toolResultChallenge(res) {
  assert.equal(res.status, 200, res.text);
  const result = res.json.result;
  assert.equal(result?.isError, true, res.text);
  const list = result._meta?.["mcp/www_authenticate"];
  assert.equal(list?.length, 1, res.text);
  return { ...challengeParams(list[0]), header: list[0], text: result.content[0].text };
}

/** A session-era initialize (with or without a token) sending `headers`. */
async function initialize(on, token, headers = {}, protocolVersion = "2025-06-18") {
  const res = await mcpPost(on.url, token, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion, capabilities: {}, clientInfo: { name: "on-demand", version: "1" } } }, headers);
  assert.equal(res.status, 200, res.text);
  const session = { sessionId: res.headers.get("mcp-session-id"), version: res.json.result.protocolVersion, headers };
  assert.ok(session.sessionId, "a session id");
  const initialized = await inSession(on, token, session, { jsonrpc: "2.0", method: "notifications/initialized" });
  assert.equal(initialized.status, 202, initialized.text);
  return session;
}

/** A message (or a batch) posted into a session, with the session's own headers. */
const inSession = (on, token, session, body) =>
  mcpPost(on.url, token, body, { "Mcp-Session-Id": session.sessionId, "MCP-Protocol-Version": session.version, ...session.headers });

/** tools/call in a session. */
const sessionToolCall = (on, token, session, name, args, id = 2) => inSession(on, token, session, { jsonrpc: "2.0", id, method: "tools/call", params: call(name, args) });

const noteCount = async (on = w) => (await on.db.prepare("SELECT COUNT(*) AS n FROM notes").all()).results[0].n;

// ---------------------------------------------------------------------------------------
// a. The SDK signs in when a tool needs it.

test("the SDK client uses the public tool without a token, then signs in from the 401 a protected tool answers", async () => {
  // Why: the MCP SDKs (and Claude) start sign-in only from an HTTP 401; a tool result would just be shown as text.
  const provider = new PersonProvider(w.url, "http://127.0.0.1:33501/callback", alice, "On-demand SDK app");
  const seen = [];
  const noting = async (url, init) => {
    const res = await fetch(url, init);
    seen.push({ method: init?.method ?? "GET", url: String(url), status: res.status, challenge: res.headers.get("www-authenticate") });
    return res;
  };
  const make = () => new StreamableHTTPClientTransport(new URL(w.url + "/mcp"), { authProvider: provider, fetch: noting });

  const transport = make();
  const anonymous = new Client({ name: "on-demand", version: "1" });
  await anonymous.connect(transport);
  const { tools } = await anonymous.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ["about", "fetch", "memory_delete", "memory_list", "memory_store", "search"]);
  const about = await anonymous.callTool(call("about"));
  assert.equal(about.isError, false, JSON.stringify(about));
  assert.equal(about.structuredContent.signed_in, false);
  assert.equal(provider.authorizationUrls.length, 0, "no sign-in for the public tool");
  assert.equal(provider.info, undefined, "nor a registration");

  // `search` is answered 401; the SDK discovers, registers and sends the person to
  // /authorize, then stops for the code as it documents (UnauthorizedError).
  await assert.rejects(anonymous.callTool(call("search", { query: "anything" })), UnauthorizedError);
  const refused = seen.find((r) => r.method === "POST" && r.status === 401);
  assert.ok(refused, JSON.stringify(seen));
  assert.equal(refused.url, w.url + "/mcp");
  const asked = challengeParams(refused.challenge);
  assert.equal(asked.resource_metadata, resourceMetadata());
  assert.ok(asked.scope.split(" ").includes("mcp:read"), `the tool's scope: ${asked.scope}`);
  assert.equal(asked.scope, "mcp:read mcp:write", "the default scopes and the tool's");
  assert.equal(asked.error, undefined, "no error code for a request without a token (RFC 6750 §3.1)");
  assert.ok(seen.some((r) => r.url === resourceMetadata() && r.status === 200), "the SDK read the resource metadata the challenge names");
  assert.ok(provider.info?.client_id, "registered dynamically");
  const [authUrl] = provider.authorizationUrls;
  assert.equal(authUrl.origin + authUrl.pathname, w.url + "/authorize");
  assert.equal(authUrl.searchParams.get("code_challenge_method"), "S256");
  assert.ok(authUrl.searchParams.get("code_challenge"));
  assert.equal(authUrl.searchParams.get("scope"), asked.scope, "the SDK asked for what the challenge named (SEP-835)");
  assert.equal(authUrl.searchParams.get("resource"), w.url + "/mcp");
  assert.ok(provider.code, "the person approved and the redirect carried a code");

  await transport.finishAuth(provider.code);
  assert.equal(provider.saved.scope.split(" ").filter((s) => s.startsWith("mcp:")).join(" "), "mcp:read mcp:write");
  // The session begun without a token is not the person's: it is 404, which tells a
  // client to initialize again (MCP: session management) with its new token.
  await assert.rejects(anonymous.callTool(call("search", { query: "anything" })), (e) => e instanceof StreamableHTTPError && e.code === 404);
  await anonymous.close();

  const client = new Client({ name: "on-demand", version: "1" });
  await client.connect(make());
  try {
    const found = await client.callTool(call("search", { query: "anything" }));
    assert.equal(found.isError, false, JSON.stringify(found));
    assert.deepEqual(found.structuredContent.results, []);
    assert.equal((await client.callTool(call("about"))).structuredContent.signed_in, true);
    const stored = await client.callTool(call("memory_store", { text: "signed in on demand" }));
    assert.equal(stored.isError, false, JSON.stringify(stored));
    assert.equal((await client.callTool(call("search", { query: "on demand" }))).structuredContent.results[0].id, stored.structuredContent.id);
    await client.callTool(call("memory_delete", { id: stored.structuredContent.id }));
  } finally {
    await client.close();
  }
  assert.equal(provider.authorizationUrls.length, 1, "one sign-in");
});

// ---------------------------------------------------------------------------------------
// b. ChatGPT without a token.

test("ChatGPT without a token: a protected tool is an isError result carrying the sign-in challenge, in a session and in 2026-07-28", async () => {
  // Why: ChatGPT shows its Connect button only from a tool result with _meta["mcp/www_authenticate"]; an HTTP 401 on a call shows nothing.
  const session = await initialize(w, null, CHATGPT);
  const list = await inSession(w, null, session, { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.result.tools.find((t) => t.name === "search").securitySchemes, [{ type: "oauth2", scopes: ["mcp:read"] }]);
  const about = await sessionToolCall(w, null, session, "about", {}, 3);
  assert.equal(about.status, 200, about.text);
  assert.equal(about.json.result.isError, false);

  const inSessionAnswer = await sessionToolCall(w, null, session, "search", { query: "anything" }, 4);
  const stateless = await modernCall(w.url, null, "tools/call", call("search", { query: "anything" }), { headers: CHATGPT });
  for (const [label, res] of [["session", inSessionAnswer], ["2026-07-28", stateless]]) {
    assert.equal(res.headers.get("www-authenticate"), null, label);
    const c = toolResultChallenge(res);
    assert.equal(c.resource_metadata, resourceMetadata(), label);
    assert.equal(c.error, "insufficient_scope", label);
    assert.ok(c.scope.split(" ").includes("mcp:read"), `${label}: ${c.scope}`);
    assert.equal(c.scope, "mcp:read mcp:write", label);
    assert.equal(c.error_description, "the search tool needs sign-in", label);
    assert.match(c.text, /^search needs you to sign in/, label);
  }
  // The User-Agent is read without regard to case.
  const shouted = await modernCall(w.url, null, "tools/call", call("memory_store", { text: "x" }), { headers: { "User-Agent": "OpenAI-MCP/2.1" } });
  assert.equal(toolResultChallenge(shouted).error_description, "the memory_store tool needs sign-in");
  assert.equal(await noteCount(), 0);
});

// ---------------------------------------------------------------------------------------
// c. Claude and everyone else: HTTP 401, then 403.

test("Claude-User and other clients without a token: 401 with the challenge; with an mcp:read token, 403 insufficient_scope", async () => {
  // Why: Claude's connector signs in (or steps up) only from an HTTP 401/403; ChatGPT, with the same token, only from a tool result.
  for (const [label, headers] of [
    ["Claude-User", CLAUDE],
    ["Claude-User inside a longer User-Agent", { "User-Agent": "Mozilla/5.0 (compatible; Claude-User/1.0)" }],
    ["Node's own User-Agent", {}],
    ["openai-mcp, but not at the start", { "User-Agent": "python-httpx/0.28 openai-mcp/1" }],
  ]) {
    const session = await initialize(w, null, headers);
    const answers = [
      ["session", await sessionToolCall(w, null, session, "search", { query: "anything" })],
      ["2026-07-28", await modernCall(w.url, null, "tools/call", call("search", { query: "anything" }), { headers })],
    ];
    for (const [era, res] of answers) {
      assert.equal(res.status, 401, `${label}, ${era}: ${res.text}`);
      assert.equal(res.headers.get("www-authenticate"), `Bearer resource_metadata="${resourceMetadata()}", scope="mcp:read mcp:write"`, `${label}, ${era}`);
      assert.equal(res.json?.result, undefined, `${label}, ${era}: no tool result`);
    }
  }

  const readOnly = await fullFlow(w.url, alice, { scope: "mcp:read" });
  assert.equal(readOnly.status, 200, JSON.stringify(readOnly.tokens));
  assert.equal(readOnly.tokens.scope, "mcp:read");
  const token = readOnly.tokens.access_token;
  const before = await noteCount();
  const expected = `Bearer resource_metadata="${resourceMetadata()}", error="insufficient_scope", scope="mcp:read mcp:write", error_description="the memory_store tool needs the mcp:write scope"`;

  const claude = await initialize(w, token, CLAUDE);
  const forbidden = [
    ["Claude-User, session", await sessionToolCall(w, token, claude, "memory_store", { text: "no" })],
    ["Claude-User, 2026-07-28", await modernCall(w.url, token, "tools/call", call("memory_store", { text: "no" }), { headers: CLAUDE })],
    ["Node's User-Agent, 2026-07-28", await modernCall(w.url, token, "tools/call", call("memory_store", { text: "no" }))],
  ];
  for (const [label, res] of forbidden) {
    assert.equal(res.status, 403, `${label}: ${res.text}`);
    assert.equal(res.headers.get("www-authenticate"), expected, label);
    const p = challengeParams(res.headers.get("www-authenticate"));
    assert.ok(p.scope.split(" ").includes("mcp:write"), label);
    assert.match(p.error_description, /\bmemory_store\b/, label);
    assert.deepEqual(res.json, { error: "insufficient_scope", error_description: "the memory_store tool needs the mcp:write scope" }, label);
  }
  // What the token may do still works in Claude's session.
  const searched = await sessionToolCall(w, token, claude, "search", { query: "no" }, 3);
  assert.equal(searched.status, 200, searched.text);
  assert.equal(searched.json.result.isError, false);

  // The same token, sent as ChatGPT sends it: the same challenge in a tool result.
  const chatgptSession = await initialize(w, token, CHATGPT);
  for (const [label, res] of [
    ["session", await sessionToolCall(w, token, chatgptSession, "memory_store", { text: "no" })],
    ["2026-07-28", await modernCall(w.url, token, "tools/call", call("memory_store", { text: "no" }), { headers: CHATGPT })],
  ]) {
    const c = toolResultChallenge(res);
    assert.equal(c.header, expected, label);
    assert.match(c.text, /may not use memory_store/, label);
  }
  assert.equal(await noteCount(), before, "nothing was stored");
});

// ---------------------------------------------------------------------------------------
// d. ChatGPT known by its app.

test("an app registered with ChatGPT's redirect URI gets the tool result without a special User-Agent; Claude-User still decides first", async () => {
  // Why: ChatGPT's requests are known by the app behind the token too, so it keeps its Connect button even if its User-Agent changes; Claude's must stay HTTP.
  const client = await publicClient(w.url, CHATGPT_REDIRECT, { client_name: "ChatGPT" });
  assert.deepEqual(client.redirect_uris, [CHATGPT_REDIRECT]);
  const flow = await fullFlow(w.url, alice, { client, scope: "mcp:read" });
  assert.equal(flow.status, 200, JSON.stringify(flow.tokens));
  assert.equal(flow.redirect.origin + flow.redirect.pathname, CHATGPT_REDIRECT, "the code went back to ChatGPT's callback (not followed)");
  const token = flow.tokens.access_token;
  const expected = `Bearer resource_metadata="${resourceMetadata()}", error="insufficient_scope", scope="mcp:read mcp:write", error_description="the memory_store tool needs the mcp:write scope"`;

  const session = await initialize(w, token);
  for (const [label, res] of [
    ["session", await sessionToolCall(w, token, session, "memory_store", { text: "no" })],
    ["2026-07-28", await modernCall(w.url, token, "tools/call", call("memory_store", { text: "no" }))],
  ]) {
    assert.equal(toolResultChallenge(res).header, expected, label);
  }
  // The User-Agent decides before the app does.
  const claude = await modernCall(w.url, token, "tools/call", call("memory_store", { text: "no" }), { headers: CLAUDE });
  assert.equal(claude.status, 403, claude.text);
  assert.equal(claude.headers.get("www-authenticate"), expected);
  assert.equal(await noteCount(), 0);
});

test("ChatGPT is known by openai.com and subdomains, by a client ID metadata document's host, and not by a look-alike", async () => {
  // Why: ChatGPT's callbacks and documents live on chatgpt.com and openai.com; any other app (Claude's, a look-alike) must get the 401/403 it signs in from.
  const cases = [
    ["a redirect URI on a subdomain of openai.com", { redirect: "https://connector.openai.com/oauth/callback" }, "tool result"],
    ["a redirect URI on a look-alike host", { redirect: "https://chatgpt.com.evil.example/cb" }, 403],
    ["a redirect URI on notchatgpt.com", { redirect: "https://notchatgpt.com/cb" }, 403],
    ["Claude's redirect URI", { redirect: "https://claude.ai/api/mcp/auth_callback" }, 403],
    ["a metadata document on chatgpt.com, sending people elsewhere", { document: "https://chatgpt.com/oauth/app-1/to-elsewhere.json", redirect: "https://elsewhere.example/cb" }, "tool result"],
    ["a metadata document on claude.ai", { document: "https://claude.ai/oauth/mcp-client.json", redirect: "https://claude.ai/cb" }, 403],
  ];
  for (const [label, { redirect, document }, shape] of cases) {
    const client = document ? { client_id: document, redirect_uris: [redirect] } : await publicClient(w.url, redirect, { client_name: label });
    const flow = await fullFlow(w.url, alice, { client, scope: "mcp:read" });
    assert.equal(flow.status, 200, `${label}: ${JSON.stringify(flow.tokens)}`);
    const res = await modernCall(w.url, flow.tokens.access_token, "tools/call", call("memory_store", { text: "no" }));
    if (shape === "tool result") {
      assert.equal(toolResultChallenge(res).error, "insufficient_scope", label);
    } else {
      assert.equal(res.status, 403, `${label}: ${res.text}`);
      assert.equal(challengeParams(res.headers.get("www-authenticate")).error, "insufficient_scope", label);
    }
  }
});

// ---------------------------------------------------------------------------------------
// e. Batches and the legacy transport.

test("a 2025-03-26 batch without a token: every refused call is a tool result carrying the challenge", async () => {
  // Why: a batch has one HTTP status for all its answers, so a 401 would also throw away the calls that worked; even Claude gets the tool result here.
  for (const [label, headers] of [["Node's User-Agent", {}], ["Claude-User", CLAUDE]]) {
    const session = await initialize(w, null, headers, "2025-03-26");
    assert.equal(session.version, "2025-03-26");
    const batch = await inSession(w, null, session, [
      { jsonrpc: "2.0", id: 11, method: "tools/call", params: call("search", { query: "one" }) },
      { jsonrpc: "2.0", id: 12, method: "tools/call", params: call("search", { query: "two" }) },
    ]);
    assert.equal(batch.status, 200, `${label}: ${batch.text}`);
    assert.equal(batch.headers.get("www-authenticate"), null, label);
    assert.deepEqual(batch.json.map((m) => m.id).sort(), [11, 12], label);
    for (const answer of batch.json) {
      const c = toolResultChallenge({ status: 200, json: answer, text: JSON.stringify(answer) });
      assert.equal(c.resource_metadata, resourceMetadata(), label);
      assert.equal(c.error, "insufficient_scope", label);
      assert.equal(c.scope, "mcp:read mcp:write", label);
      assert.equal(c.error_description, "the search tool needs sign-in", label);
    }
    // Beside a call that works, the refused one is answered the same way.
    const mixed = await inSession(w, null, session, [
      { jsonrpc: "2.0", id: 21, method: "tools/call", params: call("about") },
      { jsonrpc: "2.0", id: 22, method: "tools/call", params: call("memory_store", { text: "no" }) },
    ]);
    assert.equal(mixed.status, 200, mixed.text);
    const byId = Object.fromEntries(mixed.json.map((m) => [m.id, m]));
    assert.equal(byId[21].result.isError, false, label);
    assert.equal(JSON.parse(byId[21].result.content[0].text).signed_in, false, label);
    assert.equal(toolResultChallenge({ status: 200, json: byId[22], text: JSON.stringify(byId[22]) }).error_description, "the memory_store tool needs sign-in", label);
  }
  assert.equal(await noteCount(), 0);
});

test("a batch and the legacy SSE transport with an mcp:read token: a tool result naming the missing scope, whatever the User-Agent", async () => {
  // Why: neither has a status per message to answer with, so the tool result is the only way to tell any client.
  const flow = await fullFlow(extra.url, ada, { scope: "mcp:read" });
  assert.equal(flow.status, 200, JSON.stringify(flow.tokens));
  const token = flow.tokens.access_token;
  const expected = `Bearer resource_metadata="${resourceMetadata(extra)}", error="insufficient_scope", scope="mcp:read mcp:write", error_description="the memory_store tool needs the mcp:write scope"`;

  const session = await initialize(extra, token, CLAUDE, "2025-03-26");
  const batch = await inSession(extra, token, session, [
    { jsonrpc: "2.0", id: 1, method: "tools/call", params: call("memory_store", { text: "no" }) },
    { jsonrpc: "2.0", id: 2, method: "tools/call", params: call("memory_list") },
  ]);
  assert.equal(batch.status, 200, batch.text);
  const byId = Object.fromEntries(batch.json.map((m) => [m.id, m]));
  assert.equal(toolResultChallenge({ status: 200, json: byId[1], text: JSON.stringify(byId[1]) }).header, expected);
  assert.equal(byId[2].result.isError, false, JSON.stringify(byId[2]));

  const legacy = new Client({ name: "legacy", version: "1" });
  await legacy.connect(new SSEClientTransport(new URL(extra.url + "/sse"), { requestInit: { headers: { Authorization: `Bearer ${token}`, ...CLAUDE } } }));
  try {
    const refused = await legacy.callTool(call("memory_store", { text: "no" }));
    assert.equal(refused.isError, true, JSON.stringify(refused));
    assert.deepEqual(refused._meta["mcp/www_authenticate"], [expected]);
    assert.equal((await legacy.callTool(call("memory_list"))).isError, false);
  } finally {
    await legacy.close();
  }
  assert.equal(await noteCount(extra), 0);
});

// ---------------------------------------------------------------------------------------
// f. A token with none of the MCP scopes.

test("a token with no MCP scope at all is still refused at the door: 403 insufficient_scope, for every client", async () => {
  // Why: such a token can do nothing here, not even call a public tool, so the answer is the transport's, not a tool's (as before).
  const flow = await fullFlow(w.url, alice, { scope: "profile" });
  assert.equal(flow.status, 200, JSON.stringify(flow.tokens));
  assert.equal(flow.tokens.scope, "profile");
  const token = flow.tokens.access_token;
  const expected = `Bearer resource_metadata="${resourceMetadata()}", error="insufficient_scope", scope="mcp:read mcp:write", error_description="the token grants none of this server's scopes"`;
  for (const [label, headers] of [["ChatGPT", CHATGPT], ["Claude-User", CLAUDE], ["Node's User-Agent", {}]]) {
    for (const tool of ["search", "about"]) {
      const res = await modernCall(w.url, token, "tools/call", call(tool, tool === "search" ? { query: "x" } : {}), { headers });
      assert.equal(res.status, 403, `${label}, ${tool}: ${res.text}`);
      assert.equal(res.headers.get("www-authenticate"), expected, `${label}, ${tool}`);
      assert.deepEqual(res.json, { error: "insufficient_scope", error_description: "the token grants none of this server's scopes" });
    }
    const init = await mcpPost(w.url, token, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }, headers);
    assert.equal(init.status, 403, `${label}: ${init.text}`);
    assert.equal(init.headers.get("www-authenticate"), expected, label);
  }
});

// ---------------------------------------------------------------------------------------
// The names of tools nobody knows.

test("with an upstream configured, an unknown tool's name is made header-safe in the challenge", async () => {
  // Why: the name comes from the client, and a quote or a line break in it would end the challenge's parameter or the header ChatGPT reads.
  const name = 'acme_x"\r\nSet-Cookie: a=b; é\\<tool>';
  const safe = "acme_x???Set-Cookie: a?b? ???tool?";
  assert.equal(name.replace(/[^A-Za-z0-9_\-.:/ ]/g, "?"), safe);

  const chatgpt = await initialize(extra, null, CHATGPT);
  const c = toolResultChallenge(await sessionToolCall(extra, null, chatgpt, name, {}));
  assert.equal(c.header, `Bearer resource_metadata="${resourceMetadata(extra)}", error="insufficient_scope", scope="mcp:read mcp:write", error_description="the ${safe} tool needs sign-in"`);
  assert.ok(!/[\r\n]/.test(c.text), c.text);
  assert.ok(c.text.startsWith(safe), c.text);

  // Everyone else gets the 401, which names no tool at all.
  const plain = await initialize(extra, null);
  const res = await sessionToolCall(extra, null, plain, name, {});
  assert.equal(res.status, 401, res.text);
  assert.equal(res.headers.get("www-authenticate"), `Bearer resource_metadata="${resourceMetadata(extra)}", scope="mcp:read mcp:write"`);
  // A long name is cut to 60 characters first.
  const long = "acme_" + "y".repeat(100);
  const cut = toolResultChallenge(await modernCall(extra.url, null, "tools/call", call(long), { headers: CHATGPT }));
  assert.equal(cut.error_description, `the ${long.slice(0, 60)} tool needs sign-in`);
});
