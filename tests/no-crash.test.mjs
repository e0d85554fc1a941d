// Proves that no request, however malformed the bytes of its headers, crashes the Worker.
// Over a raw TCP socket (fetch refuses or re-encodes such bytes), every header the Worker
// reads gets hostile values — lone non-ASCII bytes, truncated UTF-8, a character that puts
// a byte offset of 6 or 7 (just after "Basic " or "Bearer ") inside itself, Basic
// credentials whose base64 is not UTF-8, cookies of such bytes, values of one byte and of
// none — at every route and with every method it accepts. The runtime decodes header bytes
// as UTF-8: a byte that is not UTF-8 reaches the Worker as U+FFFD, and UTF-8 as its
// character, either way several bytes in Rust's UTF-8, so a header sliced at a byte offset
// ("Basic" + 0xE9 at 6) panics, and a panic aborts the wasm instance. Each answer must be below
// 500 (and the expected 4xx where the endpoint depends on the header: 400 or 401 for Basic
// credentials at /token, /revoke and /introspect), the Worker must answer the next request
// at once, and no log line may say "panicked at", "RuntimeError" or "unreachable".
//
// One Worker with every route on (LEGACY_SSE, MCP_PATH_TOKENS, sign-in providers), and a
// signed-in person with an access token, a personal token, a session and a note, so the
// requests get past authentication to the headers read after it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, register } from "./helpers/oauth.mjs";
import { initialize, modernCall, toolValue, ACCEPT, MODERN } from "./helpers/mcp.mjs";

const CRASH = /panicked at|RuntimeError|unreachable/i;
const CONCURRENCY = 8;
const FORM = "application/x-www-form-urlencoded";
const JSON_TYPE = "application/json";
const REDIRECT = "http://127.0.0.1:9999/callback";

let w, port;
/** What the routes' valid parts need: tokens, ids, cookies. */
const s = {};
before(async () => {
  w = await startWorker({
    bindings: {
      LEGACY_SSE: "on",
      MCP_PATH_TOKENS: "on",
      REGISTER_RATE_LIMIT: "100000",
      LOGIN_MAX_FAILURES: "1000",
      // Streams opened below end soon after their socket is closed.
      SSE_IDLE_SECONDS: "2",
      SSE_KEEPALIVE_SECONDS: "1",
      // Allowed origins with non-ASCII characters: show how the bytes arrive.
      MCP_ALLOWED_ORIGINS: "https://\u00e9.example,https://\ufffd.example",
      SIGNIN_PROVIDERS: JSON.stringify([
        { id: "github", type: "github", client_id: "gh-client", client_secret: { secret: "GH_SECRET" }, allow: { everyone: true } },
        { id: "acme", type: "handoff", name: "Acme", login_url: "https://app.example.com/login", shared_secret: { secret: "ACME_SECRET" }, allow: { everyone: true } },
      ]),
      GH_SECRET: "gh-secret",
      ACME_SECRET: "acme-shared-secret-" + randomBytes(16).toString("hex"),
    },
  });
  port = Number(new URL(w.url).port);
  const alice = await createUser(w.db, "alice@example.com", "alice-password-1", "Alice");
  const flow = await fullFlow(w.url, alice);
  if (flow.status !== 200) throw new Error("fullFlow: " + JSON.stringify(flow.tokens));
  s.client = flow.client;
  s.access = flow.tokens.access_token;
  s.cookie = flow.browser.header();
  const conf = await register(w.url, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_basic", client_name: "Confidential", grant_types: ["authorization_code", "refresh_token"] });
  if (conf.status !== 201) throw new Error("register: " + JSON.stringify(conf.body));
  s.conf = conf.body;
  s.basic = "Basic " + Buffer.from(`${s.conf.client_id}:${s.conf.client_secret}`).toString("base64");
  // A personal access token, as `npm run token create` stores it.
  s.pat = "mcp_pat_" + randomBytes(32).toString("base64url");
  await w.db
    .prepare("INSERT INTO personal_tokens (id, user_id, name, token_hash, scope, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)")
    .bind("pt_nocrash", alice.id, "no-crash", createHash("sha256").update(s.pat).digest("base64url"), "mcp:read mcp:write", Math.floor(Date.now() / 1000))
    .run();
  const stored = await modernCall(w.url, s.access, "tools/call", { name: "memory_store", arguments: { title: "plans", text: "a note" } });
  s.noteId = toolValue(stored.json.result).id;
  s.session = await initialize(w.url, s.access);
});
after(() => w?.stop());

// ---------------------------------------------------------------------------------------
// Raw HTTP/1.1 over node:net.

/** Bytes from a string whose characters are bytes ("\xE9" is the byte 0xE9), or a Buffer. */
const bytes = (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v, "latin1"));
const b64 = (v) => bytes(v).toString("base64");
const utf8b64 = (text) => Buffer.from(text, "utf8").toString("base64");

