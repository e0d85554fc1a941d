// Every OAuth rule broken on purpose, end to end over real HTTP: /authorize's error page
// versus error redirect, CSRF, sign-in failures and lockout, the token endpoint's checks,
// refresh rotation under concurrency and reuse, access-token verification (forged,
// tampered, expired, revoked), registration rate limits, CORS, client ID metadata
// documents, and introspection/revocation edge cases.
//
// One Worker per group of settings (started together in `before`), not one per test:
//   main  – defaults (plus a high registration limit, and metadata documents on `outbound`)
//   short – AUTH_CODE_TTL=1, REFRESH_GRACE_SECONDS=0: codes expire, reuse is never a retry
//   lock  – LOGIN_MAX_FAILURES=2: lockouts (the IP counter is shared by every request here)
//   reg   – REGISTER_RATE_LIMIT=2
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { startWorker } from "./helpers/worker.mjs";
import { serverKey, signJwt, spliceJwt, verifyIssued } from "./helpers/jwt.mjs";
import {
  createUser,
  publicClient,
  register,
  pkcePair,
  Browser,
  formFields,
  authorizeUrl,
  approve,
  signIn,
  token,
  fullFlow,
  codeFor,
  exchange,
  signedInBrowser,
} from "./helpers/oauth.mjs";

// ---------------------------------------------------------------------------------------
// The Worker's outbound fetches: client ID metadata documents, by URL.

const DOC_URL = "https://app.example/client.json";
const goodDoc = (url, redirect) => ({
  client_id: url,
  client_name: "Doc App",
  redirect_uris: [redirect],
  token_endpoint_auth_method: "none",
});
const jsonResponse = (body, status = 200, headers = {}) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "max-age=300", ...headers },
  });

/** url -> () => Response; and every URL the Worker fetched, in order. */
const documents = new Map();
const fetched = [];
documents.set(DOC_URL, () => jsonResponse(goodDoc(DOC_URL, "https://app.example/cb")));
documents.set("https://mismatch.example/client.json", () =>
  jsonResponse(goodDoc("https://other.example/client.json", "https://mismatch.example/cb")),
);
documents.set("https://big.example/client.json", () =>
  jsonResponse({ ...goodDoc("https://big.example/client.json", "https://big.example/cb"), padding: "x".repeat(6 * 1024) }),
);
documents.set("https://missing.example/client.json", () => new Response("not found", { status: 404 }));
documents.set("https://down.example/client.json", () => new Response("bad gateway", { status: 502 }));
documents.set("https://chunked.example/client.json", () => {
  // 64 KiB in 1 KiB chunks and no Content-Length: the size is only known by reading.
  let left = 64;
  const chunk = new TextEncoder().encode(" ".repeat(1024));
  const body = new ReadableStream({
    pull(controller) {
      if (left-- > 0) controller.enqueue(chunk);
      else controller.close();
    },
  });
  return new Response(body, { headers: { "Content-Type": "application/json" } });
});
let flakyServed = 0;
documents.set("https://flaky.example/client.json", () =>
  flakyServed++ === 0
    ? new Response("not found", { status: 404 })
    : jsonResponse(goodDoc("https://flaky.example/client.json", "https://flaky.example/cb")),
);

function outbound(req) {
  fetched.push(req.url);
  const answer = documents.get(req.url);
  return answer ? answer() : new Response("tests have no internet", { status: 502 });
}

// ---------------------------------------------------------------------------------------

let main, short, lock, reg;
let alice, sam, lou;
before(async () => {
  [main, short, lock, reg] = await Promise.all([
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000", METADATA_FETCHES_PER_MINUTE: "10000" }, outbound }),
    startWorker({ bindings: { AUTH_CODE_TTL: "1", REFRESH_GRACE_SECONDS: "0", REGISTER_RATE_LIMIT: "100000" } }),
    startWorker({ bindings: { LOGIN_MAX_FAILURES: "2", LOGIN_LOCKOUT_SECONDS: "60", REGISTER_RATE_LIMIT: "100000" } }),
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "2" } }),
  ]);
  [alice, sam, lou] = await Promise.all([
    createUser(main.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(short.db, "sam@example.com", "sam-password-12", "Sam"),
    createUser(lock.db, "lou@example.com", "lou-password-123", "Lou"),
  ]);
});
after(() => Promise.all([main, short, lock, reg].map((w) => w?.stop())));

// ---------------------------------------------------------------------------------------
// Small helpers.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An /authorize URL from the helper, then edited: `set` values (null deletes), `append` pairs. */
function editedUrl(base, client, { set = {}, append = [], ...opts } = {}) {
  const u = new URL(authorizeUrl(base, client, { challenge: pkcePair().challenge, ...opts }));
  for (const [k, v] of Object.entries(set)) v === null ? u.searchParams.delete(k) : u.searchParams.set(k, v);
  for (const [k, v] of append) u.searchParams.append(k, v);
  return u.toString();
}

