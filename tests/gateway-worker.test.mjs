// The gateway in front of an upstream that speaks MCP 2026-07-28 (stateless): this
// Worker itself, run by Miniflare as a second Worker with its own KV and D1, reached by a
// service binding and signed in to with an access token of its own (the operator's
// credential). The official SDK client signs in to the front Worker and uses the
// upstream's notes tools through it, renamed with the upstream's prefix.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow } from "./helpers/oauth.mjs";
import { PersonProvider, connectSignedIn } from "./helpers/person-provider.mjs";
import { modernCall } from "./helpers/mcp.mjs";

let front, upstream, alice, serviceToken;
const received = [];

before(async () => {
  upstream = await startWorker();
  const operator = await createUser(upstream.db, "gateway@acme.example", "gateway-password-1", "Gateway");
  serviceToken = (await fullFlow(upstream.url, operator)).tokens.access_token;
  front = await startWorker({
    bindings: {
      NOTES_TOKEN: serviceToken,
      UPSTREAMS: JSON.stringify([{ name: "notes", service: "NOTES", credential: { secret: "NOTES_TOKEN" } }]),
    },
    // The binding's requests go to the second Worker as they are, and are recorded.
    serviceBindings: {
      NOTES: async (req) => {
        const body = await req.text();
        received.push({ url: req.url, headers: Object.fromEntries(req.headers), body: body ? JSON.parse(body) : undefined });
        const target = upstream.url + new URL(req.url).pathname;
        const headers = new Headers(req.headers);
        headers.delete("host");
        headers.delete("content-length");
        return fetch(target, { method: req.method, headers, body: body || undefined });
      },
    },
  });
  alice = await createUser(front.db, "alice@example.com", "alice-password-1", "Alice");
});
after(async () => {
  await front?.stop();
  await upstream?.stop();
});

test("a 2026-07-28 upstream is spoken to without a session, its tools renamed and their Mcp-Name rewritten", async () => {
  const provider = new PersonProvider(front.url, "http://127.0.0.1:33431/callback", alice, "Stateless upstream");
  const client = await connectSignedIn(front.url, provider);

  const names = (await client.listTools()).tools.map((t) => t.name);
  for (const n of ["search", "memory_store", "notes_search", "notes_memory_store", "notes_fetch"]) assert.ok(names.includes(n), `${n}: ${names}`);

  const stored = await client.callTool({ name: "notes_memory_store", arguments: { text: "Kept upstream\nby the gateway" } });
  assert.notEqual(stored.isError, true, JSON.stringify(stored));
  const found = await client.callTool({ name: "notes_search", arguments: { query: "gateway" } });
  assert.equal(found.structuredContent.results[0].title, "Kept upstream");
  // The note lives in the upstream's own database, under the operator's account there.
  const rows = await upstream.db.prepare("SELECT title FROM notes").all();
  assert.deepEqual(rows.results.map((r) => r.title), ["Kept upstream"]);
  assert.equal((await front.db.prepare("SELECT count(*) AS n FROM notes").first()).n, 0);

  assert.ok(!received.some((r) => r.body?.method === "initialize"), "no session is opened");
  assert.equal(received.filter((r) => r.body?.method === "server/discover").length, 1, "the era is asked once");
  for (const r of received) {
    assert.equal(r.headers["mcp-protocol-version"], "2026-07-28");
    assert.equal(r.headers["mcp-session-id"], undefined);
    assert.equal(r.headers.authorization, "Bearer " + serviceToken, "the operator's credential, never the client's token");
    assert.ok(!JSON.stringify(r).includes(provider.saved.access_token));
    assert.equal(r.headers["mcp-method"], r.body.method);
    assert.equal(r.body.params._meta["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
  }
  const calls = received.filter((r) => r.body.method === "tools/call");
  assert.deepEqual(calls.map((r) => [r.headers["mcp-name"], r.body.params.name]), [["memory_store", "memory_store"], ["search", "search"]], "Mcp-Name names the upstream's tool, as the body does");
  await client.close();
});

test("a 2026-07-28 client reaches a 2026-07-28 upstream through the gateway, and the envelope is the gateway's", async () => {
  const { tokens } = await fullFlow(front.url, alice);
  const res = await modernCall(front.url, tokens.access_token, "tools/call", { name: "notes_about", arguments: {} });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.result.resultType, "complete");
  assert.equal(res.json.result._meta["io.modelcontextprotocol/serverInfo"].name, "mcp-oauth-worker");
  assert.equal(res.json.result.structuredContent.signed_in, true, "the upstream saw its operator signed in");
});
