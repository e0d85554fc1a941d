//! `KeyValue` on Workers KV.

use crate::store::{KeyValue, StoreError};
use worker::kv::KvStore;

pub struct Kv(pub KvStore);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("KV: {e}"))
}

impl Kv {
    /// A read that may be served from the location's cache for `cache_ttl` seconds,
    /// a miss included: for values where a minute of staleness is the documented bound.
    pub async fn get_cached(
        &self,
        key: &str,
        cache_ttl: u64,
    ) -> Result<Option<String>, StoreError> {
        self.0
            .get(key)
            .cache_ttl(cache_ttl)
            .text()
            .await
            .map_err(err)
    }

    /// Deletes a key (a removed client's fast copy).
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0.delete(key).await.map_err(err)
    }
}

impl KeyValue for Kv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.get(key).text().await.map_err(err)
    }

    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError> {
        // As bytes: `put` with a `&str` takes worker's generic `Serialize` path, which
        // round-trips the string through serde and links float formatting into the wasm.
        let mut put = self.0.put_bytes(key, value.as_bytes()).map_err(err)?;
        if let Some(t) = ttl {
            put = put.expiration_ttl(t.max(60));
        }
        put.execute().await.map_err(err)
    }
}