/** A value as a readable JS string: printable ASCII as is, other bytes as \xNN. */
function show(value) {
  const text = [...bytes(value)].map((c) => (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : "\\x" + c.toString(16).toUpperCase().padStart(2, "0"))).join("");
  return `"${text.length > 80 ? text.slice(0, 77) + "..." : text}"`;
}

/** Whether `all` (the bytes so far) holds the whole answer to a `method` request. */
function complete(all, method) {
  const end = all.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const head = all.subarray(0, end).toString("latin1");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
  // An event stream never ends: its head is the answer.
  if (method === "HEAD" || status < 200 || status === 204 || status === 304 || /^content-type:\s*text\/event-stream/im.test(head)) return true;
  const body = all.subarray(end + 4);
  if (/^transfer-encoding:\s*chunked/im.test(head)) return body.subarray(-5).toString("latin1") === "0\r\n\r\n";
  const length = /^content-length:\s*(\d+)/im.exec(head);
  return length ? body.length >= Number(length[1]) : false;
}

/**
 * Sends one request (headers as [name, string-of-bytes | Buffer] pairs) with
 * `Connection: close`; resolves with the status (null: no answer), the head as latin1
 * text and the body, as soon as the answer is complete (the runtime keeps the socket open
 * a while after it).
 */
function send({ method, path, headers = [], body }) {
  const parts = [];
  if (!headers.some(([n]) => n.toLowerCase() === "host")) parts.push(["Host", `127.0.0.1:${port}`]);
  parts.push(...headers);
  const payload = body === undefined ? undefined : bytes(body);
  if (payload !== undefined || ["POST", "PUT", "DELETE"].includes(method)) parts.push(["Content-Length", String(payload?.length ?? 0)]);
  parts.push(["Connection", "close"]);
  const request = Buffer.concat([
    bytes(`${method} ${path} HTTP/1.1\r\n`),
    ...parts.map(([n, v]) => Buffer.concat([bytes(n + ": "), bytes(v), bytes("\r\n")])),
    bytes("\r\n"),
    payload ?? Buffer.alloc(0),
  ]);
  return new Promise((resolve) => {
    const chunks = [];
    let settled = false;
    const socket = net.connect(port, "127.0.0.1");
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      const head = (end >= 0 ? all.subarray(0, end) : all).toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : null, head, body: end >= 0 ? all.subarray(end + 4).toString("latin1") : "", error: m ? undefined : (error?.message ?? "no answer") });
    };
    const timer = setTimeout(() => finish(new Error("timed out")), 15_000);
    socket.on("data", (c) => {
      chunks.push(c);
      if (complete(Buffer.concat(chunks), method)) finish();
    });
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    socket.on("error", (e) => finish(e));
    socket.write(request);
  });
}

/** The Worker still answers: its metadata document, 200. */
async function stillAnswers() {
  const r = await send({ method: "GET", path: "/.well-known/oauth-authorization-server" });
  return r.status;
}

