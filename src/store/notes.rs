//! The per-user knowledge store behind the built-in tools. Every method takes the owner's
//! user id and never reads or changes another user's notes: that is the isolation rule
//! the tools rely on, enforced in each query rather than in the tools.
//!
//! D1 schema: `migrations/0002_notes.sql` (`notes`, and `notes_fts`, an FTS5 index kept in
//! step by triggers).

use crate::store::StoreError;
use std::future::Future;
use std::pin::Pin;

/// How many notes one person may keep.
pub const MAX_NOTES_PER_USER: u64 = 20_000;
/// The most one note may hold, in bytes of UTF-8 (title, text and tags).
pub const MAX_NOTE_BYTES: u64 = 100_000;
/// The most one person's notes may hold in all, in bytes: the bound on what one account
/// can make the database hold, which every sign-in, refresh and audit row also needs.
pub const MAX_BYTES_PER_USER: u64 = 50_000_000;

/// What `NoteStore::insert` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Yes,
    /// The person already has `MAX_NOTES_PER_USER` notes.
    TooManyNotes,
    /// The note would take the person past `MAX_BYTES_PER_USER`.
    OutOfSpace,
}

impl Note {
    /// The note's size as stored: title, text and tags in UTF-8.
    pub fn bytes(&self) -> u64 {
        (self.title.len() + self.text.len() + tags_to_text(&self.tags).len()) as u64
    }
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + 'a>>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub id: String,
    pub title: String,
    pub text: String,
    pub tags: Vec<String>,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A line of a listing or a search result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSummary {
    /// Position in the owner's notes, newest highest: the listing's cursor.
    pub seq: u64,
    pub id: String,
    pub title: String,
    pub tags: Vec<String>,
    pub created_at: u64,
}

/// Object-safe (boxed futures), so tools take `&dyn NoteStore` and stay one file each.
pub trait NoteStore {
    /// Stores a new note for `user`, unless `user` already has `MAX_NOTES_PER_USER` notes
    /// or the note would take their notes past `MAX_BYTES_PER_USER` bytes: then nothing is
    /// written, and the answer says which.
    fn insert<'a>(&'a self, user: &'a str, note: &'a Note) -> StoreFuture<'a, Stored>;
    /// Up to `limit` of `user`'s notes matching the full-text `query` (FTS5 syntax, built by
    /// `mcp::tools::search::fts_query`), best match first. A store may rank only the newest
    /// matches (D1 ranks 200), so the cost does not grow with a person's notes.
    fn search<'a>(
        &'a self,
        user: &'a str,
        query: &'a str,
        limit: usize,
    ) -> StoreFuture<'a, Vec<NoteSummary>>;
    /// `user`'s note `id`, or `None` (also when it belongs to someone else).
    fn get<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, Option<Note>>;
    /// Deletes `user`'s note `id`; `false` when there was none.
    fn delete<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, bool>;
    /// `user`'s notes, newest first, optionally with `tag`, older than `before` (a `seq`).
    fn list<'a>(
        &'a self,
        user: &'a str,
        tag: Option<&'a str>,
        before: Option<u64>,
        limit: usize,
    ) -> StoreFuture<'a, Vec<NoteSummary>>;
}

/// Tags are stored as one space-separated string, each tag `[a-z0-9_-]`.
pub fn tags_to_text(tags: &[String]) -> String {
    tags.join(" ")
}

pub fn tags_from_text(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}
