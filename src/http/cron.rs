//! The daily cron trigger (`[triggers] crons` in `wrangler.toml`): deletes audit rows older
//! than `AUDIT_RETENTION_DAYS` and sign-ins that were started and never finished.

use crate::config::Config;
use crate::http::now;
use crate::store::d1::D1;
use worker::{console_error, console_log, Env};

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
    console_log!(
        "cron: deleted {deleted} audit rows older than {} days",
        config.audit_retention_days
    );
}
