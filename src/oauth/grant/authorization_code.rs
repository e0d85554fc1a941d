//! `grant_type=authorization_code` (OAuth 2.1 §4.1.3): the code is opened and checked
//! against the client, redirect URI, PKCE verifier (RFC 7636 §4.6) and resource
//! (RFC 8707), then redeemed once; a replayed code revokes what it produced (RFC 9700
//! §4.2.4).

use super::request::CodeRequest;
use super::{Grants, Issued, Minted, Surroundings};
use crate::audit::Event;
use crate::doctor::{attempt_key, token_cause, Attempt, Mark, Step};
use crate::encoding::{random_token, secret_hash};
use crate::oauth::client::Client;
use crate::oauth::code::{self, CodeGrant};
use crate::oauth::ed25519::Ed25519;
use crate::oauth::error::OAuthError;
use crate::oauth::jws::VerifyJwk;
use crate::oauth::kinds::GrantType;
use crate::oauth::rsa_key::Rs256;
use crate::oauth::{pkce, resource};
use crate::store::grants::{GrantStore, NewGrant, NewRefresh, Redeemed};

fn invalid(why: &str) -> OAuthError {
    OAuthError::InvalidGrant(why.to_string())
}

/// The checks, in order, before anything is written.
fn check(req: &CodeRequest, grant: &CodeGrant, client: &Client) -> Result<(), OAuthError> {
    if grant.client_id != client.client_id {
        return Err(invalid(
            "the authorization code was issued to another client",
        ));
    }
    match req.redirect_uri {
        Some(r) if r == grant.redirect_uri => {}
        None if client.redirect_uris.len() == 1 => {}
        _ => {
            return Err(invalid(
                "redirect_uri does not match the authorization request",
            ))
        }
    }
    let verifier = req
        .code_verifier
        .ok_or_else(|| OAuthError::InvalidRequest("code_verifier is required".into()))?;
    if !pkce::verify_s256(verifier, &grant.code_challenge) {
        return Err(invalid("code_verifier does not match the code_challenge"));
    }
    if let Some(r) = req.resource {
        if !resource::matches(r, &grant.resource) {
            return Err(OAuthError::InvalidTarget(
                "resource does not match the authorization".into(),
            ));
        }
    }
    Ok(())
}

impl<S: GrantStore, W: Surroundings, C: Ed25519 + Rs256 + VerifyJwk> Grants<'_, S, W, C> {
    pub(super) async fn authorization_code(
        &self,
        req: &CodeRequest<'_>,
        client: Client,
    ) -> Result<Issued, OAuthError> {
        let keys = self.keys()?;
        let Some(grant) = code::open(&keys.mac_key("code"), req.code, self.now()) else {
            // Not this server's code, or older than its ten minutes: nothing ties it to an
            // authorization, so it is an attempt of its own.
            // Its own namespace: a made-up code equal to someone's PKCE challenge must not
            // land in their attempt.
            let attempt = Attempt::Key(attempt_key(
                &client.client_id,
                &format!("code:{}", req.code),
            ));
            let cause = "The authorization code is not valid: older than its ten minutes, \
                         from another deployment, or mangled on the way (invalid_grant)";
            let mark = Mark::stopped(&client.client_id, attempt, Step::Token, cause);
            self.world.doctor(mark).await;
            return Err(invalid("the authorization code is invalid or expired"));
        };
        // The attempt its authorization began: the client the code was issued to and the
        // PKCE challenge it carries.
        let attempt = Attempt::Key(attempt_key(&grant.client_id, &grant.code_challenge));
        let result = self.redeem(req, client, &grant).await;
        let mark = match &result {
            Ok((_, grant_id)) => {
                Mark::reached(&grant.client_id, attempt, Step::Token).grant(grant_id)
            }
            Err(e) => Mark::stopped(
                &grant.client_id,
                attempt,
                Step::Token,
                &token_cause(e.code(), &e.description()),
            ),
        };
        // The code opened: this server issued it, after a sign-in and a consent.
        self.world.doctor(mark.by(&grant.user_id).proven()).await;
        result.map(|(issued, _)| issued)
    }

    /// The exchange of a code this server issued: its checks, then the one redemption.
    /// Returns the tokens and the grant made.
    async fn redeem(
        &self,
        req: &CodeRequest<'_>,
        client: Client,
        grant: &CodeGrant,
    ) -> Result<(Issued, String), OAuthError> {
        check(req, grant, &client)?;
        // Decided at consent a few minutes ago (the person's roles included); read again
        // only to drop a scope the operator has removed since.
        let scopes = self.catalog.stored(&grant.scope);
        let roles: Vec<&str> = grant.roles.split(' ').filter(|r| !r.is_empty()).collect();

        let grant_id = random_token();
        let code_hash = secret_hash(req.code);
        let refresh = client
            .allows_refresh()
            .then(|| super::refresh::bound_to(&client, random_token()));
        let refresh_hash = refresh.as_deref().map(secret_hash);
        let new_grant = NewGrant {
            id: &grant_id,
            user_id: &grant.user_id,
            client_id: &client.client_id,
            scope: &grant.scope,
            resource: &grant.resource,
            redirect_uri: &grant.redirect_uri,
            code_hash: &code_hash,
            code_issued_ms: grant.issued_ms,
            auth_time: grant.auth_time,
        };
        let new_refresh = refresh_hash.as_deref().map(|h| NewRefresh {
            token_hash: h,
            grant_id: &grant_id,
            user_id: &grant.user_id,
            client_id: &client.client_id,
            scope: &grant.scope,
            expires_at: self.now() + self.refresh_ttl(&client),
        });
        // Signed before anything is written: a key that cannot sign must not use up the
        // code (the person would have to start again for nothing).
        let access = self
            .mint_access(
                &grant.user_id,
                &client,
                &scopes,
                &grant.resource,
                &grant_id,
                &roles,
            )
            .await?;
        let minted = Minted {
            user_id: &grant.user_id,
            access_token: &access,
            auth_time: grant.auth_time,
            nonce: grant.nonce.as_deref(),
        };
        let id_token = self.mint_id_token(&minted, &scopes, &client).await?;
        let redeemed = self
            .store
            .redeem_code(&new_grant, new_refresh.as_ref(), self.now())
            .await
            .map_err(|e| self.world.internal(&e))?;
        match redeemed {
            Redeemed::First => {}
            Redeemed::Replayed { grant_id } => {
                self.revoke_grant(&grant_id).await?;
                self.world
                    .audit(Event::CodeReuse, &grant.user_id, &client.client_id)
                    .await;
                return Err(invalid(
                    "the authorization code was already used; its tokens are revoked",
                ));
            }
            Redeemed::Withdrawn => return Err(invalid(
                "the authorization was withdrawn: the app was disconnected or the account disabled",
            )),
        }
        self.world
            .audit(Event::CodeRedeemed, &grant.user_id, &client.client_id)
            .await;
        let issued = Issued {
            id_token,
            access_token: access,
            expires_in: self.access_ttl(&client),
            refresh_token: refresh,
            scope: scopes,
            grant_type: GrantType::AuthorizationCode,
            client,
        };
        Ok((issued, grant_id))
    }
}
