//! What the console's Apps page changes: removing an app (its grants revoked first, as
//! `npm run client -- remove` does) and the hosts client ID metadata documents may come
//! from.

use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// How many host rules there may be.
pub const MAX_HOST_RULES: u64 = 500;

/// One host rule.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct HostRule {
    pub host: String,
    /// `allow` or `block`.
    pub rule: String,
    pub created_at: u64,
    pub created_by: String,
}

impl D1 {
    /// Revokes every grant and refresh token of the client and deletes its record (a
    /// registered or pre-registered one) or its kept document, in one transaction.
    /// Returns the grants revoked, for their KV marks.
    pub async fn remove_app(
        &self,
        client_id: &str,
        now: u64,
        now_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let batch = vec![
            self.stmt(
                "UPDATE refresh_tokens SET revoked_at = ?2 WHERE client_id = ?1 AND revoked_at IS NULL",
                &[Arg::T(client_id), Arg::N(now)],
            )?,
            self.stmt(
                "UPDATE grants SET revoked_at = ?2, revoked_ms = ?3 \
                 WHERE client_id = ?1 AND revoked_at IS NULL RETURNING id",
                &[Arg::T(client_id), Arg::N(now), Arg::N(now_ms)],
            )?,
            self.stmt(
                "DELETE FROM clients WHERE client_id = ?1",
                &[Arg::T(client_id)],
            )?,
            self.stmt(
                "DELETE FROM client_documents WHERE client_id = ?1",
                &[Arg::T(client_id)],
            )?,
        ];
        let results = self.0.batch(batch).await.map_err(super::d1::err)?;
        let revoked: Vec<Id> = match results.get(1) {
            Some(r) => r.results().map_err(super::d1::err)?,
            None => Vec::new(),
        };
        Ok(revoked.into_iter().map(|r| r.id).collect())
    }

    /// Whether the client is stored here: registered, pre-registered, or a kept document.
    pub async fn app_known(&self, client_id: &str) -> Result<bool, StoreError> {
        #[derive(Deserialize)]
        struct N {
            n: u64,
        }
        let row: Option<N> = self
            .first(
                "SELECT (SELECT COUNT(*) FROM clients WHERE client_id = ?1) + \
                 (SELECT COUNT(*) FROM client_documents WHERE client_id = ?1) AS n",
                &[Arg::T(client_id)],
            )
            .await?;
        Ok(row.is_some_and(|r| r.n > 0))
    }

    /// Every rule, blocks first: at most `MAX_HOST_RULES` (kept to by `set_host_rule` and
    /// the command line); one more means there are too many to trust the list.
    pub async fn host_rules(&self) -> Result<Vec<HostRule>, StoreError> {
        self.all(
            "SELECT host, rule, created_at, created_by FROM document_hosts \
             ORDER BY rule DESC, host LIMIT ?1",
            // One more than allowed: a caller seeing it knows the list is not whole.
            &[Arg::N(MAX_HOST_RULES + 1)],
        )
        .await
    }

    /// Sets the rule of a host (replacing its other rule, if any).
    /// `false`: there are `MAX_HOST_RULES` rules already and this host has none.
    pub async fn set_host_rule(
        &self,
        host: &str,
        rule: &str,
        now: u64,
        by: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .changes(
                "INSERT INTO document_hosts (host, rule, created_at, created_by) \
                 SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM document_hosts WHERE host = ?1) \
                 OR (SELECT COUNT(*) FROM document_hosts) < ?5 \
                 ON CONFLICT(host) DO UPDATE SET rule = excluded.rule, \
                 created_at = excluded.created_at, created_by = excluded.created_by",
                &[
                    Arg::T(host),
                    Arg::T(rule),
                    Arg::N(now),
                    Arg::T(by),
                    Arg::N(MAX_HOST_RULES),
                ],
            )
            .await?
            > 0)
    }

    /// Removes a host's rule; whether there was one.
    pub async fn delete_host_rule(&self, host: &str) -> Result<bool, StoreError> {
        Ok(self
            .changes(
                "DELETE FROM document_hosts WHERE host = ?1",
                &[Arg::T(host)],
            )
            .await?
            > 0)
    }
}
