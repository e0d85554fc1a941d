// The Worker as an OpenID provider, end to end: openid-client (a certified relying-party
// library) discovers it, registers, sends the person through /authorize (the repo's
// Browser signs in and approves) and validates the ID tokens of the code grant and of
// refresh; jose verifies an RS256 ID token on its own; prompt, max_age and login_hint at
// /authorize; registration's id_token_signed_response_alg; and roles from an upstream
// OpenID provider's `groups` claim, which narrow a refresh once the provider stops
// sending the group or the roles lapse.
//
// The Worker listens on http://127.0.0.1:<port>. openid-client refuses plain HTTP unless
// told otherwise, so every configuration here gets `allowInsecureRequests`: only for this
// loopback test server. No other check of openid-client is relaxed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as client from "openid-client";
import { calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { startWorker } from "./helpers/worker.mjs";
import { Browser, approve, createUser, formFields, register, signIn, token } from "./helpers/oauth.mjs";
import { jwtParts, signWithKey, startOidcProvider } from "./helpers/oidc-provider.mjs";
import { spliceJwt } from "./helpers/jwt.mjs";

const APP = "http://127.0.0.1:9999/callback";
const CONF_APP = "https://app.example/cb";
const OIDC_SCOPE = "openid profile email offline_access";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);
const sorted = (scope) => scope.split(" ").sort();
// The default resource scopes, and mcp:manage for administrators only.
const SCOPES = {
  scopes: [
    { name: "mcp:read", description: "See your notes", default: true },
    { name: "mcp:write", description: "Change your notes", default: true },
    { name: "mcp:manage", description: "Manage this server", roles: ["admin"] },
  ],
};

let w, op, ann, count = 0;

// The upstream OpenID provider (tests/helpers/oidc-provider.mjs) releases only the claims
// of its scopes' lists (sub, hd, email, email_verified, name), so its ID tokens cannot
// carry `groups` without changing the helper. This wrapper, at the provider's edge, adds
// the groups the test gave each of its people (by sub) to the ID token of its token
// endpoint's answer, signed again with the provider's own key (its JWKS publishes it): to
// the Worker, a provider whose ID tokens carry a `groups` claim.
const groupsAt = new Map();
async function outbound(req) {
  const url = new URL(req.url);
  if (url.origin !== op.issuer) return new Response("tests have no internet", { status: 502 });
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.from(await req.arrayBuffer());
  const headers = new Headers(req.headers);
  for (const h of ["host", "content-length", "connection", "transfer-encoding", "accept-encoding"]) headers.delete(h);
  const res = await fetch(url, { method: req.method, headers, body, redirect: "manual" });
  let payload = await res.text();
  if (url.pathname === "/token" && res.status === 200) {
    const json = JSON.parse(payload);
    const claims = jwtParts(json.id_token).payload;
    if (groupsAt.has(claims.sub)) json.id_token = signWithKey({ ...claims, groups: groupsAt.get(claims.sub) }, op.keys.rsa);
    payload = JSON.stringify(json);
  }
  const out = new Headers(res.headers);
  for (const h of ["content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"]) out.delete(h);
  return new Response(res.status === 204 || res.status === 304 ? null : payload, { status: res.status, headers: out });
}

before(async () => {
  op = await startOidcProvider();
  const secret = randomBytes(24).toString("base64url");
  const corp = {
    id: "corp",
    type: "oidc",
    name: "Acme SSO",
    issuer: op.issuer,
    client_id: "mcp-corp",
    client_secret: { secret: "CORP_CLIENT_SECRET" },
    allow: { everyone: true },
    roles: { claim: "groups", map: { "mcp-admins": "admin" } },
  };
  w = await startWorker({
    bindings: { SCOPES: JSON.stringify(SCOPES), SIGNIN_PROVIDERS: JSON.stringify([corp]), CORP_CLIENT_SECRET: secret },
    outbound,
  });
  op.register({ client_id: "mcp-corp", client_secret: secret, redirect_uris: [`${w.url}/signin/callback/corp`] });
  ann = await createUser(w.db, "ann@example.com", "ann-password-1", "Ann");
});
after(async () => {
  await w?.stop();
  await op?.stop();
});

