//! In-memory stores for native tests. `DelayedKv` behaves like Workers KV seen from
//! several locations: a write is visible at once where it was made and only after a delay
//! elsewhere, and a miss is cached for as long.

use crate::store::{ClientRecords, KeyValue, StoreError};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// Runs a future of the memory stores, which never suspend: one poll completes it.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("a memory store suspended"),
    }
}

#[derive(Default)]
pub struct Clock(Cell<u64>);

impl Clock {
    pub fn now(&self) -> u64 {
        self.0.get()
    }
    pub fn advance(&self, seconds: u64) {
        self.0.set(self.0.get() + seconds);
    }
}

pub struct DelayedKv<'c> {
    clock: &'c Clock,
    delay: u64,
    /// key -> (value, written at, written in)
    data: RefCell<HashMap<String, (String, u64, String)>>,
    /// (location, key) -> time a miss was cached
    misses: RefCell<HashMap<(String, String), u64>>,
}

pub struct KvLocation<'a, 'c> {
    kv: &'a DelayedKv<'c>,
    name: String,
}

impl<'c> DelayedKv<'c> {
    pub fn new(clock: &'c Clock, delay: u64) -> Self {
        DelayedKv {
            clock,
            delay,
            data: RefCell::default(),
            misses: RefCell::default(),
        }
    }

    pub fn location(&self, name: &str) -> KvLocation<'_, 'c> {
        KvLocation {
            kv: self,
            name: name.to_string(),
        }
    }
}

impl KvLocation<'_, '_> {
    pub async fn get_raw(&self, key: &str) -> Option<String> {
        self.get(key).await.ok().flatten()
    }
}

impl KeyValue for KvLocation<'_, '_> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = self.kv.clock.now();
        let miss_key = (self.name.clone(), key.to_string());
        if let Some(at) = self.kv.misses.borrow().get(&miss_key) {
            if now < at + self.kv.delay {
                return Ok(None);
            }
        }
        let found = self.kv.data.borrow().get(key).and_then(|(v, at, loc)| {
            (*loc == self.name || now >= at + self.kv.delay).then(|| v.clone())
        });
        if found.is_none() {
            self.kv.misses.borrow_mut().insert(miss_key, now);
        }
        Ok(found)
    }

    async fn put(&self, key: &str, value: &str, _ttl: Option<u64>) -> Result<(), StoreError> {
        let now = self.kv.clock.now();
        self.kv
            .data
            .borrow_mut()
            .insert(key.to_string(), (value.to_string(), now, self.name.clone()));
        self.kv
            .misses
            .borrow_mut()
            .remove(&(self.name.clone(), key.to_string()));
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryClients(RefCell<HashMap<String, String>>);

impl MemoryClients {
    /// What `npm run client -- remove` does to D1.
    pub fn remove(&self, client_id: &str) {
        self.0.borrow_mut().remove(client_id);
    }
}

impl ClientRecords for MemoryClients {
    async fn load_client(&self, client_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.borrow().get(client_id).cloned())
    }
    async fn save_client(&self, id: &str, record: &str, _now: u64) -> Result<(), StoreError> {
        self.0
            .borrow_mut()
            .insert(id.to_string(), record.to_string());
        Ok(())
    }
}

/// `NoteStore` in memory. Search matches any query word as a prefix of a word in the
/// title, text or tags, ranked by how many words matched (FTS5's bm25 is D1's business;
/// the e2e tests cover it).
#[derive(Default)]
pub struct MemoryNotes {
    rows: RefCell<Vec<(u64, String, crate::store::notes::Note)>>,
}

impl MemoryNotes {
    fn summary(seq: u64, n: &crate::store::notes::Note) -> crate::store::notes::NoteSummary {
        crate::store::notes::NoteSummary {
            seq,
            id: n.id.clone(),
            title: n.title.clone(),
            tags: n.tags.clone(),
            created_at: n.created_at,
        }
    }
}

