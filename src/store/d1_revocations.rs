//! Revocation as D1 holds it, for when Workers KV cannot carry it: the grants revoked
//! recently whose KV mark (`revoked-grant:<id>`) was never written, and one grant's state.
//! D1 is where a revocation happens; the KV mark only lets `/mcp` learn of it without a
//! D1 read per request, so a failed mark write must never make a revocation disappear.

use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// At most this many unmarked grants are read at once: far more than any outage of a
/// day's KV quota leaves (each needs a revocation by a person or the operator).
pub const MAX_UNMARKED: u64 = 5_000;

#[derive(Deserialize)]
struct Id {
    id: String,
}

impl D1 {
    /// Grants revoked at or after `since` (seconds) whose KV mark was not written.
    pub async fn unmarked_revocations(&self, since: u64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<Id> = self
            .all(
                "SELECT id FROM grants WHERE revoked_at IS NOT NULL AND marked_at IS NULL \
                 AND revoked_at >= ?1 ORDER BY revoked_at DESC LIMIT ?2",
                &[Arg::N(since), Arg::N(MAX_UNMARKED)],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Records that the KV mark of a revoked grant was written.
    pub async fn set_marked(&self, grant_id: &str, now: u64) -> Result<(), StoreError> {
        self.changes(
            "UPDATE grants SET marked_at = ?2 WHERE id = ?1 AND revoked_at IS NOT NULL",
            &[Arg::T(grant_id), Arg::N(now)],
        )
        .await
        .map(|_| ())
    }
}
