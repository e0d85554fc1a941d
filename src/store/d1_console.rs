//! What the operator console's overview reads: how many people, apps and live grants
//! there are, and the audit log's activity per hour. Off the hot path: only `/admin`.

use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub people: u64,
    pub disabled: u64,
    pub apps: u64,
    /// Grants not revoked with a refresh token still usable (the account page's rule).
    pub live_grants: u64,
}

/// One hour's count of one kind of event.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct HourCount {
    pub hour: u64,
    pub event: String,
    pub n: u64,
}

/// The events the overview charts: sign-ins, token grants, tool calls through the gateway.
pub const CHARTED: [&str; 4] = ["sign_in", "code_redeemed", "refresh", "gateway_call"];

impl D1 {
    pub async fn console_counts(&self, now: u64) -> Result<Counts, StoreError> {
        let row: Option<Counts> = self
            .first(
                "SELECT (SELECT COUNT(*) FROM users) AS people, \
                        (SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL) AS disabled, \
                        (SELECT COUNT(*) FROM clients) AS apps, \
                        (SELECT COUNT(*) FROM grants g WHERE g.revoked_at IS NULL AND EXISTS \
                          (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id \
                           AND r.revoked_at IS NULL AND r.rotated_at IS NULL \
                           AND r.expires_at > ?1)) AS live_grants",
                &[Arg::N(now)],
            )
            .await?;
        Ok(row.unwrap_or_default())
    }

    /// Charted events per hour since `since` (Unix seconds), read through the time index.
    pub async fn hourly_events(&self, since: u64) -> Result<Vec<HourCount>, StoreError> {
        self.all(
            "SELECT at / 3600 AS hour, event, COUNT(*) AS n FROM audit_events \
             WHERE at >= ?1 AND event IN ('sign_in', 'code_redeemed', 'refresh', 'gateway_call') \
             GROUP BY hour, event",
            &[Arg::N(since)],
        )
        .await
    }
}

/// A person as the console's People page lists them.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub created_at: u64,
    pub disabled_at: Option<u64>,
    /// `role@source` pairs of the roles that count now, comma separated.
    pub roles: Option<String>,
}

/// `%`, `_` and `\` taken literally in a LIKE pattern (with `ESCAPE '\'`).
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl D1 {
    /// People whose email or name contains `q` (everyone when empty), by email, at most
    /// `limit`, each with the roles that count now.
    pub async fn people(&self, q: &str, limit: u64) -> Result<Vec<PersonRow>, StoreError> {
        let pattern = format!("%{}%", like_literal(q.trim()));
        self.all(
            &format!(
                "SELECT u.id, u.email, u.name, u.created_at, u.disabled_at, \
                 (SELECT group_concat(r.role || '@' || r.source) FROM user_roles r \
                  WHERE r.user_id = u.id AND {}) AS roles \
                 FROM users u WHERE u.email LIKE ?1 ESCAPE '\\' OR u.name LIKE ?1 ESCAPE '\\' \
                 ORDER BY u.email LIMIT ?2",
                crate::store::d1_roles::UNEXPIRED.replace("expires_at", "r.expires_at")
            ),
            &[Arg::T(&pattern), Arg::N(limit)],
        )
        .await
    }

    /// Disables a person as `npm run user -- disable` does, in one transaction: no more
    /// sign-ins, every session ended, every grant, refresh token and personal token
    /// revoked. Returns the grants it revoked (for their KV marks).
    pub async fn disable_person(
        &self,
        user_id: &str,
        now: u64,
        now_ms: u64,
    ) -> Result<Vec<String>, StoreError> {
        let disable = self.stmt(
            "UPDATE users SET disabled_at = COALESCE(disabled_at, ?2), \
             sessions_after = MAX(sessions_after, ?3) WHERE id = ?1",
            &[Arg::T(user_id), Arg::N(now), Arg::N(now_ms)],
        )?;
        self.end_everything(user_id, now, now_ms, disable, Vec::new())
            .await
    }

    /// One transaction that changes a person's row (`change`, which ends their sessions)
    /// and ends everything they gave out: every refresh token, personal token and grant
    /// revoked, every link to set a password deleted (it must not come back to life with
    /// Enable), then `after`. Disable and the console's reset share it. Returns the
    /// grants revoked, for their KV marks.
    pub(crate) async fn end_everything(
        &self,
        user_id: &str,
        now: u64,
        now_ms: u64,
        change: worker::D1PreparedStatement,
        after: Vec<worker::D1PreparedStatement>,
    ) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let mut batch = vec![
            change,
            self.stmt(
                "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                &[Arg::T(user_id), Arg::N(now)],
            )?,
            self.stmt(
                "UPDATE personal_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                &[Arg::T(user_id), Arg::N(now)],
            )?,
            self.stmt(
                "UPDATE grants SET revoked_at = ?2, revoked_ms = ?3 \
                 WHERE user_id = ?1 AND revoked_at IS NULL RETURNING id",
                &[Arg::T(user_id), Arg::N(now), Arg::N(now_ms)],
            )?,
            self.stmt(
                "DELETE FROM password_links WHERE user_id = ?1",
                &[Arg::T(user_id)],
            )?,
        ];
        batch.extend(after);
        let results = self.0.batch(batch).await.map_err(super::d1::err)?;
        let revoked: Vec<Id> = match results.get(3) {
            Some(r) => r.results().map_err(super::d1::err)?,
            None => Vec::new(),
        };
        Ok(revoked.into_iter().map(|r| r.id).collect())
    }

    /// How many people besides `user_id` hold `admin` now and can sign in: a change that
    /// would leave none is refused (the command line can still give it).
    pub async fn other_admins(&self, user_id: &str) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        struct N {
            n: u64,
        }
        let row: Option<N> = self
            .first(
                &format!(
                    "SELECT COUNT(DISTINCT r.user_id) AS n FROM user_roles r \
                     JOIN users u ON u.id = r.user_id \
                     WHERE r.role = 'admin' AND r.user_id <> ?1 AND u.disabled_at IS NULL \
                     AND {}",
                    crate::store::d1_roles::UNEXPIRED.replace("expires_at", "r.expires_at")
                ),
                &[Arg::T(user_id)],
            )
            .await?;
        Ok(row.map_or(0, |r| r.n))
    }

    /// Lets a disabled person sign in again; sessions and links from before stay ended.
    pub async fn enable_person(&self, user_id: &str, now_ms: u64) -> Result<(), StoreError> {
        let batch = vec![
            self.stmt(
                "UPDATE users SET disabled_at = NULL, sessions_after = MAX(sessions_after, ?2) \
                 WHERE id = ?1",
                &[Arg::T(user_id), Arg::N(now_ms)],
            )?,
            // Links made before the person was disabled stay dead.
            self.stmt(
                "DELETE FROM password_links WHERE user_id = ?1",
                &[Arg::T(user_id)],
            )?,
        ];
        self.0
            .batch(batch)
            .await
            .map_err(super::d1::err)
            .map(|_| ())
    }

    /// Gives or takes a role the operator gives (`source` 'operator'); whether it changed.
    pub async fn set_operator_role(
        &self,
        user_id: &str,
        role: &str,
        give: bool,
        now: u64,
    ) -> Result<bool, StoreError> {
        let changed = if give {
            self.changes(
                "INSERT OR IGNORE INTO user_roles (user_id, role, source, created_at) \
                 VALUES (?1, ?2, 'operator', ?3)",
                &[Arg::T(user_id), Arg::T(role), Arg::N(now)],
            )
            .await?
        } else {
            self.changes(
                "DELETE FROM user_roles WHERE user_id = ?1 AND role = ?2 AND source = 'operator'",
                &[Arg::T(user_id), Arg::T(role)],
            )
            .await?
        };
        Ok(changed > 0)
    }
}

