//! The apps a person has connected, as the account page shows them: their live grants,
//! grouped by client, and disconnecting one (every grant and refresh-token family of that
//! client for that person, in one transaction). Rows are always read by `user_id`.

use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// One connected app: the union of a person's live grants for one client.
#[derive(Debug, Deserialize)]
pub struct ConnectedApp {
    pub client_id: String,
    /// The redirect URI of one of its grants (a client rarely has more than one).
    pub redirect_uri: String,
    /// The grants' scopes, space separated, possibly repeated.
    pub scopes: String,
    pub first_at: u64,
    /// The last code redemption or refresh: access tokens used at `/mcp` are not counted,
    /// because that would cost a D1 write per MCP request.
    pub last_at: u64,
}

/// At most this many apps are listed; a person with more sees the most recently used.
const MAX_APPS: u64 = 100;

impl D1 {
    /// Live grants: not revoked, and with a refresh token that has not expired or an
    /// access token that may still be valid (issued within `access_ttl`).
    pub async fn connected_apps(
        &self,
        user_id: &str,
        now: u64,
        access_ttl: u64,
    ) -> Result<Vec<ConnectedApp>, StoreError> {
        self.all(
            "SELECT client_id, MAX(redirect_uri) AS redirect_uri, \
             GROUP_CONCAT(scope, ' ') AS scopes, MIN(created_at) AS first_at, \
             MAX(last_used_at) AS last_at \
             FROM grants g WHERE user_id = ?1 AND revoked_at IS NULL AND (last_used_at > ?4 \
               OR EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id \
               AND r.revoked_at IS NULL AND r.expires_at > ?2)) \
             GROUP BY client_id ORDER BY last_at DESC LIMIT ?3",
            &[
                Arg::T(user_id),
                Arg::N(now),
                Arg::N(MAX_APPS),
                Arg::N(now.saturating_sub(access_ttl)),
            ],
        )
        .await
    }

    /// Whether this person has ever approved this client (revoked grants count: the
    /// consent page warns only about apps never seen before).
    pub async fn has_approved(&self, user_id: &str, client_id: &str) -> Result<bool, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            #[allow(dead_code)]
            one: u64,
        }
        let row: Option<Row> = self
            .first(
                "SELECT 1 AS one FROM grants WHERE user_id = ?1 AND client_id = ?2 LIMIT 1",
                &[Arg::T(user_id), Arg::T(client_id)],
            )
            .await?;
        Ok(row.is_some())
    }

    /// The scopes of the person's live grants to the client for this redirect URI, newest
    /// first (at most 20): what `prompt=none` may grant again without asking. Live as the
    /// account page's list counts it: not revoked, with a refresh token still usable; the
    /// scope is that token's, so a grant narrowed at a refresh stays narrowed here too.
    pub async fn live_grant_scopes(
        &self,
        user_id: &str,
        client_id: &str,
        redirect_uri: &str,
        now: u64,
    ) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            scope: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT r.scope FROM grants g JOIN refresh_tokens r ON r.grant_id = g.id \
                 WHERE g.user_id = ?1 AND g.client_id = ?2 AND g.redirect_uri = ?3 \
                 AND g.revoked_at IS NULL AND r.revoked_at IS NULL AND r.rotated_at IS NULL \
                 AND r.expires_at > ?4 ORDER BY g.created_at DESC LIMIT 20",
                &[
                    Arg::T(user_id),
                    Arg::T(client_id),
                    Arg::T(redirect_uri),
                    Arg::N(now),
                ],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.scope).collect())
    }

    /// Revokes every grant of `client_id` for `user_id` and all their refresh tokens, in
    /// one transaction (`now_ms` in milliseconds). Returns the ids of the grants it
    /// revoked, for their KV marks.
    pub async fn disconnect(
        &self,
        user_id: &str,
        client_id: &str,
        now_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        let args = [
            Arg::T(user_id),
            Arg::T(client_id),
            Arg::N(now_ms / 1000),
            Arg::N(now_ms),
        ];
        let batch = vec![
            self.stmt(
                "UPDATE grants SET revoked_at = ?3, revoked_ms = ?4 \
                 WHERE user_id = ?1 AND client_id = ?2 AND revoked_at IS NULL RETURNING id",
                &args,
            )?,
            self.stmt(
                "UPDATE refresh_tokens SET revoked_at = ?3 WHERE revoked_at IS NULL AND \
                 grant_id IN (SELECT id FROM grants WHERE user_id = ?1 AND client_id = ?2)",
                &args[..3],
            )?,
        ];
        let results = self.0.batch(batch).await.map_err(super::d1::err)?;
        let rows: Vec<Row> = match results.first() {
            Some(r) => r.results().map_err(super::d1::err)?,
            None => Vec::new(),
        };
        Ok(rows.into_iter().map(|r| r.id).collect())
    }
}
