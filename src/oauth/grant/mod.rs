//! The token endpoint's rules, free of `worker` types: client authentication (RFC 6749
//! §2.3), the authorization-code grant (OAuth 2.1 §4.1.3, RFC 7636 §4.6), the refresh
//! grant (OAuth 2.1 §4.3, RFC 9700 §4.14), revocation (RFC 7009) and introspection
//! (RFC 7662). Each runs its checks in a fixed order and writes nothing until all pass.
//!
//! A grant is one file and one `GrantType` variant: `token` dispatches on the enum, so a
//! new variant does not compile until it is wired here.

mod authorization_code;
mod client_auth;
mod introspect;
pub mod refresh;
pub mod request;
mod revoke;
#[cfg(test)]
mod tests;

use crate::audit::Event;
use crate::oauth::access_token::{self, AccessClaims};
use crate::oauth::catalog::Catalog;
use crate::oauth::client::Client;
use crate::oauth::ed25519::Ed25519;
use crate::oauth::error::OAuthError;
use crate::oauth::id_token::{self, IdRequest, PersonClaims};
use crate::oauth::jws::VerifyJwk;
use crate::oauth::keys::KeySet;
use crate::oauth::kinds::GrantType;
use crate::oauth::rsa_key::Rs256;
use crate::oauth::rsa_key::RsaKeys;
use crate::oauth::scope::{Scopes, EMAIL, OPENID, PROFILE};
use crate::store::grants::GrantStore;
pub use introspect::Introspection;
pub use request::{Credentials, Params, TokenRequest};
use serde_json::{json, Value};

/// What the grants ask of the rest of the Worker, besides the grant store.
#[allow(async_fn_in_trait)]
pub trait Surroundings {
    /// The client with this id, read strongly (a registration a moment ago counts).
    /// `Err` when it cannot be known now (storage failing, a document's host too busy).
    async fn client(&self, client_id: &str) -> Result<Option<Client>, OAuthError>;
    /// Whether the person still passes the sign-in rules re-checked at every refresh
    /// (GitHub organisation or team membership). `Err`: it could not be asked.
    async fn still_admitted(&self, user_id: &str) -> Result<bool, String>;
    /// The person's roles asked again now, where a sign-in provider can be asked without
    /// them (GitHub memberships), stored and returned; `None`: nothing was asked, and the
    /// roles read with the refresh token stand.
    async fn roles_now(&self, user_id: &str) -> Result<Option<Vec<String>>, String>;
    /// The person's email and name, for an ID token whose grant holds `email` or `profile`.
    async fn person(&self, user_id: &str) -> Result<PersonClaims, String>;
    /// Records an event in the audit log (never failing the request).
    async fn audit(&self, event: Event, user_id: &str, client_id: &str);
    /// Records an event with a detail (what was narrowed).
    async fn audit_detail(&self, event: Event, user_id: &str, client_id: &str, detail: &str);
    /// A `private_key_jwt` app's JWK Set: the one its document holds, or the one at its
    /// `jwks_uri` (cached; `again`: fetched anew, when no key matched the one cached).
    /// `Err` when it cannot be had now.
    async fn client_keys(&self, client: &Client, again: bool) -> Result<Value, OAuthError>;
    /// Records that `client_id` used the assertion `jti`, until `expires_at` (Unix
    /// seconds): `Ok(false)` when it was used before. `Err`: it could not be recorded, and
    /// the assertion is refused.
    async fn first_use(&self, client_id: &str, jti: &str, expires_at: u64) -> Result<bool, String>;
    /// Keeps the connector doctor's mark of a step (never failing the request).
    async fn doctor(&self, mark: crate::doctor::Mark);
    /// Logs an internal failure; the client sees `server_error`.
    fn internal(&self, cause: &dyn std::fmt::Display) -> OAuthError;
    /// The time now, in Unix milliseconds: a revocation is stamped when it happens, not
    /// when its request began (a code issued in between must not outlive it).
    fn now_ms(&self) -> u64;
}

/// Settings the grants read.
#[derive(Clone, Debug)]
pub struct Settings {
    pub issuer: String,
    /// The MCP resource access tokens are for (RFC 8707), checked on the tokens presented.
    pub resource: String,
    pub access_token_ttl: u64,
    pub refresh_token_ttl: u64,
    /// How long after a rotation a retry of the old refresh token gets the same successor.
    pub refresh_grace: u64,
}

/// One request's view of the token endpoint: its storage, surroundings, keys and clock.
pub struct Grants<'a, S, W, C> {
    pub store: &'a S,
    pub world: &'a W,
    pub crypto: &'a C,
    /// `None` when the signing key is unusable (logged where it was loaded).
    pub keys: Option<&'a KeySet>,
    /// The RSA key of RS256 ID tokens; `None` when `OIDC_SIGNING_KEY` is not set.
    pub rsa: Option<&'a RsaKeys>,
    pub settings: &'a Settings,
    /// The operator's scopes: what a stored scope still means, and who may hold it.
    pub catalog: &'a Catalog,
    pub now_ms: u64,
}