/** The HTML error page: never a redirect, and a reference to quote to the administrator. */
async function assertErrorPage(res, status = 400) {
  const html = await res.text();
  assert.equal(res.status, status, html.slice(0, 300));
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(res.headers.get("location"), null);
  assert.match(html, /reference: <code>[A-Za-z0-9_-]{6,}<\/code>/);
  return html;
}

/** A 302 to `redirectUri` carrying `error`, the request's state and our issuer. */
function assertErrorRedirect(res, w, redirectUri, error, state) {
  assert.equal(res.status, 302);
  const loc = new URL(res.headers.get("location"));
  assert.equal(loc.origin + loc.pathname, redirectUri);
  assert.equal(loc.searchParams.get("error"), error, loc.toString());
  assert.equal(loc.searchParams.get("state"), state);
  assert.equal(loc.searchParams.get("iss"), w.url);
  assert.equal(loc.searchParams.get("code"), null);
  return loc;
}

/** A JSON OAuth error with `Cache-Control: no-store`. */
function assertTokenError(r, status, error) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error, error, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type") ?? "", /^application\/json/);
  assert.match(r.headers.get("cache-control") ?? "", /no-store/);
}


const refreshWith = (w, client, refreshToken, extra = {}) =>
  token(w.url, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: client.client_id, ...extra });

const userinfo = (w, accessToken) =>
  fetch(w.url + "/userinfo", accessToken ? { headers: { Authorization: "Bearer " + accessToken } } : {});

const postForm = (url, fields, headers = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });

/** A 401 whose challenge says the token itself is invalid (RFC 6750 §3.1). */
async function assertInvalidToken(res, describe) {
  const body = await res.text();
  assert.equal(res.status, 401, `${describe}: ${body}`);
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /, describe);
  assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_token"/, describe);
  return body;
}

// =======================================================================================
// 1. GET /authorize: what is shown as a page, what is redirected

test("1a /authorize with an unknown client_id shows the error page and never redirects", async () => {
  const fake = { client_id: "no-such-client", redirect_uris: ["http://127.0.0.1:9999/callback"] };
  const res = await new Browser().get(editedUrl(main.url, fake));
  await assertErrorPage(res);
});

test("1b /authorize with an unregistered redirect_uri shows the error page and never redirects", async () => {
  const client = await publicClient(main.url);
  for (const redirectUri of ["https://evil.example/callback", "http://127.0.0.1:9999/other", "http://127.0.0.1:9999/callback/"]) {
    const res = await new Browser().get(editedUrl(main.url, client, { redirectUri }));
    await assertErrorPage(res);
  }
});

test("1c /authorize with a repeated parameter shows the error page", async () => {
  const client = await publicClient(main.url);
  for (const [k, v] of [
    ["state", "second"],
    ["client_id", client.client_id],
    ["redirect_uri", client.redirect_uris[0]],
    ["code_challenge", pkcePair().challenge],
  ]) {
    const res = await new Browser().get(editedUrl(main.url, client, { append: [[k, v]] }));
    await assertErrorPage(res);
  }
});

