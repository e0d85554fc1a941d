//! The edge's side of `oauth::grant`: the grant store on D1, whose revocation also writes
//! the KV mark that stops access tokens at `/mcp`, and the surroundings the grants ask
//! about (clients, GitHub membership, the audit log, logging).

use crate::audit::Event;
use crate::http::bearer::{forget_not_revoked, note_unmarked};
use crate::http::{now, Ctx};
use crate::oauth::client::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::grant::{Settings, Surroundings};
use crate::oauth::id_token::PersonClaims;
use crate::store::d1::D1;
use crate::store::d1_audit::AuditRow;
use crate::store::grants::{GrantStore, NewGrant, NewRefresh, Redeemed, RefreshRow};
use crate::store::{KeyValue, StoreError};

/// D1, plus the KV mark on revocation.
pub struct EdgeGrants<'a> {
    pub ctx: &'a Ctx,
    pub db: D1,
}

impl GrantStore for EdgeGrants<'_> {
    async fn redeem_code(
        &self,
        grant: &NewGrant<'_>,
        refresh: Option<&NewRefresh<'_>>,
        now: u64,
    ) -> Result<Redeemed, StoreError> {
        self.db.redeem_code(grant, refresh, now).await
    }

    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRow>, StoreError> {
        self.db.refresh_token(token_hash).await
    }

    async fn rotate(
        &self,
        old_hash: &str,
        successor: &NewRefresh<'_>,
        now: u64,
    ) -> Result<bool, StoreError> {
        let row = AuditRow {
            at: now,
            event: Event::Refresh.name(),
            failed: Event::Refresh.failed(),
            user_id: Some(successor.user_id),
            client_id: Some(successor.client_id),
            ip: &self.ctx.audit_ip,
            request_id: &self.ctx.request_id,
            detail: None,
        };
        let rotated = self.db.rotate(old_hash, successor, now, &row).await?;
        if rotated {
            self.ctx.audited.set(true);
        }
        Ok(rotated)
    }

    async fn revoke_grant(&self, grant_id: &str, now_ms: u64) -> Result<(), StoreError> {
        self.db.revoke_grant_rows(grant_id, now_ms).await?;
        mark_revoked(self.ctx, &self.db, grant_id).await;
        Ok(())
    }

    async fn grant_revoked(&self, grant_id: &str) -> Result<bool, StoreError> {
        self.db.grant_revoked(grant_id).await
    }
}

impl Surroundings for Ctx {
    async fn client(&self, client_id: &str) -> Result<Option<Client>, OAuthError> {
        self.find_client_strong(client_id).await
    }

    async fn still_admitted(&self, user_id: &str) -> Result<bool, String> {
        // Most deployments have no membership rule: then not even the binding is touched.
        let all = super::providers::providers(self);
        let rules = super::providers::list(&all);
        if !rules
            .iter()
            .any(|p| p.allow.as_ref().is_some_and(|a| a.needs_membership()))
        {
            return Ok(true);
        }
        let db = self.db().map_err(|e| e.description())?;
        super::signin::still_member(self, &db, user_id).await
    }

    async fn roles_now(&self, user_id: &str) -> Result<Option<Vec<String>>, String> {
        let all = super::providers::providers(self);
        let asked_at_refresh = super::providers::list(&all).iter().any(|p| {
            p.roles.is_some() && matches!(p.kind, crate::signin::config::Kind::GitHub { .. })
        });
        if !asked_at_refresh {
            return Ok(None);
        }
        let db = self.db().map_err(|e| e.description())?;
        super::signin_roles::roles_now(self, &db, user_id)
            .await
            .map(Some)
    }

    async fn person(&self, user_id: &str) -> Result<PersonClaims, String> {
        let db = self.db().map_err(|e| e.description())?;
        let user = db.user_by_id(user_id).await.map_err(|e| e.0)?;
        Ok(user
            .map(|u| PersonClaims {
                email: Some(u.email),
                name: u.name,
            })
            .unwrap_or_default())
    }

    async fn audit(&self, event: Event, user_id: &str, client_id: &str) {
        Ctx::audit(self, event, Some(user_id), Some(client_id), None).await
    }

    async fn audit_detail(&self, event: Event, user_id: &str, client_id: &str, detail: &str) {
        Ctx::audit(self, event, Some(user_id), Some(client_id), Some(detail)).await
    }

    async fn client_keys(
        &self,
        client: &Client,
        again: bool,
    ) -> Result<serde_json::Value, OAuthError> {
        super::client_keys::jwks(self, client, again).await
    }

    async fn first_use(&self, client_id: &str, jti: &str, expires_at: u64) -> Result<bool, String> {
        let db = self.db().map_err(|e| e.description())?;
        let key = crate::store::keys::client_assertion(client_id, jti);
        let uses = db
            .count_hit(&key, expires_at, now())
            .await
            .map_err(|e| e.0)?;
        Ok(uses == 1)
    }

    async fn doctor(&self, mark: crate::doctor::Mark) {
        Ctx::doctor(self, mark).await
    }

    fn internal(&self, cause: &dyn std::fmt::Display) -> OAuthError {
        Ctx::internal(self, cause)
    }

    fn now_ms(&self) -> u64 {
        crate::http::now_ms()
    }
}

/// The grants' settings, from the deployment's.
pub fn settings(ctx: &Ctx) -> Settings {
    Settings {
        issuer: ctx.issuer.clone(),
        resource: ctx.resource(),
        access_token_ttl: ctx.config.access_token_ttl,
        refresh_token_ttl: ctx.config.refresh_token_ttl,
        refresh_grace: ctx.config.refresh_grace,
    }
}

/// Writes the KV mark that stops a revoked grant's access tokens at `/mcp` (it outlives
/// the longest-lived of them), then records in D1 that it was written. The grant is
/// already revoked in D1: when KV refuses the write (its daily write quota, an outage),
/// the revocation stands and `/mcp` reads it from D1 until the cron writes the mark.
pub async fn mark_revoked(ctx: &Ctx, db: &D1, grant_id: &str) {
    // This isolate stops at once; others within the minute, through the mark.
    forget_not_revoked(grant_id);
    let ttl = ctx.config.longest_access_ttl() + 120;
    let written = match ctx.kv() {
        Ok(kv) => {
            kv.put(&crate::store::keys::revoked_grant(grant_id), "1", Some(ttl))
                .await
        }
        Err(_) => return,
    };
    let recorded = match written {
        Ok(()) => db.set_marked(grant_id, now()).await,
        Err(e) => Err(e),
    };
    if let Err(e) = recorded {
        note_unmarked(grant_id);
        worker::console_error!(
            "[{}] revocation mark for a revoked grant not written (D1 stands in): {e}",
            ctx.request_id
        );
    }
}