/** Runs `fn` over `items`, `limit` at a time. */
async function pool(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ---------------------------------------------------------------------------------------
// The routes (src/http/route.rs): every path the Worker serves, each method it accepts
// (HEAD where GET is, OPTIONS where CORS is), with valid headers and a small valid-looking
// body, so the header under test is what is malformed. Plus a 404 and a 405.

function routes() {
  const bearer = ["Authorization", "Bearer " + s.access];
  const pageForm = [["Cookie", s.cookie], ["Origin", w.url], ["Sec-Fetch-Site", "same-origin"]];
  const modernHeaders = [["Content-Type", JSON_TYPE], ["Accept", ACCEPT], ["MCP-Protocol-Version", MODERN], ["Mcp-Method", "tools/call"], ["Mcp-Name", "about"]];
  const modernBody = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "about", arguments: {}, _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} } },
  });
  const authorize = new URL(w.url + "/authorize");
  for (const [k, v] of Object.entries({ response_type: "code", client_id: s.client.client_id, redirect_uri: REDIRECT, code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256", state: "st", resource: w.url + "/mcp" })) authorize.searchParams.set(k, v);
  const metadata = (path) => ({ path, methods: ["GET", "HEAD", "OPTIONS"] });
  return [
    metadata("/.well-known/oauth-authorization-server"),
    metadata("/.well-known/openid-configuration"),
    metadata("/.well-known/oauth-protected-resource"),
    metadata("/.well-known/oauth-protected-resource/mcp"),
    metadata("/.well-known/jwks.json"),
    {
      path: "/register",
      methods: ["POST", "OPTIONS"],
      headers: [["Content-Type", JSON_TYPE]],
      body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", client_name: "No Crash" }),
    },
    { path: authorize.pathname + authorize.search, label: "/authorize", methods: ["GET", "HEAD", "POST"], headers: [...pageForm, ["Content-Type", FORM]], body: "action=approve&csrf_token=x" },
    {
      path: "/token",
      methods: ["POST", "OPTIONS"],
      headers: [["Content-Type", FORM]],
      body: new URLSearchParams({ grant_type: "authorization_code", code: "not-a-code", code_verifier: "v".repeat(43), client_id: s.client.client_id, redirect_uri: REDIRECT }).toString(),
    },
    { path: "/revoke", methods: ["POST", "OPTIONS"], headers: [["Content-Type", FORM]], body: `token=not-a-token&client_id=${encodeURIComponent(s.client.client_id)}` },
    // A confidential client's valid Basic credentials, which the Authorization test replaces.
    { path: "/introspect", methods: ["POST", "OPTIONS"], headers: [["Content-Type", FORM], ["Authorization", s.basic]], body: "token=not-a-token" },
    { path: "/userinfo", methods: ["GET", "HEAD", "POST", "OPTIONS"], headers: [bearer] },
    { path: "/mcp", label: "/mcp (2026-07-28)", methods: ["POST", "DELETE", "OPTIONS"], headers: [bearer, ...modernHeaders], body: modernBody, modern: true },
    {
      path: "/mcp",
      label: "/mcp (session)",
      methods: ["POST", "DELETE"],
      headers: [bearer, ["Content-Type", JSON_TYPE], ["Accept", ACCEPT], ["MCP-Protocol-Version", s.session.version], ["Mcp-Session-Id", s.session.sessionId]],
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} }),
    },
    { path: `/mcp/t/${s.pat}`, label: "/mcp/t/<token>", methods: ["POST", "DELETE", "OPTIONS"], headers: modernHeaders, body: modernBody, modern: true },
    { path: "/sse", methods: ["GET", "HEAD", "OPTIONS"], headers: [bearer, ["Accept", "text/event-stream"]] },
    { path: "/mcp/sse", methods: ["GET", "HEAD", "OPTIONS"], headers: [bearer, ["Accept", "text/event-stream"]] },
    { path: "/messages?sessionId=s_unknown", label: "/messages", methods: ["POST", "OPTIONS"], headers: [bearer, ["Content-Type", JSON_TYPE]], body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) },
    { path: "/mcp/messages?sessionId=s_unknown", label: "/mcp/messages", methods: ["POST", "OPTIONS"], headers: [bearer, ["Content-Type", JSON_TYPE]], body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }) },
    { path: "/account", methods: ["GET", "HEAD", "POST"], headers: [...pageForm, ["Content-Type", FORM]], body: "csrf_token=x&action=disconnect&client_id=nope" },
    { path: "/", methods: ["GET", "HEAD"], headers: [["Cookie", s.cookie]] },
    { path: `/notes/${s.noteId}`, label: "/notes/<id>", methods: ["GET", "HEAD", "POST"], headers: [...pageForm, ["Content-Type", FORM]], body: "csrf_token=x&action=delete" },
    { path: "/signin/start", methods: ["POST"], headers: [...pageForm, ["Content-Type", FORM]], body: "provider=github&return_to=%2Faccount&csrf_token=x" },
    { path: "/signin/callback/github?code=x&state=y", label: "/signin/callback/github", methods: ["GET", "HEAD"], headers: [["Cookie", s.cookie]] },
    {
      path: "/signin/handoff",
      methods: ["POST"],
      headers: [["Content-Type", JSON_TYPE], ["Mcp-Signature", `t=${Math.floor(Date.now() / 1000)},v2=${"A".repeat(43)}`]],
      body: JSON.stringify({ request: "x", user_id: "u1", email: "a@example.com" }),
    },
    { path: "/signin/return?code=x", label: "/signin/return", methods: ["GET", "HEAD"], headers: [["Cookie", s.cookie]] },
    { path: "/no-such-path", label: "/no-such-path (404)", methods: ["GET", "POST"] },
    { path: "/token", label: "/token (405)", methods: ["GET", "PUT"] },
  ];
}

