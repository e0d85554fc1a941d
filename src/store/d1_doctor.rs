//! The connector doctor's marks in D1 (`migrations/0014`): written bounded, read back per
//! app for the console, trimmed by the daily cron. Off the hot path except for one write
//! at a code exchange, a refresh and an isolate's first MCP call of a grant.

use crate::doctor::{Attempt, Mark, Row, APP, ATTEMPTS_PER_APP, MARKS_PER_ATTEMPT};
use crate::store::d1::{Arg, D1};
use crate::store::StoreError;
use serde::Deserialize;

/// An app with recent marks, for the doctor's list.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct DoctorApp {
    pub client_id: String,
    pub last: u64,
    /// Attempts whose latest mark is a stop.
    pub stopped: u64,
    pub attempts: u64,
}

impl D1 {
    /// Keeps `mark` unless its app already has `ATTEMPTS_PER_APP` other attempts since
    /// `since`, or its attempt `MARKS_PER_ATTEMPT` marks.
    pub async fn keep_mark(&self, mark: &Mark, now: u64, since: u64) -> Result<(), StoreError> {
        let (attempt_sql, key) = match &mark.attempt {
            Attempt::Key(k) => ("?2", k.as_str()),
            Attempt::App => ("?2", APP),
            // The attempt whose /token step made this grant, else one of the grant's own.
            Attempt::Grant(g) => (
                "COALESCE((SELECT attempt FROM connection_steps WHERE grant_id = ?2 \
                 AND step = 'token' LIMIT 1), 'grant:' || substr(?2, 1, 16))",
                g.as_str(),
            ),
        };
        let sql = format!(
            "INSERT INTO connection_steps (client_id, attempt, grant_id, at, step, cause, user_id) \
             SELECT ?1, a.attempt, ?3, ?4, ?5, ?6, ?7 FROM (SELECT {attempt_sql} AS attempt) a \
             WHERE (SELECT COUNT(*) FROM connection_steps s WHERE s.attempt = a.attempt \
                    AND s.client_id = ?1) < ?9 \
             AND (EXISTS (SELECT 1 FROM connection_steps s WHERE s.attempt = a.attempt \
                          AND s.client_id = ?1 AND s.at >= ?8) \
                  OR (SELECT COUNT(DISTINCT s.attempt) FROM connection_steps s \
                      WHERE s.client_id = ?1 AND s.at >= ?8) < ?10)"
        );
        fn opt(v: &Option<String>) -> Arg<'_> {
            v.as_deref().map_or(Arg::Null, Arg::T)
        }
        self.changes(
            &sql,
            &[
                Arg::T(&mark.client_id),
                Arg::T(key),
                opt(&mark.grant_id),
                Arg::N(now),
                Arg::T(mark.step.name()),
                opt(&mark.stopped),
                opt(&mark.user_id),
                Arg::N(since),
                Arg::N(MARKS_PER_ATTEMPT),
                Arg::N(ATTEMPTS_PER_APP),
            ],
        )
        .await
        .map(|_| ())
    }

    /// Apps with marks since `since`, most recent first (the unknown-app bucket too).
    pub async fn doctor_apps(&self, since: u64) -> Result<Vec<DoctorApp>, StoreError> {
        self.all(
            "SELECT client_id, MAX(at) AS last, COUNT(DISTINCT attempt) AS attempts, \
             (SELECT COUNT(*) FROM (SELECT s.attempt FROM connection_steps s \
               WHERE s.client_id = c.client_id AND s.at >= ?1 AND s.attempt <> 'app' \
               GROUP BY s.attempt HAVING MAX(s.id) = MAX(CASE WHEN s.cause IS NOT NULL \
               THEN s.id END))) AS stopped \
             FROM connection_steps c WHERE at >= ?1 GROUP BY client_id ORDER BY last DESC LIMIT 200",
            &[Arg::N(since)],
        )
        .await
    }

    /// One app's marks since `since`, each person by their email.
    pub async fn doctor_marks(&self, client_id: &str, since: u64) -> Result<Vec<Row>, StoreError> {
        self.all(
            "SELECT s.client_id, s.attempt, s.at, s.step, s.cause, \
             COALESCE(u.email, s.user_id) AS user_id FROM connection_steps s \
             LEFT JOIN users u ON u.id = s.user_id \
             WHERE s.client_id = ?1 AND s.at >= ?2 ORDER BY s.id LIMIT 2000",
            &[Arg::T(client_id), Arg::N(since)],
        )
        .await
    }

    /// Deletes up to `limit` marks older than `before`; how many.
    pub async fn trim_marks(&self, before: u64, limit: u64) -> Result<usize, StoreError> {
        self.changes(
            "DELETE FROM connection_steps WHERE id IN \
             (SELECT id FROM connection_steps WHERE at < ?1 ORDER BY at LIMIT ?2)",
            &[Arg::N(before), Arg::N(limit)],
        )
        .await
    }
}
