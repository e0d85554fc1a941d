//! Everything that must be strongly consistent or atomic, on D1: users and lockouts,
//! rate-limit counters, the clients' second copy, grants and refresh tokens. Every
//! single-use rule is one conditional statement, so concurrent requests cannot both win.

use crate::store::{ClientRecords, StoreError};
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

pub struct D1(pub D1Database);

pub(crate) fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("D1: {e}"))
}

/// A bound argument: text or an integer (D1 numbers are f64; ours stay below 2^53).
pub enum Arg<'a> {
    T(&'a str),
    N(u64),
    Null,
}

#[derive(Deserialize, Clone, Debug)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: String,
    pub password_salt: String,
    pub iterations: u32,
    pub disabled_at: Option<u64>,
    /// Milliseconds: session cookies issued before this are refused (account recovery).
    #[serde(default)]
    pub sessions_after: u64,
}

#[derive(Deserialize, Clone, Debug)]
pub struct RefreshRow {
    pub token_hash: String,
    pub grant_id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub expires_at: u64,
    pub rotated_at: Option<u64>,
    pub successor_hash: Option<String>,
    pub revoked_at: Option<u64>,
    /// From the grant: its resource and whether it was revoked.
    pub resource: String,
    pub grant_revoked_at: Option<u64>,
    /// When the successor (if any) was itself rotated, i.e. first used.
    pub successor_rotated_at: Option<u64>,
    /// A disabled account's refresh tokens stop working.
    pub user_disabled_at: Option<u64>,
}

/// A grant to create when a code is redeemed.
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub resource: &'a str,
    pub redirect_uri: &'a str,
    pub code_hash: &'a str,
    /// When the code was issued, in milliseconds: a grant of the same person and client
    /// revoked since then (Disconnect on the account page, a replayed code) or a disabled
    /// account refuses the code. Milliseconds, so a revocation and a new sign-in within
    /// one second keep their order.
    pub code_issued_ms: u64,
}

/// A refresh token row to insert.
pub struct NewRefresh<'a> {
    pub token_hash: &'a str,
    pub grant_id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub expires_at: u64,
}

impl D1 {
    pub(crate) fn stmt(&self, sql: &str, args: &[Arg]) -> Result<D1PreparedStatement, StoreError> {
        let values: Vec<JsValue> = args
            .iter()
            .map(|a| match a {
                Arg::T(s) => JsValue::from_str(s),
                Arg::N(n) => JsValue::from_f64(*n as f64),
                Arg::Null => JsValue::NULL,
            })
            .collect();
        self.0.prepare(sql).bind(&values).map_err(err)
    }

    pub(crate) async fn first<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<T>, StoreError> {
        self.stmt(sql, args)?.first::<T>(None).await.map_err(err)
    }

    pub(crate) async fn changes(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize, StoreError> {
        let result = self.stmt(sql, args)?.run().await.map_err(err)?;
        Ok(result
            .meta()
            .map_err(err)?
            .and_then(|m| m.changes)
            .unwrap_or(0))
    }

    pub(crate) async fn all<T: for<'de> Deserialize<'de>>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<T>, StoreError> {
        let result = self.stmt(sql, args)?.all().await.map_err(err)?;
        result.results::<T>().map_err(err)
    }

    /// Runs a batch as one transaction; true when its first statement changed one row.
    async fn first_statement_changed_one(
        &self,
        batch: Vec<D1PreparedStatement>,
    ) -> Result<bool, StoreError> {
        let results = self.0.batch(batch).await.map_err(err)?;
        let changes = results
            .first()
            .and_then(|r| r.meta().ok().flatten())
            .and_then(|m| m.changes)
            .unwrap_or(0);
        Ok(changes == 1)
    }

    // --- users and lockouts -------------------------------------------------------------

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        self.first(
            "SELECT id, email, name, password_hash, password_salt, iterations, disabled_at, \
                    sessions_after \
             FROM users WHERE email = ?1",
            &[Arg::T(email)],
        )
        .await
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        self.first(
            "SELECT id, email, name, password_hash, password_salt, iterations, disabled_at, \
                    sessions_after \
             FROM users WHERE id = ?1",
            &[Arg::T(id)],
        )
        .await
    }