// ---------------------------------------------------------------------------------------
// Helpers

const insecureLoopback = { execute: [client.allowInsecureRequests] }; // the loopback test server only

/** openid-client's configuration for `clientId`, from the Worker's discovery document. */
const relyingParty = (clientId, metadata = {}, auth = client.None()) =>
  client.discovery(new URL(w.url), clientId, { require_auth_time: true, ...metadata }, auth, insecureLoopback);

/** A public client, registered with a plain POST /register. */
async function publicApp(extra = {}) {
  const r = await register(w.url, {
    redirect_uris: [APP],
    token_endpoint_auth_method: "none",
    client_name: `OIDC App ${++count}`,
    grant_types: ["authorization_code", "refresh_token"],
    ...extra,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

/** An authorization request built by openid-client: PKCE (S256), state and nonce. */
async function request(config, { scope = OIDC_SCOPE, redirectUri = APP, ...extra } = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope, code_challenge: challenge, code_challenge_method: "S256", state, nonce, ...extra });
  return { url, verifier, state, nonce };
}

/** `res` is the redirect back to the app: its URL (the iss parameter checked). */
function callback(res, redirectUri = APP) {
  assert.equal(res.status, 302, `a redirect to the app, got ${res.status}`);
  const cb = new URL(res.headers.get("location"));
  assert.equal(cb.origin + cb.pathname, redirectUri);
  assert.equal(cb.searchParams.get("iss"), w.url);
  return cb;
}

/** openid-client redeems the code of `cb`, validating the response and its ID token. */
const redeem = (config, cb, req, checks = {}) =>
  client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce, idTokenExpected: true, ...checks });

/** The whole flow in `browser` (which signs `user` in when asked): openid-client's tokens. */
async function login(config, { user = ann, browser = new Browser(), redirectUri = APP, ...params } = {}) {
  const req = await request(config, { redirectUri, ...params });
  const cb = callback(await approve(w.url, browser, req.url.href, user), redirectUri);
  const tokens = await redeem(config, cb, req);
  return { tokens, claims: tokens.claims(), req, browser };
}

/** at_hash (Core §3.1.3.6): the left half of the access token's hash under the alg's hash. */
function atHash(alg, accessToken) {
  const digest = createHash(alg === "RS256" ? "sha256" : "sha512").update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString("base64url");
}

async function jwks() {
  const res = await fetch(w.url + "/.well-known/jwks.json");
  assert.equal(res.status, 200);
  return (await res.json()).keys;
}

/** What every ID token must say, beyond openid-client's own checks; returns its claims. */
async function assertIdToken(tokens, { clientId, nonce, user = ann, alg = "RS256" }) {
  const header = decodeProtectedHeader(tokens.id_token);
  const c = decodeJwt(tokens.id_token);
  assert.equal(header.alg, alg);
  assert.equal(header.typ, "JWT");
  const key = (await jwks()).find((k) => k.kid === header.kid);
  assert.ok(key, `the ID token's kid ${header.kid} is in the JWKS`);
  assert.equal(key.alg, alg);
  assert.deepEqual(tokens.claims(), c, "openid-client's claims are the ID token's");
  assert.equal(c.iss, w.url);
  assert.equal(c.sub, user.id);
  assert.equal(c.aud, clientId);
  assert.equal(c.azp, clientId);
  assert.equal(c.exp - c.iat, 600);
  assert.ok(Math.abs(c.iat - nowSeconds()) < 30, "iat is now");
  assert.equal(typeof c.auth_time, "number");
  assert.ok(c.auth_time <= c.iat && c.auth_time > c.iat - 3600, "auth_time is the sign-in");
  assert.equal(c.at_hash, atHash(alg, tokens.access_token));
  assert.equal(c.nonce, nonce);
  return c;
}

/** An HTML error page of `kind` (status 400), never a redirect. */
async function assertErrorPage(res, kind) {
  const html = await res.text();
  assert.equal(res.status, 400, html);
  assert.equal(res.headers.get("location"), null, "no redirect");
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(html, new RegExp(`<h1 data-error="${kind}">`));
}

