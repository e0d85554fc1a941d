//! The grant store in memory, for native tests: the same rules as the D1 statements in
//! `d1_grants.rs`, one at a time (a single-threaded store cannot race; the contract
//! tests call `rotate` and `redeem_code` twice to stand for two callers).

use crate::audit::Event;
use crate::store::grants::{GrantStore, NewGrant, NewRefresh, Redeemed, RefreshRow};
use crate::store::StoreError;
use std::cell::RefCell;
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct User {
    pub disabled_at: Option<u64>,
    pub sessions_after_ms: u64,
    pub roles: Vec<String>,
}

#[derive(Clone, Debug)]
struct Grant {
    id: String,
    user_id: String,
    client_id: String,
    resource: String,
    code_hash: String,
    revoked_at: Option<u64>,
    revoked_ms: Option<u64>,
    auth_time: Option<u64>,
}

#[derive(Clone, Debug)]
struct Refresh {
    grant_id: String,
    user_id: String,
    client_id: String,
    scope: String,
    expires_at: u64,
    rotated_at: Option<u64>,
    successor_hash: Option<String>,
    revoked_at: Option<u64>,
}

#[derive(Default)]
pub struct Grants {
    pub users: RefCell<HashMap<String, User>>,
    grants: RefCell<Vec<Grant>>,
    refresh: RefCell<HashMap<String, Refresh>>,
    /// Makes every call fail, as a D1 outage does.
    pub failing: std::cell::Cell<bool>,
    /// The audit log a rotation records its refresh in (shared with the test's own).
    pub audit: std::rc::Rc<RefCell<Vec<(Event, String)>>>,
}

impl Grants {
    /// A store whose rotations record their refresh in `audit`.
    pub fn recording_to(audit: std::rc::Rc<RefCell<Vec<(Event, String)>>>) -> Grants {
        Grants {
            audit,
            ..Grants::default()
        }
    }

    fn up(&self) -> Result<(), StoreError> {
        if self.failing.get() {
            return Err(StoreError("D1: unavailable".into()));
        }
        Ok(())
    }

    fn insert_refresh(&self, r: &NewRefresh<'_>) {
        self.refresh
            .borrow_mut()
            .entry(r.token_hash.to_string())
            .or_insert(Refresh {
                grant_id: r.grant_id.into(),
                user_id: r.user_id.into(),
                client_id: r.client_id.into(),
                scope: r.scope.into(),
                expires_at: r.expires_at,
                rotated_at: None,
                successor_hash: None,
                revoked_at: None,
            });
    }

    /// Deletes a refresh token's row, as the daily cron does (for tests).
    pub fn forget(&self, token_hash: &str) {
        self.refresh.borrow_mut().remove(token_hash);
    }

    /// How many refresh tokens a grant's family holds (for tests).
    pub fn family_size(&self, grant_id: &str) -> usize {
        let refresh = self.refresh.borrow();
        refresh.values().filter(|r| r.grant_id == grant_id).count()
    }
}

impl GrantStore for Grants {
    async fn redeem_code(
        &self,
        g: &NewGrant<'_>,
        refresh: Option<&NewRefresh<'_>>,
        _now: u64,
    ) -> Result<Redeemed, StoreError> {
        self.up()?;
        let grants = self.grants.borrow();
        if let Some(first) = grants.iter().find(|x| x.code_hash == g.code_hash) {
            return Ok(Redeemed::Replayed {
                grant_id: first.id.clone(),
            });
        }
        let user_refuses = self
            .users
            .borrow()
            .get(g.user_id)
            .is_some_and(|u| u.disabled_at.is_some() || u.sessions_after_ms > g.code_issued_ms);
        let withdrawn_since = grants.iter().any(|x| {
            x.user_id == g.user_id
                && x.client_id == g.client_id
                && x.revoked_ms
                    .or(x.revoked_at.map(|s| s * 1000 + 999))
                    .is_some_and(|ms| ms >= g.code_issued_ms)
        });
        drop(grants);
        if user_refuses || withdrawn_since {
            return Ok(Redeemed::Withdrawn);
        }
        self.grants.borrow_mut().push(Grant {
            id: g.id.into(),
            user_id: g.user_id.into(),
            client_id: g.client_id.into(),
            resource: g.resource.into(),
            code_hash: g.code_hash.into(),
            revoked_at: None,
            revoked_ms: None,
            auth_time: g.auth_time,
        });
        if let Some(r) = refresh {
            self.insert_refresh(r);
        }
        Ok(Redeemed::First)
    }

    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRow>, StoreError> {
        self.up()?;
        let refresh = self.refresh.borrow();
        let Some(r) = refresh.get(token_hash) else {
            return Ok(None);
        };
        let grants = self.grants.borrow();
        let Some(g) = grants.iter().find(|g| g.id == r.grant_id) else {
            return Ok(None);
        };
        let successor = r
            .successor_hash
            .as_ref()
            .filter(|s| refresh.contains_key(*s));
        let successor_rotated_at = successor
            .and_then(|s| refresh.get(s))
            .and_then(|s| s.rotated_at);
        Ok(Some(RefreshRow {
            token_hash: token_hash.into(),
            grant_id: r.grant_id.clone(),
            user_id: r.user_id.clone(),
            client_id: r.client_id.clone(),
            scope: r.scope.clone(),
            expires_at: r.expires_at,
            rotated_at: r.rotated_at,
            successor_hash: r.successor_hash.clone(),
            revoked_at: r.revoked_at,
            resource: g.resource.clone(),
            auth_time: g.auth_time,
            grant_revoked_at: g.revoked_at,
            successor_rotated_at,
            successor_found: successor.cloned(),
            user_disabled_at: self
                .users
                .borrow()
                .get(&r.user_id)
                .and_then(|u| u.disabled_at),
            roles: self
                .users
                .borrow()
                .get(&r.user_id)
                .map(|u| u.roles.join(","))
                .filter(|r| !r.is_empty()),
        }))
    }

    async fn rotate(
        &self,
        old_hash: &str,
        successor: &NewRefresh<'_>,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.up()?;
        let won = match self.refresh.borrow_mut().get_mut(old_hash) {
            Some(old) if old.rotated_at.is_none() && old.revoked_at.is_none() => {
                old.rotated_at = Some(now);
                old.successor_hash = Some(successor.token_hash.to_string());
                let record = (Event::Refresh, successor.user_id.to_string());
                self.audit.borrow_mut().push(record);
                true
            }
            _ => false,
        };
        let names_it = self
            .refresh
            .borrow()
            .get(old_hash)
            .is_some_and(|o| o.successor_hash.as_deref() == Some(successor.token_hash));
        if names_it {
            self.insert_refresh(successor);
        }
        Ok(won)
    }

    async fn revoke_grant(&self, grant_id: &str, now_ms: u64) -> Result<(), StoreError> {
        self.up()?;
        let now = now_ms / 1000;
        for g in self.grants.borrow_mut().iter_mut() {
            if g.id == grant_id && g.revoked_at.is_none() {
                g.revoked_at = Some(now);
                g.revoked_ms = Some(now_ms);
            }
        }
        for r in self.refresh.borrow_mut().values_mut() {
            if r.grant_id == grant_id && r.revoked_at.is_none() {
                r.revoked_at = Some(now);
            }
        }
        Ok(())
    }

    async fn grant_revoked(&self, grant_id: &str) -> Result<bool, StoreError> {
        self.up()?;
        let grants = self.grants.borrow();
        Ok(grants
            .iter()
            .find(|g| g.id == grant_id)
            .is_none_or(|g| g.revoked_at.is_some()))
    }
}