/// What an ID token is about: the access token just minted, for whom, and the sign-in.
pub(super) struct Minted<'a> {
    pub user_id: &'a str,
    pub access_token: &'a str,
    pub auth_time: Option<u64>,
    pub nonce: Option<&'a str>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    /// OpenID Connect's ID token, for a grant that holds `openid`.
    pub id_token: Option<String>,
    pub scope: Scopes,
    /// The grant that issued it and the client, for the edge's after-effects (keeping a
    /// metadata document when a code is redeemed).
    pub grant_type: GrantType,
    pub client: Client,
}

impl Issued {
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope.to_string(),
        });
        if let Some(r) = &self.refresh_token {
            crate::json::set(&mut body, "refresh_token", r.as_str());
        }
        if let Some(t) = &self.id_token {
            crate::json::set(&mut body, "id_token", t.as_str());
        }
        body
    }
}

impl<S: GrantStore, W: Surroundings, C: Ed25519 + Rs256 + VerifyJwk> Grants<'_, S, W, C> {
    fn now(&self) -> u64 {
        self.now_ms / 1000
    }

    fn keys(&self) -> Result<&KeySet, OAuthError> {
        self.keys.ok_or(OAuthError::ServerError)
    }

    /// `POST /token`: authenticates the client, then runs the grant it names.
    pub async fn token(&self, params: &Params, basic: Option<&str>) -> Result<Issued, OAuthError> {
        let grant_type = params.grant_type()?;
        // Without the operator's catalog nothing may be granted (a broken SCOPES was
        // logged where it was read): never a grant read against a narrower stand-in.
        if self.catalog.resource_scopes().is_empty() {
            return Err(self.world.internal(&"SCOPES is not usable"));
        }
        let client = self.authenticate(params, basic).await?;
        match grant_type {
            GrantType::AuthorizationCode => {
                let request = request::CodeRequest::from_params(params)?;
                self.authorization_code(&request, client).await
            }
            GrantType::RefreshToken => {
                let request = request::RefreshRequest::from_params(params)?;
                self.refresh(&request, client).await
            }
        }
    }

    /// Revokes a grant: the store stops its refresh tokens at once and its access tokens
    /// at `/mcp` within the minute.
    async fn revoke_grant(&self, grant_id: &str) -> Result<(), OAuthError> {
        self.store
            .revoke_grant(grant_id, self.world.now_ms())
            .await
            .map_err(|e| self.world.internal(&e))
    }

    /// How long the client's access tokens live: its own lifetime if the operator gave it
    /// one (`npm run client -- add --access-token-ttl`), else the setting.
    fn access_ttl(&self, client: &Client) -> u64 {
        client
            .access_token_ttl
            .unwrap_or(self.settings.access_token_ttl)
    }

    fn refresh_ttl(&self, client: &Client) -> u64 {
        client
            .refresh_token_ttl
            .unwrap_or(self.settings.refresh_token_ttl)
    }

    async fn mint_access(
        &self,
        user_id: &str,
        client: &Client,
        scope: &Scopes,
        resource: &str,
        grant_id: &str,
        roles: &[&str],
    ) -> Result<String, OAuthError> {
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: user_id.to_string(),
            aud: resource.to_string(),
            client_id: client.client_id.clone(),
            scope: scope.to_string(),
            jti: String::new(),
            gid: grant_id.to_string(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        };
        let ttl = self.access_ttl(client);
        access_token::issue(self.crypto, self.keys()?, claims, self.now(), ttl)
            .await
            .map_err(|e| self.world.internal(&e))
    }

    /// The ID token of a grant that holds `openid` (OpenID Connect Core §3.1.3.3, §12.2),
    /// else `None`. `nonce` only from the authorization-code grant.
    async fn mint_id_token(
        &self,
        minted: &Minted<'_>,
        scope: &Scopes,
        client: &Client,
    ) -> Result<Option<String>, OAuthError> {
        if !scope.contains(OPENID) {
            return Ok(None);
        }
        let (email, profile) = (scope.contains(EMAIL), scope.contains(PROFILE));
        let person = match email || profile {
            true => self
                .world
                .person(minted.user_id)
                .await
                .map_err(|e| self.world.internal(&e))?,
            false => PersonClaims::default(),
        };
        let alg = id_token::effective_alg(client.id_token_signed_response_alg, self.rsa);
        let at_hash = alg
            .at_hash(self.crypto, minted.access_token)
            .await
            .map_err(|e| self.world.internal(&e))?;
        let claims = id_token::claims(&IdRequest {
            issuer: &self.settings.issuer,
            user_id: minted.user_id,
            client_id: &client.client_id,
            now: self.now(),
            auth_time: minted.auth_time,
            nonce: minted.nonce,
            at_hash,
            alg,
            person: &person,
            email,
            profile,
        });
        id_token::sign(self.crypto, self.keys()?, self.rsa, alg, &claims)
            .await
            .map(Some)
            .map_err(|e| self.world.internal(&e))
    }
}
