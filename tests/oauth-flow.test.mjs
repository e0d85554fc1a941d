// The authorization-code flow end to end: registration, sign-in and consent, code
// exchange, the JWT's claims, refresh rotation, userinfo, revocation.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { startWorker } from "./helpers/worker.mjs";
import { spliceJwt, verifyIssued } from "./helpers/jwt.mjs";
import { createUser, fullFlow, token, publicClient, register } from "./helpers/oauth.mjs";

let w, alice;
before(async () => {
  w = await startWorker();
  alice = await createUser(w.db, "alice@example.com", "alice-password-1", "Alice");
});
after(() => w?.stop());

test("a public client gets a code with state and iss, then tokens for /mcp", async () => {
  const { redirect, tokens, status, client } = await fullFlow(w.url, alice);
  assert.equal(redirect.origin + redirect.pathname, "http://127.0.0.1:9999/callback");
  assert.ok(redirect.searchParams.get("state"));
  assert.equal(redirect.searchParams.get("iss"), w.url);
  assert.equal(status, 200);
  assert.equal(tokens.token_type, "Bearer");
  assert.equal(tokens.expires_in, 3600);
  assert.ok(tokens.refresh_token.length >= 43);
  const h = decodeProtectedHeader(tokens.access_token);
  assert.equal(h.alg, "EdDSA");
  assert.equal(h.typ, "at+jwt");
  const claims = decodeJwt(tokens.access_token);
  assert.equal(claims.iss, w.url);
  assert.equal(claims.aud, w.url + "/mcp");
  assert.equal(claims.sub, alice.id);
  assert.equal(claims.client_id, client.client_id);
  assert.equal(claims.scope, "mcp:read mcp:write offline_access");
  assert.equal(claims.exp - claims.iat, 3600);
  assert.ok(claims.jti);
  // The signature verifies (jose, against the published JWKS key) with this issuer and
  // audience, and not once the claims are changed.
  const { keys } = await (await fetch(w.url + "/.well-known/jwks.json")).json();
  const jwk = keys.find((k) => k.kid === h.kid);
  assert.ok(jwk, "the token's kid is in the JWKS");
  const verified = await verifyIssued(w, tokens.access_token, { audience: w.url + "/mcp" });
  assert.deepEqual(verified.payload, claims);
  assert.deepEqual(verified.protectedHeader, h);
  const changed = spliceJwt(tokens.access_token, { payload: { ...claims, scope: "mcp:write" } });
  await assert.rejects(verifyIssued(w, changed, { audience: w.url + "/mcp" }), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
});

test("userinfo answers with the token and refuses without", async () => {
  const { tokens } = await fullFlow(w.url, alice, { scope: "mcp:read email profile" });
  const res = await fetch(w.url + "/userinfo", { headers: { Authorization: "Bearer " + tokens.access_token } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { sub: alice.id, email: "alice@example.com", email_verified: true, name: "Alice" });
  const none = await fetch(w.url + "/userinfo");
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate"), /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
});

test("refresh rotates; the old token again (successor unused) gives the same successor", async () => {
  const { tokens, client } = await fullFlow(w.url, alice);
  const r1 = await token(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
  assert.equal(r1.status, 200);
  assert.notEqual(r1.body.refresh_token, tokens.refresh_token);
  const again = await token(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
  assert.equal(again.status, 200);
  assert.equal(again.body.refresh_token, r1.body.refresh_token);
  // Using the successor ends the grace: the old token is now reuse and revokes the family.
  const r2 = await token(w.url, { grant_type: "refresh_token", refresh_token: r1.body.refresh_token, client_id: client.client_id });
  assert.equal(r2.status, 200);
  const reuse = await token(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
  assert.equal(reuse.status, 400);
  assert.equal(reuse.body.error, "invalid_grant");
  const dead = await token(w.url, { grant_type: "refresh_token", refresh_token: r2.body.refresh_token, client_id: client.client_id });
  assert.equal(dead.body.error, "invalid_grant");
});

test("a replayed code is invalid_grant and revokes the tokens it produced", async () => {
  const { tokens, client, code, verifier } = await fullFlow(w.url, alice);
  const replay = await token(w.url, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.client_id, redirect_uri: client.redirect_uris[0] });
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, "invalid_grant");
  const r = await token(w.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
  assert.equal(r.body.error, "invalid_grant");
  const ui = await fetch(w.url + "/userinfo", { headers: { Authorization: "Bearer " + tokens.access_token } });
  assert.equal(ui.status, 401);
});

test("a confidential client authenticates with its secret, Basic or post", async () => {
  const reg = await register(w.url, { redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "client_secret_basic", client_name: "Conf" });
  assert.equal(reg.status, 201);
  assert.ok(reg.body.client_secret);
  const client = reg.body;
  const basic = "Basic " + Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64");
  const flow = await fullFlow(w.url, alice, { client }).catch((e) => e);
  // fullFlow sends no secret: the confidential client must authenticate.
  assert.equal(flow.status, 401);
  assert.equal(flow.tokens.error, "invalid_client");
  const { approve, authorizeUrl, pkcePair, Browser } = await import("./helpers/oauth.mjs");
  const { verifier, challenge } = pkcePair();
  const res = await approve(w.url, new Browser(), authorizeUrl(w.url, client, { challenge }), alice);
  const code = new URL(res.headers.get("location")).searchParams.get("code");
  const wrong = await token(w.url, { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: client.redirect_uris[0] }, { Authorization: "Basic " + Buffer.from(`${client.client_id}:nope`).toString("base64") });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get("www-authenticate"), /^Basic/);
  const ok = await token(w.url, { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: client.redirect_uris[0] }, { Authorization: basic });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  // Introspection, for confidential clients.
  const intro = await fetch(w.url + "/introspect", { method: "POST", headers: { Authorization: basic, "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: ok.body.access_token }) });
  const body = await intro.json();
  assert.equal(body.active, true);
  assert.equal(body.sub, alice.id);
  // Revocation stops the grant.
  const rv = await fetch(w.url + "/revoke", { method: "POST", headers: { Authorization: basic, "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: ok.body.refresh_token }) });
  assert.equal(rv.status, 200);
  const after = await fetch(w.url + "/introspect", { method: "POST", headers: { Authorization: basic, "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token: ok.body.refresh_token }) });
  assert.equal((await after.json()).active, false);
});

test("registration rejects bad redirect URIs and malformed bodies with RFC 7591 errors", async () => {
  for (const [meta, error] of [
    [{ redirect_uris: ["http://evil.example/cb"] }, "invalid_redirect_uri"],
    [{ redirect_uris: ["javascript:alert(1)"] }, "invalid_redirect_uri"],
    [{ redirect_uris: ["https://a.example/cb#f"] }, "invalid_redirect_uri"],
    [{}, "invalid_redirect_uri"],
    [{ redirect_uris: ["https://a.example/cb"], grant_types: ["password"] }, "invalid_client_metadata"],
  ]) {
    const r = await register(w.url, meta);
    assert.equal(r.status, 400, JSON.stringify(meta));
    assert.equal(r.body.error, error);
  }
  const junk = await fetch(w.url + "/register", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{not json" });
  assert.equal(junk.status, 400);
  assert.equal((await junk.json()).error, "invalid_client_metadata");
  const ok = await publicClient(w.url);
  assert.ok(ok.client_id_issued_at > 0);
  assert.equal(ok.client_secret, undefined);
});
