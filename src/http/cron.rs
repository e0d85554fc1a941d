//! The daily cron trigger (`[triggers] crons` in `wrangler.toml`): deletes audit rows older
//! than `AUDIT_RETENTION_DAYS`.

use crate::config::Config;
use crate::http::now;
use crate::store::d1::D1;
use worker::{console_error, console_log, Env};

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
    match db.trim_audit(before).await {
        Ok(n) => console_log!(
            "cron: deleted {n} audit rows older than {} days",
            config.audit_retention_days
        ),
        Err(e) => console_error!("cron: trimming the audit log: {e}"),
    }
}
