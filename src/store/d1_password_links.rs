//! One-time links to set a password (`migrations/0016`): made in the console when an
//! administrator adds a person or resets one, used once at `/welcome`.

use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// A link as `/welcome` reads it.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct PasswordLink {
    pub user_id: String,
    pub email: String,
    pub purpose: String,
    pub expires_at: u64,
    pub used_at: Option<u64>,
    pub disabled_at: Option<u64>,
}

impl D1 {
    /// Adds a person without a password (they set it through a link, or sign in through
    /// a provider, which links to an operator-added person by email). `false`: the email
    /// is taken.
    pub async fn add_person(
        &self,
        id: &str,
        email: &str,
        name: Option<&str>,
        now: u64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .changes(
                "INSERT INTO users (id, email, name, password_hash, password_salt, iterations, created_at, operator_added) \
                 VALUES (?1, ?2, ?3, '', '', 0, ?4, 1) ON CONFLICT DO NOTHING",
                &[
                    Arg::T(id),
                    Arg::T(email),
                    name.map_or(Arg::Null, Arg::T),
                    Arg::N(now),
                ],
            )
            .await?
            == 1)
    }

    /// Whether the person has signed in through a sign-in provider.
    pub async fn has_identity(&self, user_id: &str) -> Result<bool, StoreError> {
        #[derive(Deserialize)]
        struct One {
            #[allow(dead_code)]
            one: u64,
        }
        let row: Option<One> = self
            .first(
                "SELECT 1 AS one FROM identities WHERE user_id = ?1 LIMIT 1",
                &[Arg::T(user_id)],
            )
            .await?;
        Ok(row.is_some())
    }

    /// A new link for the person, replacing any other of theirs.
    pub async fn new_password_link(
        &self,
        token_hash: &str,
        user_id: &str,
        purpose: &str,
        now: u64,
        expires_at: u64,
        by: &str,
    ) -> Result<(), StoreError> {
        let batch = vec![
            self.stmt(
                "DELETE FROM password_links WHERE user_id = ?1",
                &[Arg::T(user_id)],
            )?,
            self.stmt(
                "INSERT INTO password_links (token_hash, user_id, purpose, created_at, expires_at, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    Arg::T(token_hash),
                    Arg::T(user_id),
                    Arg::T(purpose),
                    Arg::N(now),
                    Arg::N(expires_at),
                    Arg::T(by),
                ],
            )?,
        ];
        self.0
            .batch(batch)
            .await
            .map_err(super::d1::err)
            .map(|_| ())
    }

    pub async fn password_link(
        &self,
        token_hash: &str,
    ) -> Result<Option<PasswordLink>, StoreError> {
        self.first(
            "SELECT l.user_id, u.email, l.purpose, l.expires_at, l.used_at, u.disabled_at \
             FROM password_links l JOIN users u ON u.id = l.user_id WHERE l.token_hash = ?1",
            &[Arg::T(token_hash)],
        )
        .await
    }

    /// Uses the link and sets the password, in one transaction; `false` when the link
    /// was used, replaced or expired meanwhile, or the account was disabled or given a
    /// password another way (every link is made for an account without one): then the
    /// password is not set. Sessions from before end, and the account's failed sign-ins
    /// are forgotten.
    #[allow(clippy::too_many_arguments)]
    pub async fn use_password_link(
        &self,
        token_hash: &str,
        user_id: &str,
        hash: &str,
        salt: &str,
        iterations: u32,
        account_failures: &str,
        now: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let batch = vec![
            self.stmt(
                "UPDATE password_links SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL \
                 AND expires_at > ?2",
                &[Arg::T(token_hash), Arg::N(now)],
            )?,
            self.stmt(
                "UPDATE users SET password_hash = ?2, password_salt = ?3, iterations = ?4, \
                 sessions_after = MAX(sessions_after, ?5) WHERE id = ?1 AND changes() = 1 \
                 AND password_hash = '' AND disabled_at IS NULL",
                &[
                    Arg::T(user_id),
                    Arg::T(hash),
                    Arg::T(salt),
                    Arg::N(u64::from(iterations)),
                    Arg::N(now_ms),
                ],
            )?,
            self.stmt(
                "DELETE FROM login_failures WHERE key = ?1 AND EXISTS \
                 (SELECT 1 FROM password_links WHERE token_hash = ?2 AND used_at = ?3)",
                &[Arg::T(account_failures), Arg::T(token_hash), Arg::N(now)],
            )?,
        ];
        let results = self.0.batch(batch).await.map_err(super::d1::err)?;
        let changed = |i: usize| {
            results
                .get(i)
                .and_then(|r| r.meta().ok().flatten())
                .and_then(|m| m.changes)
                .unwrap_or(0)
        };
        Ok(changed(0) == 1 && changed(1) == 1)
    }

    /// Resets a person as `npm run user -- reset-password` does, without choosing their
    /// password: it is cleared (they set a new one through a link), every session ends,
    /// every connected app and personal token is revoked, the account's failed sign-ins
    /// and its older links are forgotten. Returns the grants revoked.
    pub async fn reset_person(
        &self,
        user_id: &str,
        account_failures: &str,
        now: u64,
        now_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        let reset = self.stmt(
            "UPDATE users SET operator_added = CASE WHEN password_hash <> '' THEN 1 \
             ELSE operator_added END, password_hash = '', password_salt = '', iterations = 0, \
             sessions_after = MAX(sessions_after, ?2) WHERE id = ?1",
            &[Arg::T(user_id), Arg::N(now_ms)],
        )?;
        let failures = self.stmt(
            "DELETE FROM login_failures WHERE key = ?1",
            &[Arg::T(account_failures)],
        )?;
        self.end_everything(user_id, now, now_ms, reset, vec![failures])
            .await
    }
}
