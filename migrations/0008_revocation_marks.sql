-- Revocation stands in D1 whether or not its KV mark could be written (KV's free plan
-- allows 1,000 writes a day, and a failed write must not leave a revoked grant's access
-- tokens working). `marked_at` says when the KV mark that stops a grant's access tokens
-- at /mcp was written; a revoked grant without it is read from D1 by /mcp instead, until
-- the mark is written (by the next revocation or the daily cron).
ALTER TABLE grants ADD COLUMN marked_at INTEGER;
UPDATE grants SET marked_at = revoked_at WHERE revoked_at IS NOT NULL;
CREATE INDEX grants_unmarked ON grants (revoked_at) WHERE revoked_at IS NOT NULL AND marked_at IS NULL;

-- A person's "sessions valid after" time: every session cookie issued before it is refused
-- (account recovery: reset-password, enable, and "sign out everywhere" move it).
ALTER TABLE users ADD COLUMN sessions_after INTEGER NOT NULL DEFAULT 0;
