// private_key_jwt for client ID metadata documents (RFC 7523, OIDC Core §9), end to end
// over real HTTP: an app whose document publishes its keys (inline `jwks`, or `jwks_uri`
// fetched and kept in memory for its Cache-Control) proves who it is at /token, /revoke
// and /introspect with a JWT it signed (RS256, ES256 or EdDSA), whose iss = sub = its
// client_id, whose aud names this server, which is short lived, and whose jti is used
// once. A document may offer methods to choose from (RP Metadata Choices); documents whose
// keys or methods are not usable are refused; dynamic registration cannot ask for it;
// every bad assertion is the same invalid_client; a jwks_uri that cannot be fetched is
// 429 "later", not "forget yourself"; and discovery says what is accepted.
//
// Two Workers, each answered by the same document server on `outbound`:
//   main – metadata documents on (the default), high fetch and registration allowances
//   off  – CLIENT_METADATA_DOCUMENTS=off (for discovery only)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, codeFor, exchange, token, register, pkcePair, authorizeUrl } from "./helpers/oauth.mjs";
import { initialize } from "./helpers/mcp.mjs";
import { unsignedJwt } from "./helpers/jwt.mjs";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// ---------------------------------------------------------------------------------------
// The document server: answers exactly the URLs a test gave it (documents and JWK Sets),
// 404 for anything else, and remembers every URL the Worker fetched.

function documentServer() {
  const routes = new Map();
  const fetched = [];
  async function outbound(req) {
    fetched.push(req.url);
    const answer = routes.get(req.url);
    return answer ? answer(req) : new Response("not here", { status: 404 });
  }
  /** Serves `body` as JSON at `url` (with `cacheControl` unless null). */
  function serve(url, body, { cacheControl = "max-age=300" } = {}) {
    const headers = { "Content-Type": "application/json" };
    if (cacheControl) headers["Cache-Control"] = cacheControl;
    routes.set(url, () => new Response(JSON.stringify(body), { headers }));
  }
  /** `url` answers `status`. */
  const fail = (url, status) => routes.set(url, () => new Response("failing", { status, headers: { "Content-Type": "text/plain" } }));
  /** How many times the Worker fetched `url`. */
  const count = (url) => fetched.filter((f) => f === url).length;
  return { outbound, serve, fail, count, fetched };
}

const docs = documentServer();
let main, off, alice;
before(async () => {
  [main, off] = await Promise.all([
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000", METADATA_FETCHES_PER_MINUTE: "10000" }, outbound: docs.outbound }),
    startWorker({ bindings: { REGISTER_RATE_LIMIT: "100000", CLIENT_METADATA_DOCUMENTS: "off" }, outbound: docs.outbound }),
  ]);
  alice = await createUser(main.db, "alice@example.com", "alice-password-1", "Alice");
});
after(() => Promise.all([main, off].map((w) => w?.stop())));

// ---------------------------------------------------------------------------------------
// Keys, apps and assertions.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unique = (prefix) => `${prefix}-${randomBytes(4).toString("hex")}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/**
 * A new key pair for `alg` (RS256, ES256 or EdDSA), made by jose: its private key and its
 * public JWK with `kid` (and whatever `jwkExtra` adds: use, alg).
 */
async function newKey(alg, kid = unique(alg.toLowerCase()), jwkExtra = {}) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, ...jwkExtra } };
}

/** The JWK Set of `keys`. */
const jwksOf = (...keys) => ({ keys: keys.map((k) => k.jwk) });

/**
 * Publishes a metadata document for a new app on its own host and returns it as a client
 * ({ client_id, redirect_uris, jwksUri }). `fields` are the document's own (jwks,
 * token_endpoint_auth_method, ...); `jwksUri: set` also publishes `set` at
 * https://<host>/jwks.json (with `cacheControl`) and names it as the document's jwks_uri.
 */
function newApp(fields = {}, { jwksUri, cacheControl = "max-age=300" } = {}) {
  const host = `${unique("app")}.example`;
  const client_id = `https://${host}/client.json`;
  const redirect_uris = [`https://${host}/cb`];
  const doc = { client_id, client_name: "Key App " + host, redirect_uris, token_endpoint_auth_method: "private_key_jwt", ...fields };
  let uri;
  if (jwksUri) {
    uri = `https://${host}/jwks.json`;
    doc.jwks_uri = uri;
    docs.serve(uri, jwksUri, { cacheControl });
  }
  for (const [k, v] of Object.entries(doc)) if (v === undefined) delete doc[k];
  docs.serve(client_id, doc);
  return { client_id, redirect_uris, jwksUri: uri, doc };
}