    /// Counts one sign-in attempt against each key *before* the password is checked, in
    /// one batch of single-statement upserts, so parallel guesses cannot slip past the
    /// limit between a check and a count: the attempt that makes a key's count exceed
    /// `max` within a lockout-long window locks it. Returns the latest lock still in force.
    pub async fn reserve_attempt(
        &self,
        keys: &[&str],
        now: u64,
        max: u64,
        lockout: u64,
    ) -> Result<Option<u64>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            locked_until: Option<u64>,
        }
        // A window restarts only once it is older than `lockout` and no lock is in force.
        const UPSERT: &str = "INSERT INTO login_failures (key, failures, first_at) \
             VALUES (?1, 1, ?2) \
             ON CONFLICT(key) DO UPDATE SET \
               failures = CASE WHEN first_at <= ?2 - ?3 AND COALESCE(locked_until, 0) <= ?2 \
                          THEN 1 ELSE failures + 1 END, \
               first_at = CASE WHEN first_at <= ?2 - ?3 AND COALESCE(locked_until, 0) <= ?2 \
                          THEN ?2 ELSE first_at END, \
               locked_until = CASE WHEN COALESCE(locked_until, 0) > ?2 THEN locked_until \
                          WHEN first_at > ?2 - ?3 AND failures + 1 > ?4 THEN ?2 + ?3 \
                          ELSE locked_until END \
             RETURNING locked_until";
        let batch = keys
            .iter()
            .map(|k| {
                self.stmt(
                    UPSERT,
                    &[Arg::T(k), Arg::N(now), Arg::N(lockout), Arg::N(max)],
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut latest = None;
        for result in self.0.batch(batch).await.map_err(err)? {
            for row in result.results::<Row>().map_err(err)? {
                if let Some(until) = row.locked_until.filter(|u| *u > now) {
                    latest = latest.max(Some(until));
                }
            }
        }
        Ok(latest)
    }

    /// After a wrong password: locks `key` when its reserved attempts reached `max`.
    pub async fn lock_if_spent(
        &self,
        key: &str,
        now: u64,
        max: u64,
        lockout: u64,
    ) -> Result<Option<u64>, StoreError> {
        let locked = self
            .changes(
                "UPDATE login_failures SET locked_until = ?2 + ?3 \
                 WHERE key = ?1 AND failures >= ?4 AND COALESCE(locked_until, 0) <= ?2",
                &[Arg::T(key), Arg::N(now), Arg::N(lockout), Arg::N(max)],
            )
            .await?;
        Ok((locked > 0).then_some(now + lockout))
    }

    /// A successful sign-in gives back the attempt it reserved on a shared key (the
    /// network), without wiping failures others made from there.
    pub async fn release_attempt(&self, key: &str) -> Result<(), StoreError> {
        self.changes(
            "UPDATE login_failures SET failures = MAX(failures - 1, 0) WHERE key = ?1",
            &[Arg::T(key)],
        )
        .await
        .map(|_| ())
    }

    /// Ends every session cookie of a person issued before `now_ms` ("sign out
    /// everywhere").
    pub async fn end_sessions(&self, user_id: &str, now_ms: u64) -> Result<(), StoreError> {
        self.changes(
            "UPDATE users SET sessions_after = MAX(sessions_after, ?2) WHERE id = ?1",
            &[Arg::T(user_id), Arg::N(now_ms)],
        )
        .await
        .map(|_| ())
    }

    /// Deletes the failure counts that no longer count: their window (`lockout` seconds)
    /// is over and no lock is in force, so the next failure would start afresh anyway.
    pub async fn trim_failures(&self, now: u64, lockout: u64) -> Result<usize, StoreError> {
        self.changes(
            "DELETE FROM login_failures \
             WHERE first_at <= ?1 - ?2 AND COALESCE(locked_until, 0) <= ?1",
            &[Arg::N(now), Arg::N(lockout)],
        )
        .await
    }

    pub async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        self.changes("DELETE FROM login_failures WHERE key = ?1", &[Arg::T(key)])
            .await
            .map(|_| ())
    }

    // --- rate limits --------------------------------------------------------------------

    /// Adds one to a fixed-window counter and returns the new count.
    pub async fn count_hit(&self, key: &str, expires_at: u64, now: u64) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            count: u64,
        }
        // Expired windows are cleared as a side effect, keeping the table small.
        self.changes(
            "DELETE FROM rate_limits WHERE expires_at < ?1",
            &[Arg::N(now)],
        )
        .await?;
        let row: Option<Row> = self
            .first(
                "INSERT INTO rate_limits (key, count, expires_at) VALUES (?1, 1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET count = count + 1 RETURNING count",
                &[Arg::T(key), Arg::N(expires_at)],
            )
            .await?;
        Ok(row.map(|r| r.count).unwrap_or(1))
    }

    /// A counter's current value, without adding to it (0 when absent or expired).
    pub async fn hits(&self, key: &str, now: u64) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            count: u64,
        }
        let row: Option<Row> = self
            .first(
                "SELECT count FROM rate_limits WHERE key = ?1 AND expires_at >= ?2",
                &[Arg::T(key), Arg::N(now)],
            )
            .await?;
        Ok(row.map_or(0, |r| r.count))
    }

    // --- grants and refresh tokens ------------------------------------------------------

    /// Creates the grant for a code and its first refresh token, atomically and only if
    /// this code was never redeemed before and its authorization still stands: the person
    /// is enabled, no grant of theirs for this client was withdrawn since the code was
    /// issued, and their sessions were not ended since (a password reset or "sign out
    /// everywhere": a code approved with a stolen session dies with it). `false`: the code
    /// is being replayed (`grant_id_by_code` finds its grant) or was withdrawn.
    pub async fn redeem_code(
        &self,
        g: &NewGrant<'_>,
        refresh: Option<&NewRefresh<'_>>,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut batch = vec![self.stmt(
            "INSERT INTO grants (id, user_id, client_id, scope, resource, redirect_uri, \
             code_hash, created_at, last_used_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8 \
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
        self.first_statement_changed_one(batch).await
    }

    /// The grant created by a code, for revoking it when the code is replayed.
    pub async fn grant_id_by_code(&self, code_hash: &str) -> Result<Option<String>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
        }
        let row: Option<Row> = self
            .first(
                "SELECT id FROM grants WHERE code_hash = ?1",
                &[Arg::T(code_hash)],
            )
            .await?;
        Ok(row.map(|r| r.id))
    }

    /// Revokes a grant and every refresh token of its family; `now_ms` in milliseconds.
    pub async fn revoke_grant(&self, grant_id: &str, now_ms: u64) -> Result<(), StoreError> {
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
                    r.rotated_at, r.successor_hash, r.revoked_at, g.resource, \
                    g.revoked_at AS grant_revoked_at, s.rotated_at AS successor_rotated_at, \
                    u.disabled_at AS user_disabled_at \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
             LEFT JOIN users u ON u.id = r.user_id \
             LEFT JOIN refresh_tokens s ON s.token_hash = r.successor_hash \
             WHERE r.token_hash = ?1",
            &[Arg::T(token_hash)],
        )
        .await
    }

    /// Rotates a refresh token: the one conditional UPDATE that exactly one caller wins,
    /// plus the successor's row (ignored if a concurrent caller already wrote the same).
    pub async fn rotate(
        &self,
        old_hash: &str,
        successor: &NewRefresh<'_>,
        now: u64,
    ) -> Result<bool, StoreError> {
        let batch = vec![
            self.stmt(
                "UPDATE refresh_tokens SET rotated_at = ?2, successor_hash = ?3 \
                 WHERE token_hash = ?1 AND rotated_at IS NULL AND revoked_at IS NULL",
                &[Arg::T(old_hash), Arg::N(now), Arg::T(successor.token_hash)],
            )?,
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

    /// Whether a grant is revoked (strongly consistent; used off the hot path).
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

impl ClientRecords for D1 {
    async fn load_client(&self, client_id: &str) -> Result<Option<String>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            metadata: String,
        }
        let row: Option<Row> = self
            .first(
                "SELECT metadata FROM clients WHERE client_id = ?1",
                &[Arg::T(client_id)],
            )
            .await?;
        Ok(row.map(|r| r.metadata))
    }

    async fn save_client(&self, id: &str, record: &str, now: u64) -> Result<(), StoreError> {
        self.changes(
            "INSERT INTO clients (client_id, metadata, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT(client_id) DO UPDATE SET metadata = excluded.metadata",
            &[Arg::T(id), Arg::T(record), Arg::N(now)],
        )
        .await
        .map(|_| ())
    }
}