const audits = (event, userId) =>
  w.db.prepare("SELECT * FROM audit_events WHERE event = ?1 AND user_id = ?2 ORDER BY id").bind(event, userId).all().then((r) => r.results);
const rolesOf = (userId) =>
  w.db.prepare("SELECT role, source, expires_at FROM user_roles WHERE user_id = ?1 ORDER BY role").bind(userId).all().then((r) => r.results);

// ---------------------------------------------------------------------------------------
// 1. Discovery, and openid-client's flows for a public and a confidential client

test("discovery: the OpenID provider metadata, which openid-client accepts", async () => {
  const res = await fetch(w.url + "/.well-known/openid-configuration");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  const doc = await res.json();
  assert.equal(doc.issuer, w.url);
  const endpoints = { authorization_endpoint: "/authorize", token_endpoint: "/token", userinfo_endpoint: "/userinfo", jwks_uri: "/.well-known/jwks.json", registration_endpoint: "/register" };
  for (const [member, path] of Object.entries(endpoints)) assert.equal(doc[member], w.url + path, member);
  for (const s of ["openid", "profile", "email", "offline_access", "mcp:read", "mcp:write", "mcp:manage"]) assert.ok(doc.scopes_supported.includes(s), `scopes_supported has ${s}`);
  assert.deepEqual(doc.response_types_supported, ["code"]);
  assert.deepEqual(doc.subject_types_supported, ["public"]);
  assert.deepEqual(doc.id_token_signing_alg_values_supported, ["RS256", "EdDSA"]);
  assert.deepEqual(doc.code_challenge_methods_supported, ["S256"]);
  // private_key_jwt is for client ID metadata documents (on by default), with its algorithms.
  assert.deepEqual([...doc.token_endpoint_auth_methods_supported].sort(), ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]);
  assert.deepEqual(doc.token_endpoint_auth_signing_alg_values_supported, ["RS256", "ES256", "EdDSA"]);
  for (const c of ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "email", "email_verified", "name"]) assert.ok(doc.claims_supported.includes(c), `claims_supported has ${c}`);
  assert.deepEqual([...doc.prompt_values_supported].sort(), ["consent", "login", "none", "select_account"]);
  const meta = (await relyingParty("any-client")).serverMetadata();
  assert.equal(meta.issuer, w.url);
  assert.equal(meta.userinfo_endpoint, w.url + "/userinfo");
  assert.equal(meta.supportsPKCE(), true);
});

test("openid-client, public client: code with nonce, validated ID token, userinfo, refresh", async () => {
  const app = await publicApp();
  const config = await relyingParty(app.client_id);
  const req = await request(config);
  assert.equal(req.url.origin + req.url.pathname, w.url + "/authorize");
  assert.equal(req.url.searchParams.get("code_challenge_method"), "S256");
  assert.equal(req.url.searchParams.get("nonce"), req.nonce);
  const browser = new Browser();
  const cb = callback(await approve(w.url, browser, req.url.href, ann));
  assert.equal(cb.searchParams.get("state"), req.state);
  const tokens = await redeem(config, cb, req);
  assert.deepEqual(sorted(tokens.scope), sorted(OIDC_SCOPE));
  const claims = await assertIdToken(tokens, { clientId: app.client_id, nonce: req.nonce });
  assert.equal(claims.email, "ann@example.com");
  assert.equal(claims.email_verified, true);
  assert.equal(claims.name, "Ann");
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.deepEqual({ ...info }, { sub: ann.id, email: "ann@example.com", email_verified: true, name: "Ann" });
  await assert.rejects(client.fetchUserInfo(config, tokens.access_token, "someone-else"), (e) => e.cause?.cause?.attribute === "sub", "openid-client checks userinfo's sub");
  // A second later, so an ID token that took "now" for auth_time would differ.
  await sleep(1100);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  assert.notEqual(refreshed.id_token, tokens.id_token);
  const again = await assertIdToken(refreshed, { clientId: app.client_id, nonce: undefined });
  assert.equal(again.sub, claims.sub);
  assert.equal(again.auth_time, claims.auth_time, "refresh keeps the original auth_time");
  assert.ok(again.iat > claims.iat);
  assert.equal("nonce" in again, false, "no nonce in a refreshed ID token");
  assert.equal(again.email, "ann@example.com");
  const info2 = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  assert.equal(info2.sub, ann.id);
});

