-- The peer's notes, in D1: a table and an external-content FTS5 index kept by triggers.
-- Statements are separated by blank lines (bench.mjs applies them one by one).
CREATE TABLE notes (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,
  user_id    TEXT NOT NULL,
  title      TEXT NOT NULL,
  text       TEXT NOT NULL,
  tags       TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
)

CREATE INDEX notes_by_user ON notes (user_id, seq)

CREATE VIRTUAL TABLE notes_fts USING fts5(title, text, tags, content = 'notes', content_rowid = 'seq')

CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
  INSERT INTO notes_fts (rowid, title, text, tags) VALUES (new.seq, new.title, new.text, new.tags);
END

CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN
  INSERT INTO notes_fts (notes_fts, rowid, title, text, tags) VALUES ('delete', old.seq, old.title, old.text, old.tags);
END
