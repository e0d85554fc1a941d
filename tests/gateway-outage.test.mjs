// The gateway under an outage, end to end against the built Worker. Proves that: a call
// of a prefixed tool of an upstream that went down (refusing connections, answering 503,
// or hanging past its timeout_ms) once its cached list has expired is a tool error naming
// that upstream, audited as such, never "unknown tool", while a name with no upstream's
// prefix stays unknown; that in a fresh isolate an upstream down from the start reports
// its outage for its prefixed tools and prompts; that an upstream found down is not asked
// again for a while, so lists answer at once from the healthy upstreams; that prefixes
// which could give two tools one name ("flaky" beside "flaky-x", "memory" beside the
// built-in memory_store) are configuration errors naming the setting; and that a
// session-era Mcp-Session-Id is bound to the app (grant) that opened it: another app of
// the same person cannot use it, the same app's refreshed token can.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, publicClient, token } from "./helpers/oauth.mjs";
import { modernCall, initialize, sessionCall } from "./helpers/mcp.mjs";
import { recordingUpstream } from "./helpers/upstream.mjs";

const ACME_URL = "https://tools.acme.test/mcp";
const TIMEOUT_MS = 400;
// flaky is reached through a service binding to a real port (`external`), so that going
// down can be a refused connection: an exception thrown by a Miniflare outbound function
// reaches the Worker as an HTTP 500, not as a failed connection.
const FLAKY = { name: "flaky", service: "FLAKY", timeout_ms: TIMEOUT_MS };
const FLAKY_URL = "https://flaky.outage.test/mcp";
const FLAKY_X_URL = "https://flaky-x.outage.test/mcp";
const MEMORY_URL = "https://memory.outage.test/mcp";
/** The `ttlMs` the 2026-07-28 upstreams put on their lists: the gateway's cache of them. */
const LIST_TTL_MS = 1000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (result) => result.content.map((c) => c.text).join("");

/**
 * A small MCP server of the 2026-07-28 era (no session: `server/discover` lists the
 * revision), whose lists say `ttlMs`, so the gateway's cache of them expires quickly. It
 * records every request and can be switched: "ok", "error" (HTTP 503), "hang" (never
 * answers until `release()`). `listen()` serves it on a port of its own; closing that
 * listener makes it refuse connections.
 */
