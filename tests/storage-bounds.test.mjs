// Storage a request can make this Worker hold is bounded, end to end in workerd with its
// D1: one note holds at most 100,000 bytes of UTF-8 (50,000 characters of four bytes do
// not fit, though the schema allows the characters), one person's notes at most 50 MB in
// all, checked in the same INSERT as the count (so the refusal comes from D1, not from a
// check beside it), the daily cron deletes failed sign-in counts whose window is over
// while keeping the ones that still count, and it deletes refresh tokens that expired or
// were rotated more than a week ago (a family refreshed hourly would otherwise keep a row
// per hour for its whole lifetime).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startWorker } from "./helpers/worker.mjs";
import { createUser, fullFlow, token } from "./helpers/oauth.mjs";
import { modernCall, toolValue } from "./helpers/mcp.mjs";

let w, alice, bob, aliceToken, bobToken;
before(async () => {
  w = await startWorker({ bindings: { LOGIN_LOCKOUT_SECONDS: "900" } });
  [alice, bob] = await Promise.all([
    createUser(w.db, "alice@example.com", "alice-password-1", "Alice"),
    createUser(w.db, "bob@example.com", "bob-password-12", "Bob"),
  ]);
  aliceToken = (await fullFlow(w.url, alice)).tokens.access_token;
  bobToken = (await fullFlow(w.url, bob)).tokens.access_token;
});
after(() => w?.stop());

const store = (token, text, title) =>
  modernCall(w.url, token, "tools/call", { name: "memory_store", arguments: { text, ...(title ? { title } : {}) } });

/** A refused memory_store: a tool error (not a protocol error) whose text matches. */
function assertRefused(res, pattern) {
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.result?.isError, true, res.text);
  assert.match(res.json.result.content[0].text, pattern);
}

