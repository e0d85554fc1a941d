// The "Hardening" issue end to end over real HTTP: revocation marks never catch a grant
// made later in the same second, /mcp authenticates before any other check, 405s and
// preflight refusals carry registered error codes, redirect URIs that cannot receive a
// code are refused at registration, duplicate JSON keys are refused, /authorize's input is
// bounded, PKCE challenges have the S256 shape, tools/call's arguments must be an object,
// codes, session ids and session cookies reveal nothing readable, and cross-site form
// posts to the pages (/authorize, /account, /notes/<id>) are refused.
//
// One Worker per group of settings (started together in `before`):
//   main   – defaults, with a high registration limit (many registrations below)
//   legacy – LEGACY_SSE=on: /mcp/sse and /mcp/messages exist
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, publicClient, register, pkcePair, Browser, formFields, authorizeUrl, approve, token, fullFlow, codeFor, exchange, signedInBrowser } from "./helpers/oauth.mjs";
import { mcpPost, initialize, sessionCall, modernCall, toolValue, MODERN } from "./helpers/mcp.mjs";

let main, legacy;
let alice, bea, cai, dan;
let aliceToken;
before(async () => {
  [main, legacy] = await Promise.all([
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000" } }),
    startWorker({ bindings: { LEGACY_SSE: "on" } }),
  ]);
  [alice, bea, cai, dan] = await Promise.all([
    createUser(main.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(main.db, "bea@example.com", "bea-password-12", "Bea"),
    createUser(main.db, "cai@example.com", "cai-password-123", "Cai"),
    createUser(main.db, "dan@example.com", "dan-password-1234", "Dan"),
  ]);
  const flow = await fullFlow(main.url, alice);
  if (flow.status !== 200) throw new Error("fullFlow: " + JSON.stringify(flow.tokens));
  aliceToken = flow.tokens.access_token;
});
after(() => Promise.all([main, legacy].map((w) => w?.stop())));

// ---------------------------------------------------------------------------------------
// Small helpers.

const MIB = 1024 * 1024;
const listTools = { jsonrpc: "2.0", id: 1, method: "tools/list", params: {} };
const modernMeta = { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {} };
const modernHeaders = (method, name) => ({
  "MCP-Protocol-Version": MODERN,
  "Mcp-Method": method,
  ...(name ? { "Mcp-Name": name } : {}),
});


/** A POST of a form from `browser` with extra headers (Origin, Sec-Fetch-Site). */
async function postWith(browser, url, fields, headers = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { cookie: browser.header(), "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
  browser.take(res);
  return res;
}

/** An HTML page with `status`, never a redirect; returns its text. */
async function assertHtmlPage(res, status) {
  const html = await res.text();
  assert.equal(res.status, status, html.slice(0, 300));
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(res.headers.get("location"), null);
  return html;
}

/** A refused cross-site post: a 403 HTML page that starts no session. */
async function assertRefusedPost(res, why) {
  const html = await res.text();
  assert.equal(res.status, 403, `${why}: ${res.status} ${html.slice(0, 300)}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/, why);
  assert.equal(res.headers.get("location"), null, why);
  assert.equal(res.headers.getSetCookie().filter((c) => /session=[^;]/.test(c)).length, 0, `${why}: no session`);
}

/** A JSON-RPC error object with `code` and id null. */
function assertRpcError(body, code, why) {
  assert.ok(body && typeof body === "object", `${why}: a JSON body`);
  assert.equal(body.jsonrpc, "2.0", `${why}: ${JSON.stringify(body)}`);
  assert.equal(body.id, null, `${why}: ${JSON.stringify(body)}`);
  assert.ok(body.error && typeof body.error === "object", `${why}: error is an object: ${JSON.stringify(body)}`);
  if (code !== undefined) assert.equal(body.error.code, code, `${why}: ${JSON.stringify(body)}`);
  assert.ok(Number.isInteger(body.error.code), why);
  assert.equal(typeof body.error.message, "string", why);
}

async function json(res) {
  const text = await res.text();
  try {
    return { text, body: JSON.parse(text) };
  } catch {
    return { text, body: undefined };
  }
}

/** Every dot-separated piece of `value` that is base64url, decoded, as latin1 text. */
function decodedPieces(value) {
  return value
    .split(".")
    .filter((p) => p.length > 0 && /^[A-Za-z0-9_-]+$/.test(p) && p.length % 4 !== 1)
    .map((p) => Buffer.from(p, "base64url").toString("latin1"));
}

// =======================================================================================
// 1. Revocation order inside one second

test("1 a replay's revocation, or a Disconnect, never revokes a grant made in the same second", async () => {
  const client = await publicClient(main.url);
  const browser = new Browser();
  for (let round = 0; round < 3; round++) {
    const a = await codeFor(main, bea, client, { browser });
    const both = await Promise.all([exchange(main, client, a), exchange(main, client, a)]);
    const statuses = both.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 400], `round ${round}: ${JSON.stringify(both.map((r) => r.body))}`);
    assert.equal(both.find((r) => r.status === 400).body.error, "invalid_grant");
    // At once, in the same browser (the consent page, approved again): a new grant.
    const b = await codeFor(main, bea, client, { browser });
    const fresh = await exchange(main, client, b);
    assert.equal(fresh.status, 200, `round ${round}: code B after the replay: ${JSON.stringify(fresh.body)}`);
    assert.equal(typeof fresh.body.access_token, "string");
    const use = await modernCall(main.url, fresh.body.access_token, "tools/list");
    assert.equal(use.status, 200, `round ${round}: code B's access token at /mcp: ${use.text.slice(0, 300)}`);
  }

  // Disconnect on /account, then at once authorize again.
  const account = await browser.get(main.url + "/account");
  const html = await account.text();
  assert.equal(account.status, 200);
  assert.match(html, /<h1>Connected apps<\/h1>/);
  const { csrf_token } = formFields(html);
  assert.ok(csrf_token);
  const gone = await browser.post(main.url + "/account", { csrf_token, action: "disconnect", client_id: client.client_id });
  const goneHtml = await gone.text();
  assert.equal(gone.status, 200, goneHtml.slice(0, 300));
  assert.match(goneHtml, /is disconnected/);
  const again = await codeFor(main, bea, client, { browser });
  const t = await exchange(main, client, again);
  assert.equal(t.status, 200, `code after Disconnect: ${JSON.stringify(t.body)}`);
  assert.equal(typeof t.body.access_token, "string");
  const use = await modernCall(main.url, t.body.access_token, "tools/list");
  assert.equal(use.status, 200, `access token after Disconnect at /mcp: ${use.text.slice(0, 300)}`);
});

// =======================================================================================
// 2. Authentication before anything else at /mcp

test("2 /mcp answers 401 to a request without a token before checking its type, Accept or size", async () => {
  const assert401 = (res, why) => {
    assert.equal(res.status, 401, `${why}: ${res.status} ${res.text?.slice(0, 300)}`);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/, why);
  };
  assert401(await mcpPost(main.url, null, JSON.stringify(listTools), { "Content-Type": "text/plain" }), "text/plain");
  assert401(
    await mcpPost(main.url, null, new URLSearchParams({ access_token: aliceToken }).toString(), { "Content-Type": "application/x-www-form-urlencoded" }),
    "a token in a form body",
  );
  assert401(await mcpPost(main.url, null, listTools, { Accept: "text/html" }), "Accept: text/html");
  const big = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", pad: "x".repeat(2 * MIB) });
  assert401(await mcpPost(main.url, null, big), "a 2 MiB body");

  // With a valid token the other checks still apply.
  const plain = await mcpPost(main.url, aliceToken, JSON.stringify(listTools), { "Content-Type": "text/plain" });
  assert.equal(plain.status, 415, plain.text.slice(0, 300));
  const html = await mcpPost(main.url, aliceToken, listTools, { Accept: "text/html" });
  assert.equal(html.status, 406, html.text.slice(0, 300));
  const tooBig = await mcpPost(main.url, aliceToken, big);
  assert.equal(tooBig.status, 413, tooBig.text.slice(0, 300));
  assertRpcError(tooBig.json, -32600, "413 body");

  // The legacy transport's routes too.
  const messages = await fetch(legacy.url + "/mcp/messages?sessionId=x", {
    method: "POST",
    headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  const messagesText = await messages.text();
  assert.equal(messages.status, 401, `/mcp/messages text/plain: ${messagesText.slice(0, 300)}`);
  assert.match(messages.headers.get("www-authenticate") ?? "", /^Bearer/);
  const sse = await fetch(legacy.url + "/mcp/sse", { headers: { Accept: "text/html" } });
  const sseText = await sse.text();
  assert.equal(sse.status, 401, `/mcp/sse Accept: text/html: ${sseText.slice(0, 300)}`);
  assert.match(sse.headers.get("www-authenticate") ?? "", /^Bearer/);
});

// =======================================================================================
// 3. Registered error codes

test("3 405s and a refused preflight carry registered error codes, not made-up ones", async () => {
  for (const [method, path, allow] of [
    ["GET", "/token", "POST, OPTIONS"],
    ["GET", "/revoke", "POST, OPTIONS"],
    ["GET", "/register", "POST, OPTIONS"],
    ["PUT", "/authorize", "GET, POST, HEAD"],
    ["OPTIONS", "/authorize", "GET, POST, HEAD"],
  ]) {
    const res = await fetch(main.url + path, { method });
    const { text, body } = await json(res);
    const why = `${method} ${path}: ${text.slice(0, 300)}`;
    assert.equal(res.status, 405, why);
    assert.equal(res.headers.get("allow"), allow, why);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/, why);
    assert.equal(body?.error, "invalid_request", why);
  }

  const get = await fetch(main.url + "/mcp", { headers: { Authorization: "Bearer " + aliceToken, Accept: "text/event-stream" } });
  const getBody = await json(get);
  assert.equal(get.status, 405, getBody.text.slice(0, 300));
  assert.match(get.headers.get("allow") ?? "", /POST/);
  assertRpcError(getBody.body, -32600, "GET /mcp");

  const pre = await fetch(main.url + "/mcp", {
    method: "OPTIONS",
    headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
  });
  const preBody = await json(pre);
  assert.equal(pre.status, 403, preBody.text.slice(0, 300));
  assert.notEqual(preBody.body?.error, "forbidden", preBody.text);
  assertRpcError(preBody.body, undefined, "OPTIONS /mcp from evil.example");
});

// =======================================================================================
// 4. Redirect URIs that cannot receive a code

test("4 registration refuses redirect URIs that cannot receive a code, and keeps the ones apps use", async () => {
  const refused = [
    "mailto:a@example.com",
    "tel:+15551234",
    "sms:+15551234",
    "about:blank",
    "blob:https://app.example/x",
    "vbscript:msgbox(1)",
    "view-source:https://app.example/",
    "ws://127.0.0.1/cb",
    "wss://app.example/cb",
    "javascript://%0aalert(1)",
    "data:text/html,hi",
    "file:///etc/passwd",
    "intent://x#Intent;end",
  ];
  for (const uri of refused) {
    const r = await register(main.url, { redirect_uris: ["https://app.example/cb", uri], token_endpoint_auth_method: "none" });
    assert.equal(r.status, 400, `${uri}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, "invalid_redirect_uri", `${uri}: ${JSON.stringify(r.body)}`);
  }
  const accepted = [
    "cursor://anysphere.cursor-retrieval/oauth/callback",
    "com.example.app:/oauth2redirect",
    "vscode://vscode.github-authentication/did-authenticate",
    "http://127.0.0.1:3000/cb",
    "https://chatgpt.com/connector_platform_oauth_redirect",
  ];
  for (const uri of accepted) {
    const r = await register(main.url, { redirect_uris: [uri], token_endpoint_auth_method: "none" });
    assert.equal(r.status, 201, `${uri}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.body.redirect_uris, [uri]);
  }
});

// =======================================================================================
// 5. Duplicate JSON keys

test("5 a JSON body that repeats a key is refused, at /register and at /mcp", async () => {
  const raw = async (body) => {
    const res = await fetch(main.url + "/register", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    return { status: res.status, ...(await json(res)) };
  };
  const top = await raw('{"redirect_uris":["https://a.example/cb"],"client_name":"A","client_name":"B"}');
  assert.equal(top.status, 400, top.text);
  assert.equal(top.body?.error, "invalid_client_metadata", top.text);
  const nested = await raw('{"redirect_uris":["https://a.example/cb"],"jwks":{"keys":[],"keys":[]}}');
  assert.equal(nested.status, 400, nested.text);
  assert.equal(nested.body?.error, "invalid_client_metadata", nested.text);

  const meta = JSON.stringify(modernMeta);
  const twoMethods = await mcpPost(
    main.url,
    aliceToken,
    `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"_meta":${meta}}}`,
    modernHeaders("tools/list"),
  );
  assert.equal(twoMethods.status, 400, twoMethods.text.slice(0, 300));
  assertRpcError(twoMethods.json, -32600, "method twice");

  const twoArgs = await mcpPost(
    main.url,
    aliceToken,
    `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search","arguments":{"query":"a","query":"b"},"_meta":${meta}}}`,
    modernHeaders("tools/call", "search"),
  );
  assert.equal(twoArgs.status, 400, twoArgs.text.slice(0, 300));
  assert.equal(twoArgs.json?.error?.code, -32600, twoArgs.text.slice(0, 300));
});

// =======================================================================================
// 6. Bounded /authorize

test("6 /authorize refuses an overlong query, state, scope or resource with a page", async () => {
  const client = await publicClient(main.url);
  const url = (opts = {}) => authorizeUrl(main.url, client, { challenge: pkcePair().challenge, ...opts });

  const base = url();
  const padded = base + "&pad=" + "x".repeat(60 * 1024 - base.length - 5);
  assert.ok(padded.length >= 60 * 1024 - 10);
  const long = await new Browser().get(padded);
  await assertHtmlPage(long, 414);

  const state = await assertHtmlPage(await new Browser().get(url({ state: "s".repeat(3000) })), 400);
  assert.doesNotMatch(state, /name="password"/, "not the sign-in page");

  let scope = "mcp:read";
  while (scope.length < 2000) scope += " mcp:read";
  const scopePage = await assertHtmlPage(await new Browser().get(url({ scope: scope.slice(0, 2000) })), 400);
  assert.doesNotMatch(scopePage, /name="password"/);

  const resource = main.url + "/mcp?" + "r".repeat(3000 - main.url.length - 5);
  const resourcePage = await assertHtmlPage(await new Browser().get(url({ resource })), 400);
  assert.doesNotMatch(resourcePage, /name="password"/);

  const normal = await new Browser().get(url({ state: "n".repeat(200) }));
  const html = await normal.text();
  assert.equal(normal.status, 200, html.slice(0, 300));
  assert.match(html, /name="password"/);
});

// =======================================================================================
// 7. PKCE challenge shape

test("7 a code_challenge that is not 43 base64url characters is an error redirect (once signed in)", async () => {
  const client = await publicClient(main.url);
  const browser = await signedInBrowser(main, alice);
  const good = pkcePair().challenge;
  assert.equal(good.length, 43);
  const cases = {
    "44 characters": good + "A",
    "128 characters": "A".repeat(128),
    "43 with =": good.slice(0, 42) + "=",
    "43 with .": good.slice(0, 42) + ".",
  };
  for (const [why, challenge] of Object.entries(cases)) {
    const state = "pkce-" + why.replace(/\W/g, "");
    const res = await browser.get(authorizeUrl(main.url, client, { challenge, state }));
    const text = await res.text();
    assert.equal(res.status, 302, `${why}: ${res.status} ${text.slice(0, 300)}`);
    const loc = new URL(res.headers.get("location"));
    assert.equal(loc.origin + loc.pathname, client.redirect_uris[0], why);
    assert.equal(loc.searchParams.get("error"), "invalid_request", `${why}: ${loc}`);
    assert.equal(loc.searchParams.get("state"), state, why);
    assert.equal(loc.searchParams.get("code"), null, why);
  }
  const ok = await new Browser().get(authorizeUrl(main.url, client, { challenge: good }));
  const html = await ok.text();
  assert.equal(ok.status, 200, html.slice(0, 300));
  assert.match(html, /name="password"/);
});

// =======================================================================================
// 8. tools/call arguments must be an object

test("8 tools/call with arguments that are not an object, and tools/list with array params, are -32602", async () => {
  const s = await initialize(main.url, aliceToken);
  for (const [i, args] of ["a string", 42, ["an", "array"]].entries()) {
    const id = 100 + i;
    const res = await sessionCall(main.url, aliceToken, s, "tools/call", { name: "search", arguments: args }, id);
    const why = `arguments ${JSON.stringify(args)}: ${res.text.slice(0, 300)}`;
    assert.equal(res.status, 200, why);
    assert.equal(res.json?.result, undefined, `${why}: no result (not a tool result with isError)`);
    assert.equal(res.json?.error?.code, -32602, why);
    assert.equal(res.json.id, id, why);
  }
  const list = await sessionCall(main.url, aliceToken, s, "tools/list", [1], 110);
  assert.equal(list.json?.error?.code, -32602, list.text.slice(0, 300));
});

// =======================================================================================
// 9. Codes and session ids reveal nothing

test("9 codes, session ids and session cookies carry nothing readable", async () => {
  const client = await publicClient(main.url);
  const browser = new Browser();
  const a = await codeFor(main, cai, client, { browser });
  const secrets = [client.client_id, cai.id, "redirect", "code_challenge", client.redirect_uris[0]];
  for (const piece of decodedPieces(a.code)) {
    for (const s of secrets) assert.ok(!piece.includes(s), `the code reveals ${JSON.stringify(s)}: ${JSON.stringify(piece.slice(0, 200))}`);
  }

  const session = await initialize(main.url, aliceToken, "2025-06-18");
  assert.ok(session.sessionId, "a session id");
  for (const piece of decodedPieces(session.sessionId)) {
    assert.ok(!piece.includes("2025-"), `the session id reveals its version: ${JSON.stringify(piece)}`);
    assert.doesNotMatch(piece, /[0-9]{8,}/, "the session id reveals a number (a time?)");
  }

  const [name, value] = [...browser.cookies].find(([k]) => /session$/.test(k)) ?? [];
  assert.ok(value, `a session cookie: ${[...browser.cookies.keys()].join(", ")}`);
  for (const piece of decodedPieces(value)) {
    assert.ok(!piece.includes(cai.id), `the ${name} cookie reveals the user id: ${JSON.stringify(piece)}`);
  }

  const t = await exchange(main, client, a);
  assert.equal(t.status, 200, JSON.stringify(t.body));
});

// =======================================================================================
// 10. Cross-site form posts refused

const crossSite = {
  "Origin: https://evil.example": { Origin: "https://evil.example" },
  "Origin: null": { Origin: "null" },
  "Sec-Fetch-Site: cross-site": { "Sec-Fetch-Site": "cross-site" },
  "Sec-Fetch-Site: same-site": { "Sec-Fetch-Site": "same-site" },
};

test("10 cross-site posts of the /authorize, /account and note forms are refused", async () => {
  const client = await publicClient(main.url);
  const sameOrigin = { "own Origin": { Origin: main.url }, "no Origin, no Sec-Fetch-Site": {} };

  // /authorize's sign-in form.
  const authorizeForm = async () => {
    const browser = new Browser();
    const page = await browser.get(authorizeUrl(main.url, client, { challenge: pkcePair().challenge }));
    const html = await page.text();
    assert.equal(page.status, 200, html.slice(0, 300));
    assert.match(html, /name="password"/);
    return { browser, fields: { ...formFields(html), email: dan.email, password: dan.password, action: "signin" } };
  };
  for (const [why, headers] of Object.entries(crossSite)) {
    const { browser, fields } = await authorizeForm();
    await assertRefusedPost(await postWith(browser, main.url + "/authorize", fields, headers), `/authorize, ${why}`);
  }
  for (const [why, headers] of Object.entries(sameOrigin)) {
    const { browser, fields } = await authorizeForm();
    const res = await postWith(browser, main.url + "/authorize", fields, headers);
    await res.text();
    assert.equal(res.status, 303, `/authorize, ${why}`);
  }

  // /account's sign-in form, and its other forms once signed in.
  const accountForm = async () => {
    const browser = new Browser();
    const page = await browser.get(main.url + "/account");
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /Sign in to see your connected apps/);
    return { browser, fields: { ...formFields(html), email: dan.email, password: dan.password, action: "signin" } };
  };
  for (const [why, headers] of Object.entries(crossSite)) {
    const { browser, fields } = await accountForm();
    await assertRefusedPost(await postWith(browser, main.url + "/account", fields, headers), `/account, ${why}`);
  }
  let signedIn;
  for (const [why, headers] of Object.entries(sameOrigin)) {
    const { browser, fields } = await accountForm();
    const res = await postWith(browser, main.url + "/account", fields, headers);
    await res.text();
    assert.equal(res.status, 303, `/account, ${why}`);
    assert.equal(res.headers.get("location"), "/account");
    signedIn = browser;
  }
  const page = await signedIn.get(main.url + "/account");
  const accountHtml = await page.text();
  assert.match(accountHtml, /<h1>Connected apps<\/h1>/);
  const disconnect = { csrf_token: formFields(accountHtml).csrf_token, action: "disconnect", client_id: client.client_id };
  await assertRefusedPost(await postWith(signedIn, main.url + "/account", disconnect, { Origin: "https://evil.example" }), "/account Disconnect, evil Origin");
  const fine = await postWith(signedIn, main.url + "/account", disconnect, { Origin: main.url });
  const fineHtml = await fine.text();
  assert.equal(fine.status, 200, fineHtml.slice(0, 300));
  assert.match(fineHtml, /is disconnected/);

  // A note's page.
  const { tokens } = await fullFlow(main.url, dan);
  const stored = await modernCall(main.url, tokens.access_token, "tools/call", { name: "memory_store", arguments: { title: "Dan's", text: "a note for the form test" } });
  assert.equal(stored.status, 200, stored.text.slice(0, 300));
  const note = toolValue(stored.json.result);
  const noteForm = async () => {
    const browser = new Browser();
    const res = await browser.get(note.url);
    const html = await res.text();
    assert.equal(res.status, 401);
    assert.match(html, /Sign in to see this note/);
    return { browser, fields: { ...formFields(html), email: dan.email, password: dan.password, action: "signin" } };
  };
  for (const [why, headers] of Object.entries(crossSite)) {
    const { browser, fields } = await noteForm();
    await assertRefusedPost(await postWith(browser, note.url, fields, headers), `note page, ${why}`);
  }
  const { browser, fields } = await noteForm();
  const ok = await postWith(browser, note.url, fields, { Origin: main.url });
  await ok.text();
  assert.equal(ok.status, 303, "note page, own Origin");
  assert.equal(ok.headers.get("location"), `/notes/${note.id}`);
});
