//! The audit log in D1 (`migrations/0005`): appended by the edge, read back per person for
//! the account page, and trimmed to the retention period by the cron trigger.

use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// One row to append.
pub struct AuditRow<'a> {
    pub at: u64,
    pub event: &'a str,
    pub failed: bool,
    pub user_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub ip: &'a str,
    pub request_id: &'a str,
    pub detail: Option<&'a str>,
}

/// A row as the account page shows it.
#[derive(Debug, Deserialize)]
pub struct AuditEntry {
    pub at: u64,
    pub event: String,
    pub outcome: String,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// How many of a person's events the account page lists.
pub const RECENT: u64 = 20;

fn opt(v: Option<&str>) -> Arg<'_> {
    v.map_or(Arg::Null, Arg::T)
}

fn row_args<'a>(row: &'a AuditRow<'a>) -> [Arg<'a>; 8] {
    [
        Arg::N(row.at),
        Arg::T(row.event),
        Arg::T(if row.failed { "failed" } else { "ok" }),
        opt(row.user_id),
        opt(row.client_id),
        opt(Some(row.ip).filter(|ip| !ip.is_empty())),
        Arg::T(row.request_id),
        opt(row.detail),
    ]
}

impl D1 {
    /// The insert of `row`, only if the batch's previous statement changed exactly one
    /// row: for an event that is the outcome of that statement (a refresh's rotation).
    pub(crate) fn audit_if_changed(
        &self,
        row: &AuditRow<'_>,
    ) -> Result<worker::D1PreparedStatement, StoreError> {
        self.stmt(
            "INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE changes() = 1",
            &row_args(row),
        )
    }

    /// Appends rows in one round trip (one batch when there are several).
    pub async fn append_audit(&self, rows: &[AuditRow<'_>]) -> Result<(), StoreError> {
        let statements = rows
            .iter()
            .map(|row| {
                self.stmt(
                    "INSERT INTO audit_events (at, event, outcome, user_id, client_id, ip, request_id, detail) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    &row_args(row),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        match statements.as_slice() {
            [] => Ok(()),
            [one] => one.run().await.map(|_| ()).map_err(super::d1::err),
            _ => self
                .0
                .batch(statements)
                .await
                .map(|_| ())
                .map_err(super::d1::err),
        }
    }

    /// A person's most recent events, newest first, without the per-minute `token_used`
    /// rows (the token list shows each token's last use), which would push everything
    /// else off the page.
    pub async fn recent_audit(&self, user_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        self.all(
            "SELECT at, event, outcome, client_id, ip, detail FROM audit_events \
             WHERE user_id = ?1 AND event != 'token_used' ORDER BY at DESC, id DESC LIMIT ?2",
            &[Arg::T(user_id), Arg::N(RECENT)],
        )
        .await
    }

    /// The console's audit log: rows matching `f`, newest first (by row id, which is the
    /// order they were written), at most `limit`, starting below `f.before` when set.
    pub async fn browse_audit(
        &self,
        f: &crate::audit_export::Filter,
        limit: u64,
    ) -> Result<Vec<crate::audit_export::Row>, StoreError> {
        self.all(
            "SELECT a.id, a.at, a.event, a.outcome, u.email, a.user_id, a.client_id, a.ip, \
             a.request_id, a.detail FROM audit_events a LEFT JOIN users u ON u.id = a.user_id \
             WHERE (?1 = '' OR a.user_id = (SELECT id FROM users WHERE email = ?1)) \
             AND (?2 = '' OR a.client_id = ?2) AND (?3 = '' OR a.event = ?3) \
             AND a.at >= ?4 AND a.at < ?5 AND (?6 = 0 OR a.id < ?6) \
             ORDER BY a.id DESC LIMIT ?7",
            &[
                Arg::T(&f.person),
                Arg::T(&f.app),
                Arg::T(&f.event),
                Arg::N(f.from_secs),
                // D1 numbers are doubles: "no end" is the largest time it holds exactly.
                Arg::N(f.to_secs.min(1 << 53)),
                Arg::N(f.before),
                Arg::N(limit),
            ],
        )
        .await
    }

    /// Deletes up to `limit` of the rows older than `before`; returns how many. The cron
    /// calls it until it deletes fewer, so no one statement runs into D1's time limit.
    pub async fn trim_audit(&self, before: u64, limit: u64) -> Result<usize, StoreError> {
        self.changes(
            "DELETE FROM audit_events WHERE id IN \
             (SELECT id FROM audit_events WHERE at < ?1 ORDER BY at LIMIT ?2)",
            &[Arg::N(before), Arg::N(limit)],
        )
        .await
    }
}
