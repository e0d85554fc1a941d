//! In-memory stores for native tests. `DelayedKv` behaves like Workers KV seen from
//! several locations: a write is visible at once where it was made and only after a delay
//! elsewhere, and a miss is cached for as long.

use crate::store::{ClientRecords, KeyValue, StoreError};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

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
