//! The grant store on D1 (`store::grants::GrantStore`): every single-use rule is one
//! conditional statement, so concurrent requests cannot both win.

use crate::store::d1::{err, Arg, D1};
use crate::store::d1_audit::AuditRow;
use crate::store::grants::{NewGrant, NewRefresh, Redeemed, RefreshRow};
use crate::store::StoreError;
use serde::Deserialize;

/// The statements behind `http::grants::EdgeGrants`, which implements the grant store
/// (and adds the KV mark a revocation needs): call that, not these.
impl D1 {
    /// `GrantStore::redeem_code`: each rule is one conditional statement.
    pub async fn redeem_code(
        &self,
        g: &NewGrant<'_>,
        refresh: Option<&NewRefresh<'_>>,
        now: u64,
    ) -> Result<Redeemed, StoreError> {
        let mut batch = vec![self.stmt(
            "INSERT INTO grants (id, user_id, client_id, scope, resource, redirect_uri, \
             code_hash, created_at, last_used_at, auth_time) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?10 \
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = ?2 \
               AND (disabled_at IS NOT NULL OR sessions_after > ?9)) \
             AND NOT EXISTS (SELECT 1 FROM grants WHERE user_id = ?2 AND client_id = ?3 \
               AND COALESCE(revoked_ms, revoked_at * 1000 + 999) >= ?9 AND code_hash <> ?7) \
             ON CONFLICT(code_hash) DO NOTHING",
            &[
                Arg::T(g.id),
                Arg::T(g.user_id),
                Arg::T(g.client_id),
                Arg::T(g.scope),
                Arg::T(g.resource),
                Arg::T(g.redirect_uri),
                Arg::T(g.code_hash),
                Arg::N(now),
                Arg::N(g.code_issued_ms),
                g.auth_time.map_or(Arg::Null, Arg::N),
            ],
        )?];
        if let Some(r) = refresh {
            // Inserted only when the grant above was: its fresh id exists only then.
            batch.push(self.stmt(
                "INSERT INTO refresh_tokens (token_hash, grant_id, user_id, client_id, scope, \
                 issued_at, expires_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 \
                 WHERE EXISTS (SELECT 1 FROM grants WHERE id = ?2 AND code_hash = ?8)",
                &[
                    Arg::T(r.token_hash),
                    Arg::T(r.grant_id),
                    Arg::T(r.user_id),
                    Arg::T(r.client_id),
                    Arg::T(r.scope),
                    Arg::N(now),
                    Arg::N(r.expires_at),
                    Arg::T(g.code_hash),
                ],
            )?);
        }
        if self.first_statement_changed_one(batch).await? {
            return Ok(Redeemed::First);
        }
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        let row: Option<Row> = self
            .first(
                "SELECT id FROM grants WHERE code_hash = ?1",
                &[Arg::T(g.code_hash)],
            )
            .await?;
        Ok(match row {
            Some(r) => Redeemed::Replayed { grant_id: r.id },
            None => Redeemed::Withdrawn,
        })
    }

    /// The grant's and its refresh tokens' rows only: without the KV mark, its access
    /// tokens would still pass at `/mcp` (see `http::grants::mark_revoked`).
    pub async fn revoke_grant_rows(&self, grant_id: &str, now_ms: u64) -> Result<(), StoreError> {
        let now = now_ms / 1000;
        let batch = vec![
            self.stmt(
                "UPDATE grants SET revoked_at = ?2, revoked_ms = ?3 \
                 WHERE id = ?1 AND revoked_at IS NULL",
                &[Arg::T(grant_id), Arg::N(now), Arg::N(now_ms)],
            )?,
            self.stmt(
                "UPDATE refresh_tokens SET revoked_at = ?2 WHERE grant_id = ?1 AND revoked_at IS NULL",
                &[Arg::T(grant_id), Arg::N(now)],
            )?,
        ];
        self.0.batch(batch).await.map_err(err).map(|_| ())
    }

    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRow>, StoreError> {
        self.first(
            "SELECT r.token_hash, r.grant_id, r.user_id, r.client_id, r.scope, r.expires_at, \
                    r.rotated_at, r.successor_hash, r.revoked_at, g.resource, g.auth_time, \
                    g.revoked_at AS grant_revoked_at, s.rotated_at AS successor_rotated_at, \
                    s.token_hash AS successor_found, \
                    u.disabled_at AS user_disabled_at, \
                    (SELECT group_concat(DISTINCT role) FROM user_roles WHERE user_id = r.user_id \
                     AND (expires_at IS NULL OR \
                          expires_at > CAST(strftime('%s', 'now') AS INTEGER))) AS roles \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
             LEFT JOIN users u ON u.id = r.user_id \
             LEFT JOIN refresh_tokens s ON s.token_hash = r.successor_hash \
             WHERE r.token_hash = ?1",
            &[Arg::T(token_hash)],
        )
        .await
    }

