-- The connector doctor's marks of requests anyone can send (an /authorize link, a wrong
-- client secret, a made-up code) are kept apart from those of requests that proved
-- something, with a daily budget for the whole deployment (src/doctor.rs
-- UNPROVEN_PER_DAY), so no one can spend D1's writes through it.
ALTER TABLE connection_steps ADD COLUMN proven INTEGER NOT NULL DEFAULT 1;
CREATE TABLE doctor_budget (
  day INTEGER PRIMARY KEY,                    -- Unix day (seconds / 86400)
  n   INTEGER NOT NULL                        -- unproven marks kept that day
);
