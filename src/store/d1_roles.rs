//! Roles (`user_roles`, migration 0012): the operator's (`npm run user -- role add`) and
//! each sign-in provider's, kept apart so a provider's next sign-in replaces only its own.

use crate::store::d1::{err, Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// Who gave a role: the operator, or a sign-in provider (by its id in `SIGNIN_PROVIDERS`).
pub fn provider_source(provider_id: &str) -> String {
    format!("provider:{provider_id}")
}

#[derive(Deserialize)]
struct RoleRow {
    role: String,
}

impl D1 {
    /// The person's roles, each once, in name order.
    pub async fn roles_of(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<RoleRow> = self
            .all(
                "SELECT DISTINCT role FROM user_roles WHERE user_id = ?1 ORDER BY role",
                &[Arg::T(user_id)],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.role).collect())
    }

    /// Replaces the roles `source` gives the person with `roles`, in one transaction.
    /// Whether anything changed is not reported: the caller knows what it read before.
    pub async fn replace_roles(
        &self,
        user_id: &str,
        source: &str,
        roles: &[String],
        now: u64,
    ) -> Result<(), StoreError> {
        let mut batch = vec![self.stmt(
            "DELETE FROM user_roles WHERE user_id = ?1 AND source = ?2",
            &[Arg::T(user_id), Arg::T(source)],
        )?];
        for role in roles {
            batch.push(self.stmt(
                "INSERT OR IGNORE INTO user_roles (user_id, role, source, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                &[Arg::T(user_id), Arg::T(role), Arg::T(source), Arg::N(now)],
            )?);
        }
        self.0.batch(batch).await.map_err(err)?;
        Ok(())
    }
}
