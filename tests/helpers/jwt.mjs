// JWTs in tests, through `jose`: verifying what the Worker issued against the keys it
// publishes at /.well-known/jwks.json, and forging tokens (with the Worker's own key, from
// the seed it was started with, or with any other key) to see what it refuses or accepts.
// Reading a token's claims or header is jose's decodeJwt / decodeProtectedHeader, imported
// by the tests themselves.
//
// A few forgeries are things jose will not make on purpose (no signature, a signature that
// is not the header's algorithm's, a payload swapped under someone else's signature); the
// raw helpers at the end build exactly those, and nothing else.
import { createPrivateKey } from "node:crypto";
import { SignJWT, createLocalJWKSet, jwtVerify } from "jose";

/** The Worker's published keys (its /.well-known/jwks.json), as jose's key set. */
export async function publishedKeys(w) {
  const res = await fetch(w.url + "/.well-known/jwks.json");
  if (res.status !== 200) throw new Error(`GET /.well-known/jwks.json: ${res.status}`);
  return createLocalJWKSet(await res.json());
}

/**
 * Verifies `token` as one the Worker `w` issued: its signature against the Worker's JWKS
 * (EdDSA only), its `typ`, `iss` (the Worker's URL unless told), `aud`, and that it is
 * within its exp/nbf. Rejects (jose's error) otherwise; else `{ payload, protectedHeader }`.
 * @param {object} options
 * @param {string} options.audience the `aud` the test expects
 * @param {string} [options.issuer] default `w.url`
 * @param {string} [options.typ] default "at+jwt" (an access token)
 */
export async function verifyIssued(w, token, { audience, issuer = w.url, typ = "at+jwt" } = {}) {
  if (!audience) throw new TypeError("verifyIssued: say which audience the token is for");
  return jwtVerify(token, await publishedKeys(w), { algorithms: ["EdDSA"], issuer, audience, typ });
}

/** The Worker's Ed25519 signing key (a node KeyObject), from the seed it was started with. */
export function serverKey(w) {
  const prefix = Buffer.from("302e020100300506032b657004220420", "hex");
  const seed = Buffer.from(w.bindings.JWT_SIGNING_KEY, "base64url");
  return createPrivateKey({ key: Buffer.concat([prefix, seed]), format: "der", type: "pkcs8" });
}

/**
 * A JWT of exactly `header` and `payload`, signed by jose with `key` (a KeyObject, or a
 * Uint8Array for HS*) under `header.alg`. Nothing is added: claims such as exp, nbf or aud
 * are whatever the test put in `payload`, expired or wrong on purpose.
 */
export function signJwt(header, payload, key) {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

// ---------------------------------------------------------------------------------------
// Raw forgeries: compact JWSs that jose (rightly) refuses to produce.

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/**
 * Raw: an unsigned token, `alg: none` (empty signature segment). jose's UnsecuredJWT writes
 * a header of `{"alg":"none"}` alone; the tests need the real kid and typ kept in it.
 */
export function unsignedJwt(header, payload) {
  return `${b64url({ ...header, alg: "none" })}.${b64url(payload)}.`;
}

/**
 * Raw: `jwt` with some of its segments replaced and the others kept byte for byte (a
 * payload changed under the original signature, a header whose alg no longer matches the
 * signature). jose only ever signs what it encodes, so it cannot build these. `header` and
 * `payload` are objects (JSON-encoded here); `signature` a base64url string ("" for none).
 */
export function spliceJwt(jwt, { header, payload, signature } = {}) {
  const [h, p, s] = jwt.split(".");
  return [header === undefined ? h : b64url(header), payload === undefined ? p : b64url(payload), signature === undefined ? s : signature].join(".");
}

/** Raw: `jwt` with one bit of its signature flipped (a bad signature jose will not make). */
export function flipSignatureBit(jwt) {
  const [h, p, s] = jwt.split(".");
  const bytes = Buffer.from(s, "base64url");
  bytes[bytes.length >> 1] ^= 0x01;
  return `${h}.${p}.${bytes.toString("base64url")}`;
}
