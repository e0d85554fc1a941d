// The gateway end to end: the built Worker in front of MCP servers it does not run. The
// upstreams are real MCP servers written with the official TypeScript SDK (McpServer over
// its Streamable HTTP transport, tests/helpers/upstream.mjs), reached once as an https URL
// (through Miniflare's outbound handling) and once as a service binding. The official SDK
// client signs in through the Worker and uses them; the upstreams' own logs prove what
// reached them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { decodeProtectedHeader } from "jose";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow } from "./helpers/oauth.mjs";
import { PersonProvider, connectSignedIn } from "./helpers/person-provider.mjs";
import { modernCall, mcpPost, initialize, sessionCall } from "./helpers/mcp.mjs";
import { recordingUpstream } from "./helpers/upstream.mjs";
import { verifyIssued } from "./helpers/jwt.mjs";

const ACME_URL = "https://tools.acme.test/mcp";
const FLAKY_URL = "https://flaky.acme.test/mcp";
const GONE_URL = "https://gone.acme.test/mcp";
const ACME_SECRET = "acme-operator-credential-1";
const WIKI_SECRET = "wiki-operator-key-2";

// The headers the gateway may send upstream (an allow-list), lower-case.
const ALLOWED = new Set([
  "accept",
  "content-type",
  "content-length",
  "mcp-protocol-version",
  "mcp-session-id",
  "mcp-method",
  "mcp-name",
  "mcp-user-assertion",
  "authorization",
  "x-api-key",
  "host",
  "user-agent",
  "accept-encoding",
  "cf-connecting-ip",
  "cf-ray",
  "cf-visitor",
  "cf-worker",
  "x-forwarded-proto",
  "x-real-ip",
]);

let w, alice, bob, acme, wiki, flaky;
before(async () => {
  acme = recordingUpstream("acme");
  wiki = recordingUpstream("wiki");
  flaky = recordingUpstream("flaky");
  w = await startWorker({
    bindings: {
      ACME_TOKEN: ACME_SECRET,
      WIKI_KEY: WIKI_SECRET,
      LEGACY_SSE: "on",
      UPSTREAMS: JSON.stringify([
        { name: "acme", url: ACME_URL, credential: { secret: "ACME_TOKEN" } },
        { name: "wiki", service: "WIKI", credential: { secret: "WIKI_KEY", header: "X-Api-Key" }, tools: ["lookup", "report"] },
        { name: "flaky", url: FLAKY_URL, timeout_ms: 400, scopes: { "*": "mcp:read" } },
        { name: "gone", url: GONE_URL },
      ]),
    },
    serviceBindings: { WIKI: (req) => wiki.handle(req) },
    outbound: async (req) => {
      const host = new URL(req.url).host;
      if (host === "tools.acme.test") return acme.handle(req);
      if (host === "flaky.acme.test") return flaky.handle(req);
      if (host === "gone.acme.test") throw new Error("connection refused");
      return new Response("tests have no internet", { status: 502 });
    },
  });
  [alice, bob] = await Promise.all([
    createUser(w.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(w.db, "bob@example.com", "bob-password-12", "Bob"),
  ]);
});
after(() => w?.stop());

const connect = (provider) => connectSignedIn(w.url, provider, "gw-test");

const text = (result) => result.content.map((c) => c.text).join("");

/**
 * Verifies an assertion for `audience` against the Worker's published keys (jose: its
 * signature, typ, iss, aud and lifetime); returns its claims.
 */
async function verifyAssertion(jwt, audience) {
  const { keys } = await (await fetch(w.url + "/.well-known/jwks.json")).json();
  const header = decodeProtectedHeader(jwt);
  assert.equal(header.typ, "user-assertion+jwt");
  assert.equal(header.alg, "EdDSA");
  const jwk = keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, "the assertion's key is in the JWKS");
  const { payload } = await verifyIssued(w, jwt, { audience, typ: "user-assertion+jwt" });
  return payload;
}

