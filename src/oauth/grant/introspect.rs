//! Token introspection (RFC 7662), for confidential clients about their own tokens: a
//! live refresh token or access token is described; anything else, including another
//! client's token, is `{"active": false}` (§2.2).

use super::{Grants, Params, Surroundings};
use crate::encoding::secret_hash;
use crate::oauth::access_token;
use crate::oauth::ed25519::Ed25519;
use crate::oauth::error::OAuthError;
use crate::oauth::jws::VerifyJwk;
use crate::oauth::rsa_key::Rs256;
use crate::store::grants::GrantStore;
use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Introspection {
    Inactive,
    Active(Value),
}

impl Introspection {
    pub fn to_json(&self) -> Value {
        match self {
            Introspection::Inactive => json!({"active": false}),
            Introspection::Active(v) => v.clone(),
        }
    }
}

impl<S: GrantStore, W: Surroundings, C: Ed25519 + Rs256 + VerifyJwk> Grants<'_, S, W, C> {
    /// `POST /introspect`.
    pub async fn introspect(
        &self,
        params: &Params,
        basic: Option<&str>,
    ) -> Result<Introspection, OAuthError> {
        let token = params.token()?;
        let client = self.authenticate(params, basic).await?;
        if client.is_public() {
            return Err(OAuthError::InvalidClient(
                "introspection is only for confidential clients".into(),
            ));
        }
        let internal = |e: &dyn std::fmt::Display| self.world.internal(e);
        let now = self.now();
        if let Some(r) = self
            .store
            .refresh_token(&secret_hash(token))
            .await
            .map_err(|e| internal(&e))?
        {
            // A rotated token's successor is the live one; a disabled person's tokens
            // no longer refresh.
            let live = r.revoked_at.is_none()
                && r.rotated_at.is_none()
                && r.user_disabled_at.is_none()
                && r.grant_revoked_at.is_none()
                && r.expires_at >= now
                && r.client_id == client.client_id;
            if !live {
                return Ok(Introspection::Inactive);
            }
            return Ok(Introspection::Active(json!({
                "active": true, "token_type": "refresh_token", "scope": r.scope,
                "client_id": r.client_id, "sub": r.user_id, "exp": r.expires_at,
                "iss": self.settings.issuer, "aud": r.resource,
            })));
        }
        let keys = self.keys()?;
        let s = self.settings;
        let Ok(v) =
            access_token::verify(self.crypto, keys, token, &s.issuer, &s.resource, now).await
        else {
            return Ok(Introspection::Inactive);
        };
        if v.claims.client_id != client.client_id
            || self
                .store
                .grant_revoked(&v.claims.gid)
                .await
                .map_err(|e| internal(&e))?
        {
            return Ok(Introspection::Inactive);
        }
        Ok(Introspection::Active(json!({
            "active": true, "token_type": "Bearer", "scope": v.claims.scope,
            "client_id": v.claims.client_id, "sub": v.claims.sub, "exp": v.expires_at,
            "iat": v.issued_at, "iss": v.claims.iss, "aud": v.claims.aud, "jti": v.claims.jti,
        })))
    }
}
