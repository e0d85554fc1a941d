// The foundation's routes over real HTTP: discovery documents, JWKS, 404/405, preflight,
// body limits, and what happens when the signing key is missing or malformed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { startWorker } from "./helpers/worker.mjs";

let w;
before(async () => (w = await startWorker()));
after(() => w?.stop());

const json = async (res) => JSON.parse(await res.text());

test("authorization-server metadata names this origin as issuer and every endpoint", async () => {
  for (const p of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
    const res = await fetch(w.url + p);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assert.match(res.headers.get("cache-control"), /max-age=\d+/);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const doc = await json(res);
    assert.equal(doc.issuer, w.url);
    for (const [k, path] of Object.entries({
      authorization_endpoint: "/authorize",
      token_endpoint: "/token",
      registration_endpoint: "/register",
      revocation_endpoint: "/revoke",
      introspection_endpoint: "/introspect",
      userinfo_endpoint: "/userinfo",
      jwks_uri: "/.well-known/jwks.json",
    })) {
      assert.equal(doc[k], w.url + path, k);
    }
    assert.deepEqual(doc.code_challenge_methods_supported, ["S256"]);
    assert.deepEqual(doc.response_types_supported, ["code"]);
    assert.equal(doc.authorization_response_iss_parameter_supported, true);
  }
});

test("protected-resource metadata names /mcp and this server, at both paths", async () => {
  for (const p of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
    const res = await fetch(w.url + p);
    assert.equal(res.status, 200);
    const doc = await json(res);
    assert.equal(doc.resource, w.url + "/mcp");
    assert.deepEqual(doc.authorization_servers, [w.url]);
    assert.deepEqual(doc.scopes_supported, ["mcp:read", "mcp:write"]);
  }
});

test("JWKS publishes the public half of the secret key with its RFC 7638 thumbprint", async () => {
  const res = await fetch(w.url + "/.well-known/jwks.json");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/jwk-set+json");
  const { keys } = await json(res);
  // The Ed25519 key of access tokens first, then the RSA key of RS256 ID tokens.
  assert.equal(keys.length, 2);
  const [k, rsa] = keys;
  const rsaPublic = createPublicKey(createPrivateKey({ key: JSON.parse(w.bindings.OIDC_SIGNING_KEY), format: "jwk" })).export({ format: "jwk" });
  assert.deepEqual([rsa.kty, rsa.alg, rsa.use, rsa.n, rsa.e, rsa.d], ["RSA", "RS256", "sig", rsaPublic.n, rsaPublic.e, undefined]);
  assert.equal(rsa.kid, createHash("sha256").update(JSON.stringify({ e: rsaPublic.e, kty: "RSA", n: rsaPublic.n })).digest("base64url"));
  const expected = createPublicKey(
    createPrivateKey({ key: { kty: "OKP", crv: "Ed25519", d: w.bindings.JWT_SIGNING_KEY, x: "" }, format: "jwk" }),
  ).export({ format: "jwk" });
  assert.equal(k.kty, "OKP");
  assert.equal(k.crv, "Ed25519");
  assert.equal(k.alg, "EdDSA");
  assert.equal(k.x, expected.x);
  assert.equal(k.d, undefined);
  const thumb = createHash("sha256")
    .update(JSON.stringify({ crv: "Ed25519", kty: "OKP", x: expected.x }))
    .digest("base64url");
  assert.equal(k.kid, thumb);
});

test("unknown paths are a JSON 404", async () => {
  const res = await fetch(w.url + "/nope");
  assert.equal(res.status, 404);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  assert.equal((await json(res)).error, "not_found");
});

test("a wrong method is a JSON 405 with Allow and OAuth's invalid_request", async () => {
  const res = await fetch(w.url + "/.well-known/jwks.json", { method: "POST", body: "x" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS");
  assert.equal((await json(res)).error, "invalid_request");
  const token = await fetch(w.url + "/token");
  assert.equal(token.status, 405);
  assert.equal(token.headers.get("allow"), "POST, OPTIONS");
});

test("HEAD answers like GET without a body", async () => {
  const res = await fetch(w.url + "/.well-known/oauth-authorization-server", { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal((await res.text()).length, 0);
});

test("CORS preflight is answered for browser clients", async () => {
  const res = await fetch(w.url + "/token", {
    method: "OPTIONS",
    headers: { Origin: "http://localhost:6274", "Access-Control-Request-Method": "POST" },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.match(res.headers.get("access-control-allow-methods"), /POST/);
  assert.match(res.headers.get("access-control-allow-headers"), /Authorization/);
});

test("an oversized body is refused with 413 before it is read", async () => {
  const res = await fetch(w.url + "/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "a=" + "x".repeat(20 * 1024),
  });
  assert.equal(res.status, 413);
  assert.equal((await json(res)).error, "invalid_request");
});

test("ISSUER, when set, is the issuer everywhere", async () => {
  const other = await startWorker({ bindings: { ISSUER: "https://mcp.example.com/" } });
  try {
    const doc = await json(await fetch(other.url + "/.well-known/oauth-authorization-server"));
    assert.equal(doc.issuer, "https://mcp.example.com");
    assert.equal(doc.token_endpoint, "https://mcp.example.com/token");
  } finally {
    await other.stop();
  }
});

for (const [name, value] of [
  ["missing", null],
  ["malformed", "not-a-key"],
]) {
  test(`a ${name} signing key is a JSON 500 naming the secret, not a crash`, async () => {
    const broken = await startWorker({ bindings: { JWT_SIGNING_KEY: value } });
    try {
      const res = await fetch(broken.url + "/.well-known/jwks.json");
      assert.equal(res.status, 500);
      const body = await json(res);
      assert.equal(body.error, "server_error");
      assert.match(body.error_description, /JWT_SIGNING_KEY/);
      // Documents that need no key still work.
      assert.equal((await fetch(broken.url + "/.well-known/oauth-authorization-server")).status, 200);
    } finally {
      await broken.stop();
    }
  });
}
