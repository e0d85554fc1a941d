// MCP Apps end to end. Through the gateway: an upstream App written with the official SDK's
// McpServer and the MCP Apps SDK's registerAppTool / registerAppResource
// (tests/helpers/app-upstream.mjs) is seen by the official SDK client (session era) and by
// raw 2026-07-28 requests with its views addressed under its prefix, only the `_meta` an
// App needs (`ui`, `ui/resourceUri`, `openai/*`), and never what would change how the
// client signs in. Built in: the notes' own view, read from the Worker and run in headless
// Chromium inside a sandboxed frame, with this test playing the MCP Apps host.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow } from "./helpers/oauth.mjs";
import { PersonProvider, connectSignedIn } from "./helpers/person-provider.mjs";
import { modernCall, initialize, sessionCall } from "./helpers/mcp.mjs";
import { launchChromium, watchConsole } from "./helpers/chromium.mjs";
import {
  appUpstream,
  BOARD_URI,
  HIDDEN_URI,
  BOARD_HTML,
  HIDDEN_HTML,
  HOSTILE_CHALLENGE,
  HTTPS_ICON,
  BOARD_CSP,
  modernAppUpstream,
  DATA_ICON,
} from "./helpers/app-upstream.mjs";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const APP_URL = "https://apps.acme.test/mcp";
const UI_MIME = "text/html;profile=mcp-app";
const EXTENSION = "io.modelcontextprotocol/ui";
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";
// The upstream is `acme-board`; beside the built-in tools its prefix is `acme_board_`.
const PREFIX = "acme_board_";
const TOOL = PREFIX + "show_board";
const BOARD = `ui://${PREFIX}widget/board.html`;
const HIDDEN = `ui://${PREFIX}widget/secret.html`;
const NOTES_VIEW = "ui://notes/list.html";
// What `show_board` (readOnlyHint) needs here: the gateway's scheme, never the upstream's.
const GATEWAY_SCHEMES = [{ type: "oauth2", scopes: ["mcp:read"] }];