impl crate::store::notes::NoteStore for MemoryNotes {
    fn insert<'a>(
        &'a self,
        user: &'a str,
        note: &'a crate::store::notes::Note,
    ) -> crate::store::notes::StoreFuture<'a, crate::store::notes::Stored> {
        use crate::store::notes::{Stored, MAX_BYTES_PER_USER, MAX_NOTES_PER_USER};
        Box::pin(async move {
            let mut rows = self.rows.borrow_mut();
            if rows.iter().any(|(_, _, n)| n.id == note.id) {
                return Err(StoreError("UNIQUE constraint failed: notes.id".into()));
            }
            let owned = rows.iter().filter(|(_, u, _)| u == user);
            let (count, bytes) =
                owned.fold((0u64, 0u64), |(c, b), (_, _, n)| (c + 1, b + n.bytes()));
            if count >= MAX_NOTES_PER_USER {
                return Ok(Stored::TooManyNotes);
            }
            if bytes + note.bytes() > MAX_BYTES_PER_USER {
                return Ok(Stored::OutOfSpace);
            }
            let seq = rows.len() as u64 + 1;
            rows.push((seq, user.to_string(), note.clone()));
            Ok(Stored::Yes)
        })
    }

    fn search<'a>(
        &'a self,
        user: &'a str,
        query: &'a str,
        limit: usize,
    ) -> crate::store::notes::StoreFuture<'a, Vec<crate::store::notes::NoteSummary>> {
        Box::pin(async move {
            // Case-folded on both sides, as FTS5's unicode61 tokenizer does.
            let words: Vec<String> = query
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_lowercase)
                .collect();
            let rows = self.rows.borrow();
            let mut hits: Vec<(usize, u64, &crate::store::notes::Note)> = rows
                .iter()
                .filter(|(_, u, _)| u == user)
                .map(|(seq, _, n)| {
                    let text =
                        format!("{} {} {}", n.title, n.text, n.tags.join(" ")).to_lowercase();
                    let matched = words
                        .iter()
                        .filter(|w| {
                            text.split(|c: char| !c.is_alphanumeric())
                                .any(|t| t.starts_with(w.as_str()))
                        })
                        .count();
                    (matched, *seq, n)
                })
                .filter(|(m, _, _)| *m > 0)
                .collect();
            hits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
            Ok(hits
                .into_iter()
                .take(limit)
                .map(|(_, seq, n)| Self::summary(seq, n))
                .collect())
        })
    }

    fn get<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
    ) -> crate::store::notes::StoreFuture<'a, Option<crate::store::notes::Note>> {
        Box::pin(async move {
            Ok(self
                .rows
                .borrow()
                .iter()
                .find(|(_, u, n)| u == user && n.id == id)
                .map(|(_, _, n)| n.clone()))
        })
    }

    fn delete<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
    ) -> crate::store::notes::StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut rows = self.rows.borrow_mut();
            let before = rows.len();
            rows.retain(|(_, u, n)| !(u == user && n.id == id));
            Ok(rows.len() < before)
        })
    }

    fn list<'a>(
        &'a self,
        user: &'a str,
        tag: Option<&'a str>,
        before: Option<u64>,
        limit: usize,
    ) -> crate::store::notes::StoreFuture<'a, Vec<crate::store::notes::NoteSummary>> {
        Box::pin(async move {
            let rows = self.rows.borrow();
            let mut found: Vec<_> = rows
                .iter()
                .filter(|(seq, u, n)| {
                    u == user
                        && tag.is_none_or(|t| n.tags.iter().any(|x| x == t))
                        && before.is_none_or(|b| *seq < b)
                })
                .map(|(seq, _, n)| Self::summary(*seq, n))
                .collect();
            found.sort_by_key(|n| std::cmp::Reverse(n.seq));
            found.truncate(limit);
            Ok(found)
        })
    }
}
