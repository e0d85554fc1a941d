//! Roles (`user_roles`, migration 0012): the operator's (`npm run user -- role add`) and
//! each sign-in provider's, kept apart so a provider's next sign-in replaces only its own.

use crate::store::d1::{err, Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// The SQL condition of a role row that still counts (`user_roles` aliased as nothing).
pub const UNEXPIRED: &str =
    "(expires_at IS NULL OR expires_at > CAST(strftime('%s', 'now') AS INTEGER))";

/// Who gave a role: the operator, or a sign-in provider (by its id in `SIGNIN_PROVIDERS`).
pub fn provider_source(provider_id: &str) -> String {
    format!("provider:{provider_id}")
}

#[derive(Deserialize)]
struct RoleRow {
    role: String,
}

impl D1 {
    /// The roles `source` gives the person now (for telling whether a sign-in changed them).
    pub async fn roles_from(&self, user_id: &str, source: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<RoleRow> = self
            .all(
                &format!(
                    "SELECT role FROM user_roles WHERE user_id = ?1 AND source = ?2 AND \
                     {UNEXPIRED} ORDER BY role"
                ),
                &[Arg::T(user_id), Arg::T(source)],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.role).collect())
    }

    /// The person's roles, each once, in name order.
    pub async fn roles_of(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<RoleRow> = self
            .all(
                &format!(
                    "SELECT DISTINCT role FROM user_roles WHERE user_id = ?1 AND {UNEXPIRED} \
                     ORDER BY role"
                ),
                &[Arg::T(user_id)],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.role).collect())
    }

    /// Replaces the roles `source` gives the person with `roles` (until `expires_at`, or
    /// for good), in one transaction.
    pub async fn replace_roles(
        &self,
        user_id: &str,
        source: &str,
        roles: &[String],
        now: u64,
        expires_at: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut batch = vec![self.stmt(
            "DELETE FROM user_roles WHERE user_id = ?1 AND source = ?2",
            &[Arg::T(user_id), Arg::T(source)],
        )?];
        for role in roles {
            batch.push(self.stmt(
                "INSERT OR IGNORE INTO user_roles (user_id, role, source, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                &[
                    Arg::T(user_id),
                    Arg::T(role),
                    Arg::T(source),
                    Arg::N(now),
                    expires_at.map_or(Arg::Null, Arg::N),
                ],
            )?);
        }
        self.0.batch(batch).await.map_err(err)?;
        Ok(())
    }
}
