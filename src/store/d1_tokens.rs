//! Personal access tokens in D1 (`migrations/0004`): made, found by hash at `/mcp`,
//! listed and revoked by their owner. Every statement but the lookup by hash names the
//! owner, so one person can never list or revoke another's token.

use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// A live token, as `/mcp` needs it.
#[derive(Debug, Deserialize)]
pub struct ActiveToken {
    pub id: String,
    pub user_id: String,
    pub scope: String,
    pub last_used_at: Option<u64>,
    /// The owner's roles now, comma separated: a token never holds a scope its owner's
    /// roles no longer allow.
    #[serde(default)]
    pub roles: Option<String>,
}

/// A token as its owner's list shows it (never the token itself).
#[derive(Debug, Deserialize)]
pub struct TokenSummary {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub created_at: u64,
    pub expires_at: Option<u64>,
    pub last_used_at: Option<u64>,
}

/// How long `last_used_at` may lag: it is written at most once a minute per token, so a
/// busy client costs one D1 write a minute, not one per request.
pub const LAST_USED_STEP: u64 = 60;

/// A token to store (its hash is stored, never the token).
pub struct NewTokenRow<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub scope: &'a str,
    /// Unix seconds, or `None` for a token that never expires.
    pub expires_at: Option<u64>,
}

impl D1 {
    /// Stores a new token; `false` when its owner already holds `max` live tokens (one
    /// statement, so two requests cannot both squeeze past the limit).
    pub async fn create_personal_token(
        &self,
        new: &NewTokenRow<'_>,
        max: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let expires = match new.expires_at {
            Some(t) => Arg::N(t),
            None => Arg::Null,
        };
        let changed = self
            .changes(
                "INSERT INTO personal_tokens (id, user_id, name, token_hash, scope, created_at, expires_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE (SELECT COUNT(*) FROM personal_tokens \
                   WHERE user_id = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?6)) < ?8",
                &[
                    Arg::T(new.id),
                    Arg::T(new.user_id),
                    Arg::T(new.name),
                    Arg::T(new.token_hash),
                    Arg::T(new.scope),
                    Arg::N(now),
                    expires,
                    Arg::N(max),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// The live token with this hash: not revoked, not expired, its owner not disabled.
    pub async fn active_personal_token(
        &self,
        token_hash: &str,
        now: u64,
    ) -> Result<Option<ActiveToken>, StoreError> {
        self.first(
            "SELECT t.id, t.user_id, t.scope, t.last_used_at, \
                    (SELECT group_concat(DISTINCT role) FROM user_roles WHERE user_id = t.user_id \
                     AND (expires_at IS NULL OR \
                          expires_at > CAST(strftime('%s', 'now') AS INTEGER))) AS roles \
             FROM personal_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = ?1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > ?2) AND u.disabled_at IS NULL",
            &[Arg::T(token_hash), Arg::N(now)],
        )
        .await
    }

    /// Records a use; true when this call wrote it (the first use in `LAST_USED_STEP`).
    pub async fn touch_personal_token(&self, id: &str, now: u64) -> Result<bool, StoreError> {
        let changed = self
            .changes(
                "UPDATE personal_tokens SET last_used_at = ?2 \
                 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?3)",
                &[
                    Arg::T(id),
                    Arg::N(now),
                    Arg::N(now.saturating_sub(LAST_USED_STEP)),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// A person's live tokens, newest first, at most `max`.
    pub async fn personal_tokens(
        &self,
        user_id: &str,
        max: u64,
        now: u64,
    ) -> Result<Vec<TokenSummary>, StoreError> {
        self.all(
            "SELECT id, name, scope, created_at, expires_at, last_used_at FROM personal_tokens \
             WHERE user_id = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2) \
             ORDER BY created_at DESC, id LIMIT ?3",
            &[Arg::T(user_id), Arg::N(now), Arg::N(max)],
        )
        .await
    }

    /// Revokes one of `user_id`'s tokens; `None` when they have no live token with that id,
    /// else its name.
    pub async fn revoke_personal_token(
        &self,
        user_id: &str,
        id: &str,
        now: u64,
    ) -> Result<Option<String>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            name: String,
        }
        let row: Option<Row> = self
            .first(
                "UPDATE personal_tokens SET revoked_at = ?3 \
                 WHERE user_id = ?1 AND id = ?2 AND revoked_at IS NULL RETURNING name",
                &[Arg::T(user_id), Arg::T(id), Arg::N(now)],
            )
            .await?;
        Ok(row.map(|r| r.name))
    }
}
