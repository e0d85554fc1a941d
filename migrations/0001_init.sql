-- The D1 schema. Every row that belongs to a person carries user_id, so the hot paths
-- never read across users and the data can later be routed by user.

-- People who can sign in. Passwords: PBKDF2-SHA256, 100,000 iterations, per-user salt.
CREATE TABLE users (
  id            TEXT PRIMARY KEY,             -- opaque; the `sub` of every token
  email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name          TEXT,
  password_hash TEXT NOT NULL,                -- base64url of the 32-byte derived key
  password_salt TEXT NOT NULL,                -- base64url of 16 random bytes
  iterations    INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  disabled_at   INTEGER
);

-- Failed sign-ins per account ("user:<email>") and per client IP ("ip:<address>").
CREATE TABLE login_failures (
  key          TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  first_at     INTEGER NOT NULL,
  locked_until INTEGER
);

-- Fixed-window counters for rate limits ("register:<ip>:<window>").
CREATE TABLE rate_limits (
  key        TEXT PRIMARY KEY,
  count      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

-- The strongly consistent copy of every registered client; KV holds the fast copy.
CREATE TABLE clients (
  client_id  TEXT PRIMARY KEY,
  metadata   TEXT NOT NULL,                   -- JSON, as stored in KV
  created_at INTEGER NOT NULL
);

-- A grant: one approval by one person for one client, created when its code is redeemed.
-- Its refresh tokens form one family; revoking the grant stops all of them and, through a
-- KV mark, its access tokens at /mcp.
CREATE TABLE grants (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL,
  client_id    TEXT NOT NULL,
  scope        TEXT NOT NULL,
  resource     TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  code_hash    TEXT NOT NULL UNIQUE,          -- the code that created it: redeems once
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  revoked_at   INTEGER
);
CREATE INDEX grants_by_user ON grants (user_id, client_id);

-- Refresh tokens, stored only as SHA-256. `successor_hash` is set by the one conditional
-- UPDATE that rotates a token.
CREATE TABLE refresh_tokens (
  token_hash     TEXT PRIMARY KEY,
  grant_id       TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  client_id      TEXT NOT NULL,
  scope          TEXT NOT NULL,
  issued_at      INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  rotated_at     INTEGER,
  successor_hash TEXT,
  used_at        INTEGER,                     -- first time it was presented
  revoked_at     INTEGER
);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);