/**
 * A client assertion for `app` signed by `key` with jose: iss = sub = the app, aud = the
 * Worker's issuer, exp two minutes ahead, iat now, a fresh jti; `claims` replace or add,
 * `omit` removes, `header` adds to { alg, kid }.
 */
function assertion(w, app, key, { claims = {}, omit = [], header = {} } = {}) {
  const now = nowSeconds();
  const payload = { iss: app.client_id, sub: app.client_id, aud: w.url, iat: now, exp: now + 120, jti: unique("jti"), ...claims };
  for (const name of omit) delete payload[name];
  const protectedHeader = { alg: key.alg, kid: key.kid, ...header };
  for (const [k, v] of Object.entries(protectedHeader)) if (v === undefined) delete protectedHeader[k];
  return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.privateKey);
}

/** The payload `assertion` would sign, for hand-made tokens. */
function claimsFor(w, app, extra = {}) {
  const now = nowSeconds();
  return { iss: app.client_id, sub: app.client_id, aud: w.url, iat: now, exp: now + 120, jti: unique("jti"), ...extra };
}

/** Hand-made: `header.payload` signed with WebCrypto by `key` (for headers jose will not sign, such as crit). */
async function signRaw(key, header, payload) {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const algorithm = { RS256: { name: "RSASSA-PKCS1-v1_5" }, ES256: { name: "ECDSA", hash: "SHA-256" }, EdDSA: { name: "Ed25519" } }[key.alg];
  const signature = await crypto.subtle.sign(algorithm, key.privateKey, new TextEncoder().encode(input));
  return `${input}.${Buffer.from(signature).toString("base64url")}`;
}

