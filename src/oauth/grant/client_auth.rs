//! Client authentication at the token, revocation and introspection endpoints (RFC 6749
//! §2.3, OAuth 2.1 §2.4): a confidential client by the method it registered, with its
//! secret compared by hash in constant time; a `private_key_jwt` app by an assertion
//! signed with a key its metadata document publishes (`oauth::client_assertion`); a public
//! client by its id alone. Every failure reads the same, so a caller learns nothing about
//! which clients exist.

use super::{Credentials, Grants, Params, Surroundings};
use crate::doctor::{attempt_key, Attempt, Mark, Step};
use crate::encoding::{constant_time_eq, secret_hash};
use crate::oauth::client::Client;
use crate::oauth::client_assertion::{self, Refusal};
use crate::oauth::ed25519::Ed25519;
use crate::oauth::error::OAuthError;
use crate::oauth::jws::select_key;
use crate::oauth::jws::VerifyJwk;
use crate::oauth::kinds::AuthMethod;
use crate::oauth::rsa_key::Rs256;
use crate::store::grants::GrantStore;

impl<S: GrantStore, W: Surroundings, C: Ed25519 + Rs256 + VerifyJwk> Grants<'_, S, W, C> {
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
        } else if let (AuthMethod::PrivateKeyJwt, Some(assertion)) =
            (credentials.method, &credentials.assertion)
        {
            match self.asserted(&client, assertion).await? {
                Ok(()) => return Ok(client),
                Err(refusal) => format!("{refusal} (invalid_client)"),
            }
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

    /// Checks a `private_key_jwt` app's assertion: its form, a key of the app's that
    /// signed it (the JWKS fetched again once when none fits, for a key just rotated in),
    /// its claims, and last that its `jti` is new, so a forged or stale assertion
    /// records nothing. `Err`: the keys or the record could not be had now.
    async fn asserted(
        &self,
        client: &Client,
        assertion: &str,
    ) -> Result<Result<(), Refusal>, OAuthError> {
        let jws = match client_assertion::split(
            assertion,
            client.token_endpoint_auth_signing_alg.as_deref(),
        ) {
            Ok(jws) => jws,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let kid = jws.kid.as_deref();
        let mut jwks = self.world.client_keys(client, false).await?;
        if select_key(&jwks, jws.alg, kid).is_none() && client.jwks_uri.is_some() {
            jwks = self.world.client_keys(client, true).await?;
        }
        let Some(key) = select_key(&jwks, jws.alg, kid) else {
            return Ok(Err(Refusal::NoKey));
        };
        if !self
            .crypto
            .verify_jwk(jws.alg, key, &jws.signing_input, &jws.signature)
            .await
        {
            return Ok(Err(Refusal::Signature));
        }
        let issuer = &self.settings.issuer;
        let token_endpoint = format!("{issuer}/token");
        let audiences = [issuer.as_str(), token_endpoint.as_str()];
        let now = self.now_ms / 1000;
        let passed =
            match client_assertion::check_claims(&jws.claims, &client.client_id, &audiences, now) {
                Ok(p) => p,
                Err(refusal) => return Ok(Err(refusal)),
            };
        match self
            .world
            .first_use(&client.client_id, &passed.jti, passed.expires_at)
            .await
        {
            Ok(true) => Ok(Ok(())),
            Ok(false) => Ok(Err(Refusal::Replayed)),
            Err(e) => Err(self
                .world
                .internal(&format!("recording a client assertion: {e}"))),
        }
    }
}
