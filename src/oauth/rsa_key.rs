//! The RSA key that signs ID tokens with RS256, the algorithm every OpenID provider must
//! offer (OpenID Connect Discovery §3, Core §15.1): a private JWK in a Worker secret,
//! generated, deployed and rotated beside the Ed25519 key (`npm run dev`,
//! `npm run setup:cloudflare`, `npm run key:rotate`), published in the JWKS with an
//! RFC 7638 thumbprint as `kid`. WebCrypto signs with it (`http::webcrypto`).

use crate::encoding::{b64url, b64url_decode, sha256};
use serde_json::{json, Value};

/// Secret holding the current key: a private RSA JWK (`kty`, `n`, `e`, `d`, `p`, `q`, `dp`,
/// `dq`, `qi`) of at least 2048 bits, as JSON.
pub const OIDC_KEY_SECRET: &str = "OIDC_SIGNING_KEY";
/// The key before the last rotation: only its public JWK (`n`, `e`), still published so
/// ID tokens signed before the rotation verify.
pub const OIDC_PREVIOUS_KEY_SECRET: &str = "OIDC_SIGNING_KEY_PREVIOUS";

/// What ID tokens need of the platform's crypto besides Ed25519: RSASSA-PKCS1-v1_5 with
/// SHA-256, and SHA-512 for an EdDSA token's `at_hash` (WebCrypto's, not a copy in the
/// upload).
#[allow(async_fn_in_trait)]
pub trait Rs256 {
    async fn sign_rs256(&self, key: &RsaKeys, message: &[u8]) -> Result<Vec<u8>, String>;
    async fn sha512(&self, data: &[u8]) -> Result<Vec<u8>, String>;
}

/// Natively there is no RSA implementation in this crate: RS256 ID tokens are tested end
/// to end against WebCrypto, and the grants' native tests use EdDSA clients.
#[cfg(test)]
impl Rs256 for crate::oauth::ed25519::Native {
    async fn sign_rs256(&self, _key: &RsaKeys, _message: &[u8]) -> Result<Vec<u8>, String> {
        Err("RS256 is signed by WebCrypto".into())
    }
    async fn sha512(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        use sha2::Digest;
        Ok(sha2::Sha512::digest(data).to_vec())
    }
}

/// RSA keys shorter than this are refused (RFC 7518 §3.3 requires 2048 bits).
const MIN_MODULUS_BYTES: usize = 256;

/// The current signing key and every public key still published.
#[derive(Clone)]
pub struct RsaKeys {
    pub kid: String,
    /// The private JWK as WebCrypto imports it (never logged: `Debug` leaves it out).
    pub private_jwk: Value,
    pub published: Vec<Value>,
}

impl std::fmt::Debug for RsaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKeys")
            .field("kid", &self.kid)
            .field("private_jwk", &"<redacted>")
            .finish()
    }
}

/// The public half of an RSA JWK, as published: `kty`, `n`, `e`, `kid`, `alg`, `use`.
fn public(jwk: &Value) -> Option<(String, Value)> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    let (n, e) = (s("n")?, s("e")?);
    let modulus = b64url_decode(n)?;
    let exponent = b64url_decode(e)?;
    let long_enough = modulus.iter().skip_while(|b| **b == 0).count() >= MIN_MODULUS_BYTES;
    if s("kty") != Some("RSA") || !long_enough || exponent.is_empty() {
        return None;
    }
    // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = b64url(&sha256(canonical.as_bytes()));
    let published = json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "alg": "RS256", "use": "sig"});
    Some((kid, published))
}

impl RsaKeys {
    /// The keys of the two secrets; `Ok(None)` when the current one is not set. A value
    /// that is not a usable key is an error naming its secret.
    pub fn load(current: Option<&str>, previous: Option<&str>) -> Result<Option<RsaKeys>, String> {
        let Some(current) = current.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let bad = |name: &str| {
            format!("the secret {name} is not an RSA JWK of 2048 bits or more, as JSON")
        };
        let jwk: Value = serde_json::from_str(current).map_err(|_| bad(OIDC_KEY_SECRET))?;
        let private_members = ["d", "p", "q", "dp", "dq", "qi"];
        if private_members
            .iter()
            .any(|m| jwk.get(*m).and_then(Value::as_str).is_none())
        {
            return Err(bad(OIDC_KEY_SECRET));
        }
        let (kid, current_public) = public(&jwk).ok_or_else(|| bad(OIDC_KEY_SECRET))?;
        let mut published = vec![current_public];
        if let Some(prev) = previous.map(str::trim).filter(|p| !p.is_empty()) {
            let prev: Value =
                serde_json::from_str(prev).map_err(|_| bad(OIDC_PREVIOUS_KEY_SECRET))?;
            let (prev_kid, prev_public) =
                public(&prev).ok_or_else(|| bad(OIDC_PREVIOUS_KEY_SECRET))?;
            if prev_kid != kid {
                published.push(prev_public);
            }
        }
        let mut private_jwk = json!({});
        for m in ["kty", "n", "e"].iter().chain(private_members.iter()) {
            if let Some(v) = jwk.get(*m) {
                crate::json::set(&mut private_jwk, m, v.clone());
            }
        }
        Ok(Some(RsaKeys {
            kid,
            private_jwk,
            published,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2048-bit modulus's worth of bytes (not a real key: only its shape is read here).
    fn jwk(private: bool, fill: u8) -> String {
        let n = b64url(&[fill; 256]);
        let mut v = json!({"kty": "RSA", "n": n, "e": "AQAB"});
        if private {
            for m in ["d", "p", "q", "dp", "dq", "qi"] {
                crate::json::set(&mut v, m, "AQAB");
            }
        }
        v.to_string()
    }

    #[test]
    fn the_current_key_is_published_with_its_thumbprint_and_the_previous_beside_it() {
        assert!(RsaKeys::load(None, None).unwrap().is_none());
        let k = RsaKeys::load(Some(&jwk(true, 7)), Some(&jwk(false, 9)))
            .unwrap()
            .unwrap();
        assert_eq!(k.published.len(), 2);
        assert_eq!(k.published[0]["kid"], k.kid.as_str());
        assert_eq!(k.published[0]["alg"], "RS256");
        assert!(k.published[0].get("d").is_none());
        assert_eq!(k.private_jwk["d"], "AQAB");
        assert!(!format!("{k:?}").contains("AQAB"));
        // The same key as previous is published once.
        let same = RsaKeys::load(Some(&jwk(true, 7)), Some(&jwk(false, 7)))
            .unwrap()
            .unwrap();
        assert_eq!(same.published.len(), 1);
    }

    #[test]
    fn a_short_public_or_foreign_key_is_refused_by_name() {
        let short = json!({"kty":"RSA","n": b64url(&[1; 128]),"e":"AQAB","d":"x","p":"x","q":"x","dp":"x","dq":"x","qi":"x"});
        for (current, previous, names_previous) in [
            (short.to_string(), None, false),
            (jwk(false, 7), None, false),
            ("not json".to_string(), None, false),
            (jwk(true, 7), Some(r#"{"kty":"OKP"}"#), true),
        ] {
            let e = RsaKeys::load(Some(&current), previous).unwrap_err();
            assert!(e.contains(OIDC_KEY_SECRET), "{e}");
            assert_eq!(e.contains(OIDC_PREVIOUS_KEY_SECRET), names_previous, "{e}");
        }
    }
}