/** Hand-made: an HS256 token with `secret`. */
function hs256(header, payload, secret) {
  const input = `${b64url({ ...header, alg: "HS256" })}.${b64url(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** The form fields of private_key_jwt. */
const auth = (jwt) => ({ client_assertion_type: JWT_BEARER, client_assertion: jwt });

/** POSTs a form to `path` of the Worker `w`. */
async function postForm(w, path, fields, headers = {}) {
  const res = await fetch(w.url + path, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

const refresh = (w, app, refreshToken, extra = {}) =>
  token(w.url, { grant_type: "refresh_token", refresh_token: refreshToken, client_id: app.client_id, ...extra });

/** A 401 invalid_client; returns its description (which must not tell causes apart). */
function assertInvalidClient(r, what) {
  assert.equal(r.status, 401, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, "invalid_client", `${what}: ${JSON.stringify(r.body)}`);
  return r.body.error_description;
}

function assertOk(r, what) {
  assert.equal(r.status, 200, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
}

function assertInvalidRequest(r, what) {
  assert.equal(r.status, 400, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, "invalid_request", `${what}: ${JSON.stringify(r.body)}`);
}

/** A 429 temporarily_unavailable with a Retry-After of some seconds: never invalid_client. */
function assertSlowDown(r, what) {
  assert.equal(r.status, 429, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error, "temporarily_unavailable", `${what}: ${JSON.stringify(r.body)}`);
  const retryAfter = r.headers.get("retry-after");
  assert.ok(/^\d+$/.test(retryAfter ?? "") && Number(retryAfter) > 0 && Number(retryAfter) <= 3600, `${what}: Retry-After ${retryAfter}`);
}

/** The HTML error page of `kind` (data-error) at /authorize: never a redirect. */
async function assertErrorPage(res, kind, status, what) {
  const html = await res.text();
  assert.equal(res.status, status, `${what}: ${html.slice(0, 300)}`);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/, what);
  assert.equal(res.headers.get("location"), null, what);
  assert.match(html, new RegExp(`data-error="${kind}"`), `${what}: ${html.slice(0, 300)}`);
}

/** GET /authorize for `app`, signed out, without following redirects. */
const openAuthorize = (w, app) => fetch(authorizeUrl(w.url, app, { challenge: pkcePair().challenge }), { redirect: "manual" });

/**
 * The whole life of a private_key_jwt app's grant: code with PKCE approved by Alice,
 * exchanged with an assertion (aud `codeAud`), the access token used at /mcp, refreshed
 * with a new assertion (aud a one-member array naming the token endpoint), the new access
 * token introspected (active), the refresh token revoked, and refreshing refused after.
 */
async function fullKeyFlow(w, app, key, codeAud) {
  const c = await codeFor(w, alice, app);
  const t = await exchange(w, app, c, auth(await assertion(w, app, key, { claims: { aud: codeAud } })));
  assertOk(t, `${key.alg} code exchange`);
  assert.ok(t.body.access_token && t.body.refresh_token, JSON.stringify(t.body));
  const session = await initialize(w.url, t.body.access_token);
  assert.ok(session.result?.serverInfo, "initialize with the access token");

  const r = await refresh(w, app, t.body.refresh_token, auth(await assertion(w, app, key, { claims: { aud: [w.url + "/token"] } })));
  assertOk(r, `${key.alg} refresh`);
  assert.ok(r.body.access_token && r.body.refresh_token, JSON.stringify(r.body));
  await initialize(w.url, r.body.access_token);

  // Introspection without client_id: the assertion's sub names the app.
  const i = await postForm(w, "/introspect", { token: r.body.access_token, ...auth(await assertion(w, app, key)) });
  assertOk(i, `${key.alg} introspect`);
  assert.equal(i.body.active, true, JSON.stringify(i.body));
  assert.equal(i.body.client_id, app.client_id, JSON.stringify(i.body));

  const rv = await postForm(w, "/revoke", { token: r.body.refresh_token, token_type_hint: "refresh_token", client_id: app.client_id, ...auth(await assertion(w, app, key)) });
  assertOk(rv, `${key.alg} revoke`);
  const after = await refresh(w, app, r.body.refresh_token, auth(await assertion(w, app, key)));
  assert.equal(after.status, 400, `refresh after revocation: ${after.status} ${JSON.stringify(after.body)}`);
  assert.equal(after.body.error, "invalid_grant", JSON.stringify(after.body));
  const gone = await postForm(w, "/introspect", { token: r.body.refresh_token, ...auth(await assertion(w, app, key)) });
  assertOk(gone, "introspect the revoked refresh token");
  assert.equal(gone.body.active, false, JSON.stringify(gone.body));
}

// =======================================================================================
// 1. Full flows for each algorithm, keys inline and at a jwks_uri

for (const alg of ["RS256", "ES256", "EdDSA"]) {
  // Each algorithm is verified by WebCrypto in workerd only; this is the one place a real signature of each kind is checked end to end.
  test(`1 ${alg}: a document with inline jwks and one with a jwks_uri each complete code, /mcp, refresh, introspect, revoke`, async () => {
    const key = await newKey(alg, undefined, alg === "RS256" ? { use: "sig" } : alg === "EdDSA" ? { alg: "EdDSA" } : {});
    const inline = newApp({ jwks: jwksOf(key) });
    await fullKeyFlow(main, inline, key, main.url);

    const other = await newKey(alg);
    const atUri = newApp({}, { jwksUri: jwksOf(other), cacheControl: "max-age=600" });
    await fullKeyFlow(main, atUri, other, main.url + "/token");
    // Six assertions checked, one fetch of the set: it was kept for its Cache-Control.
    assert.equal(docs.count(atUri.jwksUri), 1, `jwks_uri fetched ${docs.count(atUri.jwksUri)} times`);
    // The inline app's key does not sign for the jwks_uri app, nor the reverse.
    assertInvalidClient(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, atUri, key, { header: { kid: other.kid } })) }), "inline key for the uri app");
    assertInvalidClient(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, inline, other, { header: { kid: key.kid } })) }), "uri key for the inline app");
  });
}

// =======================================================================================
// 2. RP Metadata Choices

// An app that offers private_key_jwt and publishes keys must be held to it: otherwise anyone who knows its URL could redeem as a public client.
test("2a offering [private_key_jwt, none] or [none, private_key_jwt] with keys gets private_key_jwt: client_id alone is refused, an assertion works", async () => {
  for (const [offered, keyAt] of [
    [["private_key_jwt", "none"], "jwks"],
    [["none", "private_key_jwt"], "jwks_uri"],
  ]) {
    const key = await newKey("ES256");
    const app =
      keyAt === "jwks"
        ? newApp({ token_endpoint_auth_method: undefined, token_endpoint_auth_methods_supported: offered, jwks: jwksOf(key) })
        : newApp({ token_endpoint_auth_method: undefined, token_endpoint_auth_methods_supported: offered }, { jwksUri: jwksOf(key) });
    const what = `${JSON.stringify(offered)} with ${keyAt}`;
    const c = await codeFor(main, alice, app);
    assertInvalidClient(await exchange(main, app, c), `${what}: the code redeemed by client_id alone`);
    const t = await exchange(main, app, c, auth(await assertion(main, app, key)));
    assertOk(t, `${what}: with an assertion (the refused attempt did not spend the code)`);
    assertInvalidClient(await refresh(main, app, t.body.refresh_token), `${what}: refresh by client_id alone`);
    assertOk(await refresh(main, app, t.body.refresh_token, auth(await assertion(main, app, key))), `${what}: refresh with an assertion`);
  }
});

// A document may offer private_key_jwt before it has keys; it must then still work as the public client it also offers to be.
test("2b offering both methods without keys gets none: the app is a public client, and an assertion is not its method", async () => {
  const key = await newKey("EdDSA");
  const app = newApp({ token_endpoint_auth_method: undefined, token_endpoint_auth_methods_supported: ["private_key_jwt", "none"] });
  const c = await codeFor(main, alice, app);
  const t = await exchange(main, app, c);
  assertOk(t, "a public client's code exchange");
  assert.ok(t.body.refresh_token, JSON.stringify(t.body));
  assertInvalidClient(await refresh(main, app, t.body.refresh_token, auth(await assertion(main, app, key))), "an assertion from a public client");
  // Introspection is for confidential clients only.
  assertInvalidClient(await postForm(main, "/introspect", { token: t.body.access_token, client_id: app.client_id }), "introspection by a public client");
  assertOk(await refresh(main, app, t.body.refresh_token), "a public client's refresh");
});

// =======================================================================================
// 3. Bad assertions: all the same invalid_client, and none of them spends anything

// Each rule of RFC 7523 §3 is a way to forge or replay an assertion; each must be refused, and a refusal must not record the jti or spend the code.
test("3a every bad assertion is invalid_client with one description; none of them spends the code or the jti", async () => {
  const key = await newKey("ES256", "k1");
  const enc = await newKey("ES256", "enc1", { use: "enc" });
  const app = newApp({ jwks: jwksOf(key, enc) });
  // Another app whose document lists the very same key: only the claims tell them apart.
  const twin = newApp({ jwks: jwksOf(key) });
  const impostor = await newKey("ES256", "k1"); // another key pair under the same kid
  const unlisted = await newKey("EdDSA"); // a key no document lists
  const c = await codeFor(main, alice, app);
  const now = nowSeconds();
  const jti = unique("shared-jti"); // every bad assertion below carries this jti
  const bad = (opts = {}) => assertion(main, app, key, { ...opts, claims: { jti, ...opts.claims } });
  const payload = claimsFor(main, app, { jti });
  const descriptions = new Set();
  const refused = (r, what) => descriptions.add(assertInvalidClient(r, what));

  const cases = [
    ["wrong key, same kid", await assertion(main, app, impostor, { claims: { jti } })],
    ["unknown kid", await bad({ header: { kid: "nobody" } })],
    ["a key marked use=enc", await assertion(main, app, enc, { claims: { jti } })],
    ["a key the document does not list", await assertion(main, app, unlisted, { claims: { jti } })],
    ["alg none", unsignedJwt({ kid: "k1", typ: "JWT" }, payload)],
    ["alg none, no signature part at all", unsignedJwt({ kid: "k1" }, payload).slice(0, -1)],
    ["HS256 with a made-up secret", hs256({ kid: "k1" }, payload, "any-secret")],
    ["HS256 keyed with the public JWK", hs256({ kid: "k1" }, payload, JSON.stringify(key.jwk))],
    ["a crit header", await signRaw(key, { alg: "ES256", kid: "k1", crit: ["exp"] }, payload)],
    ["signature of another payload", (await bad()).split(".").slice(0, 2).join(".") + "." + (await bad({ claims: { extra: 1 } })).split(".")[2]],
    ["wrong iss", await bad({ claims: { iss: twin.client_id } })],
    ["wrong sub", await bad({ claims: { sub: twin.client_id } })],
    ["no iss", await bad({ omit: ["iss"] })],
    ["aud another server", await bad({ claims: { aud: "https://other-server.example" } })],
    ["aud another server's token endpoint", await bad({ claims: { aud: ["https://other-server.example/token"] } })],
    ["aud the revoke endpoint", await bad({ claims: { aud: main.url + "/revoke" } })],
    // Several audiences: any server named could replay it here (audience injection).
    ["aud this server among others", await bad({ claims: { aud: ["https://someone-else.example", main.url] } })],
    ["aud the issuer with a trailing slash", await bad({ claims: { aud: main.url + "/" } })],
    ["no aud", await bad({ omit: ["aud"] })],
    ["no exp", await bad({ omit: ["exp"] })],
    ["exp a string", await bad({ claims: { exp: String(now + 60) } })],
    ["expired beyond the leeway", await bad({ claims: { iat: now - 300, exp: now - 60 } })],
    ["exp an hour ahead", await bad({ claims: { exp: now + 3600 } })],
    ["exp 11 minutes ahead", await bad({ claims: { exp: now + 660 } })],
    ["nbf in the future", await bad({ claims: { nbf: now + 300 } })],
    ["iat in the future", await bad({ claims: { iat: now + 300 } })],
    ["no jti", await bad({ omit: ["jti"] })],
    ["empty jti", await assertion(main, app, key, { claims: { jti: "" } })],
    ["jti of 257 characters", await assertion(main, app, key, { claims: { jti: "j".repeat(257) } })],
    ["not a JWT", "not-a-jwt"],
  ];
  for (const [what, jwt] of cases) {
    refused(await exchange(main, app, c, auth(jwt)), `/token: ${what}`);
    refused(await postForm(main, "/introspect", { token: "x", client_id: app.client_id, ...auth(jwt) }), `/introspect: ${what}`);
  }
  // client_id naming another app (which lists the same key) than the assertion's sub.
  const mine = await bad();
  refused(await exchange(main, app, c, { ...auth(mine), client_id: twin.client_id }), "client_id not the assertion's sub");
  // Without client_id, sub names the app: the twin's sub under the app's iss is refused.
  refused(
    await token(main.url, { grant_type: "authorization_code", code: c.code, code_verifier: c.verifier, redirect_uri: app.redirect_uris[0], resource: main.url + "/mcp", ...auth(await bad({ claims: { sub: twin.client_id } })) }),
    "sub naming the twin, no client_id",
  );
  assert.equal(descriptions.size, 1, `invalid_client descriptions differ by cause: ${JSON.stringify([...descriptions])}`);

  // Nothing was spent: a good assertion carrying the same jti redeems the same code.
  const good = await assertion(main, app, key, { claims: { jti } });
  const t = await exchange(main, app, c, auth(good));
  assertOk(t, "the good assertion after every refusal");
  // Its replay is refused, at /token and anywhere else.
  refused(await refresh(main, app, t.body.refresh_token, auth(good)), "the good assertion replayed at /token");
  refused(await postForm(main, "/introspect", { token: t.body.access_token, ...auth(good) }), "the good assertion replayed at /introspect");
  // The same jti in a newly signed assertion is refused too.
  refused(await refresh(main, app, t.body.refresh_token, auth(await assertion(main, app, key, { claims: { jti } }))), "a new assertion with a used jti");
  // A jti used at /token is spent at /revoke and /introspect too.
  const jti2 = unique("jti2");
  const r = await refresh(main, app, t.body.refresh_token, auth(await assertion(main, app, key, { claims: { jti: jti2 } })));
  assertOk(r, "refresh with a fresh jti");
  refused(await postForm(main, "/revoke", { token: r.body.refresh_token, ...auth(await assertion(main, app, key, { claims: { jti: jti2 } })) }), "the same jti at /revoke");
  refused(await postForm(main, "/introspect", { token: r.body.access_token, ...auth(await assertion(main, app, key, { claims: { jti: jti2 } })) }), "the same jti at /introspect");
  // The refused replays spent nothing either: the refresh token still refreshes.
  const r2 = await refresh(main, app, r.body.refresh_token, auth(await assertion(main, app, key)));
  assertOk(r2, "refresh with a fresh jti after the replays");
  // The jti is the app's own: the twin may use the same one.
  assertOk(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, twin, key, { claims: { jti } })) }), "another app using the same jti");
  assert.equal(descriptions.size, 1, `invalid_client descriptions differ by cause: ${JSON.stringify([...descriptions])}`);
});

// The leeways and the key choice must accept what a careful client sends, or interoperable apps are refused.
test("3b what is accepted: 30 s of clock skew either way, exp up to 10 min ahead, no kid with one key of the type, aud a one-member array", async () => {
  const key = await newKey("RS256");
  const app = newApp({ jwks: jwksOf(key) });
  const now = nowSeconds();
  const ok = async (what, jwt) => assertOk(await postForm(main, "/introspect", { token: "x", ...auth(await jwt) }), what);
  await ok("exp 10 s ago (within the leeway)", assertion(main, app, key, { claims: { iat: now - 100, exp: now - 10 } }));
  await ok("exp 10 minutes ahead", assertion(main, app, key, { claims: { exp: now + 600 } }));
  await ok("nbf and iat 10 s ahead", assertion(main, app, key, { claims: { nbf: now + 10, iat: now + 10 } }));
  await ok("no iat", assertion(main, app, key, { omit: ["iat"] }));
  await ok("no kid, the only RSA key", assertion(main, app, key, { header: { kid: undefined } }));
  await ok("aud an array of the token endpoint alone", assertion(main, app, key, { claims: { aud: [main.url + "/token"] } }));
  await ok("a jti of 256 characters", assertion(main, app, key, { claims: { jti: randomBytes(192).toString("base64url") } }));
});

// A document that binds its assertions to one algorithm must not be signed for with another of its keys (RFC 7591 token_endpoint_auth_signing_alg).
test("3c token_endpoint_auth_signing_alg binds assertions to that algorithm, even with a listed key of another", async () => {
  const ec = await newKey("ES256");
  const rsa = await newKey("RS256");
  const bound = newApp({ jwks: jwksOf(ec, rsa), token_endpoint_auth_signing_alg: "ES256" });
  const free = newApp({ jwks: jwksOf(ec, rsa) });
  assertInvalidClient(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, bound, rsa)) }), "RS256 for an ES256-bound app");
  assertOk(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, bound, ec)) }), "ES256 for an ES256-bound app");
  // The same RSA key works for a document that binds nothing: the refusal was the binding's.
  assertOk(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, free, rsa)) }), "RS256 for an unbound app");
});

// =======================================================================================
// 4. Key rotation through jwks_uri

// Apps rotate keys by publishing the new one beside the old: a new kid must be picked up without waiting out the cache, yet unknown kids must not let anyone make the Worker fetch on every request.
test("4a a key rotated in at the jwks_uri is fetched anew for its kid, at most once a minute per URL", async () => {
  const a = await newKey("EdDSA", "key-a");
  const b = await newKey("EdDSA", "key-b");
  const app = newApp({}, { jwksUri: jwksOf(a), cacheControl: "max-age=3600" });
  const c = await codeFor(main, alice, app);
  const t = await exchange(main, app, c, auth(await assertion(main, app, a)));
  assertOk(t, "code exchange with key A");
  const firstFetch = Date.now();
  assert.equal(docs.count(app.jwksUri), 1);
  const r = await refresh(main, app, t.body.refresh_token, auth(await assertion(main, app, a)));
  assertOk(r, "refresh with key A");
  assert.equal(docs.count(app.jwksUri), 1, "the set was fetched again for a key it had");

  // The app publishes [A, B]. Within a minute of the last fetch, kid B does not fetch
  // again: the set fetched a moment ago answers, without B.
  docs.serve(app.jwksUri, jwksOf(a, b), { cacheControl: "max-age=3600" });
  assertInvalidClient(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, app, b)) }), "kid B within the minute");
  assert.equal(docs.count(app.jwksUri), 1, "fetched again for a new kid within a minute of the last fetch");

  await sleep(Math.max(0, firstFetch + 61_000 - Date.now()));
  const rb = await refresh(main, app, r.body.refresh_token, auth(await assertion(main, app, b)));
  assertOk(rb, "refresh with key B a minute later");
  assert.equal(docs.count(app.jwksUri), 2, "kid B did not make one fetch");
  // Both keys now come from the copy: no more fetches, whatever the kid.
  assertOk(await postForm(main, "/introspect", { token: rb.body.access_token, ...auth(await assertion(main, app, b)) }), "key B again");
  assertOk(await postForm(main, "/introspect", { token: rb.body.access_token, ...auth(await assertion(main, app, a)) }), "key A still");
  // An unknown kid within the minute of that fetch: refused from the set held, no fetch.
  for (let i = 0; i < 3; i++) {
    assertInvalidClient(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, app, b, { header: { kid: "key-c" } })) }), `unknown kid ${i}`);
  }
  assert.equal(docs.count(app.jwksUri), 2, `unknown kids fetched the set again: ${docs.count(app.jwksUri)} fetches`);
});

// =======================================================================================
// 5. A jwks_uri that cannot be fetched

// invalid_client tells an app to forget itself; a key host that is down for a moment must instead say "later", and spend nothing.
test("5a a jwks_uri answering 503 with no copy held is 429 temporarily_unavailable with Retry-After; the code survives", async () => {
  const key = await newKey("ES256");
  const app = newApp({}, { jwksUri: jwksOf(key) });
  docs.fail(app.jwksUri, 503);
  const c = await codeFor(main, alice, app);
  assertSlowDown(await exchange(main, app, c, auth(await assertion(main, app, key))), "code exchange while the jwks_uri answers 503");
  assert.equal(docs.count(app.jwksUri), 1, "the jwks_uri was not tried");
  assertSlowDown(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, app, key)) }), "introspection while the jwks_uri answers 503");
  // The host is back: the same code redeems (neither the code nor the jti was spent).
  docs.serve(app.jwksUri, jwksOf(key));
  assertOk(await exchange(main, app, c, auth(await assertion(main, app, key))), "code exchange once the jwks_uri answers");
});

// =======================================================================================
// 6. Documents and registrations that are refused

// A document whose keys cannot be trusted or checked must not become a client at all, neither at /authorize nor at /token.
test("6a documents with private_key_jwt but unusable keys or methods are refused: unknown at /authorize, invalid_client at /token", async () => {
  const key = await newKey("ES256");
  const set = jwksOf(key);
  const cases = [
    ["private_key_jwt without jwks or jwks_uri", {}],
    ["only private_key_jwt offered, no keys", { token_endpoint_auth_method: undefined, token_endpoint_auth_methods_supported: ["private_key_jwt"] }],
    ["both jwks and jwks_uri", { jwks: set, jwks_uri: "https://keys.example/jwks.json" }],
    ["jwks_uri on http:", { jwks_uri: "http://keys.example/jwks.json" }],
    ["jwks_uri with a query", { jwks_uri: "https://keys.example/jwks.json?v=1" }],
    ["jwks_uri on a loopback address", { jwks_uri: "https://127.0.0.1/jwks.json" }],
    ["token_endpoint_auth_signing_alg HS256", { jwks: set, token_endpoint_auth_signing_alg: "HS256" }],
    ["token_endpoint_auth_signing_alg none", { jwks: set, token_endpoint_auth_signing_alg: "none" }],
    ["an empty jwks", { jwks: { keys: [] } }],
    ["jwks of 11 keys", { jwks: { keys: Array.from({ length: 11 }, () => key.jwk) } }],
    ["jwks not a set", { jwks: [key.jwk] }],
    ["token_endpoint_auth_method client_secret_basic", { token_endpoint_auth_method: "client_secret_basic", jwks: set }],
    ["only client_secret_post offered", { token_endpoint_auth_method: undefined, token_endpoint_auth_methods_supported: ["client_secret_post"], jwks: set }],
  ];
  for (const [what, fields] of cases) {
    const app = newApp(fields);
    await assertErrorPage(await openAuthorize(main, app), "unknown_client", 400, what);
    assert.ok(docs.count(app.client_id) >= 1, `${what}: the document was never fetched`);
    assertInvalidClient(await refresh(main, app, "made-up-" + unique("rt"), auth(await assertion(main, app, key))), `${what}: /token`);
    assertInvalidClient(await postForm(main, "/introspect", { token: "x", ...auth(await assertion(main, app, key)) }), `${what}: /introspect`);
  }
  assert.equal(docs.count("https://keys.example/jwks.json"), 0, "a refused document's jwks_uri was fetched");
});

// Dynamic registration has nowhere to keep an app's keys: asking for private_key_jwt there must fail loudly rather than make a client that can never authenticate.
test("6b dynamic registration with private_key_jwt is 400 invalid_client_metadata", async () => {
  const key = await newKey("RS256");
  for (const keys of [{ jwks: jwksOf(key) }, { jwks_uri: "https://keys.example/registered.json" }, {}]) {
    const r = await register(main.url, {
      redirect_uris: ["http://127.0.0.1:9999/callback"],
      client_name: "Registered Key App",
      token_endpoint_auth_method: "private_key_jwt",
      grant_types: ["authorization_code", "refresh_token"],
      ...keys,
    });
    assert.equal(r.status, 400, `${JSON.stringify(keys)}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, "invalid_client_metadata", JSON.stringify(r.body));
  }
});

