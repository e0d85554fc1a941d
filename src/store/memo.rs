//! A small time-bounded memo for one isolate: what one request learned that the next
//! requests in the same isolate may reuse until a deadline. It holds only facts that stay
//! true until then (a token's signature checked, a grant not revoked as of a KV read), so
//! a stale entry can never grant more than the fact it records.

use std::collections::HashMap;
use std::hash::Hash;

pub struct Memo<K, V> {
    entries: HashMap<K, (V, u64)>,
    capacity: usize,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub fn new(capacity: usize) -> Self {
        Memo {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The value, if it was stored with a deadline after `now`.
    pub fn get(&self, key: &K, now: u64) -> Option<V> {
        self.entries
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v.clone())
    }

    /// Stores `value` until `until`. When full, expired entries go first, then everything:
    /// a memo only saves work, so forgetting is always safe.
    pub fn put(&mut self, key: K, value: V, until: u64, now: u64) {
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, (_, u)| *u > now);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (value, until));
    }

    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_end_at_their_deadline() {
        let mut m = Memo::new(4);
        m.put("a", 1, 100, 0);
        assert_eq!(m.get(&"a", 99), Some(1));
        assert_eq!(m.get(&"a", 100), None);
        m.remove(&"a");
        assert_eq!(m.get(&"a", 0), None);
    }

    #[test]
    fn a_full_memo_drops_expired_entries_then_everything() {
        let mut m = Memo::new(2);
        m.put("old", 1, 10, 0);
        m.put("live", 2, 100, 0);
        m.put("new", 3, 100, 50); // "old" has expired: it makes room
        assert_eq!(m.get(&"live", 50), Some(2));
        assert_eq!(m.get(&"new", 50), Some(3));
        m.put("more", 4, 100, 50); // nothing expired: start over
        assert_eq!(m.get(&"live", 50), None);
        assert_eq!(m.get(&"more", 50), Some(4));
        assert!(m.entries.len() <= 2);
    }
}
