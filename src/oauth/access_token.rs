//! Access tokens: JWTs per RFC 9068 (`typ: at+jwt`), signed with Ed25519 (`alg: EdDSA`),
//! and their verification at `/mcp` and `/userinfo`: signature by `kid`, `exp`, `nbf`,
//! `iss` and `aud`, every time.
//!
//! jwt-compact holds the token model (claims with their times, parsing the compact form);
//! the signature step is ours because WebCrypto's Ed25519 is asynchronous and
//! jwt-compact's `Algorithm` is not (see `oauth::ed25519`).

use crate::encoding::{b64url, random_token};
use crate::oauth::ed25519::Ed25519;
use crate::oauth::keys::KeySet;
use chrono::{DateTime, Duration, Utc};
use jwt_compact::{Claims, TimeOptions, UntrustedToken};
use serde::{Deserialize, Serialize};

/// The claims of our access tokens, besides `exp`, `nbf` and `iat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    /// The MCP resource URL (RFC 8707 / RFC 9068 §3).
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    /// The grant this token came from; revoking the grant stops the token.
    pub gid: String,
}

/// A verified token: its claims and when it expires (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub claims: AccessClaims,
    pub expires_at: u64,
    pub issued_at: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    WrongType,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
}

impl TokenError {
    /// Words for `error_description`; never more detail than a client needs.
    pub fn describe(&self) -> &'static str {
        match self {
            TokenError::Expired => "the access token has expired",
            TokenError::WrongAudience => "the access token was issued for another resource",
            TokenError::WrongIssuer => "the access token was issued by another server",
            _ => "the access token is invalid",
        }
    }
}

fn at(seconds: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds as i64, 0).unwrap_or_default()
}

/// The JOSE header of our tokens, members in the order RFC 7515's examples use.
#[derive(Serialize)]
struct JoseHeader<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
}

/// Signs an access token valid from `now` for `ttl` seconds.
pub async fn issue(
    crypto: &impl Ed25519,
    keys: &KeySet,
    mut claims: AccessClaims,
    now: u64,
    ttl: u64,
) -> Result<String, String> {
    if claims.jti.is_empty() {
        claims.jti = random_token();
    }
    let header = JoseHeader {
        alg: "EdDSA",
        kid: &keys.kid,
        typ: "at+jwt",
    };
    let time = TimeOptions::new(Duration::zero(), move || at(now));
    let claims =
        Claims::new(claims).set_duration_and_issuance(&time, Duration::seconds(ttl as i64));
    let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    let claims = serde_json::to_vec(&claims).map_err(|e| e.to_string())?;
    let signing_input = format!("{}.{}", b64url(&header), b64url(&claims));
    let signature = crypto.sign(&keys.seed, signing_input.as_bytes()).await?;
    Ok(format!("{signing_input}.{}", b64url(&signature)))
}

