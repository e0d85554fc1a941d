// An MCP server people already have, for the gateway's tests: the official TypeScript
// SDK's McpServer over its Web-standard Streamable HTTP transport, in Node, with sessions
// (one transport per session, as the SDK's own examples keep them). It records every
// request it receives (headers and body) so a test can prove what reached it, and can be
// told to misbehave (slow, 5xx, not MCP, too large, forgetting its sessions).
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { randomUUID } from "node:crypto";
import * as z from "zod";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function buildServer(name, state) {
  const server = new McpServer({ name, version: "1.0.0" });
  server.registerTool(
    "lookup",
    {
      title: "Look up an order",
      description: "Finds an order by its number.",
      inputSchema: { order: z.string() },
      annotations: { readOnlyHint: true },
    },
    async ({ order }) => ({ content: [{ type: "text", text: `order ${order}: shipped` }] }),
  );
  server.registerTool(
    "create_ticket",
    {
      description: "Opens a support ticket.",
      inputSchema: { subject: z.string() },
    },
    async ({ subject }) => ({ content: [{ type: "text", text: `ticket opened: ${subject}` }] }),
  );
  server.registerTool(
    "report",
    {
      description: "Builds a report, telling its progress as it goes.",
      inputSchema: { steps: z.number().int().min(1).max(10) },
      annotations: { readOnlyHint: true },
    },
    async ({ steps }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        if (token !== undefined) {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken: token, progress: i, total: steps, message: `step ${i}` },
          });
        }
        // A test may hold the call after its first step, to see that step arrive first.
        if (i === 1 && state.gate) await state.gate;
        await sleep(20);
      }
      return { content: [{ type: "text", text: `report of ${steps} steps` }] };
    },
  );
  server.registerResource(
    "handbook",
    "docs://handbook",
    { title: "Handbook", description: "The team handbook.", mimeType: "text/markdown" },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/markdown", text: "# Handbook\nBe kind." }] }),
  );
  server.registerResource(
    "home",
    `${name}://home`,
    { title: `${name} home` },
    async (uri) => ({ contents: [{ uri: uri.href, text: `welcome to ${name}` }] }),
  );
  server.registerResource(
    "order",
    new ResourceTemplate("orders://{number}", { list: undefined }),
    { title: "An order", description: "One order, by number." },
    async (uri, { number }) => ({ contents: [{ uri: uri.href, text: `order ${number}` }] }),
  );
  server.registerPrompt(
    "summarize",
    { description: "Summarize an order.", argsSchema: { order: z.string() } },
    ({ order }) => ({ messages: [{ role: "user", content: { type: "text", text: `Summarize order ${order}.` } }] }),
  );
  return server;
}

/**
 * A recording upstream. `handle(request)` answers as the MCP server would; `requests`
 * holds every request received: { method, url, headers (lower-case names), body }.
 * `mode` makes it misbehave: "ok", "slow" (waits `slowMs` first), "error" (HTTP 503),
 * "html" (a web page, not MCP), "huge" (a 5 MiB JSON answer), "forget" (drops every
 * session once, then answers as usual).
 */
/**
 * The SDK transport of a request's session (`sessions`: id → transport): a new one, with
 * a server from `build`, for a request without a session id; a 404 Response for an id
 * the upstream does not know (as the SDK's examples keep sessions).
 */
export async function sessionTransport(request, sessions, build) {
  const id = request.headers.get("mcp-session-id");
  let transport = id ? sessions.get(id) : undefined;
  if (id && !transport) {
    return new Response(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }), {
      status: 404,
      headers: { "content-type": "application/json" },
    });
  }
  if (!transport) {
    transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => sessions.set(sid, transport),
    });
    await build().connect(transport);
  }
  return transport;
}

export function recordingUpstream(name = "acme") {
  const sessions = new Map();
  const state = {
    requests: [],
    mode: "ok",
    slowMs: 0,
    /** A promise `report` waits for after its first step, when set. */
    gate: undefined,
    async handle(request) {
      const body = request.method === "POST" ? await request.text() : "";
      state.requests.push({
        method: request.method,
        url: request.url,
        headers: Object.fromEntries(request.headers),
        body: body ? JSON.parse(body) : undefined,
      });
      if (state.mode === "slow") await sleep(state.slowMs);
      if (state.mode === "error") return new Response("upstream trace: secret internals", { status: 503 });
      if (state.mode === "html") return new Response("<html><body>Sign in to Acme</body></html>", { status: 200, headers: { "content-type": "text/html" } });
      if (state.mode === "huge") {
        const big = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "x".repeat(5 << 20) }] } });
        return new Response(big, { status: 200, headers: { "content-type": "application/json" } });
      }
      if (state.mode === "forget") {
        sessions.clear();
        state.mode = "ok";
      }
      const transport = await sessionTransport(request, sessions, () => buildServer(name, state));
      if (transport instanceof Response) return transport;
      const replay = new Request(request.url, { method: request.method, headers: request.headers, body: body || undefined });
      return transport.handleRequest(replay);
    },
    /** The tools/call requests received for one upstream tool name. */
    callsOf(tool) {
      return state.requests.filter((r) => r.body?.method === "tools/call" && r.body.params?.name === tool);
    },
  };
  return state;
}
