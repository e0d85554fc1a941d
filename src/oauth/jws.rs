//! A compact JWS as this Worker reads the ones others sign (RFC 7515): an OpenID
//! provider's ID tokens (`signin::id_token`) and the client assertions of apps that
//! authenticate with `private_key_jwt` (`client_assertion`). Split into what is verified
//! and what is read, and the key of a JWKS that must have signed it. The signature itself
//! is checked at the edge with WebCrypto, so every rule here has its native test.

use crate::encoding::b64url_decode;
use serde_json::Value;

/// The asymmetric algorithms this Worker verifies. `none` and HMAC never are: a key
/// shared with the signer proves nothing about which of the two signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    fn parse(name: &str) -> Option<Alg> {
        [Alg::Rs256, Alg::Es256, Alg::EdDsa]
            .into_iter()
            .find(|a| a.name() == name)
    }

    /// Whether `jwk` is a key of this algorithm's type.
    fn fits(self, jwk: &Value) -> bool {
        let s = |name: &str| jwk.get(name).and_then(Value::as_str);
        match self {
            // At least 2048 bits (NIST SP 800-131A): a weaker key proves little.
            Alg::Rs256 => {
                s("kty") == Some("RSA")
                    && s("n")
                        .and_then(b64url_decode)
                        .is_some_and(|n| n.len() >= 256)
            }
            Alg::Es256 => s("kty") == Some("EC") && s("crv") == Some("P-256"),
            Alg::EdDsa => s("kty") == Some("OKP") && s("crv") == Some("Ed25519"),
        }
    }
}

/// Checks a signature with a key of a JWK Set: WebCrypto's in the Worker, so the wasm
/// carries no RSA or curve arithmetic.
#[allow(async_fn_in_trait)] // Workers run one thread.
pub trait VerifyJwk {
    /// Whether `signature` over `message` verifies with `jwk` as `alg`; anything
    /// malformed is simply `false`.
    async fn verify_jwk(&self, alg: Alg, jwk: &Value, message: &[u8], signature: &[u8]) -> bool;
}

/// Natively only Ed25519 (`ed25519-compact`) is checked; RS256 and ES256 assertions are
/// verified end to end by WebCrypto in workerd, with keys made by `jose`.
#[cfg(test)]
impl VerifyJwk for crate::oauth::ed25519::Native {
    async fn verify_jwk(&self, alg: Alg, jwk: &Value, message: &[u8], signature: &[u8]) -> bool {
        use crate::oauth::ed25519::Ed25519;
        let x = jwk
            .get("x")
            .and_then(Value::as_str)
            .and_then(b64url_decode)
            .and_then(|x| <[u8; 32]>::try_from(x).ok());
        match (alg, x) {
            (Alg::EdDsa, Some(public)) if alg.fits(jwk) => {
                self.verify(&public, message, signature).await
            }
            _ => false,
        }
    }
}

/// A compact JWS split into what is verified and what is read.
pub struct Jws {
    pub alg: Alg,
    pub kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: Vec<u8>,
    pub signature: Vec<u8>,
    pub claims: serde_json::Map<String, Value>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum JwsError {
    Malformed(&'static str),
    /// Signed with an algorithm not accepted here (its name as the token gave it).
    Algorithm(String),
}

const MAX_TOKEN: usize = 16 * 1024;

/// The parts of `token`, a JWS signed with one of `allowed`.
pub fn split(token: &str, allowed: &[Alg]) -> Result<Jws, JwsError> {
    if token.len() > MAX_TOKEN {
        return Err(JwsError::Malformed("longer than 16 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed("not three dot-separated parts"));
    };
    let json = |part: &str| -> Result<serde_json::Map<String, Value>, JwsError> {
        let bytes = b64url_decode(part).ok_or(JwsError::Malformed("not base64url"))?;
        match crate::json::parse(&bytes) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err(JwsError::Malformed("a part is not a JSON object")),
        }
    };
    let header = json(h)?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some(name) => Alg::parse(name)
            .filter(|a| allowed.contains(a))
            .ok_or_else(|| JwsError::Algorithm(name.to_string()))?,
        None => return Err(JwsError::Malformed("no alg")),
    };
    // A critical extension this Worker does not know must not be ignored (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(JwsError::Malformed("unsupported crit header"));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JwsError::Malformed("kid is not a string")),
    };
    let signature = b64url_decode(s).ok_or(JwsError::Malformed("signature not base64url"))?;
    Ok(Jws {
        alg,
        kid,
        signing_input: format!("{h}.{p}").into_bytes(),
        signature,
        claims: json(p)?,
    })
}

/// The key of `jwks` that must have signed a token with `alg` and `kid`: its `kid`
/// matches (or, when the token names none, it is the only key for the algorithm), its
/// type fits the algorithm, and it is not marked for encryption or another algorithm.
/// `None` when no key fits (the edge may then fetch the JWKS again, once).
pub fn select_key<'a>(jwks: &'a Value, alg: Alg, kid: Option<&str>) -> Option<&'a Value> {
    let fits = |k: &&Value| {
        let s = |name: &str| k.get(name).and_then(Value::as_str);
        alg.fits(k)
            && s("use").is_none_or(|u| u == "sig")
            && s("alg").is_none_or(|a| a == alg.name())
    };
    let keys = jwks.get("keys")?.as_array()?;
    let mut candidates = keys.iter().filter(fits);
    match kid {
        Some(kid) => candidates.find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
        None => {
            let first = candidates.next()?;
            candidates.next().is_none().then_some(first)
        }
    }
}
