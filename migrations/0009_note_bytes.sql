-- Storage per person is bounded in bytes as well as in notes: each note's size in UTF-8
-- (title, text and tags), so one account cannot fill the database that every sign-in,
-- refresh and audit row also needs. The index answers a person's count and total from the
-- index alone.
ALTER TABLE notes ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
UPDATE notes SET bytes = length(CAST(title AS BLOB)) + length(CAST(text AS BLOB)) + length(CAST(tags AS BLOB));
CREATE INDEX notes_usage ON notes (user_id, bytes);
