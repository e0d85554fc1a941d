//! `grant_type=refresh_token` (OAuth 2.1 §4.3, RFC 9700 §4.14.2): the refresh token
//! rotates with every use. Its successor is derived from it with a server key, so a retry
//! after a lost response (or a concurrent request) gets the same successor within the
//! grace period, never a second one; any other reuse revokes the whole family.

use super::request::RefreshRequest;
use super::{Grants, Issued, Minted, Surroundings};
use crate::audit::Event;
use crate::doctor::{attempt_key, token_cause, Attempt, Mark, Step};
use crate::encoding::{b64url, secret_hash};
use crate::oauth::catalog::Catalog;
use crate::oauth::client::{Client, ClientSource};
use crate::oauth::ed25519::Ed25519;
use crate::oauth::error::OAuthError;
use crate::oauth::jws::VerifyJwk;
use crate::oauth::keys::KeySet;
use crate::oauth::kinds::GrantType;
use crate::oauth::resource;
use crate::oauth::rsa_key::Rs256;
use crate::oauth::scope::Scopes;
use crate::oauth::seal::hmac_sha256;
use crate::store::grants::{GrantStore, NewRefresh, RefreshRow};

/// How long a rotated refresh token is kept after its rotation: within it, presenting the
/// token again is reuse and revokes the family (RFC 9700 §4.14.2); after it, the daily
/// cron deletes the row and the token is merely unknown (`invalid_grant`). Without a
/// bound, a family refreshed hourly would keep a row per hour for its whole lifetime.
pub const ROTATED_KEPT_SECONDS: u64 = 7 * 86_400;

fn invalid(why: &str) -> OAuthError {
    OAuthError::InvalidGrant(why.to_string())
}

/// The successor of a refresh token: a MAC of it under a key of its own purpose, bound to
/// client authentication as its predecessor was (`bound_to`).
pub fn successor_of(keys: &KeySet, token: &str) -> String {
    let mac = b64url(&hmac_sha256(
        &keys.mac_key("refresh-successor"),
        token.as_bytes(),
    ));
    match token.starts_with(CONFIDENTIAL) {
        true => format!("{CONFIDENTIAL}{mac}"),
        false => mac,
    }
}

/// The mark of a refresh token issued to an app that authenticated (a secret or a key):
/// never in a base64url token's alphabet, so no other token can carry it.
const CONFIDENTIAL: &str = "c.";

/// A new refresh token for `client`, marked when the app authenticated: the token then
/// works only while the app still does (RFC 9700 §4.14.2). An app whose metadata
/// document later says `none` cannot have its tokens used by anyone holding its
/// `client_id` alone.
pub fn bound_to(client: &Client, token: String) -> String {
    if client.is_public() {
        token
    } else {
        format!("{CONFIDENTIAL}{token}")
    }
}

/// The token's own state, checked before anything is asked elsewhere.
fn check_row(row: &RefreshRow, client: &Client, now: u64) -> Result<(), OAuthError> {
    if row.client_id != client.client_id {
        return Err(invalid("the refresh token is invalid"));
    }
    if row.revoked_at.is_some() || row.grant_revoked_at.is_some() {
        return Err(invalid("the refresh token has been revoked"));
    }
    if row.user_disabled_at.is_some() {
        return Err(invalid("the account is disabled"));
    }
    if row.expires_at < now {
        return Err(invalid("the refresh token has expired"));
    }
    Ok(())
}

/// What the grant may still hold: its scope as the catalog still knows it, without the
/// scopes the person's roles no longer allow, within a pre-registered client's limit.
/// `None` when nothing of the resource is left of a grant that had some: the client must
/// ask the person again.
fn still_held(
    catalog: &Catalog,
    row: &RefreshRow,
    roles: &[&str],
    client: &Client,
) -> Option<Scopes> {
    let stored = catalog.stored(&row.scope);
    let mut held = catalog.allowed_for(&stored, roles);
    // A pre-registered client's limit, set by the operator, holds for its connections
    // already made too (a limit narrowed in the console narrows them at their refresh).
    if let (ClientSource::Preregistered, Some(limit)) = (&client.source, client.scope.as_deref()) {
        held = held.intersect(&catalog.stored(limit));
    }
    // Any word that is not a protocol scope was a resource scope, also one the operator
    // has removed from SCOPES since.
    let had_resource = row
        .scope
        .split(' ')
        .any(|w| !w.is_empty() && !crate::oauth::scope::PROTOCOL.contains(&w));
    (!had_resource || catalog.has_resource_scope(&held)).then_some(held)
}

