//! Access tokens: JWTs per RFC 9068 (`typ: at+jwt`), signed with Ed25519 (`alg: EdDSA`),
//! and their verification at `/mcp` and `/userinfo`: signature by `kid`, `exp`, `nbf`,
//! `iss` and `aud`, every time.
//!
//! The compact JWS (RFC 7515 §7.1) is written and read here: WebCrypto's Ed25519 is
//! asynchronous, which JWT crates' signing traits are not (see `oauth::ed25519`), and the
//! one header and one payload shape we issue need little code.

use crate::encoding::{b64url, b64url_decode, random_token};
use crate::oauth::ed25519::Ed25519;
use crate::oauth::keys::KeySet;
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
    /// The person's roles when the token was issued (RFC 9068 §7.2.1.1), for the user
    /// assertion sent upstream; absent when they have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
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

/// The JOSE header (RFC 7515 §4): what we write and the members we read back.
#[derive(Serialize, Deserialize)]
struct JoseHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    /// Extensions the signer says a verifier must understand (RFC 7515 §4.1.11). This
    /// server uses none, so a token that names any is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

/// The whole payload: our claims plus the registered time claims (RFC 7519 §4.1).
#[derive(Serialize, Deserialize)]
struct Payload {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
    jti: String,
    gid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    exp: u64,
    iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
}

/// Clock skew allowed between Cloudflare's machines.
const LEEWAY: u64 = 30;

/// Signs an access token valid from `now` for `ttl` seconds.
pub async fn issue(
    crypto: &impl Ed25519,
    keys: &KeySet,
    claims: AccessClaims,
    now: u64,
    ttl: u64,
) -> Result<String, String> {
    let AccessClaims {
        iss,
        sub,
        aud,
        client_id,
        scope,
        jti,
        gid,
        roles,
    } = claims;
    let payload = Payload {
        roles,
        jti: if jti.is_empty() { random_token() } else { jti },
        iss,
        sub,
        aud,
        client_id,
        scope,
        gid,
        exp: now + ttl,
        iat: now,
        nbf: None,
    };
    let payload = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
    sign_jws(crypto, keys, "at+jwt", &payload).await
}

/// A compact JWS (RFC 7515 §7.1) of `payload` with our current key, `alg: EdDSA`, its
/// `kid` and the media type `typ`, which keeps one kind of token from passing as another.
pub async fn sign_jws(
    crypto: &impl Ed25519,
    keys: &KeySet,
    typ: &str,
    payload: &[u8],
) -> Result<String, String> {
    let header = JoseHeader {
        alg: "EdDSA".into(),
        kid: Some(keys.kid.clone()),
        typ: Some(typ.into()),
        crit: None,
    };
    let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    let signing_input = format!("{}.{}", b64url(&header), b64url(payload));
    let signature = crypto.sign(&keys.seed, signing_input.as_bytes()).await?;
    Ok(format!("{signing_input}.{}", b64url(&signature)))
}

/// Who an access token names (client, grant, person) and when it expired, read without
/// any check. Only for a token `verify` has just answered `Expired`, which it says after
/// the signature verified: the connector doctor files the expiry under its app.
pub struct ExpiredClaims {
    pub client_id: String,
    pub gid: String,
    pub sub: String,
    pub exp: u64,
}

pub fn signed_claims_unchecked(token: &str) -> Option<ExpiredClaims> {
    let payload = token.split('.').nth(1)?;
    let p: Payload = serde_json::from_slice(&b64url_decode(payload)?).ok()?;
    Some(ExpiredClaims {
        client_id: p.client_id,
        gid: p.gid,
        sub: p.sub,
        exp: p.exp,
    })
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
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &str| b64url_decode(part).ok_or(TokenError::Malformed);
    let header: JoseHeader =
        serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
    {
        return Err(TokenError::WrongType);
    }
    // Only EdDSA is ever accepted, so `none` and algorithm confusion are out.
    if header.alg != "EdDSA" {
        return Err(TokenError::BadSignature);
    }
    if header.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.verifying_key(kid))
        .ok_or(TokenError::UnknownKey)?;
    let (signing_input, _) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    if !crypto
        .verify(&key.public, signing_input.as_bytes(), &decode(signature)?)
        .await
    {
        return Err(TokenError::BadSignature);
    }
    let p: Payload =
        serde_json::from_slice(&decode(payload)?).map_err(|_| TokenError::Malformed)?;
    if p.exp.saturating_add(LEEWAY) < now {
        return Err(TokenError::Expired);
    }
    if p.nbf.is_some_and(|nbf| nbf > now + LEEWAY) || p.iat > now + LEEWAY {
        return Err(TokenError::NotYetValid);
    }
    if p.iss != issuer {
        return Err(TokenError::WrongIssuer);
    }
    if p.aud != audience {
        return Err(TokenError::WrongAudience);
    }
    Ok(Verified {
        expires_at: p.exp,
        issued_at: p.iat,
        claims: AccessClaims {
            iss: p.iss,
            sub: p.sub,
            aud: p.aud,
            client_id: p.client_id,
            scope: p.scope,
            jti: p.jti,
            gid: p.gid,
            roles: p.roles,
        },
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
            roles: Vec::new(),
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
        let part = |i: usize| -> serde_json::Value {
            serde_json::from_slice(&b64url_decode(t.split('.').nth(i).unwrap()).unwrap()).unwrap()
        };
        let header = part(0);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["kid"], k.kid.as_str());
        let payload = part(1);
        assert_eq!(
            (payload["iat"].as_u64(), payload["exp"].as_u64()),
            (Some(1_000), Some(4_600))
        );
        assert!(payload.get("nbf").is_none());
        // Expiry has the same 30 s of leeway as the other times, and no more.
        assert!(verify(&k, &t, ISS, AUD, 4_630).is_ok());
        assert_eq!(verify(&k, &t, ISS, AUD, 4_631), Err(TokenError::Expired));
        assert_eq!(verify(&k, &t, ISS, AUD, 969), Err(TokenError::NotYetValid));
        assert_eq!(
            verify(&k, &format!("{t}.x"), ISS, AUD, 1_500),
            Err(TokenError::Malformed)
        );
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
    fn a_header_with_critical_extensions_is_refused_even_when_signed() {
        let k = keys(1);
        let t = issue(&k, claims(), 1_000, 60).unwrap();
        let payload = t.split('.').nth(1).unwrap();
        let header = b64url(
            format!(
                r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{}","crit":["exp"]}}"#,
                k.kid
            )
            .as_bytes(),
        );
        let input = format!("{header}.{payload}");
        let signature = block_on(Native.sign(&k.seed, input.as_bytes())).unwrap();
        let signed = format!("{input}.{}", b64url(&signature));
        assert_eq!(
            verify(&k, &signed, ISS, AUD, 1_010),
            Err(TokenError::Malformed)
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