/** Every (route, method) pair. */
function targets() {
  return routes().flatMap((r) => r.methods.map((method) => ({ ...r, label: r.label ?? r.path, method })));
}

// ---------------------------------------------------------------------------------------
// The hostile values. Written as strings of bytes: "\xE9" is the single byte 0xE9.

/** Sent in every header. */
const GENERIC = [
  "\xE9", // é in Latin-1: not UTF-8, so U+FFFD (three bytes) in the Worker
  "\xFF",
  "\x80", // a lone continuation byte
  "\xC3", // a truncated 2-byte sequence
  "\xE2\x82", // a truncated 3-byte sequence
  "\xC3\xA9", // é in UTF-8: one two-byte character in the Worker
  "\xE2\x82\xAC", // € in UTF-8
  "x\xE9y",
  "\xE9".repeat(300),
  "a", // length 1
  "", // length 0
];

const nonUtf8 = Buffer.from([0xff, 0xfe, 0x3a, 0xfd]);

/** Authorization: Basic and Bearer with a non-ASCII byte at every offset near the scheme. */
function authorizationValues() {
  const id = s.conf.client_id;
  return [
    "Basic",
    "Basic ",
    "Basi\xE9",
    "Basic\xE9", // U+FFFD at bytes 5..8: byte offset 6 falls inside it
    "Basic\xC3\xA9", // é at bytes 5..7
    "Basic\xE9\xE9",
    "Basic \xE9",
    "Basic \xE9\xE9",
    "Basic  \xE9",
    "basic \xE9:\xE9",
    "BASIC\xE9 " + utf8b64(`${id}:x`),
    "Basic " + b64(nonUtf8), // base64 of bytes that are not UTF-8
    "Basic " + utf8b64("é:é"), // base64 of "é:é" in UTF-8
    "Basic " + b64("\xE9:\xE9"), // base64 of "é:é" in Latin-1 (not UTF-8)
    "Basic " + b64(`${id}:\xE9`), // the right client id, a secret that is not UTF-8
    "Basic " + utf8b64(`${id}:é`), // the right client id, a wrong secret
    "Basic " + utf8b64(`${id}%C3:x`), // a client id whose form-decoding is not UTF-8
    "Basic \xE9" + utf8b64(`${id}:${s.conf.client_secret}`),
    "Basic " + utf8b64(`${id}:${s.conf.client_secret}`) + "\xE9",
    "Bearer",
    "Bearer ",
    "Beare\xE9",
    "Bearer\xE9", // U+FFFD at bytes 6..9: byte offset 7 falls inside it
    "Bearer\xC3\xA9", // é at bytes 6..8
    "Bearer \xE9",
    "Bearer \xE9x.y.z",
    "Bearer x.\xE9.z",
    "Bearer \xE9" + s.access,
    "Bearer " + s.access + "\xE9",
    "Bearer " + s.access.slice(0, -1) + "\xE9",
    "Bearer mcp_pat_\xE9",
    "Bearer " + s.pat + "\xE9",
    "\xE9 " + s.access,
    "Digest \xE9",
  ];
}

