-- Search cost should follow a person's own notes, not everyone's: the full-text index gains
-- the owner's id as a column, so a search intersects with that person's rows inside FTS5
-- (the query still checks notes.user_id, which is the real boundary: the tokenizer folds
-- case). Rebuilt from `notes`, the external content.
DROP TRIGGER notes_after_insert;
DROP TRIGGER notes_after_delete;
DROP TRIGGER notes_after_update;
DROP TABLE notes_fts;

CREATE VIRTUAL TABLE notes_fts USING fts5(
  title, text, tags, user_id,
  content = 'notes', content_rowid = 'seq',
  tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3'
);
INSERT INTO notes_fts (notes_fts) VALUES ('rebuild');

CREATE TRIGGER notes_after_insert AFTER INSERT ON notes BEGIN
  INSERT INTO notes_fts (rowid, title, text, tags, user_id)
    VALUES (new.seq, new.title, new.text, new.tags, new.user_id);
END;
CREATE TRIGGER notes_after_delete AFTER DELETE ON notes BEGIN
  INSERT INTO notes_fts (notes_fts, rowid, title, text, tags, user_id)
    VALUES ('delete', old.seq, old.title, old.text, old.tags, old.user_id);
END;
CREATE TRIGGER notes_after_update AFTER UPDATE ON notes BEGIN
  INSERT INTO notes_fts (notes_fts, rowid, title, text, tags, user_id)
    VALUES ('delete', old.seq, old.title, old.text, old.tags, old.user_id);
  INSERT INTO notes_fts (rowid, title, text, tags, user_id)
    VALUES (new.seq, new.title, new.text, new.tags, new.user_id);
END;
