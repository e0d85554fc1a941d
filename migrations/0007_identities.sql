-- Sign-in providers (SIGNIN_PROVIDERS): who a provider's identity is here, and the sign-ins
-- on their way to a provider and back.

-- One row per identity a person signs in with. `provider` is the provider's namespace
-- (`oidc:<issuer>`, `github:<host>`, `app:<id>`) and `subject` its immutable identifier
-- for the person (OIDC sub, GitHub's numeric id, the operator's user id): never an email
-- or a login name, which can change hands. A person keeps one `users` row whichever way
-- they sign in; people created by a provider have no local password (empty hash).
CREATE TABLE identities (
  provider     TEXT NOT NULL,
  subject      TEXT NOT NULL,
  user_id      TEXT NOT NULL,
  login        TEXT,                          -- GitHub's login, to ask about memberships
  email        TEXT,                          -- the verified email the provider last gave
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_by_user ON identities (user_id);

-- A sign-in started at /signin/start, single use and short-lived, bound to the browser
-- that started it. Looked up by the SHA-256 of its state (what the provider echoes) and,
-- for a hand-off the app completed, of the one-time code the person's browser returns with.
CREATE TABLE signin_pending (
  state_hash      TEXT PRIMARY KEY,
  provider        TEXT NOT NULL,              -- the provider's id in SIGNIN_PROVIDERS
  browser_hash    TEXT NOT NULL,              -- SHA-256 of the browser's CSRF cookie
  verifier        TEXT NOT NULL,              -- PKCE code_verifier
  nonce           TEXT NOT NULL,
  return_to       TEXT NOT NULL,              -- a path of this server
  expires_at      INTEGER NOT NULL,
  completion_hash TEXT UNIQUE,                -- hand-off: SHA-256 of the return code
  identity        TEXT                        -- hand-off: JSON of what the app said
);
