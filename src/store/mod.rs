//! Storage behind small traits. KV (`kv.rs`) is fast and eventually consistent across
//! Cloudflare's locations (up to 60 s, and misses are cached too); D1 (`d1.rs`) is one
//! strongly consistent SQLite primary. The key layout is written down here; the D1 schema
//! is in `migrations/`.
//!
//! Every key, KV and D1 counters alike, is spelled in `keys.rs`.

pub mod d1;
pub mod d1_app_admin;
pub mod d1_apps;
pub mod d1_audit;
pub mod d1_console;
pub mod d1_doctor;
pub mod d1_documents;
pub mod d1_grants;
pub mod d1_identities;
pub mod d1_notes;
pub mod d1_password_links;
pub mod d1_revocations;
pub mod d1_roles;
pub mod d1_tokens;
pub mod grants;
pub mod identities;
pub mod keys;
pub mod kv;
pub mod memo;
#[cfg(test)]
pub mod memory;
#[cfg(test)]
pub mod memory_grants;
#[cfg(test)]
pub mod memory_identities;
pub mod notes;

/// A storage failure: logged by the edge and answered as `server_error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An eventually consistent key-value store (Workers KV).
#[allow(async_fn_in_trait)]
pub trait KeyValue {
    /// The value, or `None`, which may be stale for up to a minute after a write
    /// elsewhere.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Writes a value, expiring after `ttl` seconds if given (KV's minimum is 60).
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError>;
}

/// The strongly consistent copy of every registered client (D1).
#[allow(async_fn_in_trait)]
pub trait ClientRecords {
    async fn load_client(&self, client_id: &str) -> Result<Option<String>, StoreError>;
    async fn save_client(&self, client_id: &str, record: &str, now: u64) -> Result<(), StoreError>;
}
