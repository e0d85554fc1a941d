// Makes a console session look older than it is, for the rule that a change needs a
// sign-in within the last ten minutes: opens the Worker's sealed session cookie (a copy of
// src/oauth/seal.rs: ChaCha20 under a key derived from the signing key, an HMAC-SHA-256 tag
// of 16 bytes), moves its sign-in time back, and seals it again.
import assert from "node:assert/strict";
import { createCipheriv, createHash, createHmac, randomBytes } from "node:crypto";

const sessionKey = (signingKey) =>
  createHash("sha256").update(Buffer.concat([Buffer.from("session"), Buffer.from([0]), Buffer.from(signingKey, "base64url")])).digest();
const hmac = (key, data) => createHmac("sha256", key).update(data).digest();
const subkeys = (key) => ({ enc: hmac(key, "seal-encrypt"), mac: hmac(key, "seal-mac") });
const chacha = (key, nonce, data) => {
  const c = createCipheriv("chacha20", key, Buffer.concat([Buffer.from([1, 0, 0, 0]), nonce]));
  return Buffer.concat([c.update(data), c.final()]);
};
const tagOf = (mac, body) => hmac(mac, Buffer.concat([Buffer.alloc(8), body])).subarray(0, 16);

function unseal(key, sealed) {
  const bytes = Buffer.from(sealed, "base64url");
  const body = bytes.subarray(0, bytes.length - 16);
  const { enc, mac } = subkeys(key);
  assert.ok(tagOf(mac, body).equals(bytes.subarray(bytes.length - 16)), "the session cookie's tag (this test's copy of the seal)");
  return chacha(enc, body.subarray(0, 12), body.subarray(12));
}

function seal(key, payload) {
  const { enc, mac } = subkeys(key);
  const nonce = randomBytes(12);
  const body = Buffer.concat([nonce, chacha(enc, nonce, payload)]);
  return Buffer.concat([body, tagOf(mac, body)]).toString("base64url");
}

/**
 * Moves the sign-in time of the session in `browser` (a helpers/oauth.mjs Browser) back by
 * `seconds`, for the Worker whose `JWT_SIGNING_KEY` is `signingKey`.
 */
export function signedInAgo(browser, signingKey, seconds) {
  const name = [...browser.cookies.keys()].find((k) => /(^|-)session$/.test(k));
  assert.ok(name, `a session cookie: ${[...browser.cookies.keys()]}`);
  const key = sessionKey(signingKey);
  const session = JSON.parse(unseal(key, browser.cookies.get(name)).toString());
  assert.equal(typeof session.i, "number", JSON.stringify(session));
  session.i -= seconds * 1000;
  browser.cookies.set(name, seal(key, Buffer.from(JSON.stringify(session))));
}