/// Verifies an access token for `audience` from `issuer`, at time `now`.
pub async fn verify(
    crypto: &impl Ed25519,
    keys: &KeySet,
    token: &str,
    issuer: &str,
    audience: &str,
    now: u64,
) -> Result<Verified, TokenError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    let header = untrusted.header();
    if !header
        .token_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
    {
        return Err(TokenError::WrongType);
    }
    // Only EdDSA is ever accepted, so `none` and algorithm confusion are out.
    if untrusted.algorithm() != "EdDSA" {
        return Err(TokenError::BadSignature);
    }
    let key = header
        .key_id
        .as_deref()
        .and_then(|kid| keys.verifying_key(kid))
        .ok_or(TokenError::UnknownKey)?;
    // The signing input is everything before the last dot; `UntrustedToken::new` has
    // already checked there are exactly three base64url parts.
    let signing_input = &token[..token.rfind('.').ok_or(TokenError::Malformed)?];
    if !crypto
        .verify(
            &key.public,
            signing_input.as_bytes(),
            untrusted.signature_bytes(),
        )
        .await
    {
        return Err(TokenError::BadSignature);
    }
    let claims = untrusted
        .deserialize_claims_unchecked::<AccessClaims>()
        .map_err(|_| TokenError::Malformed)?;
    // 30 seconds of leeway for clock skew between Cloudflare's machines.
    let time = TimeOptions::new(Duration::seconds(30), move || at(now));
    let expires_at = claims.expiration.ok_or(TokenError::Malformed)?;
    claims
        .validate_expiration(&time)
        .map_err(|_| TokenError::Expired)?;
    if claims.not_before.is_some() {
        claims
            .validate_maturity(&time)
            .map_err(|_| TokenError::NotYetValid)?;
    }
    let issued_at = claims.issued_at.ok_or(TokenError::Malformed)?;
    if issued_at > at(now + 30) {
        return Err(TokenError::NotYetValid);
    }
    if claims.custom.iss != issuer {
        return Err(TokenError::WrongIssuer);
    }
    if claims.custom.aud != audience {
        return Err(TokenError::WrongAudience);
    }
    Ok(Verified {
        expires_at: expires_at.timestamp().max(0) as u64,
        issued_at: issued_at.timestamp().max(0) as u64,
        claims: claims.custom,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ed25519::{block_on, Native};

    fn keys(seed: u8) -> KeySet {
        block_on(KeySet::load(&Native, Some(&b64url(&[seed; 32])), None)).unwrap()
    }

    fn issue(k: &KeySet, c: AccessClaims, now: u64, ttl: u64) -> Result<String, String> {
        block_on(super::issue(&Native, k, c, now, ttl))
    }

    fn verify(k: &KeySet, t: &str, iss: &str, aud: &str, now: u64) -> Result<Verified, TokenError> {
        block_on(super::verify(&Native, k, t, iss, aud, now))
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://as.example".into(),
            sub: "u1".into(),
            aud: "https://as.example/mcp".into(),
            client_id: "c1".into(),
            scope: "mcp:read".into(),
            jti: String::new(),
            gid: "g1".into(),
        }
    }

    const ISS: &str = "https://as.example";
    const AUD: &str = "https://as.example/mcp";

    #[test]
    fn round_trip_and_header() {
        let k = keys(1);
        let t = issue(&k, claims(), 1_000, 3600).unwrap();
        let v = verify(&k, &t, ISS, AUD, 1_500).unwrap();
        assert_eq!(v.claims.sub, "u1");
        assert_eq!(v.expires_at, 4_600);
        assert_eq!(v.claims.jti.len(), 43);
        let header = UntrustedToken::new(&t).unwrap();
        assert_eq!(header.algorithm(), "EdDSA");
        assert_eq!(header.header().token_type.as_deref(), Some("at+jwt"));
        assert_eq!(header.header().key_id.as_deref(), Some(k.kid.as_str()));
    }

    #[test]
    fn expiry_issuer_and_audience_are_enforced() {
        let k = keys(1);
        let t = issue(&k, claims(), 1_000, 60).unwrap();
        assert_eq!(verify(&k, &t, ISS, AUD, 1_100), Err(TokenError::Expired));
        assert_eq!(
            verify(&k, &t, "https://x", AUD, 1_010),
            Err(TokenError::WrongIssuer)
        );
        assert_eq!(
            verify(&k, &t, ISS, "https://x/mcp", 1_010),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn other_keys_and_alg_none_are_refused() {
        let t = issue(&keys(1), claims(), 1_000, 60).unwrap();
        assert_eq!(
            verify(&keys(2), &t, ISS, AUD, 1_010),
            Err(TokenError::UnknownKey)
        );
        // Same kid, different key: a forged signature.
        let mut other = keys(2);
        other.verifying[0].kid = keys(1).kid;
        assert_eq!(
            verify(&other, &t, ISS, AUD, 1_010),
            Err(TokenError::BadSignature)
        );
        // alg: none with our kid and no signature.
        let k = keys(1);
        let parts: Vec<&str> = t.split('.').collect();
        let none_header =
            b64url(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#, k.kid).as_bytes());
        let forged = format!("{none_header}.{}.", parts[1]);
        assert!(verify(&k, &forged, ISS, AUD, 1_010).is_err());
        assert_eq!(
            verify(&k, "garbage", ISS, AUD, 1_010),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn changed_claims_and_other_algorithms_are_refused() {
        let k = keys(1);
        let t = issue(&k, claims(), 1_000, 60).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = claims();
        c.scope = "mcp:read mcp:write".into();
        let body = b64url(&serde_json::to_vec(&c).unwrap());
        let changed = format!("{}.{body}.{}", parts[0], parts[2]);
        assert_eq!(
            verify(&k, &changed, ISS, AUD, 1_010),
            Err(TokenError::BadSignature)
        );
        let hs256 =
            b64url(format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{}"}}"#, k.kid).as_bytes());
        let confused = format!("{hs256}.{}.{}", parts[1], parts[2]);
        assert_eq!(
            verify(&k, &confused, ISS, AUD, 1_010),
            Err(TokenError::BadSignature)
        );
        let no_typ = b64url(format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, k.kid).as_bytes());
        assert_eq!(
            verify(
                &k,
                &format!("{no_typ}.{}.{}", parts[1], parts[2]),
                ISS,
                AUD,
                1_010
            ),
            Err(TokenError::WrongType)
        );
    }

    #[test]
    fn tokens_from_the_previous_key_still_verify() {
        let old = keys(1);
        let t = issue(&old, claims(), 1_000, 60).unwrap();
        let rotated = block_on(KeySet::load(
            &Native,
            Some(&b64url(&[2; 32])),
            Some(&b64url(&[1; 32])),
        ))
        .unwrap();
        assert!(verify(&rotated, &t, ISS, AUD, 1_010).is_ok());
    }
}