const bytesOf = async (user) =>
  (await w.db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM notes WHERE user_id = ?1").bind(user.id).first());

test("one note holds at most 100,000 bytes, counted in UTF-8, and its size is stored with it", async () => {
  const before = await bytesOf(alice);
  // 30,000 euro signs: 90,000 bytes (plus the title made from them) fit.
  const fits = await store(aliceToken, "\u20ac".repeat(30_000), "Euros");
  const note = toolValue(fits.json.result);
  const row = await w.db.prepare("SELECT bytes FROM notes WHERE id = ?1").bind(note.id).first();
  assert.equal(row.bytes, 90_000 + "Euros".length);
  // 34,000 of them (102,000 bytes) do not, though they are far under 50,000 characters.
  assertRefused(await store(aliceToken, "\u20ac".repeat(34_000), "Too wide"), /at most 100000 bytes/);
  // 50,000 four-byte characters: the schema's maximum length, twice the byte bound.
  assertRefused(await store(aliceToken, "\u{1F600}".repeat(50_000), "Faces"), /at most 100000 bytes/);
  const after = await bytesOf(alice);
  assert.equal(after.n, before.n + 1, "only the note that fits was stored");
});

test("one person's notes hold at most 50 MB: the INSERT refuses past it, with a clear tool error, for that person alone", async () => {
  // Stand for a full account without sending 50 MB over HTTP: one stored row whose size
  // says it holds nearly all of it (the bound reads the sizes, as it would real notes).
  const used = await bytesOf(bob);
  const filler = 50_000_000 - used.b - 30_000;
  await w.db
    .prepare("INSERT INTO notes (id, user_id, title, text, tags, created_at, updated_at, bytes) VALUES (?1, ?2, 'filler', 'x', '', 1, 1, ?3)")
    .bind("n_filler_" + Date.now(), bob.id, filler)
    .run();
  // 20,000 bytes still fit; then 20,000 more do not.
  toolValue((await store(bobToken, "y".repeat(20_000), "Fits")).json.result);
  assertRefused(await store(bobToken, "z".repeat(20_000), "Past the bound"), /nearly 50 MB/);
  const now = await bytesOf(bob);
  assert.ok(now.b <= 50_000_000, `stored ${now.b} bytes`);
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM notes WHERE title = 'Past the bound'").first()).n, 0);
  // Another person is not affected.
  toolValue((await store(aliceToken, "z".repeat(20_000), "Alice's")).json.result);
  // Deleting the filler makes room again.
  await w.db.prepare("DELETE FROM notes WHERE user_id = ?1 AND title = 'filler'").bind(bob.id).run();
  toolValue((await store(bobToken, "z".repeat(20_000), "After deleting")).json.result);
});

test("the daily cron deletes failed sign-in counts whose window is over and keeps the rest", async () => {
  const now = Math.floor(Date.now() / 1000);
  const rows = [
    // Window over, never locked: gone.
    ["user:old@example.com", 2, now - 2_000, null],
    // Window over, lock over: gone.
    ["ip:198.51.100.7", 6, now - 5_000, now - 100],
    // Window over but still locked: kept (the lock is in force).
    ["user:locked@example.com", 6, now - 2_000, now + 500],
    // Within the window: kept (it still counts toward a lockout).
    ["user:recent@example.com", 1, now - 60, null],
  ];
  for (const [key, failures, firstAt, lockedUntil] of rows) {
    await w.db.prepare("INSERT INTO login_failures (key, failures, first_at, locked_until) VALUES (?1, ?2, ?3, ?4)").bind(key, failures, firstAt, lockedUntil).run();
  }
  const worker = await w.mf.getWorker();
  await worker.scheduled({ cron: "17 3 * * *" });
  const ours = new Set(rows.map(([key]) => key));
  const left = (await w.db.prepare("SELECT key FROM login_failures ORDER BY key").all()).results.map((r) => r.key);
  assert.deepEqual(left.filter((k) => ours.has(k)), ["user:locked@example.com", "user:recent@example.com"]);
  // The sign-ins of this file's own set-up (moments ago) still count.
  assert.ok(left.some((k) => !ours.has(k)), left.join());
  assert.ok(w.logs.some((l) => /cron: deleted 2 expired failed sign-in counts/.test(l)), w.logs.filter((l) => /cron/.test(l)).join("\n"));
});

test("the cron deletes expired and long-rotated refresh tokens, and keeps the family's live one", async () => {
  const flow = await fullFlow(w.url, alice);
  const refresh = async (t) => token(w.url, { grant_type: "refresh_token", refresh_token: t, client_id: flow.client.client_id });
  const first = flow.tokens.refresh_token;
  const second = (await refresh(first)).body.refresh_token;
  const third = (await refresh(second)).body.refresh_token;
  assert.ok(second && third);
  const grantOf = await w.db.prepare("SELECT grant_id FROM refresh_tokens WHERE rotated_at IS NULL AND client_id = ?1").bind(flow.client.client_id).first();
  const family = async () => (await w.db.prepare("SELECT token_hash, rotated_at, expires_at FROM refresh_tokens WHERE grant_id = ?1 ORDER BY issued_at, rotated_at IS NULL").bind(grantOf.grant_id).all()).results;
  assert.equal((await family()).length, 3);
  const now = Math.floor(Date.now() / 1000);
  // The first was rotated eight days ago; the second is rotated (recently) and kept.
  await w.db.prepare("UPDATE refresh_tokens SET rotated_at = ?2 WHERE grant_id = ?1 AND rotated_at IS NOT NULL AND successor_hash IS NOT NULL AND token_hash NOT IN (SELECT successor_hash FROM refresh_tokens WHERE successor_hash IS NOT NULL)")
    .bind(grantOf.grant_id, now - 8 * 86_400).run();
  // And an expired token of another family.
  const other = (await fullFlow(w.url, bob)).tokens.refresh_token;
  await w.db.prepare("UPDATE refresh_tokens SET expires_at = ?1 WHERE user_id = ?2").bind(now - 1, bob.id).run();
  const worker = await w.mf.getWorker();
  await worker.scheduled({ cron: "17 3 * * *" });
  // The first of alice's family and every one of bob's (both his families) are gone.
  assert.ok(w.logs.some((l) => /cron: deleted [1-9]\d* expired or long-rotated refresh tokens/.test(l)), w.logs.join("\n"));
  assert.equal((await family()).length, 2);
  assert.equal((await w.db.prepare("SELECT COUNT(*) AS n FROM refresh_tokens WHERE user_id = ?1").bind(bob.id).first()).n, 0);
  // The forgotten token is merely unknown: presenting it revokes nothing, and the family's
  // live token still refreshes; the kept, recently rotated one is still reuse.
  assert.equal((await refresh(first)).body.error, "invalid_grant");
  assert.equal((await refresh(other)).body.error, "invalid_grant");
  const fourth = await refresh(third);
  assert.equal(fourth.status, 200, JSON.stringify(fourth.body));
  assert.equal((await refresh(second)).body.error, "invalid_grant");
  assert.equal((await refresh(fourth.body.refresh_token)).body.error, "invalid_grant", "reuse of the kept one revoked the family");
});

test("a refresh token whose successor the cron deleted is reuse, not a retry within grace", async () => {
  const flow = await fullFlow(w.url, alice);
  const refresh = async (t) => token(w.url, { grant_type: "refresh_token", refresh_token: t, client_id: flow.client.client_id });
  const first = flow.tokens.refresh_token;
  const second = (await refresh(first)).body.refresh_token;
  assert.ok(second);
  // The successor expires (as after an operator shortened REFRESH_TOKEN_TTL) and the cron
  // deletes it, all within the predecessor's grace period.
  const hashOf = (t) => createHash("sha256").update(t).digest("base64url");
  await w.db.prepare("UPDATE refresh_tokens SET expires_at = 1 WHERE token_hash = ?1").bind(hashOf(second)).run();
  const worker = await w.mf.getWorker();
  await worker.scheduled({ cron: "17 3 * * *" });
  assert.equal(await w.db.prepare("SELECT token_hash FROM refresh_tokens WHERE token_hash = ?1").bind(hashOf(second)).first(), null);
  const again = await refresh(first);
  assert.equal(again.status, 400, JSON.stringify(again.body));
  assert.equal(again.body.error, "invalid_grant");
});