/** Cookies: the session and CSRF cookies (mcp-session, mcp-csrf on http) of such bytes. */
function cookieValues() {
  const session = /mcp-session=([^;]*)/.exec(s.cookie)?.[1] ?? "";
  return [
    "mcp-session=\xE9",
    "mcp-csrf=\xC3",
    "session=\xE9",
    "csrf=\xC3",
    "mcp-session=" + session + "\xE9",
    "mcp-session=" + session.slice(0, -1) + "\xE9",
    // 43 bytes in Rust, the CSRF cookie's length, made of multi-byte characters.
    "mcp-csrf=" + "\xE9".repeat(14) + "a",
    "mcp-csrf=" + "\xC3\xA9".repeat(21) + "a",
    "mcp-csrf=" + "\xE9".repeat(43),
    "\xE9=\xE9",
    "mcp-session\xE9=x",
    "mcp-session",
    "=; ;\xE9",
    s.cookie + "; mcp-session=\xE9",
    "\xE9; " + s.cookie,
  ];
}

/** The `=?base64?...?=` form of the Mcp-Method and Mcp-Name headers, broken. */
const encodedForms = (valid) => ["=?base64?\xE9?=", "=?base64?" + b64(nonUtf8) + "?=", "=?base64?" + utf8b64("é") + "?=", "=?base64?" + utf8b64(valid) + "\xE9?=", "=?base64?=", "=?base64??=", "=?base64?", valid + "\xE9", "\xE9" + valid];

// ---------------------------------------------------------------------------------------
// The headers the Worker reads (src: `header("...")`, `headers.get("...")`), each with its
// own hostile values besides GENERIC, and where its answer is known: the 4xx an endpoint
// gives when the header it depends on is malformed. Content-Length frames the body, so it
// is never corrupted. Host is left out: workerd itself answers 500 to a Host it cannot put
// in a URL ("invalid hostname when stringifying URL", even for "a b") before any Worker
// code runs, and Cloudflare's edge routes by that name, so such a Host never reaches the
// Worker there. A header the Worker never reads is sent hostile too (read_incoming copies
// every header into Rust).

const at = (...labels) => (t) => labels.includes(t.label);
const BEARER_ROUTES = ["/mcp (2026-07-28)", "/mcp (session)", "/userinfo", "/sse", "/mcp/sse", "/messages", "/mcp/messages"];
const MCP_ROUTES = ["/mcp (2026-07-28)", "/mcp (session)", "/mcp/t/<token>", "/sse", "/mcp/sse", "/messages", "/mcp/messages"];
const PAGE_POSTS = ["/authorize", "/account", "/notes/<id>", "/signin/start"];
const isBasic = (v) => /^basic /i.test(bytes(v).toString("latin1"));