test("1d /authorize errors after the client and redirect URI are known redirect with error, state and iss once the person has signed in, and are shown as a page before (RFC 9700 §4.11.2)", async () => {
  const client = await publicClient(main.url, "https://elsewhere.example/cb", { client_name: "Bounce App" });
  const cb = client.redirect_uris[0];
  const signedIn = await signedInBrowser(main, alice);
  for (const [set, error] of [
    [{ code_challenge: null }, "invalid_request"],
    [{ code_challenge_method: "plain" }, "invalid_request"],
    [{ code_challenge_method: null }, "invalid_request"],
    [{ response_type: null }, "invalid_request"],
    [{ response_type: "token" }, "unsupported_response_type"],
    [{ scope: "mcp:read admin" }, "invalid_scope"],
    [{ resource: "https://other.example/mcp" }, "invalid_target"],
  ]) {
    const state = "st-" + randomBytes(6).toString("hex");
    // Signed out: no redirect to a host anyone could have registered, but a page that
    // names the app and where it wanted to send the person.
    const page = await assertErrorPage(await new Browser().get(editedUrl(main.url, client, { state, set })));
    assert.match(page, /data-error="app_request"/);
    assert.match(page, /<strong>Bounce App<\/strong>/);
    assert.match(page, /<strong>elsewhere\.example<\/strong>/);
    assert.doesNotMatch(page, /href="https:\/\/elsewhere/);
    const res = await signedIn.get(editedUrl(main.url, client, { state, set }));
    await res.text();
    assertErrorRedirect(res, main, cb, error, state);
  }
});

test("1e a loopback redirect URI with another port is accepted (RFC 8252 §7.3) and used", async () => {
  const client = await publicClient(main.url); // registered: http://127.0.0.1:9999/callback
  const redirectUri = "http://127.0.0.1:51234/callback";
  const { code, verifier, redirect } = await codeFor(main, alice, client, { redirectUri });
  assert.equal(redirect.origin + redirect.pathname, redirectUri);
  // The token request must name the URI the authorization used, not the registered one.
  const wrong = await exchange(main, client, { code, verifier });
  assertTokenError(wrong, 400, "invalid_grant");
  const ok = await exchange(main, client, { code, verifier }, { redirect_uri: redirectUri });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test("1f /authorize pages carry the anti-framing and no-store headers", async () => {
  const client = await publicClient(main.url);
  const consent = await new Browser().get(editedUrl(main.url, client));
  assert.equal(consent.status, 200);
  const error = await new Browser().get(editedUrl(main.url, { client_id: "nope", redirect_uris: ["https://x.example/cb"] }));
  assert.equal(error.status, 400);
  for (const res of [consent, error]) {
    await res.text();
    assert.match(res.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.match(res.headers.get("cache-control") ?? "", /no-store/);
  }
});

// =======================================================================================
// 2. POST /authorize: CSRF and deny

test("2a POST /authorize without the csrf_token field is a 403 page, not a redirect", async () => {
  const client = await publicClient(main.url);
  const browser = new Browser();
  const page = await browser.get(editedUrl(main.url, client));
  const fields = formFields(await page.text());
  assert.ok(fields.csrf_token);
  delete fields.csrf_token;
  const res = await browser.post(main.url + "/authorize", { ...fields, email: alice.email, password: alice.password, action: "approve" });
  const html = await assertErrorPage(res, 403);
  assert.doesNotMatch(html, /code=/);
});

test("2b POST /authorize with another browser's csrf token is a 403 page, not a redirect", async () => {
  const client = await publicClient(main.url);
  const url = editedUrl(main.url, client);
  const victim = new Browser();
  const victimFields = formFields(await (await victim.get(url)).text());
  const attacker = new Browser();
  await (await attacker.get(url)).text(); // the attacker's own csrf cookie
  assert.notEqual(attacker.header(), victim.header());
  const res = await attacker.post(main.url + "/authorize", { ...victimFields, email: alice.email, password: alice.password, action: "approve" });
  await assertErrorPage(res, 403);
  // And with no cookie at all.
  const bare = await new Browser().post(main.url + "/authorize", { ...victimFields, email: alice.email, password: alice.password, action: "approve" });
  await assertErrorPage(bare, 403);
});

test("2c action=deny redirects with error=access_denied, state and iss", async () => {
  const client = await publicClient(main.url);
  const state = "deny-" + randomBytes(4).toString("hex");
  const browser = new Browser();
  const page = await browser.get(editedUrl(main.url, client, { state }));
  const fields = formFields(await page.text());
  const res = await browser.post(main.url + "/authorize", { ...fields, action: "deny" });
  await res.text();
  assertErrorRedirect(res, main, client.redirect_uris[0], "access_denied", state);
});

test("2d Approve on a page shown to one person does not approve as another who signed in since", async () => {
  const client = await publicClient(main.url);
  const bea = await createUser(main.db, "bea@example.com", "bea-password-1");
  const browser = new Browser();
  const url = editedUrl(main.url, client);
  const consent = await signIn(main.url, browser, await (await browser.get(url)).text(), alice);
  const aliceFields = formFields(await consent.text());
  // Bea signs in from another tab of the same browser ("Not you?", then her password).
  await (await browser.post(main.url + "/authorize", { ...aliceFields, action: "switch" })).text();
  const beaConsent = await signIn(main.url, browser, await (await browser.get(url)).text(), bea);
  assert.match(await beaConsent.text(), /Signed in as <strong>bea@example\.com<\/strong>/);
  // Approve in the first tab: the form was for Alice, so it has expired; nothing is approved.
  const res = await browser.post(main.url + "/authorize", { ...aliceFields, action: "approve" });
  await assertErrorPage(res, 403);
});

test("2e a state with a line break still signs in and approves (the CSRF binding is form-encoded)", async () => {
  const client = await publicClient(main.url);
  const res = await approve(main.url, new Browser(), editedUrl(main.url, client, { state: "a\nb=c\n" }), alice);
  assert.equal(res.status, 302, await res.clone().text());
  assert.equal(new URL(res.headers.get("location")).searchParams.get("state"), "a\nb=c\n");
});

test("2f a code issued before the account was disabled is refused", async () => {
  const client = await publicClient(main.url);
  const dee = await createUser(main.db, "dee@example.com", "dee-password-1");
  const { code, verifier } = await codeFor(main, dee, client);
  await main.db.prepare("UPDATE users SET disabled_at = ?1 WHERE id = ?2").bind(Math.floor(Date.now() / 1000), dee.id).run();
  const t = await exchange(main, client, { code, verifier });
  assert.equal(t.status, 400);
  assert.equal(t.body.error, "invalid_grant");
  assert.match(t.body.error_description, /withdrawn/);
});

// =======================================================================================
// 3. Sign-in: one message for every failure, lockout, sessions

const FAILED = "That email and password do not match an account.";
const alertText = (html) => [...html.matchAll(/<p id="form-error"[^>]*role="alert"[^>]*>([^<]*)<\/p>/g)].map((m) => m[1]);

test("3a a wrong password and an unknown email get the same 401 page with one message", async () => {
  const client = await publicClient(main.url);
  const pages = [];
  for (const user of [
    { email: alice.email, password: "not-alices-password" },
    { email: "nobody@example.com", password: "whatever-password" },
  ]) {
    const res = await approve(main.url, new Browser(), editedUrl(main.url, client), user);
    const html = await res.text();
    assert.equal(res.status, 401, html.slice(0, 300));
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(res.headers.get("location"), null);
    assert.equal(html.split(FAILED).length - 1, 1, "the message appears exactly once");
    pages.push(alertText(html));
  }
  assert.deepEqual(pages[0], [FAILED]);
  assert.deepEqual(pages[1], pages[0]);
});

test("3b after LOGIN_MAX_FAILURES failures sign-in is locked (429), even with the right password", async (t) => {
  const client = await publicClient(lock.url);
  const attempt = (password) => approve(lock.url, new Browser(), editedUrl(lock.url, client), { email: lou.email, password });
  const first = await attempt("wrong-password-1");
  assert.equal(first.status, 401);
  await first.text();
  const second = await attempt("wrong-password-2"); // the failure that reaches the limit
  assert.ok([401, 429].includes(second.status), String(second.status));
  t.diagnostic(`the failure that reached the limit got ${second.status}`);
  await second.text();
  const locked = await attempt(lou.password);
  const html = await locked.text();
  assert.equal(locked.status, 429, html.slice(0, 300));
  assert.match(locked.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(locked.headers.get("location"), null);
  assert.match(html, /Too many failed sign-in attempts/);
});

test("3b2 a burst of parallel wrong passwords gets at most LOGIN_MAX_FAILURES tries", async () => {
  // Its own Worker: the IP counter of `lock` is spent by 3b.
  const w = await startWorker({ bindings: { LOGIN_MAX_FAILURES: "3", LOGIN_LOCKOUT_SECONDS: "60" } });
  try {
    const user = await createUser(w.db, "burst@example.com", "burst-password-1");
    const client = await publicClient(w.url);
    // Load every form first, then send all the guesses at once.
    const forms = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const browser = new Browser();
        const page = await browser.get(editedUrl(w.url, client));
        return { browser, fields: formFields(await page.text()) };
      }),
    );
    const statuses = await Promise.all(
      forms.map(async ({ browser, fields }, i) => {
        const res = await browser.post(w.url + "/authorize", { ...fields, email: user.email, password: "wrong-" + i, action: "signin" });
        await res.text();
        return res.status;
      }),
    );
    const tried = statuses.filter((s) => s === 401).length;
    assert.ok(tried <= 3, `${tried} guesses were checked: ${statuses}`);
    assert.ok(statuses.every((s) => s === 401 || s === 429), String(statuses));
    const after = await approve(w.url, new Browser(), editedUrl(w.url, client), user);
    assert.equal(after.status, 429);
    await after.text();
  } finally {
    await w.stop();
  }
});

test("3c a signed-in browser sees consent without password fields the second time", async () => {
  const { browser, client } = await fullFlow(main.url, alice);
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(main.url, client, { challenge });
  const page = await browser.get(url);
  const html = await page.text();
  assert.equal(page.status, 200);
  assert.match(html, /Signed in as <strong>alice@example\.com<\/strong>/);
  assert.doesNotMatch(html, /name="password"/);
  // Approving needs no password now.
  const res = await browser.post(main.url + "/authorize", { ...formFields(html), action: "approve" });
  assert.equal(res.status, 302);
  const code = new URL(res.headers.get("location")).searchParams.get("code");
  const t = await exchange(main, client, { code, verifier });
  assert.equal(t.status, 200, JSON.stringify(t.body));
});

// =======================================================================================
// 4. POST /token: the authorization_code grant's checks

test("4a a wrong code_verifier is invalid_grant", async () => {
  const client = await publicClient(main.url);
  const c = await codeFor(main, alice, client);
  assertTokenError(await exchange(main, client, { ...c, verifier: pkcePair().verifier }), 400, "invalid_grant");
});

test("4b a code presented by another client is invalid_grant (and what the right client can do after)", async (t) => {
  const client = await publicClient(main.url);
  const other = await publicClient(main.url);
  const c = await codeFor(main, alice, client);
  const stolen = await token(main.url, {
    grant_type: "authorization_code",
    code: c.code,
    code_verifier: c.verifier,
    client_id: other.client_id,
    redirect_uri: client.redirect_uris[0],
  });
  assertTokenError(stolen, 400, "invalid_grant");
  // Observed behaviour, asserted so a change is noticed: the failed attempt does not burn
  // the code, so the client it was issued to can still redeem it, once.
  const rightful = await exchange(main, client, c);
  t.diagnostic(`after another client's attempt, the right client got ${rightful.status} ${rightful.body.error ?? ""}`);
  assert.equal(rightful.status, 200, JSON.stringify(rightful.body));
  assertTokenError(await exchange(main, client, c), 400, "invalid_grant");
});

test("4c a redirect_uri that differs from the authorization's is invalid_grant", async () => {
  const client = await publicClient(main.url);
  const c = await codeFor(main, alice, client);
  for (const redirect_uri of ["http://127.0.0.1:9999/other", "http://127.0.0.1:9999/callback/", "https://evil.example/callback"]) {
    assertTokenError(await exchange(main, client, c, { redirect_uri }), 400, "invalid_grant");
  }
});

test("4d a resource that differs from the authorization's is invalid_target", async () => {
  const client = await publicClient(main.url);
  const c = await codeFor(main, alice, client);
  assertTokenError(await exchange(main, client, c, { resource: "https://other.example/mcp" }), 400, "invalid_target");
});

test("4e an expired code (AUTH_CODE_TTL=1) is invalid_grant", async () => {
  const client = await publicClient(short.url);
  const c = await codeFor(short, sam, client);
  await sleep(2200);
  assertTokenError(await exchange(short, client, c), 400, "invalid_grant");
});

test("4f grant_type unsupported or missing, and a JSON body, are refused", async () => {
  const client = await publicClient(main.url);
  const c = await codeFor(main, alice, client);
  assertTokenError(await exchange(main, client, c, { grant_type: "password" }), 400, "unsupported_grant_type");
  assertTokenError(await exchange(main, client, c, { grant_type: "client_credentials" }), 400, "unsupported_grant_type");
  const { grant_type, ...rest } = { grant_type: "authorization_code", code: c.code, code_verifier: c.verifier, client_id: client.client_id, redirect_uri: client.redirect_uris[0] };
  assert.ok(grant_type);
  assertTokenError(await token(main.url, rest), 400, "invalid_request");
  const res = await fetch(main.url + "/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ grant_type, ...rest }),
  });
  assertTokenError({ status: res.status, headers: res.headers, body: await res.json() }, 400, "invalid_request");
  // None of these refusals consumed the code.
  assert.equal((await exchange(main, client, c)).status, 200);
});

// =======================================================================================
// 5. The refresh_token grant

test("5a a refresh cannot widen the scope: invalid_scope", async () => {
  const { tokens, client } = await fullFlow(main.url, alice, { scope: "mcp:read" });
  assert.ok(tokens.refresh_token, JSON.stringify(tokens));
  assertTokenError(await refreshWith(main, client, tokens.refresh_token, { scope: "mcp:read mcp:write" }), 400, "invalid_scope");
});

test("5b a refresh can narrow the scope, and the access token carries the narrower scope", async () => {
  const { tokens, client } = await fullFlow(main.url, alice, { scope: "mcp:read mcp:write" });
  const r = await refreshWith(main, client, tokens.refresh_token, { scope: "mcp:read" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.scope, "mcp:read");
  const { payload } = await verifyIssued(main, r.body.access_token, { audience: main.url + "/mcp" });
  assert.equal(payload.scope, "mcp:read");
});

test("5c another client's refresh token is invalid_grant", async () => {
  const { tokens } = await fullFlow(main.url, alice);
  const other = await publicClient(main.url);
  assertTokenError(await refreshWith(main, other, tokens.refresh_token), 400, "invalid_grant");
});

test("5d eight concurrent refreshes of one token share exactly one successor", async (t) => {
  const { tokens, client } = await fullFlow(main.url, alice);
  const results = await Promise.all(Array.from({ length: 8 }, () => refreshWith(main, client, tokens.refresh_token)));
  const ok = results.filter((r) => r.status === 200);
  t.diagnostic(`statuses: ${results.map((r) => r.status).join(", ")}`);
  assert.ok(ok.length >= 1, JSON.stringify(results.map((r) => r.body)));
  for (const r of results.filter((r) => r.status !== 200)) assertTokenError(r, 400, "invalid_grant");
  const successors = new Set(ok.map((r) => r.body.refresh_token));
  assert.equal(successors.size, 1, "every 200 carries the same refresh token");
  const [successor] = successors;
  assert.notEqual(successor, tokens.refresh_token);
  // The successor works, and mints exactly one successor of its own.
  const next = await refreshWith(main, client, successor);
  assert.equal(next.status, 200, JSON.stringify(next.body));
  const retry = await refreshWith(main, client, successor);
  if (retry.status === 200) assert.equal(retry.body.refresh_token, next.body.refresh_token);
  else assertTokenError(retry, 400, "invalid_grant");
  // Its use closed the original's grace: the original again is reuse.
  assertTokenError(await refreshWith(main, client, tokens.refresh_token), 400, "invalid_grant");
});

test("5e with REFRESH_GRACE_SECONDS=0, the old token after rotation revokes the family", async () => {
  const { tokens, client, status } = await fullFlow(short.url, sam);
  assert.equal(status, 200, JSON.stringify(tokens));
  const r1 = await refreshWith(short, client, tokens.refresh_token);
  assert.equal(r1.status, 200, JSON.stringify(r1.body));
  await sleep(1100);
  assertTokenError(await refreshWith(short, client, tokens.refresh_token), 400, "invalid_grant");
  assertTokenError(await refreshWith(short, client, r1.body.refresh_token), 400, "invalid_grant");
});

// =======================================================================================
// 6. Access tokens, verified at /userinfo as /mcp will verify them

test("6a a token signed with the server's key is accepted, and refused once expired", async () => {
  const { tokens } = await fullFlow(main.url, alice);
  const header = decodeProtectedHeader(tokens.access_token);
  const claims = decodeJwt(tokens.access_token);
  const now = Math.floor(Date.now() / 1000);
  // Sanity: the test's signer makes tokens the server accepts (and that verify against its JWKS).
  const fresh = await signJwt(header, { ...claims, iat: now, exp: now + 600, jti: "self-signed-ok" }, serverKey(main));
  await verifyIssued(main, fresh, { audience: main.url + "/mcp" });
  assert.equal((await userinfo(main, fresh)).status, 200);
  const expired = await signJwt(header, { ...claims, iat: now - 7200, exp: now - 3600, jti: "self-signed-expired" }, serverKey(main));
  const body = await assertInvalidToken(await userinfo(main, expired), "expired");
  assert.match(body, /expired/);
});

test("6b a token signed with another Ed25519 key is refused (real kid, and its own kid)", async () => {
  const { tokens } = await fullFlow(main.url, alice);
  const other = generateKeyPairSync("ed25519").privateKey;
  const header = decodeProtectedHeader(tokens.access_token);
  const claims = decodeJwt(tokens.access_token);
  await assertInvalidToken(await userinfo(main, await signJwt(header, claims, other)), "real kid, foreign key");
  await assertInvalidToken(await userinfo(main, await signJwt({ ...header, kid: "attacker-key" }, claims, other)), "foreign kid");
  await assertInvalidToken(await userinfo(main, await signJwt({ alg: "EdDSA", typ: "at+jwt" }, claims, other)), "no kid");
});

test("6c an alg:none token with the real kid and payload is refused", async () => {
  const { tokens } = await fullFlow(main.url, alice);
  const { kid } = decodeProtectedHeader(tokens.access_token);
  // Raw (spliceJwt): the real payload segment, byte for byte, under another alg, with no
  // signature or with the real one; jose never makes a token whose alg is not its signature's.
  for (const forged of [
    spliceJwt(tokens.access_token, { header: { alg: "none", typ: "at+jwt", kid }, signature: "" }),
    spliceJwt(tokens.access_token, { header: { alg: "none", typ: "at+jwt", kid } }),
    spliceJwt(tokens.access_token, { header: { alg: "HS256", typ: "at+jwt", kid } }),
  ]) {
    await assertInvalidToken(await userinfo(main, forged), decodeProtectedHeader(forged).alg);
  }
  // And the classic confusion, signed by jose: HS256 keyed with the published public key.
  const { keys } = await (await fetch(main.url + "/.well-known/jwks.json")).json();
  const jwk = keys.find((k) => k.kid === kid);
  assert.ok(jwk, "the token's kid is in the JWKS");
  const hmac = await new SignJWT(decodeJwt(tokens.access_token))
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid })
    .sign(Buffer.from(jwk.x, "base64url"));
  await assertInvalidToken(await userinfo(main, hmac), "HS256 keyed with the public key");
});