for (const method of ["client_secret_basic", "client_secret_post"]) {
  test(`openid-client, confidential client (${method}, registered by openid-client): code, ID token, userinfo, refresh`, async () => {
    const auth = method === "client_secret_basic" ? client.ClientSecretBasic() : client.ClientSecretPost();
    const metadata = { redirect_uris: [CONF_APP], token_endpoint_auth_method: method, grant_types: ["authorization_code", "refresh_token"], client_name: "Confidential App" };
    const config = await client.dynamicClientRegistration(new URL(w.url), metadata, auth, insecureLoopback);
    const registered = config.clientMetadata();
    assert.ok(registered.client_secret, "a secret was issued");
    assert.equal(registered.token_endpoint_auth_method, method);
    const { tokens, claims, req } = await login(config, { redirectUri: CONF_APP, scope: "openid email offline_access" });
    await assertIdToken(tokens, { clientId: registered.client_id, nonce: req.nonce });
    assert.equal(claims.email, "ann@example.com");
    assert.equal("name" in claims, false, "no name without the profile scope");
    const info = await client.fetchUserInfo(config, tokens.access_token, ann.id);
    assert.deepEqual({ ...info }, { sub: ann.id, email: "ann@example.com", email_verified: true });
    // The secret is checked: the same client with a wrong one is refused.
    const wrongAuth = method === "client_secret_basic" ? client.ClientSecretBasic("wrong") : client.ClientSecretPost("wrong");
    const wrong = await client.discovery(new URL(w.url), registered.client_id, {}, wrongAuth, insecureLoopback);
    const err = await client.refreshTokenGrant(wrong, tokens.refresh_token).then(() => null, (e) => e);
    assert.ok(err instanceof client.WWWAuthenticateChallengeError, String(err));
    assert.equal(err.status, 401);
    assert.equal((await err.response.json()).error, "invalid_client");
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    const again = await assertIdToken(refreshed, { clientId: registered.client_id, nonce: undefined });
    assert.equal(again.auth_time, claims.auth_time);
  });
}

// ---------------------------------------------------------------------------------------
// 2, 3. EdDSA ID tokens; an RS256 one verified by jose alone

test("a client registered for EdDSA gets EdDSA ID tokens that openid-client accepts", async () => {
  const app = await publicApp({ id_token_signed_response_alg: "EdDSA" });
  assert.equal(app.id_token_signed_response_alg, "EdDSA", "the registration response echoes it");
  const config = await relyingParty(app.client_id, { id_token_signed_response_alg: "EdDSA" });
  const { tokens, req } = await login(config);
  const claims = await assertIdToken(tokens, { clientId: app.client_id, nonce: req.nonce, alg: "EdDSA" });
  const key = (await jwks()).find((k) => k.kid === decodeProtectedHeader(tokens.id_token).kid);
  assert.deepEqual([key.kty, key.crv], ["OKP", "Ed25519"]);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const again = await assertIdToken(refreshed, { clientId: app.client_id, nonce: undefined, alg: "EdDSA" });
  assert.equal(again.auth_time, claims.auth_time);
  // A relying party that expects RS256 refuses it: openid-client does check the alg.
  const rs256Only = await relyingParty(app.client_id, { id_token_signed_response_alg: "RS256" });
  await assert.rejects(client.refreshTokenGrant(rs256Only, refreshed.refresh_token), (e) => /"alg"/.test(e.cause?.message));
});

