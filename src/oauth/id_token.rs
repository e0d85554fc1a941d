//! The ID tokens this server issues as an OpenID provider (OpenID Connect Core §2,
//! §3.1.3.6): from the authorization-code grant and from refresh (§12.2), for a grant that
//! holds `openid`. RS256 by default (every provider must offer it), EdDSA for a client that
//! registered `id_token_signed_response_alg: EdDSA`. The claims are built here; the
//! signature comes from the `IdSigner` the grants are handed.

use crate::encoding::b64url;
use crate::oauth::access_token::sign_jws;
use crate::oauth::ed25519::Ed25519;
use crate::oauth::keys::KeySet;
use crate::oauth::rsa_key::{Rs256, RsaKeys};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The algorithms ID tokens are signed with (`id_token_signing_alg_values_supported`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub enum IdAlg {
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl IdAlg {
    pub const ALL: [IdAlg; 2] = [IdAlg::Rs256, IdAlg::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            IdAlg::Rs256 => "RS256",
            IdAlg::EdDsa => "EdDSA",
        }
    }

    pub fn from_name(name: &str) -> Option<IdAlg> {
        IdAlg::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// `at_hash` (Core §3.1.3.6): the left half of the access token's hash under the hash
    /// of the signature's algorithm: SHA-256 for RS256, SHA-512 for Ed25519's EdDSA (as
    /// relying-party libraries compute it).
    pub async fn at_hash(self, crypto: &impl Rs256, access_token: &str) -> Result<String, String> {
        let digest: Vec<u8> = match self {
            IdAlg::Rs256 => Sha256::digest(access_token.as_bytes()).to_vec(),
            IdAlg::EdDsa => crypto.sha512(access_token.as_bytes()).await?,
        };
        Ok(b64url(digest.get(..digest.len() / 2).unwrap_or_default()))
    }
}

/// The claims of one ID token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    /// The client, alone: `aud` is a string, so `azp` only repeats it (§2).
    pub aud: String,
    pub azp: String,
    pub exp: u64,
    pub iat: u64,
    /// When the person signed in (§2), carried from the sign-in through the grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The `/authorize` request's nonce, echoed in the code grant's token only (§12.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How long an ID token is valid: it proves a sign-in that just happened, and is not a
/// credential to call anything with.
pub const LIFETIME_SECONDS: u64 = 600;

/// The person as the `email` and `profile` scopes show them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonClaims {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// What an ID token says, before signing.
pub struct IdRequest<'a> {
    pub issuer: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub now: u64,
    pub auth_time: Option<u64>,
    pub nonce: Option<&'a str>,
    /// The access token's `at_hash` under `alg` (`IdAlg::at_hash`).
    pub at_hash: String,
    pub alg: IdAlg,
    /// The person, when the grant holds `email` or `profile`.
    pub person: &'a PersonClaims,
    pub email: bool,
    pub profile: bool,
}

pub fn claims(r: &IdRequest) -> IdClaims {
    IdClaims {
        iss: r.issuer.to_string(),
        sub: r.user_id.to_string(),
        aud: r.client_id.to_string(),
        azp: r.client_id.to_string(),
        exp: r.now + LIFETIME_SECONDS,
        iat: r.now,
        auth_time: r.auth_time,
        nonce: r.nonce.map(str::to_string),
        at_hash: r.at_hash.clone(),
        // Every address here was verified: the operator typed it, or a provider vouched.
        email_verified: (r.email && r.person.email.is_some()).then_some(true),
        email: r.person.email.clone().filter(|_| r.email),
        name: r.person.name.clone().filter(|_| r.profile),
    }
}

/// The algorithm a client's ID tokens are signed with: what it registered, except that
/// RS256 without an RSA key (a deployment from before `OIDC_SIGNING_KEY`, logged where the
/// key is read) falls back to EdDSA, which discovery then lists alone.
pub fn effective_alg(registered: Option<IdAlg>, rsa: Option<&RsaKeys>) -> IdAlg {
    match (registered.unwrap_or_default(), rsa) {
        (IdAlg::Rs256, None) => IdAlg::EdDsa,
        (alg, _) => alg,
    }
}

/// The signed ID token (a compact JWS, `typ: JWT`).
pub async fn sign<C: Ed25519 + Rs256>(
    crypto: &C,
    keys: &KeySet,
    rsa: Option<&RsaKeys>,
    alg: IdAlg,
    claims: &IdClaims,
) -> Result<String, String> {
    let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
    match (alg, rsa) {
        (IdAlg::Rs256, Some(rsa)) => {
            let header = serde_json::json!({"alg": "RS256", "kid": rsa.kid, "typ": "JWT"});
            let input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(&payload)
            );
            let signature = crypto.sign_rs256(rsa, input.as_bytes()).await?;
            Ok(format!("{input}.{}", b64url(&signature)))
        }
        (IdAlg::Rs256, None) => Err("RS256 without OIDC_SIGNING_KEY".into()),
        (IdAlg::EdDsa, _) => sign_jws(crypto, keys, "JWT", &payload).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // OpenID Connect Core, appendix A.3's access token and at_hash (RS256).
        use crate::oauth::ed25519::{block_on, Native};
        let at = |alg: IdAlg, token| block_on(alg.at_hash(&Native, token)).unwrap();
        assert_eq!(
            at(IdAlg::Rs256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at(IdAlg::EdDsa, "x").len(), 43);
    }

    #[test]
    fn claims_follow_the_scopes_and_name_the_client_as_audience_and_party() {
        let person = PersonClaims {
            email: Some("ann@example.com".into()),
            name: Some("Ann".into()),
        };
        let mut r = IdRequest {
            issuer: "https://as.example",
            user_id: "u1",
            client_id: "c1",
            now: 1_000,
            auth_time: Some(900),
            nonce: Some("n-0S6"),
            at_hash: "h".into(),
            alg: IdAlg::Rs256,
            person: &person,
            email: false,
            profile: false,
        };
        let c = claims(&r);
        assert_eq!((c.aud.as_str(), c.azp.as_str()), ("c1", "c1"));
        assert_eq!((c.iat, c.exp, c.auth_time), (1_000, 1_600, Some(900)));
        assert_eq!(c.nonce.as_deref(), Some("n-0S6"));
        assert!(c.email.is_none() && c.name.is_none() && c.email_verified.is_none());
        r.email = true;
        r.profile = true;
        let c = claims(&r);
        assert_eq!(c.email.as_deref(), Some("ann@example.com"));
        assert_eq!(c.email_verified, Some(true));
        assert_eq!(c.name.as_deref(), Some("Ann"));
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("nonce").is_some());
        r.nonce = None;
        let json = serde_json::to_value(claims(&r)).unwrap();
        assert!(json.get("nonce").is_none());
    }
}