test("6d a token whose payload was changed (aud) under the original signature is refused", async () => {
  const { tokens } = await fullFlow(main.url, alice);
  const claims = decodeJwt(tokens.access_token);
  for (const changed of [
    { ...claims, aud: "https://other.example/mcp" },
    { ...claims, scope: "mcp:read mcp:write email profile" },
    { ...claims, exp: claims.exp + 86400 },
  ]) {
    // Raw (spliceJwt): the new payload under the original header and signature.
    const tampered = spliceJwt(tokens.access_token, { payload: changed });
    await assert.rejects(verifyIssued(main, tampered, { audience: changed.aud }), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    await assertInvalidToken(await userinfo(main, tampered), "tampered");
  }
  await verifyIssued(main, tokens.access_token, { audience: main.url + "/mcp" });
  assert.equal((await userinfo(main, tokens.access_token)).status, 200);
});

test("6e a token in the query string is ignored: 401 without error=invalid_token", async () => {
  const { tokens } = await fullFlow(main.url, alice);
  const res = await fetch(main.url + "/userinfo?access_token=" + encodeURIComponent(tokens.access_token));
  await res.text();
  assert.equal(res.status, 401);
  const challenge = res.headers.get("www-authenticate") ?? "";
  assert.match(challenge, /^Bearer /);
  assert.match(challenge, /resource_metadata="/);
  assert.doesNotMatch(challenge, /error=/);
});

test("6f after POST /revoke of the refresh token by the public client, the access token is refused", async () => {
  const { tokens, client } = await fullFlow(main.url, alice);
  assert.equal((await userinfo(main, tokens.access_token)).status, 200);
  const rv = await postForm(main.url + "/revoke", { token: tokens.refresh_token, client_id: client.client_id });
  assert.equal(rv.status, 200, await rv.text());
  const body = await assertInvalidToken(await userinfo(main, tokens.access_token), "revoked");
  assert.match(body, /revoked/);
  assertTokenError(await refreshWith(main, client, tokens.refresh_token), 400, "invalid_grant");
});

// =======================================================================================
// 7. Registration rate limit, CORS

test("7a REGISTER_RATE_LIMIT=2: the third registration is 429 with Retry-After", async () => {
  // The limit counts per clock hour: do not straddle a window boundary.
  const intoHour = Math.floor(Date.now() / 1000) % 3600;
  if (intoHour > 3595) await sleep((3601 - intoHour) * 1000);
  // Three different apps from one address: the third is past the limit.
  const meta = (n) => ({ client_name: `App ${n}`, redirect_uris: [`https://app${n}.example/cb`], token_endpoint_auth_method: "none" });
  assert.equal((await register(reg.url, meta(1))).status, 201);
  assert.equal((await register(reg.url, meta(2))).status, 201);
  const third = await register(reg.url, meta(3));
  assert.equal(third.status, 429, JSON.stringify(third.body));
  const retryAfter = third.headers.get("retry-after");
  assert.match(retryAfter ?? "", /^[1-9]\d*$/);
  assert.match(third.headers.get("content-type") ?? "", /^application\/json/);
  // An error a registration client can read (RFC 6749's), not the device flow's slow_down.
  assert.equal(third.body.error, "temporarily_unavailable");
  assert.equal(third.headers.get("access-control-allow-origin"), "*");
});

test("7a2 past the limit, an app registered within it from a shared address (a platform's people) may go on to 25 times the limit in all; a flood of varied ones may not", async () => {
  // A platform registers the same app for each person from a few addresses; ChatGPT's
  // callbacks carry a per-connector path, so only where they go counts, not the path.
  const intoHour = Math.floor(Date.now() / 1000) % 3600;
  if (intoHour > 3590) await sleep((3601 - intoHour) * 1000);
  const ip = { "CF-Connecting-IP": "198.51.100.42" };
  const from = (meta) => fetch(reg.url + "/register", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...ip },
    body: JSON.stringify(meta),
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.json() }));
  const platform = (n) => ({
    client_name: "Platform",
    redirect_uris: [`https://platform.example/connector/oauth/${n}`],
    token_endpoint_auth_method: "none",
  });
  const varied = (n) => ({ client_name: `Varied ${n}`, redirect_uris: [`https://varied${n}.example/cb`], token_endpoint_auth_method: "none" });
  // Within the address's 2: the platform's app and one other.
  assert.equal((await from(platform(0))).status, 201);
  assert.equal((await from(varied(0))).status, 201);
  // Past them: an app not registered from here this hour is refused, however often.
  for (const n of [1, 1, 2]) {
    const r = await from(varied(n));
    assert.equal(r.status, 429, JSON.stringify(r.body));
    assert.equal(r.body.error, "temporarily_unavailable");
  }
  // The platform's app goes on until the address has made 2 × 25 = 50 requests in all
  // (the 5 above count).
  let created = 0;
  for (let n = 1; n <= 45; n++) {
    const r = await from(platform(n));
    assert.equal(r.status, 201, `registration ${n}: ${JSON.stringify(r.body)}`);
    created++;
  }
  assert.equal(created, 45);
  const over = await from(platform(46));
  assert.equal(over.status, 429, JSON.stringify(over.body));
  assert.equal(over.body.error, "temporarily_unavailable");
  assert.match(over.headers.get("retry-after") ?? "", /^[1-9]\d*$/);
  // The first app registered (varied 0) gets the same, and no more than the total either.
  assert.equal((await from(varied(0))).status, 429);
});

