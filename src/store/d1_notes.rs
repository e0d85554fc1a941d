//! `NoteStore` on D1 with SQLite FTS5. Every statement filters by `user_id`.

use crate::store::d1::{Arg, D1};
use crate::store::notes::{
    tags_from_text, tags_to_text, Note, NoteStore, NoteSummary, StoreFuture, Stored,
    MAX_BYTES_PER_USER, MAX_NOTES_PER_USER,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct NoteRow {
    id: String,
    title: String,
    text: String,
    tags: String,
    created_at: u64,
    updated_at: u64,
}

#[derive(Deserialize)]
struct SummaryRow {
    seq: u64,
    id: String,
    title: String,
    tags: String,
    created_at: u64,
}

impl From<SummaryRow> for NoteSummary {
    fn from(r: SummaryRow) -> Self {
        NoteSummary {
            seq: r.seq,
            id: r.id,
            title: r.title,
            tags: tags_from_text(&r.tags),
            created_at: r.created_at,
        }
    }
}

/// How many of a person's newest matching notes a search ranks by relevance. Beyond this a
/// search ranks only the newest: a query that matches thousands of notes costs the same as
/// one that matches this many.
const SEARCH_WINDOW: u64 = 200;

impl NoteStore for D1 {
    fn insert<'a>(&'a self, user: &'a str, note: &'a Note) -> StoreFuture<'a, Stored> {
        Box::pin(async move {
            let tags = tags_to_text(&note.tags);
            // One statement: the bounds and the insert cannot be raced apart.
            let changed = self
                .changes(
                    "INSERT INTO notes (id, user_id, title, text, tags, created_at, updated_at, \
                                        bytes) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9 \
                     WHERE (SELECT COUNT(*) FROM notes WHERE user_id = ?2) < ?8 \
                       AND (SELECT COALESCE(SUM(bytes), 0) FROM notes WHERE user_id = ?2) \
                           + ?9 <= ?10",
                    &[
                        Arg::T(&note.id),
                        Arg::T(user),
                        Arg::T(&note.title),
                        Arg::T(&note.text),
                        Arg::T(&tags),
                        Arg::N(note.created_at),
                        Arg::N(note.updated_at),
                        Arg::N(MAX_NOTES_PER_USER),
                        Arg::N(note.bytes()),
                        Arg::N(MAX_BYTES_PER_USER),
                    ],
                )
                .await?;
            if changed > 0 {
                return Ok(Stored::Yes);
            }
            #[derive(serde::Deserialize)]
            struct Usage {
                notes: u64,
            }
            let usage: Option<Usage> = self
                .first(
                    "SELECT COUNT(*) AS notes FROM notes WHERE user_id = ?1",
                    &[Arg::T(user)],
                )
                .await?;
            Ok(match usage {
                Some(u) if u.notes >= MAX_NOTES_PER_USER => Stored::TooManyNotes,
                _ => Stored::OutOfSpace,
            })
        })
    }

    fn search<'a>(
        &'a self,
        user: &'a str,
        query: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<NoteSummary>> {
        Box::pin(async move {
            // User ids are base64url; anything else cannot be anyone's and finds nothing.
            if user.is_empty()
                || !user
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Ok(Vec::new());
            }
            // The owner's column narrows the match inside FTS5; only the SEARCH_WINDOW
            // newest matches are ranked, so the cost stays flat as notes accumulate. bm25
            // weights: a word in the title counts five times one in the text, a tag twice.
            let matched = format!("user_id:\"{user}\" AND ({query})");
            let rows: Vec<SummaryRow> = self
                .all(
                    "SELECT n.seq, n.id, n.title, n.tags, n.created_at FROM ( \
                       SELECT rowid, bm25(notes_fts, 5.0, 1.0, 2.0, 0.0) AS score \
                       FROM notes_fts WHERE notes_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?4 \
                     ) m JOIN notes n ON n.seq = m.rowid \
                     WHERE n.user_id = ?2 ORDER BY m.score, n.seq DESC LIMIT ?3",
                    &[
                        Arg::T(&matched),
                        Arg::T(user),
                        Arg::N(limit as u64),
                        Arg::N(SEARCH_WINDOW),
                    ],
                )
                .await?;
            Ok(rows.into_iter().map(NoteSummary::from).collect())
        })
    }

    fn get<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, Option<Note>> {
        Box::pin(async move {
            let row: Option<NoteRow> = self
                .first(
                    "SELECT id, title, text, tags, created_at, updated_at FROM notes \
                     WHERE id = ?1 AND user_id = ?2",
                    &[Arg::T(id), Arg::T(user)],
                )
                .await?;
            Ok(row.map(|r| Note {
                id: r.id,
                title: r.title,
                text: r.text,
                tags: tags_from_text(&r.tags),
                created_at: r.created_at,
                updated_at: r.updated_at,
            }))
        })
    }

    fn delete<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let changed = self
                .changes(
                    "DELETE FROM notes WHERE id = ?1 AND user_id = ?2",
                    &[Arg::T(id), Arg::T(user)],
                )
                .await?;
            // D1 counts the FTS trigger's rows too, so "deleted" is "changed any".
            Ok(changed > 0)
        })
    }

    fn list<'a>(
        &'a self,
        user: &'a str,
        tag: Option<&'a str>,
        before: Option<u64>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<NoteSummary>> {
        Box::pin(async move {
            let rows: Vec<SummaryRow> = self
                .all(
                    "SELECT seq, id, title, tags, created_at FROM notes \
                     WHERE user_id = ?1 \
                       AND (?2 IS NULL OR instr(' ' || tags || ' ', ' ' || ?2 || ' ') > 0) \
                       AND (?3 IS NULL OR seq < ?3) \
                     ORDER BY seq DESC LIMIT ?4",
                    &[
                        Arg::T(user),
                        tag.map_or(Arg::Null, Arg::T),
                        before.map_or(Arg::Null, Arg::N),
                        Arg::N(limit as u64),
                    ],
                )
                .await?;
            Ok(rows.into_iter().map(NoteSummary::from).collect())
        })
    }
}
