-- The operator's rules for client ID metadata documents, set in the console: a document
-- on a blocked host is never used; when any host is allowed, only documents on allowed
-- hosts are. A rule matches its host and the host's subdomains.
CREATE TABLE document_hosts (
  host       TEXT PRIMARY KEY,
  rule       TEXT NOT NULL CHECK (rule IN ('allow', 'block')),
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL                    -- the administrator's email
);