const HEADERS = [
  {
    name: "Authorization",
    values: () => [...GENERIC, ...authorizationValues()],
    expect: [
      // Client authentication: malformed or unknown Basic credentials, or none with a
      // public client's invalid code (/token) or no client at all (/introspect).
      { where: (t) => t.method === "POST" && ["/token", "/introspect"].includes(t.label), statuses: [400, 401] },
      // At /revoke a header that is not "Basic <credentials>" is no client authentication:
      // the form's public client revokes (200, RFC 7009), so only "Basic " is pinned.
      { where: (t) => t.method === "POST" && t.label === "/revoke", values: isBasic, statuses: [400, 401] },
      { where: (t) => BEARER_ROUTES.includes(t.label) && !["OPTIONS", "HEAD"].includes(t.method), statuses: [401] },
    ],
  },
  { name: "Cookie", values: () => [...GENERIC, ...cookieValues()] },
  {
    name: "Origin",
    values: () => [...GENERIC, "null\xE9", "https://\xE8.example", "https://\xC3\xA9.example", "http://127.0.0.1\xE9", "http://127.0.0.1:\xE9", "http://localhost:6274\xE9", w.url + "\xE9", w.url + "/\xE9"],
    expect: [
      { where: (t) => MCP_ROUTES.includes(t.label) && t.method !== "HEAD", generic: true, statuses: [403] },
      { where: (t) => PAGE_POSTS.includes(t.label) && t.method === "POST", generic: true, statuses: [403] },
    ],
  },
  { name: "Sec-Fetch-Site", values: () => [...GENERIC, "same-origin\xE9", "cross-site\xE9", "\xE9same-origin"] },
  {
    name: "Content-Type",
    values: () => [...GENERIC, "application/json\xE9", `${FORM}\xE9`, "application/json; charset=\xE9", `${FORM}; charset=\xE9`, "\xE9application/json", "APPLICATION/JSON\xC3"],
    expect: [
      { where: (t) => t.method === "POST" && ["/register", "/token", "/revoke", "/introspect"].includes(t.label), generic: true, statuses: [400] },
      { where: (t) => t.method === "POST" && ["/mcp (2026-07-28)", "/mcp (session)", "/mcp/t/<token>", "/messages", "/mcp/messages"].includes(t.label), generic: true, statuses: [415] },
    ],
  },
  {
    name: "Accept",
    values: () => [...GENERIC, "application/json\xE9", "text/event-stream;q=\xE9", "*/*\xE9", "application/json, \xE9", "\xE9, text/event-stream"],
    expect: [
      { where: (t) => ["/mcp (2026-07-28)", "/mcp (session)", "/mcp/t/<token>"].includes(t.label) && t.method !== "OPTIONS", generic: true, statuses: [406] },
      { where: (t) => ["/sse", "/mcp/sse"].includes(t.label) && t.method === "GET", generic: true, statuses: [406] },
    ],
  },
  {
    name: "MCP-Protocol-Version",
    values: () => [...GENERIC, MODERN + "\xE9", "2025-06-18\xE9", "\xE92025-06-18", "2025-06-1\xE9"],
    expect: [{ where: (t) => t.method === "POST" && ["/mcp (2026-07-28)", "/mcp (session)", "/mcp/t/<token>"].includes(t.label), statuses: [400] }],
  },
  { name: "Mcp-Session-Id", values: () => [...GENERIC, s.session.sessionId + "\xE9", "\xE9" + s.session.sessionId, s.session.sessionId.slice(0, -1) + "\xE9"] },
  {
    name: "Mcp-Method",
    values: () => [...GENERIC, ...encodedForms("tools/call")],
    expect: [{ where: (t) => t.method === "POST" && t.modern, generic: true, statuses: [400] }],
  },
  {
    name: "Mcp-Name",
    values: () => [...GENERIC, ...encodedForms("about")],
    expect: [{ where: (t) => t.method === "POST" && t.modern, generic: true, statuses: [400] }],
  },
  {
    name: "Mcp-Signature",
    values: () => [...GENERIC, "t=\xE9,v2=\xE9", `t=${Math.floor(Date.now() / 1000)},v2=${"\xE9".repeat(43)}`, `t=${Math.floor(Date.now() / 1000)},v2=\xE9${"A".repeat(42)}`, "t=1\xE9,v2=" + "A".repeat(43), "v2=\xE9", "t\xE9=1"],
    expect: [{ where: at("/signin/handoff"), statuses: [401] }],
  },
  { name: "CF-Connecting-IP", values: () => [...GENERIC, "1.2.3.\xE9", "\xE9.1.1.1", "::\xE9", "2001:db8::\xE9", "1.2.3.4\xE9"] },
  { name: "Last-Event-ID", values: () => GENERIC },
  { name: "X-Unread", values: () => GENERIC },
];

/** The rule that pins a request's status, if any (otherwise: anything below 500). */
function ruleFor(header, t, value) {
  for (const rule of header.expect ?? []) {
    if (!rule.where(t)) continue;
    // An empty header reaches the Worker as no header at all.
    if (rule.generic && (value === "" || !GENERIC.includes(value))) continue;
    if (rule.values && !rule.values(value)) continue;
    return rule;
  }
  return null;
}

