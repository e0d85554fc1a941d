-- The connector doctor (src/doctor.rs): the steps recent connection attempts reached and
-- where they stopped. Never a token, code, password or secret. Bounded when written (at
-- most 50 attempts per app per day, 24 marks per attempt) and trimmed by the daily cron.
CREATE TABLE connection_steps (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  client_id  TEXT NOT NULL,                   -- '' when the request named no known app
  attempt    TEXT NOT NULL,                   -- 'app' for registration and the document
  grant_id   TEXT,                            -- on the /token step: the grant it made
  at         INTEGER NOT NULL,
  step       TEXT NOT NULL,
  cause      TEXT,                            -- NULL: reached; else why it stopped
  user_id    TEXT
);
CREATE INDEX connection_steps_by_app ON connection_steps (client_id, at);
CREATE INDEX connection_steps_by_attempt ON connection_steps (attempt, client_id);
CREATE INDEX connection_steps_by_grant ON connection_steps (grant_id) WHERE grant_id IS NOT NULL;