let w, app, alice, carol, port = 33500;
before(async () => {
  app = appUpstream();
  w = await startWorker({
    bindings: { UPSTREAMS: JSON.stringify([{ name: "acme-board", url: APP_URL }]) },
    outbound: async (req) => {
      if (new URL(req.url).host === "apps.acme.test") return app.handle(req);
      return new Response("tests have no internet", { status: 502 });
    },
  });
  [alice, carol] = await Promise.all([
    createUser(w.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(w.db, "carol@example.com", "carol-password-1", "Carol"),
  ]);
});
after(() => w?.stop());

const connect = (person, name) => connectSignedIn(w.url, new PersonProvider(w.url, `http://127.0.0.1:${port++}/callback`, person, name), name);
const text = (result) => result.content.map((c) => c.text).join("");

/** What every view of the App must look like to a client, in either era. */
function assertBoardTool(tool, where) {
  assert.ok(tool, `${TOOL} is listed (${where})`);
  assert.equal(tool._meta.ui.resourceUri, BOARD, where);
  assert.deepEqual(tool._meta.ui.visibility, ["model", "app"], `the rest of ui passes (${where})`);
  assert.equal(tool._meta["ui/resourceUri"], BOARD, where);
  assert.equal(tool._meta["openai/outputTemplate"], BOARD, where);
  assert.equal(tool._meta["openai/toolInvocation/invoking"], "Opening the board…", where);
  assert.deepEqual(tool._meta.securitySchemes, GATEWAY_SCHEMES, `the gateway's scheme, not the upstream's noauth (${where})`);
  assert.equal(tool._meta["mcp/www_authenticate"], undefined, where);
  assert.equal(tool._meta["io.example/tracking"], undefined, where);
  assert.deepEqual(Object.keys(tool._meta).sort(), ["openai/outputTemplate", "openai/toolInvocation/invoking", "securitySchemes", "ui", "ui/resourceUri"], where);
  assert.deepEqual(tool.icons, [HTTPS_ICON], `only the https icon (${where})`);
  assert.ok(!JSON.stringify(tool).includes("evil.test"), `no trace of the hostile challenge (${where})`);
}

function assertBadViewTool(tool, where) {
  assert.ok(tool, where);
  assert.equal(tool._meta.ui?.resourceUri, undefined, `an https "view" is dropped (${where})`);
  assert.equal(tool._meta.ui?.prefersBorder, false, `the rest of ui stays (${where})`);
  assert.equal(tool._meta["ui/resourceUri"], undefined, where);
  assert.equal(tool._meta["openai/outputTemplate"], undefined, `a javascript: template is dropped (${where})`);
}

function assertBoardResource(resource, where) {
  assert.ok(resource, `${BOARD} is listed (${where})`);
  assert.equal(resource.mimeType, UI_MIME, where);
  assert.equal(resource.title, "Board view", where);
  assert.deepEqual(resource._meta, { ui: { csp: BOARD_CSP, prefersBorder: true }, "openai/widgetDescription": "A kanban board of the team's cards." }, where);
  assert.deepEqual(resource.icons, [HTTPS_ICON], where);
}

function assertBoardRead(result, where) {
  assert.equal(result.contents.length, 1, where);
  const [c] = result.contents;
  assert.equal(c.uri, BOARD, `the content is addressed as the client asked (${where})`);
  assert.equal(c.mimeType, UI_MIME, where);
  assert.equal(c.text, BOARD_HTML, where);
  assert.deepEqual(c._meta.ui, { csp: BOARD_CSP, prefersBorder: true }, where);
  assert.ok(c._meta["openai/widgetCSP"], where);
  assert.deepEqual(Object.keys(c._meta).sort(), ["openai/widgetCSP", "ui"], `securitySchemes and mcp/www_authenticate dropped (${where})`);
}

/**
 * A result's `_meta` without the key a 2026-07-28 answer carries from the Worker itself
 * (its own serverInfo, never the upstream's).
 */
function upstreamMeta(meta) {
  const { [SERVER_INFO]: info, ...rest } = meta ?? {};
  if (info !== undefined) assert.equal(info.name, "mcp-oauth-worker", "the serverInfo is the Worker's own");
  return rest;
}

function assertBoardResult(result, where) {
  assert.equal(result.isError, undefined, `${where}: ${JSON.stringify(result)}`);
  assert.equal(text(result), "board column todo: 2 cards", where);
  assert.deepEqual(result.structuredContent.cards, ["Write tests", "Ship"], where);
  assert.deepEqual(upstreamMeta(result._meta), { "openai/widgetSessionId": "board-session-1", ui: { resourceUri: BOARD } }, `only ui and openai/* pass, the view prefixed (${where})`);
}

// The main promise of the gateway for MCP Apps: a signed-in SDK client finds the upstream's
// view through the tool, reads it through the gateway, and is never told by the upstream how
// to authenticate.
test("the SDK client (session era) sees the upstream's App under its prefix, with only the allowed _meta", async () => {
  const client = await connect(alice, "apps-sdk");
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  assertBoardTool(byName[TOOL], "sdk");
  assertBadViewTool(byName[PREFIX + "bad_view"], "sdk");

  const { resources } = await client.listResources();
  assertBoardResource(resources.find((r) => r.uri === BOARD), "sdk");
  assert.ok(!resources.some((r) => r.uri === BOARD_URI), "never under the upstream's own URI");
  assert.ok(!resources.some((r) => r.uri === HIDDEN || r.uri === HIDDEN_URI), "the unlisted view is not listed");

  assertBoardRead(await client.readResource({ uri: BOARD }), "sdk");
  const hidden = await client.readResource({ uri: HIDDEN });
  assert.equal(hidden.contents[0].uri, HIDDEN);
  assert.equal(hidden.contents[0].text, HIDDEN_HTML);
  assert.deepEqual(hidden.contents[0]._meta, { ui: { prefersBorder: false } });
  for (const uri of [BOARD_URI, "ui://other_widget/board.html", "ui://acme_widget/board.html"]) {
    const missing = await client.readResource({ uri }).catch((e) => e);
    assert.equal(missing.code, -32002, `${uri}: ${missing.message}`);
    assert.match(missing.message, /Resource not found/i, uri);
  }
  const reads = app.bodies("resources/read").map((b) => b.params.uri);
  assert.deepEqual(reads, [BOARD_URI, HIDDEN_URI], "the upstream is asked for its own URIs, and only for its own");

  assertBoardResult(await client.callTool({ name: TOOL, arguments: { column: "todo" } }), "sdk");
  assert.deepEqual(app.bodies("tools/call").at(-1).params, { name: "show_board", arguments: { column: "todo" } });
  await client.close();
});

// Clients of 2026-07-28 (stateless, no session) get the same views and the same filtering,
// including the tool entry's top-level securitySchemes that the SDK client does not keep.
test("raw 2026-07-28 requests see the same views, rewritten and filtered the same way", async () => {
  const { tokens } = await fullFlow(w.url, alice);
  const call = (method, params) => modernCall(w.url, tokens.access_token, method, params);

  const list = await call("tools/list");
  assert.equal(list.status, 200, list.text);
  const byName = Object.fromEntries(list.json.result.tools.map((t) => [t.name, t]));
  assertBoardTool(byName[TOOL], "2026-07-28");
  assertBadViewTool(byName[PREFIX + "bad_view"], "2026-07-28");
  assert.deepEqual(byName[TOOL].securitySchemes, GATEWAY_SCHEMES, "the top-level securitySchemes is the gateway's");
  assert.ok(!list.text.includes("noauth") && !list.text.includes("evil.test"), "nothing hostile anywhere in the list");

  const resources = await call("resources/list");
  assert.equal(resources.status, 200, resources.text);
  assertBoardResource(resources.json.result.resources.find((r) => r.uri === BOARD), "2026-07-28");
  assert.ok(!resources.text.includes("noauth") && !resources.text.includes("evil.test"));

  const read = await call("resources/read", { uri: BOARD });
  assert.equal(read.status, 200, read.text);
  assertBoardRead(read.json.result, "2026-07-28");
  const hidden = await call("resources/read", { uri: HIDDEN });
  assert.equal(hidden.json.result?.contents[0].text, HIDDEN_HTML, hidden.text);
  assert.equal(hidden.json.result.contents[0].uri, HIDDEN);
  const missing = await call("resources/read", { uri: "ui://other_widget/board.html" });
  assert.equal(missing.json.error?.code, -32602, missing.text);
  assert.match(missing.json.error.message, /Resource not found/i);

  const result = await call("tools/call", { name: TOOL, arguments: { column: "todo" } });
  assert.equal(result.status, 200, result.text);
  assertBoardResult(result.json.result, "2026-07-28");
  assert.ok(!result.text.includes("evil.test"), result.text);
  assert.equal(result.headers.get("www-authenticate"), null);
});

// An upstream App decides whether to answer for a view from its client's capabilities: the
// gateway must say it renders MCP Apps, or Apps fall back to text.
test("the upstream is told, in the gateway's initialize, that MCP Apps views are supported", async () => {
  const { tokens } = await fullFlow(w.url, alice);
  const result = await modernCall(w.url, tokens.access_token, "tools/call", { name: TOOL, arguments: { column: "todo" } });
  const inits = app.bodies("initialize");
  assert.ok(inits.length >= 1, "the session-era upstream was initialized");
  for (const init of inits) {
    assert.deepEqual(init.params.capabilities.extensions?.[EXTENSION], { mimeTypes: [UI_MIME] }, JSON.stringify(init.params));
  }
  assert.deepEqual(result.json.result.structuredContent.hostMimeTypes, [UI_MIME], "the App's getUiCapability sees it");
});

// With one upstream and no built-in tools nothing is prefixed: the App's URIs must then be
// exactly its own, or a host would ask for views that do not exist.
test("alone (BUILTIN_TOOLS off), the upstream's names and ui:// URIs are its own, still filtered", async () => {
  const solo = appUpstream();
  const w2 = await startWorker({
    bindings: { BUILTIN_TOOLS: "off", UPSTREAMS: JSON.stringify([{ name: "acme-board", url: "https://solo.acme.test/mcp" }]) },
    outbound: async (req) => (new URL(req.url).host === "solo.acme.test" ? solo.handle(req) : new Response("no", { status: 502 })),
  });
  try {
    const dana = await createUser(w2.db, "dana@example.com", "dana-password-1");
    const { tokens } = await fullFlow(w2.url, dana);
    const call = (method, params) => modernCall(w2.url, tokens.access_token, method, params);
    const tools = (await call("tools/list")).json.result.tools;
    assert.deepEqual(tools.map((t) => t.name).sort(), ["bad_view", "show_board"]);
    const board = tools.find((t) => t.name === "show_board");
    assert.equal(board._meta.ui.resourceUri, BOARD_URI);
    assert.equal(board._meta["ui/resourceUri"], BOARD_URI);
    assert.equal(board._meta["openai/outputTemplate"], BOARD_URI);
    assert.deepEqual(board._meta.securitySchemes, GATEWAY_SCHEMES);
    assert.equal(board._meta["mcp/www_authenticate"], undefined);
    assert.deepEqual(board.icons, [HTTPS_ICON]);
    const resources = (await call("resources/list")).json.result.resources;
    assert.deepEqual(resources.map((r) => r.uri), [BOARD_URI]);
    const read = await call("resources/read", { uri: BOARD_URI });
    assert.equal(read.json.result?.contents[0].uri, BOARD_URI, read.text);
    assert.equal(read.json.result.contents[0].text, BOARD_HTML);
    assert.deepEqual(Object.keys(read.json.result.contents[0]._meta).sort(), ["openai/widgetCSP", "ui"]);
    const hidden = await call("resources/read", { uri: HIDDEN_URI });
    assert.equal(hidden.json.result?.contents[0].text, HIDDEN_HTML, hidden.text);
    const result = (await call("tools/call", { name: "show_board", arguments: { column: "todo" } })).json.result;
    assert.deepEqual(upstreamMeta(result._meta), { "openai/widgetSessionId": "board-session-1", ui: { resourceUri: BOARD_URI } });
    assert.deepEqual(solo.bodies("resources/read").map((b) => b.params.uri), [BOARD_URI, HIDDEN_URI]);
  } finally {
    await w2.stop();
  }
});

// Icons on tools are a 2025-06-18-and-later field: an older session must not get them, a
// newer one must, with the same filtering as every other field.
test("a tool's icons reach 2025-06-18 sessions and not 2025-03-26 ones; its _meta reaches both", async () => {
  const { tokens } = await fullFlow(w.url, alice);
  for (const [version, icons] of [["2025-03-26", undefined], ["2025-06-18", [HTTPS_ICON]]]) {
    const session = await initialize(w.url, tokens.access_token, version);
    const list = await sessionCall(w.url, tokens.access_token, session, "tools/list");
    assert.equal(list.status, 200, list.text);
    const tool = list.json.result.tools.find((t) => t.name === TOOL);
    assert.deepEqual(tool.icons, icons, version);
    assert.equal(tool._meta.ui.resourceUri, BOARD, version);
    assert.deepEqual(tool._meta.securitySchemes, GATEWAY_SCHEMES, version);
    assert.equal(tool._meta["mcp/www_authenticate"], undefined, version);
  }
});

// Two upstreams may both call their view ui://widget/board.html: each must stay reachable
// under its own prefix, and a 2026-07-28 upstream (no initialize) must still hear, in every
// request's _meta, that the gateway renders MCP Apps.
test("two upstreams with one ui:// URI each keep their own view; a 2026-07-28 upstream is told of MCP Apps in _meta", async () => {
  const sdkApp = appUpstream();
  const modern = modernAppUpstream();
  const w3 = await startWorker({
    bindings: {
      BUILTIN_TOOLS: "off",
      UPSTREAMS: JSON.stringify([
        { name: "acme-board", url: "https://apps2.acme.test/mcp" },
        { name: "modern", url: "https://modern.acme.test/mcp" },
      ]),
    },
    outbound: async (req) => {
      const host = new URL(req.url).host;
      if (host === "apps2.acme.test") return sdkApp.handle(req);
      if (host === "modern.acme.test") return modern.handle(req);
      return new Response("no", { status: 502 });
    },
  });
  try {
    const erin = await createUser(w3.db, "erin@example.com", "erin-password-1");
    const { tokens } = await fullFlow(w3.url, erin);
    const call = (method, params) => modernCall(w3.url, tokens.access_token, method, params);
    const MODERN_BOARD = "ui://modern_widget/board.html";

    const tools = Object.fromEntries((await call("tools/list")).json.result.tools.map((t) => [t.name, t]));
    assert.equal(tools[TOOL]._meta.ui.resourceUri, BOARD);
    assert.equal(tools.modern_show_board._meta.ui.resourceUri, MODERN_BOARD);
    assert.deepEqual(tools.modern_show_board._meta, { ui: { resourceUri: MODERN_BOARD }, securitySchemes: GATEWAY_SCHEMES });
    assert.deepEqual(tools.modern_show_board.icons, [DATA_ICON], "a data: image icon is kept, a data: page is not");

    const resources = await call("resources/list");
    const uris = resources.json.result.resources.map((r) => r.uri).sort();
    assert.deepEqual(uris, [BOARD, MODERN_BOARD], resources.text);
    assert.deepEqual(resources.json.result.resources.find((r) => r.uri === MODERN_BOARD)._meta, { ui: { prefersBorder: false } });

    const mine = await call("resources/read", { uri: MODERN_BOARD });
    assert.deepEqual(mine.json.result?.contents, [{ uri: MODERN_BOARD, mimeType: UI_MIME, text: "<p>modern board</p>", _meta: { ui: { prefersBorder: false } } }], mine.text);
    const theirs = await call("resources/read", { uri: BOARD });
    assert.equal(theirs.json.result?.contents[0].text, BOARD_HTML, theirs.text);
    assert.deepEqual(modern.bodies("resources/read").map((b) => b.params.uri), [BOARD_URI]);
    assert.deepEqual(sdkApp.bodies("resources/read").map((b) => b.params.uri), [BOARD_URI]);

    const result = await call("tools/call", { name: "modern_show_board", arguments: {} });
    assert.deepEqual(upstreamMeta(result.json.result._meta), { "openai/widgetSessionId": "modern-1" }, result.text);

    const prompts = (await call("prompts/list")).json.result.prompts;
    assert.deepEqual(prompts.find((p) => p.name === "modern_plan").icons, [DATA_ICON], "a file: icon is dropped");
    const got = await call("prompts/get", { name: "modern_plan", arguments: {} });
    assert.equal(got.json.result?.messages[0].content.text, "Plan the sprint.", got.text);
    assert.deepEqual(upstreamMeta(got.json.result._meta), { "openai/hint": "sprint" }, "a prompt's result is filtered too");
    assert.ok(!got.text.includes("evil.test") && !got.text.includes("noauth"));

    const asked = modern.requests.filter((r) => r.body?.id !== undefined);
    assert.ok(asked.length >= 6, `discover, lists, read, call, prompts: ${asked.length}`);
    assert.equal(modern.bodies("initialize").length, 0, "no session with a 2026-07-28 upstream");
    for (const r of asked) {
      const caps = r.body.params?._meta?.["io.modelcontextprotocol/clientCapabilities"];
      assert.deepEqual(caps?.extensions?.[EXTENSION], { mimeTypes: [UI_MIME] }, `${r.body.method}: ${JSON.stringify(r.body.params?._meta)}`);
    }
  } finally {
    await w3.stop();
  }
});

// ---- The built-in notes view -------------------------------------------------------------

const HOSTILE_TITLE = "<img src=x onerror=alert(1)>";
let notes;
/** Carol's notes through the SDK client, once: the view's page and two memory_list results. */
async function notesSetup() {
  if (notes) return notes;
  const client = await connect(carol, "notes-view");
  const { tools } = await client.listTools();
  const list = tools.find((t) => t.name === "memory_list");
  const read = await client.readResource({ uri: list._meta.ui.resourceUri });
  await client.callTool({ name: "memory_store", arguments: { title: HOSTILE_TITLE, text: "the body", tags: ["xss", "q3"] } });
  await client.callTool({ name: "memory_store", arguments: { title: "Groceries", text: "milk, eggs" } });
  const full = await client.callTool({ name: "memory_list", arguments: {} });
  const empty = await client.callTool({ name: "memory_list", arguments: { tag: "none-such" } });
  const resources = await client.listResources();
  await client.close();
  notes = { list, read, full, empty, resources };
  return notes;
}

// Hosts find the notes' view only through memory_list's _meta, and must be able to read it
// as an MCP App (the right media type, a CSP they apply, no domains).
test("memory_list names the notes view, which reads as an MCP App page with its own CSP", async () => {
  const { list, read, full, resources } = await notesSetup();
  assert.equal(list._meta.ui.resourceUri, NOTES_VIEW);
  assert.equal(list._meta["ui/resourceUri"], NOTES_VIEW);
  assert.deepEqual(list._meta.securitySchemes, GATEWAY_SCHEMES);
  assert.equal(read.contents.length, 1);
  const [c] = read.contents;
  assert.equal(c.uri, NOTES_VIEW);
  assert.equal(c.mimeType, UI_MIME);
  assert.deepEqual(c._meta, { ui: { csp: { connectDomains: [], resourceDomains: [] }, prefersBorder: true } });
  assert.match(c.text, /^<!doctype html>/i);
  assert.match(c.text, /<meta http-equiv="Content-Security-Policy" content="default-src (&#39;|')none(&#39;|'); script-src (&#39;|')sha256-/);
  assert.ok(!resources.resources.some((r) => r.uri === NOTES_VIEW), "the view is not in resources/list");
  assert.equal(full.structuredContent.notes.length, 2);
  assert.ok(full.structuredContent.notes.some((n) => n.title === HOSTILE_TITLE));
});

// A view is read by the person's token like any resource: without the read scope, or
// without a token, it is refused.
test("the notes view needs a token with the read scope", async () => {
  const anonymous = await modernCall(w.url, null, "resources/read", { uri: NOTES_VIEW });
  assert.equal(anonymous.status, 401, anonymous.text);
  const { tokens } = await fullFlow(w.url, carol, { scope: "mcp:write" });
  const writeOnly = await modernCall(w.url, tokens.access_token, "resources/read", { uri: NOTES_VIEW });
  assert.equal(writeOnly.status, 403, writeOnly.text);
  const { tokens: reader } = await fullFlow(w.url, carol);
  const ok = await modernCall(w.url, reader.access_token, "resources/read", { uri: NOTES_VIEW });
  assert.equal(ok.json.result?.contents[0].mimeType, UI_MIME, ok.text);
});

// ---- Playing the host in Chromium --------------------------------------------------------

// The host: a page of its own origin that frames the view as MCP Apps hosts do (a sandboxed
// srcdoc frame, scripts only), answers ui/initialize and records every message from it.
const HOST_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test host</title><link rel="icon" href="data:,"></head>
<body><main id="host"><h1>Host</h1></main>
<script>
window.received = [];
window.hostContext = { theme: "light" };
window.mount = function (html) {
  var f = document.createElement("iframe");
  f.setAttribute("sandbox", "allow-scripts");
  f.title = "Your notes";
  f.style.width = "640px";
  f.style.height = "480px";
  f.srcdoc = html;
  window.view = f;
  document.getElementById("host").appendChild(f);
};
window.send = function (m) { window.view.contentWindow.postMessage(m, "*"); };
window.addEventListener("message", function (e) {
  if (!window.view || e.source !== window.view.contentWindow) return;
  var m = e.data;
  window.received.push(m);
  if (m && m.method === "ui/initialize" && m.id !== undefined) {
    window.send({ jsonrpc: "2.0", id: m.id, result: {
      protocolVersion: "2026-01-26",
      hostInfo: { name: "test-host", version: "1.0.0" },
      hostCapabilities: {},
      hostContext: window.hostContext
    } });
  }
});
</script></body></html>`;

// Recorded in every frame from its first moment, before the view's own script runs.
const WATCH_CSP = `window.__csp = []; window.__watching = true;
document.addEventListener("securitypolicyviolation", function (e) { window.__csp.push(e.violatedDirective + " " + e.blockedURI); });`;

let chromium, hostServer, hostUrl;
async function startHost() {
  if (chromium) return;
  hostServer = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(HOST_PAGE);
  });
  await new Promise((r) => hostServer.listen(0, "127.0.0.1", r));
  hostUrl = `http://127.0.0.1:${hostServer.address().port}/`;
  chromium = await launchChromium();
}
after(async () => {
  await chromium?.close();
  hostServer?.close();
});

/** Opens the host, frames `html`, and waits until the view said it is initialized. */
async function hostTheView(html) {
  await startHost();
  const context = await chromium.newContext({ viewport: { width: 800, height: 600 } });
  await context.addInitScript(WATCH_CSP);
  const page = await context.newPage();
  const problems = watchConsole(page);
  const dialogs = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  await page.goto(hostUrl);
  await page.evaluate((h) => window.mount(h), html);
  await page.waitForFunction(() => window.received.some((m) => m.method === "ui/notifications/initialized"), null, { timeout: 10_000 });
  const frame = await (await page.$("iframe")).contentFrame();
  const send = (m) => page.evaluate((msg) => window.send(msg), m);
  const received = () => page.evaluate(() => window.received);
  return { context, page, frame, problems, dialogs, send, received };
}

async function axeFrame(frame) {
  await frame.evaluate(axeSource);
  const result = await frame.evaluate(() => globalThis.axe.run(document));
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

const statusOf = (frame) => frame.evaluate(() => document.getElementById("status").textContent);

// The view is what a person sees of their notes inside ChatGPT or Claude: it must start
// with the host's handshake, render the real memory_list result with every title as text
// (a note is untrusted input), tell the host its size, and break no CSP or a11y rule.
test("in Chromium, the notes view plays the MCP Apps handshake and renders memory_list safely", async () => {
  const { read, full } = await notesSetup();
  const { context, page, frame, problems, dialogs, send, received } = await hostTheView(read.contents[0].text);
  try {
    const init = (await received()).find((m) => m.method === "ui/initialize");
    assert.equal(init.jsonrpc, "2.0");
    assert.ok(init.id !== undefined);
    assert.equal(init.params.protocolVersion, "2026-01-26");
    assert.ok(init.params.appInfo?.name, JSON.stringify(init.params));
    assert.deepEqual(init.params.appCapabilities, {});
    assert.equal(await frame.evaluate(() => window.__watching), true, "the CSP watcher runs in the view's frame");
    assert.equal(await frame.evaluate(() => document.documentElement.dataset.theme), "light", "hostContext.theme applied");
    assert.equal(await frame.evaluate(() => window.origin), "null", "the view runs in an opaque origin");

    await send({ jsonrpc: "2.0", method: "ui/notifications/tool-input", params: { arguments: {} } });
    await send({ jsonrpc: "2.0", method: "ui/notifications/tool-result", params: full });
    await frame.waitForFunction(() => document.getElementById("status").textContent === "2 notes", null, { timeout: 10_000 });

    const items = await frame.$$eval("#notes li", (lis) =>
      lis.map((li) => ({ title: li.querySelector(".title").textContent, tags: [...li.querySelectorAll(".tag")].map((t) => t.textContent), meta: li.querySelector(".meta").textContent })),
    );
    assert.equal(items.length, 2);
    const hostile = items.find((i) => i.title === HOSTILE_TITLE);
    assert.ok(hostile, `the hostile title is literal text: ${JSON.stringify(items)}`);
    assert.deepEqual(hostile.tags.sort(), ["q3", "xss"]);
    assert.match(hostile.meta, /\d{4}-\d{2}-\d{2}$/, "the note's date");
    assert.ok(items.some((i) => i.title === "Groceries"));
    assert.equal(await frame.evaluate(() => document.querySelectorAll("img").length), 0, "no <img> was created");
    assert.equal(await frame.evaluate(() => document.getElementById("more").hidden), true);

    await page.waitForFunction(() => window.received.some((m) => m.method === "ui/notifications/size-changed"));
    const size = (await received()).filter((m) => m.method === "ui/notifications/size-changed").at(-1);
    assert.ok(size.params.height > 0, JSON.stringify(size));
    assert.equal(size.id, undefined, "size-changed is a notification");

    // A ping from the host is answered; a message from anyone but the host is ignored.
    await send({ jsonrpc: "2.0", id: 77, method: "ping" });
    await page.waitForFunction(() => window.received.some((m) => m.id === 77 && m.result));
    await frame.evaluate(() =>
      window.postMessage({ jsonrpc: "2.0", method: "ui/notifications/tool-result", params: { structuredContent: { notes: [] } } }, "*"),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await statusOf(frame), "2 notes", "the view's own window is not the host");

    assert.deepEqual(await frame.evaluate(() => window.__csp), [], "no CSP violation in the view");
    assert.deepEqual(problems, [], "no console error or warning");
    assert.deepEqual(dialogs, [], "no dialog");

    assert.deepEqual(await axeFrame(frame), [], "axe, light");
    await send({ jsonrpc: "2.0", method: "ui/notifications/host-context-changed", params: { theme: "dark" } });
    await frame.waitForFunction(() => document.documentElement.dataset.theme === "dark");
    const bg = await frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(13, 17, 23)", "the dark palette is in use");
    assert.deepEqual(await axeFrame(frame), [], "axe, dark");

    // Control: the view's CSP is in force (so a title read as HTML could not have loaded an
    // image either), and the watcher would have seen a violation.
    await frame.evaluate(() => {
      const img = document.createElement("img");
      img.src = "https://evil.test/x.png";
      img.alt = "";
      document.body.append(img);
    });
    await frame.waitForFunction(() => window.__csp.length > 0, null, { timeout: 5_000 });
    assert.match((await frame.evaluate(() => window.__csp)).join(), /img-src/);
  } finally {
    await context.close();
  }
});

// The first thing a new user sees: an empty list must say so, not look broken.
test("in Chromium, an empty memory_list result renders 'No notes yet.'", async () => {
  const { read, empty } = await notesSetup();
  assert.deepEqual(empty.structuredContent.notes, []);
  const { context, frame, problems, dialogs, send, received } = await hostTheView(read.contents[0].text);
  try {
    await send({ jsonrpc: "2.0", method: "ui/notifications/tool-result", params: empty });
    await frame.waitForFunction(() => document.getElementById("status").textContent === "No notes yet.", null, { timeout: 10_000 });
    assert.equal(await frame.evaluate(() => document.querySelectorAll("#notes li").length), 0);
    assert.ok((await received()).some((m) => m.method === "ui/notifications/size-changed"));
    assert.deepEqual(await frame.evaluate(() => window.__csp), []);
    assert.deepEqual(problems, []);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(await axeFrame(frame), [], "axe, empty list");
  } finally {
    await context.close();
  }
});