/// An app as the console's Apps page lists it: its stored record and how it is used.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct AppRow {
    pub client_id: String,
    /// The client record as stored (JSON): by registration, the operator, or a metadata
    /// document's last validated copy.
    pub record: String,
    pub since: u64,
    /// People with a grant not revoked.
    pub people: u64,
    pub first_used: Option<u64>,
    pub last_used: Option<u64>,
}

impl D1 {
    /// Every app, however it came to be known (registration, the operator, a metadata
    /// document someone connected with), most recently used first, at most `limit`.
    pub async fn apps(&self, limit: u64) -> Result<Vec<AppRow>, StoreError> {
        self.apps_matching("", limit).await
    }

    /// The same, only apps whose client ID or record (name, redirect URIs) contains `q`.
    pub async fn apps_matching(&self, q: &str, limit: u64) -> Result<Vec<AppRow>, StoreError> {
        let pattern = format!("%{}%", like_literal(q.trim()));
        let usage = |id: &str| {
            format!(
                "(SELECT COUNT(DISTINCT g.user_id) FROM grants g WHERE g.client_id = {id} \
                  AND g.revoked_at IS NULL) AS people, \
                 (SELECT MIN(g.created_at) FROM grants g WHERE g.client_id = {id}) AS first_used, \
                 (SELECT MAX(g.last_used_at) FROM grants g WHERE g.client_id = {id}) AS last_used"
            )
        };
        self.all(
            &format!(
                "SELECT * FROM (\
                 SELECT c.client_id, c.metadata AS record, c.created_at AS since, {} FROM clients c \
                 UNION ALL \
                 SELECT d.client_id, d.record, d.saved_at AS since, {} FROM client_documents d) \
                 WHERE client_id LIKE ?2 ESCAPE '\\' OR record LIKE ?2 ESCAPE '\\' \
                 ORDER BY COALESCE(last_used, since) DESC LIMIT ?1",
                usage("c.client_id"),
                usage("d.client_id")
            ),
            &[Arg::N(limit), Arg::T(&pattern)],
        )
        .await
    }
}

/// When the console first saw a signing key.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct KeySighting {
    pub kid: String,
    pub first_seen: u64,
}

impl D1 {
    /// Records the keys `(kid, kind)` seen now (a key seen before keeps its first time)
    /// and returns every key's first sighting.
    pub async fn see_keys(
        &self,
        keys: &[(&str, &str)],
        now: u64,
    ) -> Result<Vec<KeySighting>, StoreError> {
        let mut batch = Vec::new();
        for (kid, kind) in keys {
            batch.push(self.stmt(
                "INSERT OR IGNORE INTO key_sightings (kid, kind, first_seen) VALUES (?1, ?2, ?3)",
                &[Arg::T(kid), Arg::T(kind), Arg::N(now)],
            )?);
        }
        if !batch.is_empty() {
            self.0.batch(batch).await.map_err(super::d1::err)?;
        }
        self.all(
            "SELECT kid, first_seen FROM key_sightings ORDER BY first_seen DESC LIMIT 50",
            &[],
        )
        .await
    }
}
