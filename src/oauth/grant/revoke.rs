//! Token revocation (RFC 7009): a refresh token or an access token of the authenticated
//! client revokes its whole grant; any other token changes nothing, and the answer is the
//! same either way (§2.2), so revocation reveals nothing about tokens.

use super::{Grants, Params, Surroundings};
use crate::audit::Event;
use crate::encoding::secret_hash;
use crate::oauth::access_token;
use crate::oauth::ed25519::Ed25519;
use crate::oauth::error::OAuthError;
use crate::oauth::jws::VerifyJwk;
use crate::oauth::rsa_key::Rs256;
use crate::store::grants::GrantStore;

impl<S: GrantStore, W: Surroundings, C: Ed25519 + Rs256 + VerifyJwk> Grants<'_, S, W, C> {
    /// `POST /revoke`: `Ok(())` whether or not the token was known.
    pub async fn revoke(&self, params: &Params, basic: Option<&str>) -> Result<(), OAuthError> {
        let token = params.token()?;
        let client = self.authenticate(params, basic).await?;
        let row = self
            .store
            .refresh_token(&secret_hash(token))
            .await
            .map_err(|e| self.world.internal(&e))?;
        let grant = match row {
            Some(r) if r.client_id == client.client_id => Some((r.grant_id, r.user_id)),
            Some(_) => None,
            None => match self.keys {
                Some(keys) => access_token::verify(
                    self.crypto,
                    keys,
                    token,
                    &self.settings.issuer,
                    &self.settings.resource,
                    self.now(),
                )
                .await
                .ok()
                .filter(|v| v.claims.client_id == client.client_id)
                .map(|v| (v.claims.gid, v.claims.sub)),
                None => None,
            },
        };
        if let Some((grant_id, user_id)) = grant {
            self.revoke_grant(&grant_id).await?;
            self.world
                .audit(Event::Revocation, &user_id, &client.client_id)
                .await;
        }
        Ok(())
    }
}
