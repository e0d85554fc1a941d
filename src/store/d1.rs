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
    /// 1 when an administrator added the person in the console (with no password until
    /// they set one through a link), or reset one the operator had added: such a person
    /// is linked by email like one with a password (`signin::linking`).
    #[serde(default)]
    pub operator_added: u64,
}

impl UserRow {
    /// Whether a sign-in provider created this person (no password, never added by the
    /// operator): linking by email never joins such a person.
    pub fn provider_made(&self) -> bool {
        self.password_hash.is_empty() && self.operator_added == 0
    }
}

pub use crate::store::grants::{NewGrant, NewRefresh, RefreshRow};

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
    pub(crate) async fn first_statement_changed_one(
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
                    sessions_after, operator_added \
             FROM users WHERE email = ?1",
            &[Arg::T(email)],
        )
        .await
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        self.first(
            "SELECT id, email, name, password_hash, password_salt, iterations, disabled_at, \
                    sessions_after, operator_added \
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