/// The scope of the new access token: the grant's, or a narrower one asked for (§4.3.1).
fn narrowed(
    catalog: &Catalog,
    held: &Scopes,
    requested: Option<&str>,
) -> Result<Scopes, OAuthError> {
    let Some(s) = requested else {
        return Ok(held.clone());
    };
    let asked = catalog.parse(Some(s)).map_err(OAuthError::InvalidScope)?;
    if !asked.is_subset_of(held) {
        return Err(OAuthError::InvalidScope(
            "a refresh cannot widen the granted scope".into(),
        ));
    }
    Ok(asked)
}

/// Whether an already-rotated token may be answered again: its successor is this same
/// value, its row still there and unused, nothing revoked, within the grace period.
fn within_grace(fresh: Option<&RefreshRow>, successor_hash: &str, now: u64, grace: u64) -> bool {
    fresh.is_some_and(|r| {
        r.successor_hash.as_deref() == Some(successor_hash)
            && r.successor_found.as_deref() == Some(successor_hash)
            && r.successor_rotated_at.is_none()
            && r.revoked_at.is_none()
            && r.grant_revoked_at.is_none()
            && r.rotated_at.is_some_and(|t| now <= t + grace)
    })
}

impl<S: GrantStore, W: Surroundings, C: Ed25519 + Rs256 + VerifyJwk> Grants<'_, S, W, C> {
    /// Reuse of a rotated refresh token (RFC 9700 §4.14.2): the whole family is revoked.
    async fn reuse(&self, row: &RefreshRow) -> OAuthError {
        if let Err(e) = self.revoke_grant(&row.grant_id).await {
            return e;
        }
        self.world
            .audit(Event::RefreshReuse, &row.user_id, &row.client_id)
            .await;
        invalid("the refresh token was already used; the grant is revoked")
    }

    pub(super) async fn refresh(
        &self,
        req: &RefreshRequest<'_>,
        client: Client,
    ) -> Result<Issued, OAuthError> {
        let keys = self.keys()?;
        if !client.allows_refresh() {
            return Err(OAuthError::UnauthorizedClient(
                "this client may not use refresh tokens".into(),
            ));
        }
        let hash = secret_hash(req.refresh_token);
        let found = self
            .store
            .refresh_token(&hash)
            .await
            .map_err(|e| self.world.internal(&e))?;
        let Some(row) = found else {
            let e = invalid("the refresh token is invalid");
            let attempt = Attempt::Key(attempt_key(&client.client_id, "refresh"));
            let cause = "The refresh token is not known here: expired and deleted, from \
                         another deployment, or never issued (invalid_grant)";
            let mark = Mark::stopped(&client.client_id, attempt, Step::Refresh, cause);
            self.world.doctor(mark).await;
            return Err(e);
        };
        let client_id = client.client_id.clone();
        let result = self.refresh_row(req, client, keys, &hash, &row).await;
        let attempt = Attempt::Grant(row.grant_id.clone());
        let mark = match &result {
            Ok(_) => Mark::reached(&client_id, attempt, Step::Refresh),
            Err(e) => Mark::stopped(
                &client_id,
                attempt,
                Step::Refresh,
                &token_cause(e.code(), &e.description()),
            ),
        };
        // The refresh token's row was found: this server issued it.
        self.world.doctor(mark.by(&row.user_id).proven()).await;
        result
    }

    /// The refresh of a token whose row was found.
    async fn refresh_row(
        &self,
        req: &RefreshRequest<'_>,
        client: Client,
        keys: &KeySet,
        hash: &str,
        row: &RefreshRow,
    ) -> Result<Issued, OAuthError> {
        let now = self.now();
        let internal = |e: &dyn std::fmt::Display| self.world.internal(e);
        check_row(row, &client, now)?;
        if req.refresh_token.starts_with(CONFIDENTIAL) && client.is_public() {
            return Err(invalid(
                "the refresh token was issued to the app when it authenticated, and it no \
                 longer does",
            ));
        }
        // Reuse of an already-rotated token is answered first, before anything else is
        // asked or signed: a failure there must not keep the family alive.
        let successor = successor_of(keys, req.refresh_token);
        let successor_hash = secret_hash(&successor);
        let grace = self.settings.refresh_grace;
        if row.rotated_at.is_some() && !within_grace(Some(row), &successor_hash, now, grace) {
            return Err(self.reuse(row).await);
        }
        match self.world.still_admitted(&row.user_id).await {
            Ok(true) => {}
            Ok(false) => return Err(invalid(
                "the person is no longer in the GitHub organisation or team this server requires",
            )),
            Err(e) => return Err(internal(&format!("membership check: {e}"))),
        }
        // Asked again where a provider can be asked without the person (GitHub): the
        // roles decide scopes and go upstream in every assertion.
        let asked = self
            .world
            .roles_now(&row.user_id)
            .await
            .map_err(|e| internal(&format!("roles: {e}")))?;
        let roles: Vec<&str> = match &asked {
            Some(r) => r.iter().map(String::as_str).collect(),
            None => row.roles(),
        };
        let Some(held) = still_held(self.catalog, row, &roles, &client) else {
            return Err(invalid(
                "the person's roles, or this app's scope limit, no longer allow any scope of \
                 this grant; authorize again",
            ));
        };
        let scopes = narrowed(self.catalog, &held, req.scope)?;
        let held_text = held.to_string();
        if let Some(r) = req.resource {
            if !resource::matches(r, &row.resource) {
                return Err(OAuthError::InvalidTarget(
                    "resource does not match the grant".into(),
                ));
            }
        }
        let new_row = NewRefresh {
            token_hash: &successor_hash,
            grant_id: &row.grant_id,
            user_id: &row.user_id,
            client_id: &row.client_id,
            // A narrowed grant stays narrowed: a role given back later needs a new consent.
            scope: &held_text,
            expires_at: now + self.refresh_ttl(&client),
        };
        // Signed before the rotation is written: a key that cannot sign must not rotate
        // the token away from the client.
        let access = self
            .mint_access(
                &row.user_id,
                &client,
                &scopes,
                &row.resource,
                &row.grant_id,
                &roles,
            )
            .await?;
        // §12.2: the same person and client, the original sign-in's auth_time, no nonce.
        let minted = Minted {
            user_id: &row.user_id,
            access_token: &access,
            auth_time: row.auth_time,
            nonce: None,
        };
        let id_token = self.mint_id_token(&minted, &scopes, &client).await?;
        let rotated_now = row.rotated_at.is_none()
            && self
                .store
                .rotate(hash, &new_row, now)
                .await
                .map_err(|e| internal(&e))?;
        if !rotated_now {
            // Rotated already, by an earlier request whose response may have been lost or
            // by a concurrent one: anything but a retry within grace is reuse.
            let fresh = self
                .store
                .refresh_token(hash)
                .await
                .map_err(|e| internal(&e))?;
            if !within_grace(fresh.as_ref(), &successor_hash, now, grace) {
                return Err(self.reuse(row).await);
            }
        }
        // Words of the grant no longer held: a role lost, or a scope the operator removed
        // (a scope only reordered in SCOPES is not a narrowing).
        let dropped: Vec<&str> = row
            .scope
            .split(' ')
            .filter(|w| !w.is_empty() && !held.contains(w))
            .collect();
        if rotated_now && !dropped.is_empty() {
            let detail = dropped.join(" ");
            self.world
                .audit_detail(Event::ScopeNarrowed, &row.user_id, &row.client_id, &detail)
                .await;
        }
        // The refresh is in the audit log already: the store records it with the
        // rotation (a retry within grace is the same refresh, recorded once).
        Ok(Issued {
            id_token,
            access_token: access,
            expires_in: self.access_ttl(&client),
            refresh_token: Some(successor),
            scope: scopes,
            grant_type: GrantType::RefreshToken,
            client,
        })
    }
}
