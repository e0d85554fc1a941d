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
