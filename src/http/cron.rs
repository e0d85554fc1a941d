//! The daily cron trigger (`[triggers] crons` in `wrangler.toml`): deletes audit rows older
//! than `AUDIT_RETENTION_DAYS`, sign-ins that were started and never finished and failed
//! sign-in counts whose window is over, refresh tokens that expired or were rotated more
//! than `ROTATED_KEPT_SECONDS` ago and the connector doctor's marks older than a day, and writes the KV revocation marks that could not be
//! written when their grants were revoked (KV's daily write quota resets at 00:00 UTC).

use crate::config::Config;
use crate::http::now;
use crate::oauth::grant::refresh::ROTATED_KEPT_SECONDS;
use crate::store::d1::D1;
use crate::store::kv::Kv;
use crate::store::KeyValue;
use worker::{console_error, console_log, Env};

/// The KV marks of revoked grants that D1 holds as unmarked (see `store::d1_revocations`):
/// once written, `/mcp` no longer needs D1 to know of them.
async fn write_missing_marks(env: &Env, db: &D1, config: &Config) {
    let ttl = config.longest_access_ttl() + 120;
    let ids = match db.unmarked_revocations(now().saturating_sub(ttl)).await {
        Ok(ids) => ids,
        Err(e) => {
            console_error!("cron: reading unmarked revocations: {e}");
            return;
        }
    };
    let Ok(kv) = env.kv("OAUTH_KV").map(Kv) else {
        console_error!("cron: KV binding OAUTH_KV");
        return;
    };
    let mut written = 0;
    for id in &ids {
        let key = crate::store::keys::revoked_grant(id);
        match kv.put(&key, "1", Some(ttl)).await {
            Ok(()) => {
                if db.set_marked(id, now()).await.is_ok() {
                    written += 1;
                }
            }
            Err(e) => {
                console_error!("cron: writing a revocation mark: {e}");
                break;
            }
        }
    }
    console_log!(
        "cron: wrote {written} of {} missing revocation marks",
        ids.len()
    );
}

/// Refresh tokens no request can use any more, in chunks like the audit rows.
async fn trim_refresh_tokens(db: &D1) {
    let now = now();
    let rotated_before = now.saturating_sub(ROTATED_KEPT_SECONDS);
    let mut deleted = 0;
    for _ in 0..BATCHES {
        match db.trim_refresh_tokens(now, rotated_before, BATCH).await {
            Ok(n) => {
                deleted += n;
                if (n as u64) < BATCH {
                    break;
                }
            }
            Err(e) => {
                console_error!("cron: trimming refresh tokens: {e}");
                break;
            }
        }
    }
    console_log!("cron: deleted {deleted} expired or long-rotated refresh tokens");
}

/// The connector doctor's marks older than its window (`doctor::WINDOW_SECONDS`).
async fn trim_doctor_marks(db: &D1) {
    let before = now().saturating_sub(crate::doctor::WINDOW_SECONDS);
    let mut deleted = 0;
    for _ in 0..BATCHES {
        match db.trim_marks(before, BATCH).await {
            Ok(n) => {
                deleted += n;
                if (n as u64) < BATCH {
                    break;
                }
            }
            Err(e) => {
                console_error!("cron: trimming the doctor's marks: {e}");
                break;
            }
        }
    }
    console_log!("cron: deleted {deleted} connector doctor marks older than a day");
}

const BATCH: u64 = 10_000;
const BATCHES: usize = 100;

pub async fn daily(env: &Env) {
    let config = Config::from_lookup(&|name| env.var(name).ok().map(|v| v.to_string()));
    let db = match env.d1("DB") {
        Ok(db) => D1(db),
        Err(e) => {
            console_error!("cron: D1 binding DB: {e}");
            return;
        }
    };
    trim_doctor_marks(&db).await;
    let before = now().saturating_sub(config.audit_retention_days * 86_400);
    let mut deleted = 0;
    // In chunks, at most a million rows a day; the rest waits for tomorrow.
    for _ in 0..BATCHES {
        match db.trim_audit(before, BATCH).await {
            Ok(n) => {
                deleted += n;
                if (n as u64) < BATCH {
                    break;
                }
            }
            Err(e) => {
                console_error!("cron: trimming the audit log: {e}");
                break;
            }
        }
    }
    // Sign-ins started and never finished; each was refused after ten minutes anyway.
    if let Err(e) = db.trim_pending(now()).await {
        console_error!("cron: trimming pending sign-ins: {e}");
    }
    match db.trim_failures(now(), config.lockout_seconds).await {
        Ok(n) => console_log!("cron: deleted {n} expired failed sign-in counts"),
        Err(e) => console_error!("cron: trimming failed sign-ins: {e}"),
    }
    trim_refresh_tokens(&db).await;
    write_missing_marks(env, &db, &config).await;
    console_log!(
        "cron: deleted {deleted} audit rows older than {} days",
        config.audit_retention_days
    );
}
