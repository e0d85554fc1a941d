//! Sign-ins through providers: the identities that map a provider's subject to a person,
//! and the pending sign-ins between `/signin/start` and the person's return. Every
//! single-use rule is one statement (`DELETE ... RETURNING`), so two returns with one
//! state cannot both win.

use crate::store::d1::{err, Arg, UserRow, D1};
use crate::store::identities::IdentityStore;
use crate::store::StoreError;
use serde::Deserialize;

#[derive(Debug, Deserialize, Clone)]
pub struct PendingRow {
    pub provider: String,
    pub browser_hash: String,
    pub verifier: String,
    pub nonce: String,
    pub return_to: String,
    pub expires_at: u64,
    pub identity: Option<String>,
}

pub struct NewPending<'a> {
    pub state_hash: &'a str,
    pub provider: &'a str,
    pub browser_hash: &'a str,
    pub verifier: &'a str,
    pub nonce: &'a str,
    pub return_to: &'a str,
    pub expires_at: u64,
}

pub use crate::store::identities::{Identity, IdentityRow};

const PENDING_COLUMNS: &str =
    "provider, browser_hash, verifier, nonce, return_to, expires_at, identity";

impl D1 {
    pub async fn insert_pending(&self, p: &NewPending<'_>) -> Result<(), StoreError> {
        self.changes(
            "INSERT INTO signin_pending (state_hash, provider, browser_hash, verifier, nonce, \
             return_to, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                Arg::T(p.state_hash),
                Arg::T(p.provider),
                Arg::T(p.browser_hash),
                Arg::T(p.verifier),
                Arg::T(p.nonce),
                Arg::T(p.return_to),
                Arg::N(p.expires_at),
            ],
        )
        .await
        .map(|_| ())
    }

    /// Takes a pending sign-in by its state: it is gone afterwards, used or not. A
    /// completed hand-off is never taken this way (only by its return code).
    pub async fn take_pending(&self, state_hash: &str) -> Result<Option<PendingRow>, StoreError> {
        self.first(
            &format!(
                "DELETE FROM signin_pending WHERE state_hash = ?1 AND completion_hash IS NULL \
                 RETURNING {PENDING_COLUMNS}"
            ),
            &[Arg::T(state_hash)],
        )
        .await
    }

    /// The operator's app completes a hand-off: once, while it is pending. True when it did.
    pub async fn complete_handoff(
        &self,
        state_hash: &str,
        provider: &str,
        completion_hash: &str,
        identity: &str,
        now: u64,
    ) -> Result<bool, StoreError> {
        let n = self
            .changes(
                "UPDATE signin_pending SET completion_hash = ?3, identity = ?4 \
                 WHERE state_hash = ?1 AND provider = ?2 AND completion_hash IS NULL \
                 AND expires_at > ?5",
                &[
                    Arg::T(state_hash),
                    Arg::T(provider),
                    Arg::T(completion_hash),
                    Arg::T(identity),
                    Arg::N(now),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Takes a completed hand-off by the code its person returned with.
    pub async fn take_completed(
        &self,
        completion_hash: &str,
    ) -> Result<Option<PendingRow>, StoreError> {
        self.first(
            &format!(
                "DELETE FROM signin_pending WHERE completion_hash = ?1 RETURNING {PENDING_COLUMNS}"
            ),
            &[Arg::T(completion_hash)],
        )
        .await
    }

    pub async fn trim_pending(&self, now: u64) -> Result<usize, StoreError> {
        self.changes(
            "DELETE FROM signin_pending WHERE expires_at <= ?1",
            &[Arg::N(now)],
        )
        .await
    }
}

impl IdentityStore for D1 {
    async fn identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<IdentityRow>, StoreError> {
        self.first(
            "SELECT user_id, subject, login, email FROM identities WHERE provider = ?1 AND subject = ?2",
            &[Arg::T(provider), Arg::T(subject)],
        )
        .await
    }

    /// A person's identity at one provider (for the membership check at refresh).
    async fn identity_of(
        &self,
        user_id: &str,
        provider: &str,
    ) -> Result<Option<IdentityRow>, StoreError> {
        self.first(
            "SELECT user_id, subject, login, email FROM identities WHERE user_id = ?1 AND provider = ?2 \
             ORDER BY last_used_at DESC LIMIT 1",
            &[Arg::T(user_id), Arg::T(provider)],
        )
        .await
    }

    /// Records a sign-in through an identity: links it to `user_id` if it is new, and
    /// keeps what the provider last said (GitHub's login, the verified email).
    async fn use_identity(
        &self,
        id: &Identity<'_>,
        user_id: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        let upsert = self.stmt(
            "INSERT INTO identities (provider, subject, user_id, login, email, created_at, last_used_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (provider, subject) DO UPDATE SET \
             login = excluded.login, email = COALESCE(excluded.email, identities.email), \
             last_used_at = excluded.last_used_at",
            &[
                Arg::T(id.provider),
                Arg::T(id.subject),
                Arg::T(user_id),
                id.login.map(Arg::T).unwrap_or(Arg::Null),
                id.email.map(Arg::T).unwrap_or(Arg::Null),
                Arg::N(now),
            ],
        )?;
        // A person who signs in through a provider needs no link to set a password: one
        // still out (an invitation) would let whoever holds it put a password on an
        // account in use.
        let links = self.stmt(
            "DELETE FROM password_links WHERE user_id = ?1",
            &[Arg::T(user_id)],
        )?;
        self.0
            .batch(vec![upsert, links])
            .await
            .map(|_| ())
            .map_err(err)
    }

    /// Creates a person with no local password and their first identity, in one
    /// transaction. `Ok(false)`: a person with this email appeared meanwhile.
    async fn create_person(
        &self,
        user_id: &str,
        email: &str,
        name: Option<&str>,
        id: &Identity<'_>,
        now: u64,
    ) -> Result<bool, StoreError> {
        let user = self.stmt(
            "INSERT INTO users (id, email, name, password_hash, password_salt, iterations, created_at) \
             VALUES (?1, ?2, ?3, '', '', 0, ?4) ON CONFLICT DO NOTHING",
            &[
                Arg::T(user_id),
                Arg::T(email),
                name.map(Arg::T).unwrap_or(Arg::Null),
                Arg::N(now),
            ],
        )?;
        // Only when the person row was inserted (its id is new and random, so a row with
        // it is this one): the identity never points at someone else.
        let identity = self.stmt(
            "INSERT INTO identities (provider, subject, user_id, login, email, created_at, last_used_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?3)",
            &[
                Arg::T(id.provider),
                Arg::T(id.subject),
                Arg::T(user_id),
                id.login.map(Arg::T).unwrap_or(Arg::Null),
                Arg::T(email),
                Arg::N(now),
            ],
        )?;
        let results = self.0.batch(vec![user, identity]).await.map_err(err)?;
        let created = results
            .first()
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0);
        Ok(created == 1)
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        D1::user_by_id(self, id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        D1::user_by_email(self, email).await
    }
}