function modernUpstream(name) {
  const hanging = new Set();
  const state = {
    mode: "ok",
    requests: [],
    async handle(request) {
      const raw = request.method === "POST" ? await request.text() : "";
      const body = raw ? JSON.parse(raw) : undefined;
      state.requests.push({ method: request.method, headers: Object.fromEntries(request.headers), body });
      if (state.mode === "error") return new Response("upstream trace: secret internals", { status: 503 });
      if (state.mode === "hang") {
        await new Promise((resolve) => {
          hanging.add(resolve);
          setTimeout(resolve, 15_000).unref();
        });
        return new Response("too late", { status: 503 });
      }
      if (!body || body.id === undefined) return new Response(null, { status: 202 });
      const answer = (result) =>
        new Response(JSON.stringify({ jsonrpc: "2.0", id: body.id, result: { ...result, resultType: "complete" } }), {
          status: 200,
          headers: { "content-type": "application/json" },
        });
      const p = body.params ?? {};
      switch (body.method) {
        case "server/discover":
          return answer({ supportedVersions: ["2025-11-25", "2026-07-28"], capabilities: { tools: {}, prompts: {} } });
        case "tools/list":
          return answer({
            tools: [
              {
                name: "echo",
                description: "Says it back.",
                inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
                annotations: { readOnlyHint: true },
              },
            ],
            ttlMs: LIST_TTL_MS,
          });
        case "tools/call":
          return answer({ content: [{ type: "text", text: `${name} echo: ${p.arguments?.text}` }] });
        case "prompts/list":
          return answer({ prompts: [{ name: "greet", description: "Greets someone.", arguments: [{ name: "who", required: true }] }], ttlMs: LIST_TTL_MS });
        case "prompts/get":
          return answer({ messages: [{ role: "user", content: { type: "text", text: `Greet ${p.arguments?.who}.` } }] });
        case "resources/list":
          return answer({ resources: [], ttlMs: LIST_TTL_MS });
        case "resources/templates/list":
          return answer({ resourceTemplates: [], ttlMs: LIST_TTL_MS });
        default:
          return new Response(JSON.stringify({ jsonrpc: "2.0", id: body.id, error: { code: -32601, message: "no such method" } }), {
            status: 200,
            headers: { "content-type": "application/json" },
          });
      }
    },
    /** The requests received for one JSON-RPC method. */
    of(method) {
      return state.requests.filter((r) => r.body?.method === method);
    },
    /** Lets every hanging request end (each then answers 503, long after its timeout). */
    release() {
      for (const r of hanging) r();
      hanging.clear();
    },
    /** Serves it over HTTP on 127.0.0.1; `address` for an `external` service binding. */
    async listen() {
      const server = http.createServer(async (req, res) => {
        try {
          const chunks = [];
          for await (const c of req) chunks.push(c);
          const headers = new Headers();
          for (const [k, v] of Object.entries(req.headers)) {
            if (!["host", "connection", "keep-alive", "transfer-encoding", "content-length"].includes(k)) headers.set(k, String(v));
          }
          const body = Buffer.concat(chunks);
          const request = new Request(`http://${req.headers.host ?? "flaky"}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined });
          const response = await state.handle(request);
          if (res.destroyed) return;
          res.writeHead(response.status, Object.fromEntries(response.headers));
          res.end(Buffer.from(await response.arrayBuffer()));
        } catch {
          res.destroy();
        }
      });
      await new Promise((r) => server.listen(0, "127.0.0.1", r));
      const { port } = server.address();
      state.address = `127.0.0.1:${port}`;
      state.close = () =>
        new Promise((r) => {
          server.close(() => r());
          server.closeAllConnections();
        });
      return state.address;
    },
  };
  return state;
}

/** An address on 127.0.0.1 where nothing listens: connections to it are refused. */
async function refusingAddress() {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return `127.0.0.1:${port}`;
}

/**
 * A Worker with `upstreams` (default: "acme", healthy, and "flaky", with a 400 ms
 * timeout, at `flakyAddress`) in front of the Node upstreams, and a person signed in
 * through one app.
 */
async function gatewayWorker({ flaky, flakyAddress, memory, upstreams, bindings = {} } = {}) {
  const acme = recordingUpstream("acme");
  const hosts = {
    "tools.acme.test": acme,
    "memory.outage.test": memory,
  };
  const reached = [];
  const w = await startWorker({
    bindings: {
      UPSTREAMS: JSON.stringify(
        upstreams ?? [
          { name: "acme", url: ACME_URL },
          FLAKY,
        ],
      ),
      ...bindings,
    },
    serviceBindings: { FLAKY: { external: { address: flakyAddress ?? (await refusingAddress()), http: {} } } },
    outbound: async (req) => {
      const host = new URL(req.url).host;
      reached.push(host);
      const upstream = hosts[host];
      if (upstream) return upstream.handle(req);
      return new Response("tests have no internet", { status: 502 });
    },
  });
  try {
    const person = await createUser(w.db, "dana@example.com", "dana-password-1", "Dana");
    const { tokens } = await fullFlow(w.url, person);
    const call = (name, args = {}) => modernCall(w.url, tokens.access_token, "tools/call", { name, arguments: args });
    const rpc = (method, params = {}) => modernCall(w.url, tokens.access_token, method, params);
    return {
      w,
      acme,
      person,
      reached,
      accessToken: tokens.access_token,
      call,
      rpc,
      stop: async () => {
        flaky?.release();
        memory?.release();
        await flaky?.close?.();
        await w.stop();
      },
    };
  } catch (e) {
    await flaky?.close?.();
    await w.stop();
    throw e;
  }
}

async function gatewayCalls(w) {
  const rows = await w.db.prepare("SELECT detail, user_id, client_id FROM audit_events WHERE event = 'gateway_call' ORDER BY id").all();
  return rows.results;
}

const toolNames = (res) => res.json.result.tools.map((t) => t.name);

/** Asserts `res` is the tool error for an upstream outage, with exactly `said`. */
function assertOutage(res, said, what) {
  assert.equal(res.status, 200, `${what}: ${res.text}`);
  assert.equal(res.json.error, undefined, `${what} is a tool result, never a JSON-RPC error ("unknown tool"): ${res.text}`);
  assert.equal(res.json.result?.isError, true, `${what}: ${res.text}`);
  assert.equal(text(res.json.result), said, what);
  assert.ok(!res.text.includes("secret internals"), "never the upstream's body");
}

async function assertUnknownTool(g, name) {
  const res = await g.call(name, { text: "x" });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.error?.code, -32602, `${name}: ${res.text}`);
  assert.match(res.json.error.message, new RegExp(`unknown tool '${name}'`), res.text);
}

for (const [mode, said, outcome] of [
  ["refuse", "The upstream 'flaky' cannot be reached.", "unreachable"],
  ["error", "The upstream 'flaky' failed: it answered HTTP 503.", "http_error"],
  ["hang", `The upstream 'flaky' did not answer within ${TIMEOUT_MS} ms.`, "timeout"],
]) {
  test(`an upstream that goes down (${mode}) after its cached list expires: its tools report the outage, never "unknown tool"`, async () => {
    const flaky = modernUpstream("flaky");
    const g = await gatewayWorker({ flaky, flakyAddress: await flaky.listen() });
    try {
      // Healthy first: the list names flaky's tool, and a call of it goes through.
      const list = await g.rpc("tools/list");
      assert.equal(list.status, 200, list.text);
      assert.ok(toolNames(list).includes("flaky_echo") && toolNames(list).includes("acme_lookup"), toolNames(list).join());
      assert.equal(text((await g.call("flaky_echo", { text: "hi" })).json.result), "flaky echo: hi");
      assert.equal(flaky.of("tools/call").length, 1);

      if (mode === "refuse") await flaky.close();
      else flaky.mode = mode;
      await sleep(LIST_TTL_MS + 250); // flaky's list (ttlMs 1000) has expired in the isolate
      const listsBefore = flaky.of("tools/list").length;
      const started = Date.now();
      const res = await g.call("flaky_echo", { text: "again" });
      const elapsed = Date.now() - started;
      assertOutage(res, said, `flaky_echo while flaky is down (${mode})`);
      // The expired list was asked for again (over a connection, unless it was refused).
      assert.equal(flaky.of("tools/list").length, mode === "refuse" ? listsBefore : listsBefore + 1);
      assert.equal(flaky.of("tools/call").length, 1, "no call went to an upstream that could not be listed");
      if (mode === "hang") assert.ok(elapsed >= TIMEOUT_MS * 0.9, `the call waited out the timeout: ${elapsed} ms`);

      const details = (await gatewayCalls(g.w)).map((r) => r.detail);
      assert.ok(details.includes(`flaky flaky_echo ${outcome}`), details.join("\n"));
      assert.ok(details.includes("flaky flaky_echo ok"), details.join("\n"));

      // Another of flaky's names (by its prefix) reports the same outage.
      assertOutage(await g.call("flaky_something_new", { text: "x" }), said, "an unlisted flaky_ name");
      // A name no upstream's prefix covers is still unknown; the healthy upstream serves on.
      await assertUnknownTool(g, "nobody_echo");
      await assertUnknownTool(g, "echo");
      assert.equal(text((await g.call("acme_lookup", { order: "5" })).json.result), "order 5: shipped");
      const after = await g.rpc("tools/list");
      assert.equal(after.status, 200, after.text);
      assert.ok(toolNames(after).includes("acme_lookup"), toolNames(after).join());
      assert.ok(!toolNames(after).some((n) => n.startsWith("flaky_")), "the list leaves the down upstream out");
    } finally {
      await g.stop();
    }
  });
}

test("in a fresh isolate, an upstream down from the start: its prefixed tools and prompts report the outage", async () => {
  // flaky's address refuses connections from the start.
  const g = await gatewayWorker({ flakyAddress: await refusingAddress() });
  try {
    const said = "The upstream 'flaky' cannot be reached.";
    // The prompt first: nothing of flaky was ever listed in this isolate.
    const prompt = await g.rpc("prompts/get", { name: "flaky_greet", arguments: { who: "Ann" } });
    assert.equal(prompt.status, 200, prompt.text);
    assert.equal(prompt.json.result, undefined, prompt.text);
    assert.equal(prompt.json.error?.code, -32603, prompt.text);
    assert.equal(prompt.json.error.message, said, "a JSON-RPC error naming the upstream, not \"unknown prompt\"");

    assertOutage(await g.call("flaky_echo", { text: "x" }), said, "flaky_echo in a fresh isolate");
    assertOutage(await g.call("flaky_anything", {}), said, "any flaky_ name in a fresh isolate");
    await assertUnknownTool(g, "nobody_echo");
    const noPrompt = await g.rpc("prompts/get", { name: "nobody_greet", arguments: {} });
    assert.equal(noPrompt.json.error?.code, -32602, noPrompt.text);
    assert.match(noPrompt.json.error.message, /unknown prompt 'nobody_greet'/);

    // The healthy upstream is untouched by the outage.
    assert.equal(text((await g.call("acme_lookup", { order: "3" })).json.result), "order 3: shipped");
    const acmePrompt = await g.rpc("prompts/get", { name: "acme_summarize", arguments: { order: "3" } });
    assert.equal(acmePrompt.json.result?.messages?.[0]?.content?.text, "Summarize order 3.", acmePrompt.text);
    const list = await g.rpc("tools/list");
    assert.ok(toolNames(list).includes("acme_lookup") && !toolNames(list).some((n) => n.startsWith("flaky_")), toolNames(list).join());

    const rows = await gatewayCalls(g.w);
    const details = rows.map((r) => r.detail);
    for (const d of ["flaky flaky_greet unreachable", "flaky flaky_echo unreachable", "flaky flaky_anything unreachable", "acme acme_lookup ok"]) {
      assert.ok(details.includes(d), `${d} in:\n${details.join("\n")}`);
    }
    assert.ok(rows.every((r) => r.user_id === g.person.id), "audited as the person's");
  } finally {
    await g.stop();
  }
});

test("a hanging upstream costs its timeout once; then lists answer at once from the healthy upstream, and it is not asked again", async () => {
  const flaky = modernUpstream("flaky");
  flaky.mode = "hang";
  const g = await gatewayWorker({ flaky, flakyAddress: await flaky.listen() });
  try {
    let started = Date.now();
    const first = await g.rpc("tools/list");
    const firstMs = Date.now() - started;
    assert.equal(first.status, 200, first.text);
    assert.ok(toolNames(first).includes("acme_lookup"), toolNames(first).join());
    assert.ok(!toolNames(first).some((n) => n.startsWith("flaky_")));
    assert.ok(firstMs >= TIMEOUT_MS * 0.9 && firstMs < TIMEOUT_MS + 4000, `the first list waits about the timeout: ${firstMs} ms`);
    assert.ok(g.w.logs.some((l) => l.includes(`upstream flaky left out: The upstream 'flaky' did not answer within ${TIMEOUT_MS} ms.`)), "logged");
    const asked = flaky.requests.length;
    assert.ok(asked >= 1, "the first list did try flaky");

    for (let i = 0; i < 4; i++) {
      started = Date.now();
      const again = await g.rpc("tools/list", {}, { id: i + 2 });
      const ms = Date.now() - started;
      assert.equal(again.status, 200, again.text);
      assert.ok(toolNames(again).includes("acme_lookup"), toolNames(again).join());
      assert.ok(ms < TIMEOUT_MS / 2, `tools/list ${i + 2} answered in ${ms} ms, under ${TIMEOUT_MS / 2}`);
    }
    // A call of one of its tools in the window reports the timeout at once, too.
    started = Date.now();
    const call = await g.call("flaky_echo", { text: "x" });
    const callMs = Date.now() - started;
    assertOutage(call, `The upstream 'flaky' did not answer within ${TIMEOUT_MS} ms.`, "flaky_echo in the down window");
    assert.ok(callMs < TIMEOUT_MS / 2, `the call answered in ${callMs} ms`);
    assert.equal(flaky.requests.length, asked, "no request reached the hanging upstream in the window");
    assert.equal(flaky.of("tools/list").length + flaky.of("server/discover").length, asked);
    const details = (await gatewayCalls(g.w)).map((r) => r.detail);
    assert.ok(details.includes("flaky flaky_echo timeout"), details.join("\n"));
  } finally {
    await g.stop();
  }
});

test("prefixes that could give two tools one name are a configuration error naming the setting", async () => {
  const misconfigured = async (upstreams, bindings, setting, names) => {
    const flaky = modernUpstream("flaky");
    const memory = modernUpstream("memory");
    const g = await gatewayWorker({ flaky, memory, upstreams, bindings });
    try {
      const res = await g.rpc("tools/list");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.result, undefined, res.text);
      assert.equal(res.json.error?.code, -32603, res.text);
      assert.ok(res.json.error.message.includes(setting), `${res.json.error.message} names ${setting}`);
      for (const n of names) assert.ok(res.json.error.message.includes(n), `${res.json.error.message} names ${n}`);
      assert.ok(g.w.logs.some((l) => l.includes(setting)), "the Worker's log says what is wrong");
      assert.deepEqual(g.reached, [], "no upstream is reached while UPSTREAMS is wrong");
    } finally {
      await g.stop();
    }
  };
  await misconfigured(
    [
      { name: "flaky", url: FLAKY_URL },
      { name: "flaky-x", url: FLAKY_X_URL },
    ],
    {},
    "UPSTREAMS[1].name",
    ["'flaky'", "'flaky-x'"],
  );
  // With the built-in tools (the default), memory_ could take memory_store's name.
  await misconfigured(
    [
      { name: "acme", url: ACME_URL },
      { name: "memory", url: MEMORY_URL },
    ],
    {},
    "UPSTREAMS[1].name",
    ["'memory'", "memory_store"],
  );

  // Without them, the same UPSTREAMS is accepted and memory_'s tools are served.
  const memory = modernUpstream("memory");
  const g = await gatewayWorker({
    memory,
    upstreams: [
      { name: "acme", url: ACME_URL },
      { name: "memory", url: MEMORY_URL },
    ],
    bindings: { BUILTIN_TOOLS: "off" },
  });
  try {
    const list = await g.rpc("tools/list");
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.error, undefined, list.text);
    const names = toolNames(list);
    assert.ok(names.includes("memory_echo") && names.includes("acme_lookup"), names.join());
    assert.ok(!names.includes("memory_store"), "no built-in tools");
    assert.equal(text((await g.call("memory_echo", { text: "kept" })).json.result), "memory echo: kept");
    assert.equal(memory.of("tools/call").length, 1);
  } finally {
    await g.stop();
  }
});

test("a session is bound to the app that opened it: another app of the same person is refused, the same app's refreshed token is not", async () => {
  const g = await gatewayWorker({ upstreams: [{ name: "acme", url: ACME_URL }] });
  try {
    const base = g.w.url;
    const appA = await publicClient(base, "http://127.0.0.1:9999/app-a", { client_name: "App A" });
    const appB = await publicClient(base, "http://127.0.0.1:9999/app-b", { client_name: "App B" });
    assert.notEqual(appA.client_id, appB.client_id);
    const a = await fullFlow(base, g.person, { client: appA });
    const b = await fullFlow(base, g.person, { client: appB });
    assert.equal(a.status, 200, JSON.stringify(a.tokens));
    assert.equal(b.status, 200, JSON.stringify(b.tokens));

    for (const version of ["2025-06-18", "2025-11-25"]) {
      const sA = await initialize(base, a.tokens.access_token, version);
      const sB = await initialize(base, b.tokens.access_token, version);
      assert.equal(sA.version, version);
      assert.ok(sA.sessionId && sB.sessionId && sA.sessionId !== sB.sessionId);

      // A's session with A's token works, through the gateway too.
      const own = await sessionCall(base, a.tokens.access_token, sA, "tools/call", { name: "acme_lookup", arguments: { order: "7" } });
      assert.equal(own.status, 200, own.text);
      assert.equal(text(own.json.result), "order 7: shipped");

      // A's session with B's token (same person, other app): unknown, as if it did not exist.
      for (const [tokenOf, session, what] of [
        [b.tokens.access_token, sA, "A's session with B's token"],
        [a.tokens.access_token, sB, "B's session with A's token"],
      ]) {
        const before = g.acme.callsOf("lookup").length;
        const refused = await sessionCall(base, tokenOf, session, "tools/call", { name: "acme_lookup", arguments: { order: "8" } });
        assert.equal(refused.status, 404, `${what}: ${refused.text}`);
        assert.match(refused.json?.error?.message ?? "", /unknown or expired session/, `${what}: ${refused.text}`);
        assert.equal(g.acme.callsOf("lookup").length, before, `${what} never reaches the upstream`);
        const ping = await sessionCall(base, tokenOf, session, "ping");
        assert.equal(ping.status, 404, `${what} (ping): ${ping.text}`);
      }
      const bOwn = await sessionCall(base, b.tokens.access_token, sB, "ping");
      assert.equal(bOwn.status, 200, bOwn.text);
    }

    // A's refreshed access token (same grant) keeps A's session.
    const sA = await initialize(base, a.tokens.access_token, "2025-06-18");
    const refreshed = await token(base, { grant_type: "refresh_token", refresh_token: a.tokens.refresh_token, client_id: appA.client_id });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.notEqual(refreshed.body.access_token, a.tokens.access_token);
    const kept = await sessionCall(base, refreshed.body.access_token, sA, "tools/call", { name: "acme_lookup", arguments: { order: "9" } });
    assert.equal(kept.status, 200, `A's session with A's refreshed token: ${kept.text}`);
    assert.equal(text(kept.json.result), "order 9: shipped");
    const stillRefused = await sessionCall(base, b.tokens.access_token, sA, "ping");
    assert.equal(stillRefused.status, 404, stillRefused.text);
  } finally {
    await g.stop();
  }
});
