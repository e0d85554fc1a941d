-- The audit log: one row per security-relevant event (see src/audit.rs for the names).
-- Never a password, token, code or secret: ids, a truncated IP and the request id that
-- also appears in the Worker's log line. Rows older than AUDIT_RETENTION_DAYS are deleted
-- by the daily cron trigger.
CREATE TABLE audit_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  at         INTEGER NOT NULL,
  event      TEXT NOT NULL,
  outcome    TEXT NOT NULL,                   -- "ok" or "failed"
  user_id    TEXT,
  client_id  TEXT,
  ip         TEXT,                            -- IPv4 /24 or IPv6 /48
  request_id TEXT NOT NULL,                   -- "cli" for the operator's commands
  detail     TEXT                             -- a token's name, a reason; at most 120 chars
);
CREATE INDEX audit_events_by_user ON audit_events (user_id, at);
CREATE INDEX audit_events_by_time ON audit_events (at);
