-- One-time links with which a person sets their own password: an invitation made when an
-- administrator adds them in the console, or a reset. Only the SHA-256 of the link's token
-- is kept; a link works once, until expires_at, and a newer link of the same person
-- replaces it.
CREATE TABLE password_links (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL,
  purpose    TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,                   -- the administrator's email
  used_at    INTEGER
);
CREATE INDEX password_links_by_user ON password_links (user_id);

-- A person an administrator added in the console has no password until they set one, and
-- is still the operator's: sign-in providers link to them by email (src/signin/linking.rs).
ALTER TABLE users ADD COLUMN operator_added INTEGER NOT NULL DEFAULT 0;