test("jose verifies an RS256 ID token against the JWKS; kid is the RFC 7638 thumbprint; at_hash by hand", async () => {
  const keys = await jwks();
  const rsa = keys.filter((k) => k.kty === "RSA");
  assert.equal(rsa.length, 1, "one RSA key");
  const [key] = rsa;
  assert.equal(key.alg, "RS256");
  assert.equal(key.kid, await calculateJwkThumbprint(key, "sha256"));
  for (const p of ["d", "p", "q", "dp", "dq", "qi"]) assert.equal(key[p], undefined, `no private member ${p}`);
  const configured = JSON.parse(w.bindings.OIDC_SIGNING_KEY);
  assert.deepEqual([key.n, key.e], [configured.n, configured.e], "the public half of OIDC_SIGNING_KEY");
  const ed = keys.find((k) => k.kty === "OKP");
  assert.deepEqual([ed.crv, ed.alg, ed.d], ["Ed25519", "EdDSA", undefined]);
  // The code from openid-client's request, redeemed with plain fetch.
  const app = await publicApp();
  const req = await request(await relyingParty(app.client_id), { scope: "openid" });
  const cb = callback(await approve(w.url, new Browser(), req.url.href, ann));
  const t = await token(w.url, { grant_type: "authorization_code", code: cb.searchParams.get("code"), code_verifier: req.verifier, client_id: app.client_id, redirect_uri: APP });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const keySet = createRemoteJWKSet(new URL(w.url + "/.well-known/jwks.json"));
  const options = { issuer: w.url, audience: app.client_id, algorithms: ["RS256"], typ: "JWT", maxTokenAge: "10 minutes", requiredClaims: ["sub", "iat", "exp", "auth_time", "azp", "at_hash", "nonce"] };
  const { payload, protectedHeader } = await jwtVerify(t.body.id_token, keySet, options);
  assert.deepEqual(protectedHeader, { alg: "RS256", kid: key.kid, typ: "JWT" });
  const expected = createHash("sha256").update(t.body.access_token).digest().subarray(0, 16).toString("base64url");
  assert.equal(payload.at_hash, expected);
  assert.equal(payload.nonce, req.nonce);
  assert.equal(payload.sub, ann.id);
  for (const c of ["email", "email_verified", "name"]) assert.equal(payload[c], undefined, `no ${c} with only openid`);
  const info = await fetch(w.url + "/userinfo", { headers: { Authorization: "Bearer " + t.body.access_token } });
  assert.deepEqual(await info.json(), { sub: ann.id });
  const forged = spliceJwt(t.body.id_token, { payload: { ...payload, sub: "someone-else" } });
  await assert.rejects(jwtVerify(forged, keySet, options), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
});

// ---------------------------------------------------------------------------------------
// 5, 6. Registration's algorithm; no openid, no ID token

test("registration takes id_token_signed_response_alg RS256 or EdDSA, refuses HS256 and others", async () => {
  for (const alg of ["HS256", "none", "ES256", "rs256"]) {
    const r = await register(w.url, { redirect_uris: [APP], token_endpoint_auth_method: "none", id_token_signed_response_alg: alg });
    assert.equal(r.status, 400, `${alg}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, "invalid_client_metadata", alg);
  }
  const rs = await register(w.url, { redirect_uris: [APP], token_endpoint_auth_method: "none", id_token_signed_response_alg: "RS256" });
  assert.equal(rs.status, 201, JSON.stringify(rs.body));
});

test("without openid in the scope the token responses have no id_token", async () => {
  const app = await publicApp();
  const req = await request(await relyingParty(app.client_id), { scope: "mcp:read offline_access" });
  const cb = callback(await approve(w.url, new Browser(), req.url.href, ann));
  const t = await token(w.url, { grant_type: "authorization_code", code: cb.searchParams.get("code"), code_verifier: req.verifier, client_id: app.client_id, redirect_uri: APP });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.equal(t.body.scope, "mcp:read offline_access");
  assert.ok(t.body.access_token);
  assert.equal("id_token" in t.body, false);
  const r = await token(w.url, { grant_type: "refresh_token", refresh_token: t.body.refresh_token, client_id: app.client_id });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal("id_token" in r.body, false);
});

// ---------------------------------------------------------------------------------------
// 4. prompt, max_age, login_hint

test("prompt=none: a code with no page once approved; consent_required otherwise; an error page before sign-in", async () => {
  const app = await publicApp();
  const config = await relyingParty(app.client_id);
  const first = await login(config, { scope: "openid email offline_access" });
  const req = await request(config, { scope: "openid email", prompt: "none" });
  const cb = callback(await first.browser.get(req.url.href));
  assert.ok(cb.searchParams.get("code"), "a code straight from the GET, no page");
  const silent = await redeem(config, cb, req);
  const claims = await assertIdToken(silent, { clientId: app.client_id, nonce: req.nonce });
  assert.equal(claims.auth_time, first.claims.auth_time, "the same sign-in");
  // More than this app was approved for, or an app never approved: consent_required.
  const wider = await request(config, { scope: "openid email profile", prompt: "none" });
  const wcb = callback(await first.browser.get(wider.url.href));
  assert.equal(wcb.searchParams.get("error"), "consent_required");
  assert.equal(wcb.searchParams.get("state"), wider.state);
  const other = await relyingParty((await publicApp()).client_id);
  const oreq = await request(other, { prompt: "none" });
  const ocb = callback(await first.browser.get(oreq.url.href));
  assert.equal(ocb.searchParams.get("error"), "consent_required");
  assert.equal(ocb.searchParams.get("code"), null);
  await assert.rejects(redeem(other, ocb, oreq), (e) => e.error === "consent_required");
  // Not signed in: shown here (RFC 9700 §4.11.2), never redirected.
  await assertErrorPage(await new Browser().get(req.url.href), "app_request");
});

test("prompt=login: a signed-in browser sees the sign-in page, then consent; auth_time is the new sign-in", async () => {
  const app = await publicApp();
  const config = await relyingParty(app.client_id);
  const first = await login(config);
  // Without prompt the session answers: the consent page, no password field.
  const plain = await first.browser.get((await request(config)).url.href);
  assert.doesNotMatch(await plain.text(), /name="password"/);
  await sleep(1100);
  const req = await request(config, { prompt: "login" });
  const page = await first.browser.get(req.url.href);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(html, /name="password"/, "the sign-in page, though a session exists");
  const consent = await signIn(w.url, first.browser, html, ann);
  const consentHtml = await consent.text();
  assert.equal(consent.status, 200, consentHtml);
  assert.doesNotMatch(consentHtml, /name="password"/);
  assert.match(consentHtml, /name="action" value="approve"/, "then the consent page");
  const cb = callback(await first.browser.post(w.url + "/authorize", { ...formFields(consentHtml), action: "approve" }));
  const tokens = await redeem(config, cb, req);
  const claims = await assertIdToken(tokens, { clientId: app.client_id, nonce: req.nonce });
  assert.ok(claims.auth_time > first.claims.auth_time, `auth_time ${claims.auth_time} after ${first.claims.auth_time}`);
});

test("max_age: a sign-in older than it shows the sign-in page again; a longer one does not", async () => {
  const app = await publicApp();
  const config = await relyingParty(app.client_id);
  const first = await login(config);
  await sleep(2100);
  const long = await first.browser.get((await request(config, { max_age: "3600" })).url.href);
  const longHtml = await long.text();
  assert.equal(long.status, 200);
  assert.doesNotMatch(longHtml, /name="password"/, "max_age=3600: the session answers");
  const req = await request(config, { max_age: "1" });
  const page = await first.browser.get(req.url.href);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(html, /name="password"/, "max_age=1 after 2 s: sign in again");
  const consent = await signIn(w.url, first.browser, html, ann);
  const consentHtml = await consent.text();
  assert.equal(consent.status, 200, consentHtml);
  const cb = callback(await first.browser.post(w.url + "/authorize", { ...formFields(consentHtml), action: "approve" }));
  const tokens = await redeem(config, cb, req, { maxAge: 1 });
  const claims = await assertIdToken(tokens, { clientId: app.client_id, nonce: req.nonce });
  assert.ok(claims.auth_time > first.claims.auth_time);
  assert.ok(claims.auth_time >= nowSeconds() - 3);
});

test("max_age=0 is prompt=login (Core §3.1.2.1): sign in again once, then approve after a moment", async () => {
  const app = await publicApp();
  const config = await relyingParty(app.client_id);
  const first = await login(config);
  await sleep(1100);
  const req = await request(config, { max_age: "0" });
  const page = await first.browser.get(req.url.href);
  const html = await page.text();
  assert.match(html, /name="password"/, "a session older than 0 s: sign in again");
  const consent = await signIn(w.url, first.browser, html, ann);
  const consentHtml = await consent.text();
  assert.match(consentHtml, /name="action" value="approve"/, "after signing in, the consent page");
  await sleep(1100); // the person reads the consent page
  const res = await first.browser.post(w.url + "/authorize", { ...formFields(consentHtml), action: "approve" });
  const body = await res.clone().text();
  const again = /name="password"/.test(body);
  assert.equal(res.status, 302, again ? "Approve a second after signing in for max_age=0 shows the sign-in page again: no one gets through" : body.slice(0, 300));
  const tokens = await redeem(config, callback(res), req, { maxAge: 0 });
  const claims = await assertIdToken(tokens, { clientId: app.client_id, nonce: req.nonce });
  assert.ok(claims.auth_time > first.claims.auth_time);
});

test("login_hint fills in the email field of the sign-in page, escaped", async () => {
  const config = await relyingParty((await publicApp()).client_id);
  const emailInput = async (extra) => {
    const res = await new Browser().get((await request(config, extra)).url.href);
    const html = await res.text();
    assert.equal(res.status, 200, html);
    const input = html.match(/<input id="email"[^>]*>/);
    assert.ok(input, "the sign-in page has the email field");
    return input[0];
  };
  assert.match(await emailInput({ login_hint: "ann@example.com" }), / value="ann@example\.com"/);
  assert.doesNotMatch(await emailInput({}), / value=/);
  const hostile = await emailInput({ login_hint: 'x"><script>alert(1)</script>@example.com' });
  assert.doesNotMatch(hostile, /<script>/);
  assert.match(hostile, / value="x&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;@example\.com"/);
});

test("prompt values other than none, login, consent, select_account, and none with another, are invalid_request", async () => {
  const app = await publicApp();
  const config = await relyingParty(app.client_id);
  const { browser } = await login(config);
  for (const prompt of ["bogus", "none login", "none consent", "login bogus"]) {
    const req = await request(config, { prompt });
    const cb = callback(await browser.get(req.url.href));
    assert.equal(cb.searchParams.get("error"), "invalid_request", prompt);
    assert.equal(cb.searchParams.get("state"), req.state, prompt);
  }
  // The supported ones: consent shows consent, select_account the sign-in page.
  const consent = await browser.get((await request(config, { prompt: "consent" })).url.href);
  assert.match(await consent.text(), /name="action" value="approve"/);
  const select = await browser.get((await request(config, { prompt: "select_account" })).url.href);
  assert.match(await select.text(), /name="password"/);
  // Not signed in: the error page, no redirect.
  await assertErrorPage(await new Browser().get((await request(config, { prompt: "bogus" })).url.href), "app_request");
});

// ---------------------------------------------------------------------------------------
// 7. Roles from the upstream provider's groups claim

/** The sign-in page `page` (a path or URL) → the provider, as `sub` → the Worker's redirect after its callback. */
async function viaProvider(page, sub) {
  const worker = new Browser();
  const idp = new Browser();
  const res = await worker.get(new URL(page, w.url).href);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  const form = html.match(/<form method="post" action="\/signin\/start"[^>]*>([\s\S]*?)<\/form>/);
  assert.ok(form, "the sign-in page offers the provider");
  const start = await worker.post(w.url + "/signin/start", { ...formFields(form[1]), provider: "corp" });
  assert.equal(start.status, 303, await start.text());
  let url = new URL(start.headers.get("location"), w.url).href;
  for (let i = 0; i < 12 && !url.startsWith(w.url + "/"); i++) {
    const r = await idp.get(url);
    if (r.status >= 300 && r.status < 400) {
      await r.arrayBuffer();
      url = new URL(r.headers.get("location"), url).href;
      continue;
    }
    const text = await r.text();
    assert.equal(r.status, 200, text.slice(0, 300));
    const f = text.match(/<form\b[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/);
    assert.ok(f, "a form on the provider's page");
    const action = new URL(f[1].replaceAll("&amp;", "&"), url).href;
    const prompt = f[2].match(/name="prompt" value="([^"]*)"/)[1];
    const sent = await idp.post(action, prompt === "login" ? { prompt, login: sub, password: "any password" } : { prompt });
    await sent.arrayBuffer();
    url = new URL(sent.headers.get("location"), action).href;
  }
  assert.ok(url.startsWith(w.url + "/signin/callback/corp"), url);
  const back = await worker.get(url);
  const text = await back.text();
  assert.equal(back.status, 303, text);
  return { worker, to: new URL(back.headers.get("location"), w.url) };
}

/** A person at the provider in `groups`, signed in through it to a new app for mcp:manage. */
async function adminViaProvider(groups) {
  const sub = `person-${++count}`;
  op.account(sub, { email: `${sub}@example.com`, email_verified: true, name: `Person ${count}` });
  groupsAt.set(sub, groups);
  const app = await publicApp();
  const config = await relyingParty(app.client_id);
  const req = await request(config, { scope: "openid mcp:read mcp:manage offline_access" });
  const { worker, to } = await viaProvider(req.url.href, sub);
  assert.equal(to.pathname, "/authorize", "back to the request");
  const consent = await worker.get(to.href);
  const html = await consent.text();
  assert.equal(consent.status, 200, html);
  const cb = callback(await worker.post(w.url + "/authorize", { ...formFields(html), action: "approve" }));
  const tokens = await redeem(config, cb, req);
  const identity = await w.db.prepare("SELECT user_id FROM identities WHERE provider = ?1 AND subject = ?2").bind("oidc:" + op.issuer, sub).first();
  assert.ok(identity, "the provider's person is a person here");
  const user = { id: identity.user_id };
  await assertIdToken(tokens, { clientId: app.client_id, nonce: req.nonce, user });
  return { sub, app, config, tokens, user };
}

test("roles from the provider's groups claim give mcp:manage; a sign-in without the group narrows the next refresh", async () => {
  const { sub, app, config, tokens, user } = await adminViaProvider(["mcp-admins", "staff"]);
  assert.deepEqual(sorted(tokens.scope), ["mcp:manage", "mcp:read", "offline_access", "openid"]);
  assert.deepEqual(decodeJwt(tokens.access_token).roles, ["admin"]);
  const roles = await rolesOf(user.id);
  assert.deepEqual(roles.map((r) => [r.role, r.source]), [["admin", "provider:corp"]], "only the mapped group counts");
  assert.ok(roles[0].expires_at > nowSeconds() + 3600, "held until max_age_seconds (a day by default)");
  const kept = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(kept.scope.split(" ").includes("mcp:manage"), "still in the group: kept");
  // The provider drops the group; the person signs in again through it (the account page).
  groupsAt.set(sub, ["staff"]);
  const again = await viaProvider("/account", sub);
  assert.equal(again.to.pathname, "/account");
  assert.deepEqual(await rolesOf(user.id), [], "the provider's roles are replaced at sign-in");
  const narrowed = await client.refreshTokenGrant(config, kept.refresh_token);
  assert.deepEqual(sorted(narrowed.scope), ["mcp:read", "offline_access", "openid"]);
  assert.equal(decodeJwt(narrowed.access_token).roles, undefined);
  const claims = await assertIdToken(narrowed, { clientId: app.client_id, nonce: undefined, user });
  assert.equal(claims.sub, tokens.claims().sub);
  const rows = await audits("scope_narrowed", user.id);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.equal(rows[0].client_id, app.client_id);
  assert.match(rows[0].detail, /mcp:manage/);
});

test("roles from the provider lapse at user_roles.expires_at: the next refresh narrows", async () => {
  const { config, tokens, user, app } = await adminViaProvider(["mcp-admins"]);
  assert.ok(tokens.scope.split(" ").includes("mcp:manage"));
  const kept = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(kept.scope.split(" ").includes("mcp:manage"), "not yet expired: kept");
  assert.equal((await audits("scope_narrowed", user.id)).length, 0);
  await w.db.prepare("UPDATE user_roles SET expires_at = 1 WHERE user_id = ?1").bind(user.id).run();
  const narrowed = await client.refreshTokenGrant(config, kept.refresh_token);
  assert.deepEqual(sorted(narrowed.scope), ["mcp:read", "offline_access", "openid"]);
  await assertIdToken(narrowed, { clientId: app.client_id, nonce: undefined, user });
  const rows = await audits("scope_narrowed", user.id);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.match(rows[0].detail, /mcp:manage/);
});

