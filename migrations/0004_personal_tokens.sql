-- Personal access tokens (Claude Code, Copilot, scripts): stored only as SHA-256, read by
-- hash at /mcp, listed and revoked by their owner. `last_used_at` is written at most once
-- a minute per token.
CREATE TABLE personal_tokens (
  id           TEXT PRIMARY KEY,              -- "pt_" and random: names the token in lists
  user_id      TEXT NOT NULL,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,          -- base64url SHA-256 of the whole token
  scope        TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,                       -- NULL: never expires
  last_used_at INTEGER,
  revoked_at   INTEGER
);
CREATE INDEX personal_tokens_by_user ON personal_tokens (user_id, created_at);