test("the SDK client signs in and uses the upstreams' tools, by URL and by service binding", async () => {
  const provider = new PersonProvider(w.url, "http://127.0.0.1:33418/callback", alice, "Gateway test");
  const client = await connect(provider);
  const accessToken = provider.saved.access_token;

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  for (const n of ["about", "search", "acme_lookup", "acme_create_ticket", "acme_report", "wiki_lookup", "wiki_report", "flaky_lookup"]) {
    assert.ok(names.includes(n), `${n} is listed: ${names}`);
  }
  assert.ok(!names.includes("wiki_create_ticket"), "wiki exposes only the tools its globs name");
  assert.ok(!names.some((n) => n.startsWith("gone_")), "an upstream that cannot be reached is left out");
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  assert.deepEqual(byName.acme_lookup._meta.securitySchemes, [{ type: "oauth2", scopes: ["mcp:read"] }]);
  assert.deepEqual(byName.acme_create_ticket._meta.securitySchemes, [{ type: "oauth2", scopes: ["mcp:write"] }]);
  assert.deepEqual(byName.flaky_create_ticket._meta.securitySchemes, [{ type: "oauth2", scopes: ["mcp:read"] }], "the operator's scope glob wins");
  assert.equal(byName.acme_lookup.description, "Finds an order by its number.");
  assert.deepEqual(byName.acme_lookup.inputSchema.required, ["order"]);

  assert.equal(text(await client.callTool({ name: "acme_lookup", arguments: { order: "42" } })), "order 42: shipped");
  assert.equal(text(await client.callTool({ name: "acme_create_ticket", arguments: { subject: "Broken" } })), "ticket opened: Broken");
  assert.equal(text(await client.callTool({ name: "wiki_lookup", arguments: { order: "7" } })), "order 7: shipped");
  const refused = await client.callTool({ name: "wiki_create_ticket", arguments: { subject: "x" } }).catch((e) => e);
  assert.ok(refused instanceof Error || refused.isError, "a tool the globs leave out cannot be called");
  assert.equal(wiki.callsOf("create_ticket").length, 0);

  // What reached the upstreams: never the client's token, always the operator's
  // credential, only allow-listed headers, and an assertion naming Alice.
  const { payload: claims } = await verifyIssued(w, accessToken, { audience: w.url + "/mcp" });
  for (const [upstream, audience, credential] of [
    [acme, ACME_URL, ["authorization", "Bearer " + ACME_SECRET]],
    [wiki, "service:WIKI/mcp", ["x-api-key", WIKI_SECRET]],
  ]) {
    assert.ok(upstream.requests.length >= 3, "initialize, initialized, tools/list, tools/call");
    for (const r of upstream.requests) {
      const all = JSON.stringify(r);
      assert.ok(!all.includes(accessToken), "the client's token never reaches an upstream");
      assert.ok(!all.includes(provider.saved.refresh_token));
      assert.equal(r.headers[credential[0]], credential[1]);
      if (credential[0] !== "authorization") assert.equal(r.headers.authorization, undefined);
      assert.equal(r.headers.cookie, undefined);
      for (const h of Object.keys(r.headers)) assert.ok(ALLOWED.has(h), `header ${h} is on the allow-list`);
      const a = await verifyAssertion(r.headers["mcp-user-assertion"], audience);
      assert.equal(a.iss, w.url);
      assert.equal(a.aud, audience);
      assert.equal(a.sub, alice.id);
      assert.equal(a.client_id, provider.info.client_id);
      assert.equal(a.scope, claims.scope);
      assert.ok(a.exp > a.iat && a.exp - a.iat <= 120, "short-lived");
      assert.ok(a.jti);
      if (claims.scope.split(" ").includes("email")) assert.equal(a.email, "alice@example.com");
      else assert.equal(a.email, undefined);
    }
  }
  await client.close();
});

