-- Roles (SCOPES): what a person is, which decides the restricted scopes they may hold.
-- `source` says who gave the role: 'operator' (npm run user -- role add) or
-- 'provider:<id>' (a sign-in provider's claim or membership, SIGNIN_PROVIDERS[].roles),
-- which that provider's next sign-in replaces. A person's roles are the union of the rows
-- not expired: a provider that cannot be asked again at refresh (OpenID, the operator's
-- app) gives roles until `expires_at` (its roles.max_age_seconds after the sign-in);
-- the operator's and GitHub's (asked again at every refresh) have none.
CREATE TABLE user_roles (
  user_id    TEXT NOT NULL,
  role       TEXT NOT NULL,
  source     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  PRIMARY KEY (user_id, role, source)
);

-- OpenID Connect: when the person signed in for the grant (Unix seconds), so an ID token
-- from a refresh keeps the original auth_time (OpenID Connect Core §12.2).
ALTER TABLE grants ADD COLUMN auth_time INTEGER;
