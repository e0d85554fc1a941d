//! The connector doctor's marks in D1 (`migrations/0014`, `0018`): written bounded, read
//! back per app for the console, trimmed by the daily cron. Off the hot path except for
//! one write at a code exchange, a refresh and an isolate's first MCP call of a grant
//! every ten minutes.

use crate::doctor::{
    Attempt, Mark, Row, Step, APP, ATTEMPTS_PER_APP, MARKS_PER_ATTEMPT, UNPROVEN_PER_DAY,
};
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

/// What keeping a mark did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Written, or its row's time moved, or nothing to write, or refused by a quota of
    /// its app or attempt.
    Done,
    /// An unproven mark, refused because today's budget is spent.
    BudgetSpent,
}

fn opt(v: &Option<String>) -> Arg<'_> {
    v.as_deref().map_or(Arg::Null, Arg::T)
}

impl D1 {
    /// Keeps `mark` in one batch. A proven mark whose outcome its attempt's step already
    /// has only moves that row's time, at most once a minute (a connection used for days
    /// keeps a handful of rows, and a row is written at most once a minute however often
    /// it is met). An unproven mark is never a move: when its row exists nothing is
    /// written. Otherwise a new row, unless its app already has `ATTEMPTS_PER_APP` other
    /// attempts of the same kind (proven or not) since `since`, or its attempt
    /// `MARKS_PER_ATTEMPT` rows of that kind; an unproven row also takes one of the day's
    /// `UNPROVEN_PER_DAY`, and none is written once they are spent.
    pub async fn keep_mark(&self, mark: &Mark, now: u64, since: u64) -> Result<Kept, StoreError> {
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
        let mut batch = Vec::new();
        let day = now / 86_400;
        if mark.proven {
            // A mark that names a new grant (the code exchanged) has no row to move.
            if mark.grant_id.is_none() {
                batch.push(self.stmt(
                    &format!(
                        "UPDATE connection_steps SET at = ?3 WHERE client_id = ?1 \
                         AND attempt = ({attempt_sql}) AND step = ?4 AND cause IS ?5 \
                         AND at >= ?6 AND at < ?3 - 60"
                    ),
                    &[
                        Arg::T(&mark.client_id),
                        Arg::T(key),
                        Arg::N(now),
                        Arg::T(mark.step.name()),
                        opt(&mark.stopped),
                        Arg::N(since),
                    ],
                )?);
            }
        } else {
            // Unproven (never a grant): its budget, taken only for a row not there yet.
            batch.push(self.stmt(
                "INSERT INTO doctor_budget (day, n) SELECT ?6, 1 WHERE NOT EXISTS \
                 (SELECT 1 FROM connection_steps WHERE client_id = ?1 AND attempt = ?2 \
                  AND step = ?3 AND cause IS ?4 AND at >= ?5) \
                 ON CONFLICT(day) DO UPDATE SET n = n + 1 WHERE n < ?7",
                &[
                    Arg::T(&mark.client_id),
                    Arg::T(key),
                    Arg::T(mark.step.name()),
                    opt(&mark.stopped),
                    Arg::N(since),
                    Arg::N(day),
                    Arg::N(UNPROVEN_PER_DAY),
                ],
            )?);
        }
        // The row is new: the move (or the budget) said so. Neither for a new grant's.
        let go = match (mark.proven, mark.grant_id.is_some()) {
            (true, true) => {
                "NOT EXISTS (SELECT 1 FROM connection_steps s \
                             WHERE s.grant_id = ?3 AND s.step = ?5)"
            }
            (true, false) => {
                "changes() = 0 AND NOT EXISTS (SELECT 1 FROM connection_steps s \
                              WHERE s.client_id = ?1 AND s.attempt = a.attempt AND s.step = ?5 \
                              AND s.cause IS ?6 AND s.at >= ?8)"
            }
            (false, _) => "changes() = 1",
        };
        let insert = format!(
            "INSERT INTO connection_steps (client_id, attempt, grant_id, at, step, cause, user_id, proven) \
             SELECT ?1, a.attempt, ?3, ?4, ?5, ?6, ?7, ?11 FROM (SELECT {attempt_sql} AS attempt) a \
             WHERE {go} \
             AND (SELECT COUNT(*) FROM connection_steps s WHERE s.attempt = a.attempt \
                  AND s.client_id = ?1 AND s.proven = ?11) < ?9 \
             AND (a.attempt = 'app' \
                  OR EXISTS (SELECT 1 FROM connection_steps s WHERE s.attempt = a.attempt \
                          AND s.client_id = ?1 AND s.at >= ?8) \
                  OR (SELECT COUNT(DISTINCT s.attempt) FROM connection_steps s \
                      WHERE s.client_id = ?1 AND s.at >= ?8 AND s.proven = ?11 \
                      AND s.attempt <> 'app') < ?10)"
        );
        batch.push(self.stmt(
            &insert,
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
                Arg::N(u64::from(mark.proven)),
            ],
        )?);
        if !mark.proven {
            batch.push(self.stmt("SELECT n FROM doctor_budget WHERE day = ?1", &[Arg::N(day)])?);
        }
        let results = self.0.batch(batch).await.map_err(super::d1::err)?;
        if mark.proven {
            return Ok(Kept::Done);
        }
        #[derive(Deserialize)]
        struct N {
            n: u64,
        }
        let spent = results
            .get(2)
            .and_then(|r| r.results::<N>().ok())
            .and_then(|rows| rows.into_iter().next())
            .is_some_and(|r| r.n >= UNPROVEN_PER_DAY);
        Ok(if spent { Kept::BudgetSpent } else { Kept::Done })
    }

    /// Apps with marks since `since`, most recent first (the unknown-app bucket too).
    pub async fn doctor_apps(&self, since: u64) -> Result<Vec<DoctorApp>, StoreError> {
        // Stopped, as `doctor::summarise` decides it: the attempt's latest stop has no
        // success at the same or a later step after it.
        let (r, q) = (Step::rank_sql("r.step"), Step::rank_sql("q.step"));
        self.all(
            &format!(
                "SELECT client_id, MAX(at) AS last, \
                 COUNT(DISTINCT CASE WHEN attempt <> 'app' THEN attempt END) AS attempts, \
                 (SELECT COUNT(*) FROM connection_steps r WHERE r.client_id = c.client_id \
                   AND r.at >= ?1 AND r.attempt <> 'app' AND r.cause IS NOT NULL \
                   AND NOT EXISTS (SELECT 1 FROM connection_steps l WHERE l.client_id = r.client_id \
                     AND l.attempt = r.attempt AND l.cause IS NOT NULL \
                     AND (l.at > r.at OR (l.at = r.at AND l.id > r.id))) \
                   AND NOT EXISTS (SELECT 1 FROM connection_steps q WHERE q.client_id = r.client_id \
                     AND q.attempt = r.attempt AND q.cause IS NULL \
                     AND (q.at > r.at OR (q.at = r.at AND q.id > r.id)) AND ({q}) >= ({r}))) \
                   AS stopped \
                 FROM connection_steps c WHERE at >= ?1 GROUP BY client_id \
                 ORDER BY last DESC LIMIT 200"
            ),
            &[Arg::N(since)],
        )
        .await
    }

    /// One app's marks since `since`, each person by their email: the newest 2,000
    /// (`doctor::summarise` orders them).
    pub async fn doctor_marks(&self, client_id: &str, since: u64) -> Result<Vec<Row>, StoreError> {
        self.all(
            "SELECT s.client_id, s.attempt, s.at, s.step, s.cause, \
             COALESCE(u.email, s.user_id) AS user_id, s.proven FROM connection_steps s \
             LEFT JOIN users u ON u.id = s.user_id \
             WHERE s.client_id = ?1 AND s.at >= ?2 ORDER BY s.at DESC, s.id DESC LIMIT 2000",
            &[Arg::T(client_id), Arg::N(since)],
        )
        .await
        .map(|mut rows: Vec<Row>| {
            // Oldest first again: rows of one second keep the order they were kept in.
            rows.reverse();
            rows
        })
    }

    /// Deletes up to `limit` marks older than `before`; how many. Budget rows older than
    /// yesterday go too.
    pub async fn trim_marks(&self, before: u64, limit: u64) -> Result<usize, StoreError> {
        self.changes(
            "DELETE FROM doctor_budget WHERE day < ?1 / 86400 - 1",
            &[Arg::N(before)],
        )
        .await?;
        self.changes(
            "DELETE FROM connection_steps WHERE id IN \
             (SELECT id FROM connection_steps WHERE at < ?1 ORDER BY at LIMIT ?2)",
            &[Arg::N(before), Arg::N(limit)],
        )
        .await
    }
}
