-- The daily cron deletes refresh tokens that expired, and tokens rotated more than a week
-- ago (see src/http/cron.rs): without these indexes each run would read the whole table.
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_by_rotation ON refresh_tokens (rotated_at) WHERE rotated_at IS NOT NULL;