// =======================================================================================
// 7. Discovery

// Clients pick their authentication from the metadata: it must offer private_key_jwt and its algorithms exactly when documents (which carry the keys) are on.
test("7a discovery lists private_key_jwt and RS256/ES256/EdDSA with documents on, and neither with CLIENT_METADATA_DOCUMENTS=off", async () => {
  const algs = ["RS256", "ES256", "EdDSA"];
  for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
    const on = await (await fetch(main.url + path)).json();
    const all = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"];
    assert.deepEqual([...on.token_endpoint_auth_methods_supported].sort(), [...all].sort(), `${path} on: ${JSON.stringify(on.token_endpoint_auth_methods_supported)}`);
    assert.deepEqual([...on.revocation_endpoint_auth_methods_supported].sort(), [...all].sort(), `${path} on: revocation`);
    assert.deepEqual(
      [...on.introspection_endpoint_auth_methods_supported].sort(),
      ["client_secret_basic", "client_secret_post", "private_key_jwt"].sort(),
      `${path} on: introspection ${JSON.stringify(on.introspection_endpoint_auth_methods_supported)}`,
    );
    for (const endpoint of ["token", "revocation", "introspection"]) {
      assert.deepEqual(on[`${endpoint}_endpoint_auth_signing_alg_values_supported`], algs, `${path} on: ${endpoint} signing algs`);
    }
    assert.equal(on.client_id_metadata_document_supported, true, path);

    const offDoc = await (await fetch(off.url + path)).json();
    assert.deepEqual([...offDoc.token_endpoint_auth_methods_supported].sort(), ["client_secret_basic", "client_secret_post", "none"], `${path} off`);
    assert.deepEqual([...offDoc.revocation_endpoint_auth_methods_supported].sort(), ["client_secret_basic", "client_secret_post", "none"], `${path} off: revocation`);
    assert.deepEqual([...offDoc.introspection_endpoint_auth_methods_supported].sort(), ["client_secret_basic", "client_secret_post"], `${path} off: introspection`);
    for (const endpoint of ["token", "revocation", "introspection"]) {
      assert.equal(offDoc[`${endpoint}_endpoint_auth_signing_alg_values_supported`], undefined, `${path} off: ${endpoint} signing algs listed`);
    }
    assert.equal(offDoc.client_id_metadata_document_supported, false, path);
  }
});

