-- Roles (SCOPES): what a person is, which decides the restricted scopes they may hold.
-- `source` says who gave the role: 'operator' (npm run user -- role add) or
-- 'provider:<id>' (a sign-in provider's claim or membership, SIGNIN_PROVIDERS[].roles),
-- which that provider's next sign-in replaces. A person's roles are the union.
CREATE TABLE user_roles (
  user_id    TEXT NOT NULL,
  role       TEXT NOT NULL,
  source     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, role, source)
);
