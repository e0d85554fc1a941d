-- A copy of each client ID metadata document someone connected with (written when a code
-- is redeemed, an authenticated request), as the client record it validated to. While
-- the document cannot be fetched (its host failing, or this Worker's fetch allowance
-- spent by others) the copy stands in for up to a week, so connected apps keep working.
CREATE TABLE client_documents (
  client_id TEXT PRIMARY KEY,                 -- the document's URL
  record    TEXT NOT NULL,                    -- the client as validated (JSON)
  saved_at  INTEGER NOT NULL
);
