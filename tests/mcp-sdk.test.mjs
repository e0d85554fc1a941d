// The official MCP TypeScript SDK client, Streamable HTTP transport plus its OAuth client,
// against the built Worker: starting with no token it meets the 401, discovers the
// metadata, registers, sends the person through the sign-in form (filled in by the test
// as a person would), exchanges the code with PKCE, initializes, lists and calls tools,
// and refreshes when its access token stops working. Once with a loopback redirect URI
// (Claude Code, Inspector) and once with ChatGPT's connector redirect URI. A token
// without a tool's scope meets a 403 insufficient_scope (the SDK's step-up), or, for
// ChatGPT's connector (User-Agent openai-mcp/...), a tool result carrying the challenge.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { startWorker } from "./helpers/worker.mjs";
import { createUser } from "./helpers/oauth.mjs";
import { PersonProvider } from "./helpers/person-provider.mjs";

let w, alice, bob;
before(async () => {
  w = await startWorker();
  [alice, bob] = await Promise.all([
    createUser(w.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(w.db, "bob@example.com", "bob-password-12", "Bob"),
  ]);
});
after(() => w?.stop());

async function connect(base, provider) {
  const make = () => new StreamableHTTPClientTransport(new URL(base + "/mcp"), { authProvider: provider });
  const first = new Client({ name: "sdk-test", version: "1.0.0" });
  await assert.rejects(first.connect(make()), UnauthorizedError, "the first connection meets the 401");
  assert.ok(provider.code, "the person approved and the redirect carried a code");
  const transport = make();
  await transport.finishAuth(provider.code);
  const client = new Client({ name: "sdk-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

const value = (result) => {
  assert.equal(result.isError, false, JSON.stringify(result));
  const parsed = JSON.parse(result.content[0].text);
  assert.deepEqual(parsed, result.structuredContent);
  return parsed;
};

for (const [label, redirect] of [
  ["a loopback redirect URI", "http://127.0.0.1:33418/callback"],
  ["ChatGPT's connector redirect URI", "https://chatgpt.com/connector_platform_oauth_redirect"],
]) {
  test(`the SDK client signs in and uses every tool, with ${label}`, async () => {
    const provider = new PersonProvider(w.url, redirect, alice, "SDK test " + label);
    const { client, transport } = await connect(w.url, provider);

    // What the OAuth client did on the way.
    assert.ok(provider.info.client_id, "registered dynamically");
    const authUrl = provider.authorizationUrls[0];
    assert.equal(authUrl.origin + authUrl.pathname, w.url + "/authorize");
    assert.equal(authUrl.searchParams.get("code_challenge_method"), "S256");
    assert.equal(authUrl.searchParams.get("resource"), w.url + "/mcp");
    assert.ok(provider.saved.access_token && provider.saved.refresh_token);
    assert.equal(client.getServerVersion().name, "mcp-oauth-worker");
    assert.equal(transport.protocolVersion ?? "2025-11-25", "2025-11-25");
    assert.ok(transport.sessionId, "a session id was issued");

    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["about", "fetch", "memory_delete", "memory_list", "memory_store", "search"]);
    for (const t of tools) assert.ok(t.inputSchema && t.outputSchema && t.annotations, t.name);

    const stored = value(await client.callTool({ name: "memory_store", arguments: { text: `Passport renewal: book an appointment (${label})`, tags: ["admin"] } }));
    const found = value(await client.callTool({ name: "search", arguments: { query: "passport appointment" } }));
    assert.equal(found.results[0].id, stored.id);
    assert.equal(found.results[0].url, `${w.url}/notes/${stored.id}`);
    const note = value(await client.callTool({ name: "fetch", arguments: { id: stored.id } }));
    assert.match(note.text, /^Passport renewal/);
    assert.deepEqual(note.metadata.tags, ["admin"]);
    const listed = value(await client.callTool({ name: "memory_list", arguments: { tag: "admin" } }));
    assert.ok(listed.notes.some((n) => n.id === stored.id));

    // The access token stops working (here: replaced by a dead one); the SDK refreshes
    // with its refresh token, which rotates, and the call goes through.
    const before = provider.saved;
    provider.saved = { ...before, access_token: "expired-or-revoked" };
    const again = value(await client.callTool({ name: "search", arguments: { query: "passport" } }));
    assert.equal(again.results[0].id, stored.id);
    assert.notEqual(provider.saved.access_token, "expired-or-revoked");
    assert.notEqual(provider.saved.refresh_token, before.refresh_token, "the refresh token rotated");

    value(await client.callTool({ name: "memory_delete", arguments: { id: stored.id } }));
    const gone = await client.callTool({ name: "fetch", arguments: { id: stored.id } });
    assert.equal(gone.isError, true);
    await client.close();
  });
}

test("Bob's SDK client cannot search, fetch or delete Alice's notes", async () => {
  const aliceSide = await connect(w.url, new PersonProvider(w.url, "http://127.0.0.1:33419/cb", alice, "Alice's app"));
  const bobSide = await connect(w.url, new PersonProvider(w.url, "http://127.0.0.1:33420/cb", bob, "Bob's app"));
  const secret = value(await aliceSide.client.callTool({ name: "memory_store", arguments: { text: "Alice's private aardvark memo" } }));
  assert.deepEqual(value(await bobSide.client.callTool({ name: "search", arguments: { query: "aardvark" } })).results, []);
  assert.equal((await bobSide.client.callTool({ name: "fetch", arguments: { id: secret.id } })).isError, true);
  assert.equal((await bobSide.client.callTool({ name: "memory_delete", arguments: { id: secret.id } })).isError, true);
  assert.deepEqual(value(await bobSide.client.callTool({ name: "memory_list", arguments: {} })).notes, []);
  // Still there for Alice.
  assert.equal(value(await aliceSide.client.callTool({ name: "fetch", arguments: { id: secret.id } })).id, secret.id);
  await Promise.all([aliceSide.client.close(), bobSide.client.close()]);
});

test("a token with mcp:read only gets the insufficient-scope challenge from memory_store", async () => {
  const provider = new PersonProvider(w.url, "http://127.0.0.1:33421/cb", alice, "Read-only app");
  // Every response the transport gets, with its challenge.
  const seen = [];
  const noting = async (url, init) => {
    const res = await fetch(url, init);
    seen.push({ url: String(url), method: init?.method ?? "GET", status: res.status, challenge: res.headers.get("www-authenticate") });
    return res;
  };
  const make = (headers = {}) => new StreamableHTTPClientTransport(new URL(w.url + "/mcp"), { authProvider: provider, fetch: noting, requestInit: { headers } });
  // The OAuth client asks for the scope the challenge names; narrow it to mcp:read by
  // editing the authorization URL the person's browser opens.
  const original = provider.redirectToAuthorization.bind(provider);
  provider.redirectToAuthorization = (url) => {
    url.searchParams.set("scope", "mcp:read");
    return original(url);
  };
  const first = new Client({ name: "ro", version: "1" });
  await assert.rejects(first.connect(make()), UnauthorizedError);
  const transport = make();
  await transport.finishAuth(provider.code);
  assert.equal(provider.saved.scope, "mcp:read");
  const client = new Client({ name: "ro", version: "1" });
  await client.connect(transport);

  // This app (a loopback redirect URI, Node's User-Agent) is told in HTTP, as Claude and
  // the SDKs need it to step up: 403 insufficient_scope naming what the token holds and
  // what the tool adds. The SDK tries to step up with its refresh token, which cannot
  // widen the grant, and stops at the same 403 a second time.
  const issued = provider.tokenHistory.length;
  const from = seen.length;
  await assert.rejects(
    client.callTool({ name: "memory_store", arguments: { text: "should not be saved" } }),
    (e) => e instanceof StreamableHTTPError && e.code === 403,
  );
  const refusals = seen.slice(from).filter((r) => r.method === "POST" && r.url === w.url + "/mcp");
  assert.deepEqual(refusals.map((r) => r.status), [403, 403], "the call, and the call again after the refresh");
  const params = Object.fromEntries([...refusals[0].challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  assert.match(refusals[0].challenge, /^Bearer /);
  assert.deepEqual(params, {
    resource_metadata: `${w.url}/.well-known/oauth-protected-resource/mcp`,
    error: "insufficient_scope",
    scope: "mcp:read mcp:write",
    error_description: "the memory_store tool needs the mcp:write scope",
  });
  assert.equal(provider.tokenHistory.length, issued + 1, "the SDK refreshed once");
  assert.equal(provider.saved.scope, "mcp:read", "a refresh does not widen the grant");
  await client.close();

  // ChatGPT's connector (User-Agent openai-mcp/...) is told in a tool result instead,
  // which is where it shows "reconnect with more access" from.
  const chatgpt = new Client({ name: "ro", version: "1" });
  await chatgpt.connect(make({ "User-Agent": "openai-mcp/1.0.0" }));
  const result = await chatgpt.callTool({ name: "memory_store", arguments: { text: "should not be saved" } });
  assert.equal(result.isError, true);
  const [challenge] = result._meta["mcp/www_authenticate"];
  assert.match(challenge, new RegExp(`^Bearer resource_metadata="${w.url}/\\.well-known/oauth-protected-resource/mcp"`));
  assert.match(challenge, /error="insufficient_scope"/);
  assert.match(challenge, /scope="mcp:read mcp:write"/);
  // Reading still works, and nothing was saved by either refused call.
  assert.deepEqual(value(await chatgpt.callTool({ name: "search", arguments: { query: "should not be saved" } })).results, []);
  await chatgpt.close();
});
