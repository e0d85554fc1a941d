//! Client authentication at the token, revocation and introspection endpoints (RFC 6749
//! §2.3, OAuth 2.1 §2.4): a confidential client by the method it registered, with its
//! secret compared by hash in constant time; a public client by its id alone. Every
//! failure reads the same, so a caller learns nothing about which clients exist.

use super::{Credentials, Grants, Params, Surroundings};
use crate::doctor::{attempt_key, Attempt, Mark, Step};
use crate::encoding::{constant_time_eq, secret_hash};
use crate::oauth::client::Client;
use crate::oauth::ed25519::Ed25519;
use crate::oauth::error::OAuthError;
use crate::oauth::kinds::AuthMethod;
use crate::oauth::rsa_key::Rs256;
use crate::store::grants::GrantStore;

impl<S: GrantStore, W: Surroundings, C: Ed25519 + Rs256> Grants<'_, S, W, C> {
    pub async fn authenticate(
        &self,
        params: &Params,
        basic: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let credentials = Credentials::read(basic, params)?;
        let unknown = || OAuthError::InvalidClient("client authentication failed".into());
        let client = self
            .world
            .client(&credentials.client_id)
            .await?
            .ok_or_else(unknown)?;
        let why = if client.token_endpoint_auth_method != credentials.method {
            format!(
                "The app authenticated with {} but registered {} (invalid_client)",
                credentials.method.as_str(),
                client.token_endpoint_auth_method.as_str()
            )
        } else {
            match (credentials.method, &client.secret_hash, &credentials.secret) {
                (AuthMethod::None, None, None) => return Ok(client),
                (
                    AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost,
                    Some(hash),
                    Some(s),
                ) if constant_time_eq(hash.as_bytes(), secret_hash(s).as_bytes()) => {
                    return Ok(client)
                }
                _ => "The app's client secret is wrong or missing: an old secret, or one \
                      copied wrongly (invalid_client)"
                    .to_string(),
            }
        };
        // The app is known: the doctor says why it was refused (the client still learns
        // nothing from the answer).
        let attempt = Attempt::Key(attempt_key(&client.client_id, "client-authentication"));
        let mark = Mark::stopped(&client.client_id, attempt, Step::Token, &why);
        self.world.doctor(mark).await;
        Err(unknown())
    }
}
