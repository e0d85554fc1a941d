// Reading and forging JWTs in tests: decode a token's parts, and sign arbitrary claims
// with the Worker's own key (from the seed it was started with) or with any other key.
import { createPrivateKey, sign } from "node:crypto";

export const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
export const decode = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));
export const jwtHeader = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[0], "base64url"));

/** The Worker's Ed25519 signing key, from the seed it was started with. */
export function serverKey(w) {
  const prefix = Buffer.from("302e020100300506032b657004220420", "hex");
  const seed = Buffer.from(w.bindings.JWT_SIGNING_KEY, "base64url");
  return createPrivateKey({ key: Buffer.concat([prefix, seed]), format: "der", type: "pkcs8" });
}

export function signJwt(header, payload, privateKey) {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
}