test("resources and prompts are merged and routed; the notes are resources their owner alone reads; progress streams", async () => {
  const provider = new PersonProvider(w.url, "http://127.0.0.1:33419/callback", alice, "Gateway resources");
  const client = await connect(provider);
  const caps = client.getServerCapabilities();
  assert.ok(caps.resources && caps.prompts, "the Worker now offers resources and prompts");

  const stored = await client.callTool({ name: "memory_store", arguments: { text: "Pick up the parcel\nbefore noon" } });
  const noteId = stored.structuredContent.id;
  const { resources } = await client.listResources();
  const uris = resources.map((r) => r.uri);
  assert.ok(uris.includes(`note://${noteId}`), `alice's note is a resource: ${uris}`);
  assert.equal(uris.filter((u) => u === "docs://handbook").length, 1, "an upstream resource is listed once");
  const handbook = await client.readResource({ uri: "docs://handbook" });
  assert.equal(handbook.contents[0].text, "# Handbook\nBe kind.");
  const order = await client.readResource({ uri: "orders://42" });
  assert.equal(order.contents[0].text, "order 42", "a URI an upstream's template names is routed to it");
  const note = await client.readResource({ uri: `note://${noteId}` });
  assert.equal(note.contents[0].text, "Pick up the parcel\nbefore noon");
  const unknown = await client.readResource({ uri: "unknown://thing" }).catch((e) => e);
  assert.equal(unknown.code, -32002);
  const reads = acme.requests.filter((r) => r.body?.method === "resources/read").map((r) => r.body.params.uri);
  assert.deepEqual(reads, ["docs://handbook", "orders://42"], "the notes and unknown URIs never leave the Worker");

  const { resourceTemplates } = await client.listResourceTemplates();
  const templates = resourceTemplates.map((t) => t.uriTemplate);
  assert.ok(templates.includes("note://{id}") && templates.includes("orders://{number}"), templates.join());

  const { prompts } = await client.listPrompts();
  const promptNames = prompts.map((p) => p.name).sort();
  assert.ok(promptNames.includes("acme_summarize") && promptNames.includes("wiki_summarize"), promptNames.join());
  assert.deepEqual(prompts.find((p) => p.name === "acme_summarize").arguments.map((a) => a.name), ["order"]);
  const got = await client.getPrompt({ name: "wiki_summarize", arguments: { order: "7" } });
  assert.equal(got.messages[0].content.text, "Summarize order 7.");
  const gets = wiki.requests.filter((r) => r.body?.method === "prompts/get");
  assert.equal(gets.at(-1).body.params.name, "summarize", "the upstream gets its own prompt name");
  const noPrompt = await client.getPrompt({ name: "acme_nothing" }).catch((e) => e);
  assert.equal(noPrompt.code, -32602);

  // Bob's session cannot read Alice's note: not found, as if it did not exist.
  const other = await connect(new PersonProvider(w.url, "http://127.0.0.1:33420/callback", bob, "Bob's app"));
  const denied = await other.readResource({ uri: `note://${noteId}` }).catch((e) => e);
  assert.equal(denied.code, -32002);
  const bobs = await other.listResources();
  assert.ok(!bobs.resources.some((r) => r.uri.startsWith("note://")), "Bob has no notes");
  await other.close();

  // A call the upstream answers with an event stream: its progress reaches the client.
  const seen = [];
  const report = await client.callTool({ name: "acme_report", arguments: { steps: 3 } }, undefined, {
    onprogress: (p) => seen.push(p),
  });
  assert.equal(text(report), "report of 3 steps");
  assert.deepEqual(seen.map((p) => [p.progress, p.total, p.message]), [[1, 3, "step 1"], [2, 3, "step 2"], [3, 3, "step 3"]]);
  await client.close();
});