    /// The one conditional UPDATE that exactly one caller wins, plus the successor's row
    /// (ignored if a concurrent caller already wrote the same).
    /// `audit`: the refresh's audit row, inserted right after the rotation and only when
    /// that statement changed a row (`changes()` is the last statement's count, inside
    /// the batch's transaction).
    pub async fn rotate(
        &self,
        old_hash: &str,
        successor: &NewRefresh<'_>,
        now: u64,
        audit: &AuditRow<'_>,
    ) -> Result<bool, StoreError> {
        let batch = vec![
            self.stmt(
                "UPDATE refresh_tokens SET rotated_at = ?2, successor_hash = ?3 \
                 WHERE token_hash = ?1 AND rotated_at IS NULL AND revoked_at IS NULL",
                &[Arg::T(old_hash), Arg::N(now), Arg::T(successor.token_hash)],
            )?,
            self.audit_if_changed(audit)?,
            self.stmt(
                "INSERT OR IGNORE INTO refresh_tokens (token_hash, grant_id, user_id, client_id, \
                 scope, issued_at, expires_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS \
                 (SELECT 1 FROM refresh_tokens WHERE token_hash = ?8 AND successor_hash = ?1)",
                &[
                    Arg::T(successor.token_hash),
                    Arg::T(successor.grant_id),
                    Arg::T(successor.user_id),
                    Arg::T(successor.client_id),
                    Arg::T(successor.scope),
                    Arg::N(now),
                    Arg::N(successor.expires_at),
                    Arg::T(old_hash),
                ],
            )?,
            self.stmt(
                "UPDATE grants SET last_used_at = ?2 WHERE id = ?1",
                &[Arg::T(successor.grant_id), Arg::N(now)],
            )?,
        ];
        self.first_statement_changed_one(batch).await
    }

    pub async fn grant_revoked(&self, grant_id: &str) -> Result<bool, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            revoked_at: Option<u64>,
        }
        let row: Option<Row> = self
            .first(
                "SELECT revoked_at FROM grants WHERE id = ?1",
                &[Arg::T(grant_id)],
            )
            .await?;
        Ok(row.is_none_or(|r| r.revoked_at.is_some()))
    }
}

impl D1 {
    /// Deletes up to `limit` refresh tokens that expired before `expired_before` or were
    /// rotated before `rotated_before`; the number deleted. Housekeeping for the cron, not
    /// part of the grant contract: a deleted token is simply unknown.
    pub async fn trim_refresh_tokens(
        &self,
        expired_before: u64,
        rotated_before: u64,
        limit: u64,
    ) -> Result<usize, StoreError> {
        let expired = self
            .changes(
                "DELETE FROM refresh_tokens WHERE token_hash IN \
                 (SELECT token_hash FROM refresh_tokens WHERE expires_at < ?1 LIMIT ?2)",
                &[Arg::N(expired_before), Arg::N(limit)],
            )
            .await?;
        let rotated = self
            .changes(
                "DELETE FROM refresh_tokens WHERE token_hash IN \
                 (SELECT token_hash FROM refresh_tokens WHERE rotated_at < ?1 LIMIT ?2)",
                &[Arg::N(rotated_before), Arg::N(limit)],
            )
            .await?;
        Ok(expired + rotated)
    }
}