/** Sends every value of `header` to every route with every method; returns the failures. */
async function hammer(header) {
  const jobs = [];
  for (const t of targets()) {
    for (const value of header.values()) jobs.push({ t, value });
  }
  const failures = [];
  const used = new Set();
  const startLog = w.logs.length;
  await pool(jobs, CONCURRENCY, async ({ t, value }) => {
    const headers = (t.headers ?? []).filter(([n]) => n.toLowerCase() !== header.name.toLowerCase());
    if (t.method === "OPTIONS") headers.push(["Access-Control-Request-Method", "POST"]);
    headers.push([header.name, value]);
    const what = `${t.method} ${t.label} with ${header.name}: ${show(value)}`;
    const r = await send({ method: t.method, path: t.path, headers, body: ["POST", "PUT"].includes(t.method) ? t.body : undefined });
    const rule = ruleFor(header, t, value);
    if (rule) used.add(rule);
    const want = rule?.statuses;
    if (r.status === null) failures.push(`${what}: no answer (${r.error})`);
    else if (r.status >= 500) failures.push(`${what}: ${r.status} ${r.body.slice(0, 200)}`);
    else if (want && !want.includes(r.status)) failures.push(`${what}: ${r.status}, expected ${want.join(" or ")}: ${r.body.slice(0, 200)}`);
    const next = await stillAnswers();
    if (next !== 200) failures.push(`${what}: the next request got ${next ?? "no answer"}`);
  });
  const crashes = w.logs.slice(startLog).filter((l) => CRASH.test(l));
  // A rule that matched no request (a mistyped route label) would pin nothing.
  for (const [i, rule] of (header.expect ?? []).entries()) if (!used.has(rule)) failures.push(`expect rule ${i} matched no request`);
  return { failures, crashes, sent: jobs.length };
}

// ---------------------------------------------------------------------------------------

test("hostile bytes reach the Worker: UTF-8 as its characters, any other byte as U+FFFD", async () => {
  // MCP_ALLOWED_ORIGINS holds https://é.example and https://\uFFFD.example: the preflights
  // from those origins are allowed and their Origin echoed back in UTF-8; è is refused.
  const preflight = (origin) => send({ method: "OPTIONS", path: "/mcp", headers: [["Origin", origin], ["Access-Control-Request-Method", "POST"]] });
  const utf8 = await preflight("https://\xC3\xA9.example");
  assert.equal(utf8.status, 204, utf8.head);
  assert.match(utf8.head, /^access-control-allow-origin: https:\/\/\xC3\xA9\.example$/im);
  for (const notUtf8 of ["https://\xE9.example", "https://\xFF.example", "https://\xE2\x82.example"]) {
    const r = await preflight(notUtf8);
    assert.equal(r.status, 204, `${show(notUtf8)}: ${r.head}`);
    assert.match(r.head, /^access-control-allow-origin: https:\/\/\xEF\xBF\xBD\.example$/im, show(notUtf8));
  }
  const other = await preflight("https://\xC3\xA8.example");
  assert.equal(other.status, 403, other.head);
  // The raw client itself works: a valid Basic authentication at /introspect.
  const ok = await send({ method: "POST", path: "/introspect", headers: [["Content-Type", FORM], ["Authorization", s.basic]], body: "token=not-a-token" });
  assert.equal(ok.status, 200, ok.body);
  assert.deepEqual(JSON.parse(ok.body), { active: false });
});

for (const header of HEADERS) {
  test(`${header.name}: no hostile value crashes the Worker at any route or method`, async () => {
    const { failures, crashes, sent } = await hammer(header);
    assert.ok(sent > 0);
    assert.deepEqual(crashes, [], `${header.name}: the Worker logged a crash`);
    assert.deepEqual(failures.slice(0, 40), [], `${header.name}: ${failures.length} of ${sent} requests failed`);
  });
}

test("a header whose name holds such bytes crashes nothing either", async () => {
  const failures = [];
  const jobs = targets().flatMap((t) => ["X-\xE9", "\xC3\xA9", "Authorization\xE9", "Cookie\xC3"].map((name) => ({ t, name })));
  await pool(jobs, CONCURRENCY, async ({ t, name }) => {
    const headers = [...(t.headers ?? []), [name, "Basic \xE9"]];
    const r = await send({ method: t.method, path: t.path, headers, body: ["POST", "PUT"].includes(t.method) ? t.body : undefined });
    const what = `${t.method} ${t.label} with the header name ${show(name)}`;
    if (r.status === null || r.status >= 500) failures.push(`${what}: ${r.status ?? r.error}`);
    const next = await stillAnswers();
    if (next !== 200) failures.push(`${what}: the next request got ${next ?? "no answer"}`);
  });
  assert.deepEqual(failures.slice(0, 40), []);
});

test("no log line of the whole run says the Worker panicked", () => {
  assert.ok(w.logs.length > 0, "the Worker's log lines are collected");
  assert.deepEqual(w.logs.filter((l) => CRASH.test(l)), []);
});