test("an upstream's progress reaches the client while the call is still running", async () => {
  const { tokens } = await fullFlow(w.url, alice);
  let open;
  acme.gate = new Promise((r) => (open = r));
  const res = await fetch(w.url + "/mcp", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      Authorization: "Bearer " + tokens.access_token,
      "MCP-Protocol-Version": "2026-07-28",
      "Mcp-Method": "tools/call",
      "Mcp-Name": "acme_report",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 5,
      method: "tools/call",
      params: {
        name: "acme_report",
        arguments: { steps: 2 },
        _meta: { progressToken: "p-1", "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} },
      },
    }),
  });
  try {
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let seen = "";
    // The upstream is held after its first step: that step must arrive before it goes on.
    while (!/\n\n/.test(seen)) {
      const { value, done } = await reader.read();
      assert.ok(!done, "the stream ended before the first progress event");
      seen += decoder.decode(value, { stream: true });
    }
    const first = JSON.parse(seen.split("\n").find((l) => l.startsWith("data:")).slice(5));
    assert.deepEqual(first.params, { progressToken: "p-1", progress: 1, total: 2, message: "step 1" });
    open();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value, { stream: true });
    }
    const messages = seen.split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)));
    assert.equal(messages.length, 3, seen);
    assert.equal(messages[1].params.progress, 2);
    assert.equal(messages[2].id, 5);
    assert.equal(messages[2].result.content[0].text, "report of 2 steps");
  } finally {
    open?.();
    acme.gate = undefined;
  }
});

test("resources and prompts need a token, and the read scope", async () => {
  const anonymous = await mcpPost(w.url, null, { jsonrpc: "2.0", id: 1, method: "resources/list", params: {} }, { "mcp-protocol-version": "2026-07-28", "mcp-method": "resources/list" });
  assert.equal(anonymous.status, 401);
  const { tokens } = await fullFlow(w.url, bob, { scope: "mcp:write" });
  for (const [method, params] of [["resources/list", {}], ["resources/read", { uri: "docs://handbook" }], ["prompts/get", { name: "acme_summarize", arguments: { order: "1" } }]]) {
    const before = acme.requests.length;
    const res = await modernCall(w.url, tokens.access_token, method, params);
    assert.equal(res.status, 403, `${method}: ${res.text}`);
    // What the token holds and what the method adds, so a client asking for exactly this
    // keeps what it had (MCP authorization, "Scope challenge").
    assert.match(res.headers.get("www-authenticate"), /error="insufficient_scope", scope="mcp:read mcp:write"/);
    assert.equal(acme.requests.length, before, `${method} never reaches an upstream`);
  }
});

test("the legacy SSE transport and 2025-03-26 batches reach the upstreams too", async () => {
  const { tokens } = await fullFlow(w.url, alice);
  const legacy = new Client({ name: "legacy", version: "1" });
  await legacy.connect(new SSEClientTransport(new URL(w.url + "/sse"), { requestInit: { headers: { Authorization: `Bearer ${tokens.access_token}` } } }));
  const names = (await legacy.listTools()).tools.map((t) => t.name);
  assert.ok(names.includes("acme_lookup") && names.includes("wiki_report"), names.join());
  assert.equal(text(await legacy.callTool({ name: "acme_lookup", arguments: { order: "11" } })), "order 11: shipped");
  assert.equal((await legacy.readResource({ uri: "docs://handbook" })).contents[0].text, "# Handbook\nBe kind.");
  await legacy.close();

  const { sessionId } = await initialize(w.url, tokens.access_token, "2025-03-26");
  const batch = await mcpPost(
    w.url,
    tokens.access_token,
    [
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "acme_lookup", arguments: { order: "12" } } },
      { jsonrpc: "2.0", id: 2, method: "prompts/get", params: { name: "acme_summarize", arguments: { order: "12" } } },
    ],
    { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-03-26" },
  );
  assert.equal(batch.status, 200, batch.text);
  assert.equal(text(batch.json[0].result), "order 12: shipped");
  assert.equal(batch.json[1].result.messages[0].content.text, "Summarize order 12.");
  const rows = await w.db.prepare("SELECT detail FROM audit_events WHERE event = 'gateway_call' AND detail LIKE 'acme acme_lookup%'").all();
  assert.ok(rows.results.length >= 2, "calls over both transports are audited");
});