test("7b /register and /token answer cross-origin callers and expose WWW-Authenticate", async () => {
  const origin = { Origin: "https://inspector.example" };
  const regRes = await fetch(main.url + "/register", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...origin },
    body: JSON.stringify({ redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none" }),
  });
  const tokRes = await postForm(main.url + "/token", { grant_type: "authorization_code", code: "x", client_id: "unknown" }, origin);
  assert.equal(tokRes.status, 401);
  for (const res of [regRes, tokRes]) {
    await res.text();
    assert.ok(res.headers.get("access-control-allow-origin"), res.url);
    assert.match(res.headers.get("access-control-expose-headers") ?? "", /WWW-Authenticate/i);
  }
  for (const path of ["/register", "/token"]) {
    const pre = await fetch(main.url + path, {
      method: "OPTIONS",
      headers: { ...origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
    });
    assert.ok(pre.status === 200 || pre.status === 204, String(pre.status));
    assert.ok(pre.headers.get("access-control-allow-origin"));
    assert.match(pre.headers.get("access-control-allow-methods") ?? "", /POST/);
  }
});

// =======================================================================================
// 8. Client ID metadata documents

test("8a a metadata-document client completes the flow with client_id = its URL", async () => {
  const client = { client_id: DOC_URL, redirect_uris: ["https://app.example/cb"] };
  const { verifier, challenge } = pkcePair();
  const browser = new Browser();
  const url = authorizeUrl(main.url, client, { challenge, state: "doc-state" });
  const page = await browser.get(url);
  const html = await page.text();
  assert.equal(page.status, 200, html.slice(0, 300));
  assert.match(html, /Doc App/);
  assert.match(html, /verified by app\.example/);
  const consent = await signIn(main.url, browser, html, alice);
  const consentHtml = await consent.text();
  assert.equal(consent.status, 200, consentHtml.slice(0, 300));
  assert.match(consentHtml, /verified by app\.example/);
  const res = await browser.post(main.url + "/authorize", { ...formFields(consentHtml), action: "approve" });
  assert.equal(res.status, 302, await res.clone().text());
  const redirect = new URL(res.headers.get("location"));
  assert.equal(redirect.origin + redirect.pathname, "https://app.example/cb");
  assert.equal(redirect.searchParams.get("state"), "doc-state");
  // Only client_id: a document client is public.
  const t = await token(main.url, {
    grant_type: "authorization_code",
    code: redirect.searchParams.get("code"),
    code_verifier: verifier,
    client_id: DOC_URL,
    redirect_uri: "https://app.example/cb",
  });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.equal((await verifyIssued(main, t.body.access_token, { audience: main.url + "/mcp" })).payload.client_id, DOC_URL);
  // Cache-Control: max-age=300 was honoured: fetched once for the page, the POST and /token.
  assert.equal(fetched.filter((u) => u === DOC_URL).length, 1, fetched.join(" "));
});

test("8b unusable metadata documents and an http:// client_id get the error page", async () => {
  const cases = [
    ["https://mismatch.example/client.json", "https://mismatch.example/cb"],
    ["https://big.example/client.json", "https://big.example/cb"],
    ["https://missing.example/client.json", "https://missing.example/cb"],
    ["http://app.example/client.json", "https://app.example/cb"],
  ];
  for (const [client_id, redirect] of cases) {
    const res = await new Browser().get(editedUrl(main.url, { client_id, redirect_uris: [redirect] }));
    await assertErrorPage(res, 400);
  }
  // Refused for the document's own fault: each https document was actually fetched.
  for (const [client_id] of cases.slice(0, 3)) assert.ok(fetched.includes(client_id), `${client_id} was never fetched`);
  assert.ok(!fetched.includes("http://app.example/client.json"), "an http:// client_id is never fetched");
});

test("8c a failed document fetch is not cached", async () => {
  const flaky = "https://flaky.example/client.json";
  const client = { client_id: flaky, redirect_uris: ["https://flaky.example/cb"] };
  const first = await new Browser().get(editedUrl(main.url, client));
  await assertErrorPage(first, 400);
  const second = await new Browser().get(editedUrl(main.url, client));
  const html = await second.text();
  assert.equal(second.status, 200, html.slice(0, 300));
  assert.match(html, /verified by flaky\.example/);
  assert.equal(fetched.filter((u) => u === flaky).length, 2);
});

test("8d a document sent without Content-Length and over 5 KiB is refused", async () => {
  const client = { client_id: "https://chunked.example/client.json", redirect_uris: ["https://chunked.example/cb"] };
  const res = await new Browser().get(editedUrl(main.url, client));
  await assertErrorPage(res, 400);
  assert.ok(fetched.includes(client.client_id));
});

test("8e failed fetches of one document URL are limited to 5 a minute", async () => {
  const seconds = new Date().getSeconds();
  if (seconds > 50) await new Promise((r) => setTimeout(r, (61 - seconds) * 1000));
  const down = "https://down.example/client.json";
  const client = { client_id: down, redirect_uris: ["https://down.example/cb"] };
  // A document that cannot be fetched is "could not be reached" (503, try again), whether
  // the fetch failed or the failures' limit held it back.
  for (let i = 0; i < 8; i++) {
    const html = await assertErrorPage(await new Browser().get(editedUrl(main.url, client)), 503);
    assert.match(html, /data-error="app_unreachable"/);
  }
  assert.equal(fetched.filter((u) => u === down).length, 5);
});

// =======================================================================================
// 9. Introspection and revocation edge cases

test("9a /introspect by a public client is 401 invalid_client", async () => {
  const { tokens, client } = await fullFlow(main.url, alice);
  const res = await postForm(main.url + "/introspect", { token: tokens.access_token, client_id: client.client_id });
  assertTokenError({ status: res.status, headers: res.headers, body: await res.json() }, 401, "invalid_client");
});

test("9b /revoke of an unknown token is 200", async () => {
  const client = await publicClient(main.url);
  const res = await postForm(main.url + "/revoke", { token: randomBytes(32).toString("base64url"), client_id: client.client_id });
  await res.text();
  assert.equal(res.status, 200);
  const jwtish = await postForm(main.url + "/revoke", { token: "eyJhbGciOiJub25lIn0.e30.", client_id: client.client_id, token_type_hint: "access_token" });
  await jwtish.text();
  assert.equal(jwtish.status, 200);
});