// =======================================================================================
// 8. Mixed or half-sent credentials

// Two authentication methods at once, or half of one, is a malformed request (RFC 6749 §2.3), not a failed login; and none of it may spend the assertion.
test("8a an assertion with a secret or Basic auth, or without its type, is invalid_request; a wrong type is invalid_client; the assertion stays usable", async () => {
  const key = await newKey("ES256");
  const app = newApp({ jwks: jwksOf(key) });
  const c = await codeFor(main, alice, app);
  const jwt = await assertion(main, app, key);
  const basic = "Basic " + Buffer.from(`${encodeURIComponent(app.client_id)}:secret`).toString("base64");
  assertInvalidRequest(await exchange(main, app, c, { ...auth(jwt), client_secret: "secret" }), "assertion + client_secret");
  assertInvalidRequest(
    await token(main.url, { grant_type: "authorization_code", code: c.code, code_verifier: c.verifier, redirect_uri: app.redirect_uris[0], resource: main.url + "/mcp", ...auth(jwt) }, { Authorization: basic }),
    "assertion + Basic",
  );
  assertInvalidRequest(await exchange(main, app, c, { client_assertion: jwt }), "assertion without client_assertion_type");
  assertInvalidRequest(await exchange(main, app, c, { client_assertion_type: JWT_BEARER }), "client_assertion_type without an assertion");
  assertInvalidRequest(await postForm(main, "/introspect", { token: "x", client_assertion: jwt }), "/introspect: assertion without its type");
  assertInvalidRequest(await postForm(main, "/revoke", { token: "x", client_assertion: jwt, client_secret: "s", client_assertion_type: JWT_BEARER }), "/revoke: assertion + secret");
  // A parameter sent without a value is one not sent (OAuth 2.1): an assertion without its type.
  assertInvalidRequest(await exchange(main, app, c, { client_assertion_type: "", client_assertion: jwt }), "an empty client_assertion_type");
  for (const type of ["urn:ietf:params:oauth:client-assertion-type:saml2-bearer", "jwt-bearer", JWT_BEARER + " "]) {
    assertInvalidClient(await exchange(main, app, c, { client_assertion_type: type, client_assertion: jwt }), `client_assertion_type ${JSON.stringify(type)}`);
  }
  // Every refusal was before the assertion was checked: the same assertion redeems the code.
  assertOk(await exchange(main, app, c, auth(jwt)), "the assertion after the mixed requests");
});