test("a token without the tool's scope gets the insufficient-scope challenge and never reaches the upstream", async () => {
  const { tokens } = await fullFlow(w.url, bob, { scope: "mcp:read" });
  const before = acme.callsOf("create_ticket").length;
  const ticket = { name: "acme_create_ticket", arguments: { subject: "x" } };
  // Claude and the SDKs step up from an HTTP 403 insufficient_scope, the same as a
  // built-in tool's: what the token holds and what the tool adds.
  const res = await modernCall(w.url, tokens.access_token, "tools/call", ticket);
  assert.equal(res.status, 403, res.text);
  const challenge = res.headers.get("www-authenticate");
  assert.equal(
    challenge,
    `Bearer resource_metadata="${w.url}/.well-known/oauth-protected-resource/mcp", error="insufficient_scope", scope="mcp:read mcp:write", error_description="the acme_create_ticket tool needs the mcp:write scope"`,
  );
  assert.deepEqual(res.json, { error: "insufficient_scope", error_description: "the acme_create_ticket tool needs the mcp:write scope" });
  // ChatGPT's connector (User-Agent openai-mcp/...) asks for more access only from a
  // tool result: the same challenge, in _meta.
  const chatgpt = await modernCall(w.url, tokens.access_token, "tools/call", ticket, { headers: { "User-Agent": "openai-mcp/1.0.0" } });
  assert.equal(chatgpt.status, 200, chatgpt.text);
  assert.equal(chatgpt.json.result.isError, true);
  assert.match(text(chatgpt.json.result), /mcp:write/);
  assert.deepEqual(chatgpt.json.result._meta?.["mcp/www_authenticate"], [challenge], "the same challenge as a built-in tool");
  assert.equal(acme.callsOf("create_ticket").length, before, "the upstream never saw either call");
  // The read-only tool goes through with the same token.
  const ok = await modernCall(w.url, tokens.access_token, "tools/call", { name: "acme_lookup", arguments: { order: "9" } });
  assert.equal(text(ok.json.result), "order 9: shipped");
});

test("upstream failures are errors in the gateway's words, naming the upstream", async () => {
  const { tokens } = await fullFlow(w.url, alice);
  const call = (name = "flaky_lookup") => modernCall(w.url, tokens.access_token, "tools/call", { name, arguments: { order: "1" } });
  // The list is cached first, so the failures below are the calls' own.
  assert.equal(text((await call()).json.result), "order 1: shipped");

  for (const [mode, expected] of [
    ["slow", /did not answer within 400 ms/],
    ["error", /answered HTTP 503/],
    ["html", /did not answer in MCP/],
    ["huge", /more than 4 MiB/],
  ]) {
    flaky.mode = mode;
    flaky.slowMs = 1500;
    const res = await call();
    flaky.mode = "ok";
    assert.equal(res.status, 200, `${mode}: never a 5xx from this Worker: ${res.text}`);
    assert.equal(res.json.result.isError, true, mode);
    const said = text(res.json.result);
    assert.match(said, expected, mode);
    assert.match(said, /'flaky'/, mode);
    assert.ok(!said.includes("secret internals") && !said.includes("Sign in to Acme"), "never the upstream's body");
  }

  // A resource read and a prompt fail the same way, as JSON-RPC errors in our words.
  const read = () => modernCall(w.url, tokens.access_token, "resources/read", { uri: "flaky://home" });
  const prompt = () => modernCall(w.url, tokens.access_token, "prompts/get", { name: "flaky_summarize", arguments: { order: "1" } });
  assert.equal((await read()).json.result.contents[0].text, "welcome to flaky");
  assert.equal((await prompt()).json.result.messages.length, 1);
  for (const [mode, expected] of [["error", /answered HTTP 503/], ["html", /did not answer in MCP/]]) {
    for (const ask of [read, prompt]) {
      flaky.mode = mode;
      const res = await ask();
      flaky.mode = "ok";
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.error.code, -32603, res.text);
      assert.match(res.json.error.message, expected);
      assert.match(res.json.error.message, /'flaky'/);
      assert.ok(!res.text.includes("secret internals") && !res.text.includes("Sign in to Acme"));
    }
  }

  // An upstream that forgets its session is initialized again, and the call goes through.
  const initsBefore = flaky.requests.filter((r) => r.body?.method === "initialize").length;
  flaky.mode = "forget";
  assert.equal(text((await call()).json.result), "order 1: shipped");
  assert.equal(flaky.requests.filter((r) => r.body?.method === "initialize").length, initsBefore + 1);

  // The unreachable upstream leaves the list whole, and a call of one of its names (by its
  // prefix) reports the outage in the Worker's words, never "unknown tool".
  const list = await modernCall(w.url, tokens.access_token, "tools/list");
  assert.ok(list.json.result.tools.some((t) => t.name === "acme_lookup"));
  const gone = await call("gone_lookup");
  assert.ok(gone.json.error || gone.json.result?.isError, gone.text);
  assert.equal(gone.json.result?.isError, true, gone.text);
  assert.match(text(gone.json.result), /The upstream 'gone' (cannot be reached|did not answer|failed)/, gone.text);
  assert.ok(w.logs.some((l) => /upstream gone left out/.test(l)), "the failing upstream is logged");
});

