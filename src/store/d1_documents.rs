//! Kept copies of client ID metadata documents (`client_documents`): written when a code
//! is redeemed for such a client, read only when its document cannot be fetched.

use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

impl D1 {
    /// Keeps the client record a document validated to (its JSON), at most once an hour
    /// per document unless it changed.
    pub async fn keep_document(
        &self,
        client_id: &str,
        record: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        self.changes(
            "INSERT INTO client_documents (client_id, record, saved_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT(client_id) DO UPDATE SET record = ?2, saved_at = ?3 \
             WHERE saved_at < ?3 - 3600 OR record <> ?2",
            &[Arg::T(client_id), Arg::T(record), Arg::N(now)],
        )
        .await
        .map(|_| ())
    }

    /// The kept client record of a document, if it was kept at or after `since`.
    pub async fn known_document(
        &self,
        url: &str,
        since: u64,
    ) -> Result<Option<String>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            record: String,
        }
        let row: Option<Row> = self
            .first(
                "SELECT record FROM client_documents WHERE client_id = ?1 AND saved_at >= ?2",
                &[Arg::T(url), Arg::N(since)],
            )
            .await?;
        Ok(row.map(|r| r.record))
    }
}
