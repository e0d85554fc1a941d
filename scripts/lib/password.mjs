// Password hashing shared by the user CLI and the tests: PBKDF2-HMAC-SHA256, 100,000
// iterations, a 16-byte random salt per user, a 32-byte derived key. Salt and hash are
// stored as base64url without padding, matching migrations/0001_init.sql.
import { pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

export const PBKDF2_ITERATIONS = 100000;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 200;

function derive(password, salt, iterations) {
  return pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, KEY_LENGTH, "sha256");
}

/** Hashes a password with a fresh random salt: `{ hash, salt, iterations }`. */
export function hashPassword(password) {
  if (typeof password !== "string") throw new TypeError("password must be a string");
  const salt = randomBytes(SALT_LENGTH);
  const hash = derive(password, salt, PBKDF2_ITERATIONS);
  return { hash: hash.toString("base64url"), salt: salt.toString("base64url"), iterations: PBKDF2_ITERATIONS };
}

/** True when `password` matches a stored `{ hash, salt, iterations }` (constant-time compare). */
export function verifyPassword(password, { hash, salt, iterations }) {
  if (typeof password !== "string" || typeof hash !== "string" || typeof salt !== "string") return false;
  const n = Number(iterations);
  if (!Number.isSafeInteger(n) || n < 1) return false;
  const expected = Buffer.from(hash, "base64url");
  if (expected.length !== KEY_LENGTH) return false;
  const actual = derive(password, Buffer.from(salt, "base64url"), n);
  return timingSafeEqual(actual, expected);
}

/** A new opaque user id (the `sub` of every token): 16 random bytes, base64url. */
export function newUserId() {
  return randomBytes(16).toString("base64url");
}

/** Null when the password is acceptable, else a message saying why not. */
export function validatePassword(pw) {
  if (typeof pw !== "string") return "The password must be text.";
  const length = [...pw].length;
  if (length < PASSWORD_MIN_LENGTH) return `The password must be at least ${PASSWORD_MIN_LENGTH} characters long.`;
  if (length > PASSWORD_MAX_LENGTH) return `The password must be at most ${PASSWORD_MAX_LENGTH} characters long.`;
  return null;
}
