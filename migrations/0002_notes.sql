-- The built-in tools' per-user notes, with an FTS5 full-text index.
-- `seq` is the row id: the FTS index points at it, and listings page by it.
CREATE TABLE notes (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL UNIQUE,       -- opaque, random; what tools and URLs use
  user_id    TEXT NOT NULL,
  title      TEXT NOT NULL,
  text       TEXT NOT NULL,
  tags       TEXT NOT NULL DEFAULT '',   -- space-separated, each [a-z0-9_-]
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX notes_by_user ON notes (user_id, seq);

-- An external-content index over notes: the text is stored once, in `notes`.
CREATE VIRTUAL TABLE notes_fts USING fts5(
  title, text, tags,
  content = 'notes', content_rowid = 'seq',
  tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3'                        -- search matches each word as a prefix
);

CREATE TRIGGER notes_after_insert AFTER INSERT ON notes BEGIN
  INSERT INTO notes_fts (rowid, title, text, tags) VALUES (new.seq, new.title, new.text, new.tags);
END;
CREATE TRIGGER notes_after_delete AFTER DELETE ON notes BEGIN
  INSERT INTO notes_fts (notes_fts, rowid, title, text, tags)
    VALUES ('delete', old.seq, old.title, old.text, old.tags);
END;
CREATE TRIGGER notes_after_update AFTER UPDATE ON notes BEGIN
  INSERT INTO notes_fts (notes_fts, rowid, title, text, tags)
    VALUES ('delete', old.seq, old.title, old.text, old.tags);
  INSERT INTO notes_fts (rowid, title, text, tags) VALUES (new.seq, new.title, new.text, new.tags);
END;