test("each call through the gateway is in the audit log, without arguments or results", async () => {
  const rows = await w.db.prepare("SELECT detail, user_id, client_id, outcome FROM audit_events WHERE event = 'gateway_call' ORDER BY id").all();
  const details = rows.results.map((r) => r.detail);
  assert.ok(details.includes("acme acme_lookup ok"), details.join("\n"));
  assert.ok(details.includes("wiki wiki_lookup ok"), details.join("\n"));
  assert.ok(details.some((d) => /^flaky flaky_lookup (timeout|http_error|not_mcp|too_large)/.test(d)), details.join("\n"));
  // A call to an upstream that cannot be listed is audited too.
  assert.ok(details.some((d) => /^gone gone_lookup (unreachable|timeout|http_error)/.test(d)), details.join("\n"));
  for (const r of rows.results) {
    assert.ok(r.user_id && r.client_id);
    assert.ok(!/order|Broken|shipped/.test(r.detail), "no arguments or results");
  }
});

test("a mistake in UPSTREAMS is a JSON-RPC error naming the setting, and in the log", async () => {
  for (const [upstreams, bindings, setting] of [
    [[{ name: "a", url: "http://tools.example.com/mcp" }], {}, "UPSTREAMS[0].url"],
    [[{ name: "a", url: ACME_URL, credential: { secret: "MISSING" } }], {}, "UPSTREAMS[0].credential.secret"],
    [[{ name: "a", service: "NOPE" }], {}, "UPSTREAMS[0].service"],
    [[{ name: "a-b", url: ACME_URL }, { name: "a_b", url: FLAKY_URL }], {}, "UPSTREAMS[1].name"],
  ]) {
    const bad = await startWorker({ bindings: { UPSTREAMS: JSON.stringify(upstreams), ...bindings } });
    try {
      const carol = await createUser(bad.db, "carol@example.com", "carol-password-1");
      const { tokens } = await fullFlow(bad.url, carol);
      const res = await modernCall(bad.url, tokens.access_token, "tools/list");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.error?.code, -32603, res.text);
      assert.ok(res.json.error.message.includes(setting), `${res.json.error.message} names ${setting}`);
      assert.ok(bad.logs.some((l) => l.includes(setting)), "the Worker's log says what is wrong");
    } finally {
      await bad.stop();
    }
  }
});
