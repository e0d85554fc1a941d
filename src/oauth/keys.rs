//! The Ed25519 keys that sign access tokens: parsed from Worker secrets, published as OKP
//! JWKs (RFC 8037) with an RFC 7638 thumbprint as `kid`, and cached per isolate so a
//! request does not re-derive them.

use crate::encoding::{b64url, b64url_decode, sha256};
use crate::oauth::ed25519::{Ed25519, PublicKey, Seed};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// Secret holding the current key: the 32-byte Ed25519 seed, base64url (the `d` of an OKP
/// JWK), or a whole private OKP JWK as JSON.
pub const SIGNING_KEY_SECRET: &str = "JWT_SIGNING_KEY";
/// Secret holding the key before the last rotation; verified but never used to sign. Either
/// its seed (as for the current key) or only its public OKP JWK (`x`, no `d`), which is
/// what `npm run key:rotate` stores: Cloudflare never gives a secret back, so the rotation
/// reads the old key's public half from the deployment's JWKS.
pub const PREVIOUS_KEY_SECRET: &str = "JWT_SIGNING_KEY_PREVIOUS";

/// A key that can verify tokens.
#[derive(Clone, Debug)]
pub struct VerifyingKey {
    pub kid: String,
    pub public: PublicKey,
}

/// The current signing key plus every key that may still verify a live token. `Debug`
/// leaves the seed out, so a log line can never carry the private key.
#[derive(Clone)]
pub struct KeySet {
    pub kid: String,
    pub seed: Seed,
    pub verifying: Vec<VerifyingKey>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kid", &self.kid)
            .field("seed", &"<redacted>")
            .field("verifying", &self.verifying)
            .finish()
    }
}

/// Why the keys cannot be used; rendered as a JSON 500 naming the setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    Missing(&'static str),
    Malformed(&'static str),
}

impl KeyError {
    pub fn setting(&self) -> &'static str {
        match self {
            KeyError::Missing(s) | KeyError::Malformed(s) => s,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            KeyError::Missing(s) => format!(
                "the secret {s} is not set; run `npm run dev` locally (it writes one to .dev.vars) \
                 or `npm run setup:cloudflare` for a deployment"
            ),
            KeyError::Malformed(s) => format!(
                "the secret {s} is not a base64url Ed25519 seed of 32 bytes or a private OKP JWK \
                 (the previous key may also be a public OKP JWK); set it again with \
                 `wrangler secret put {s}` (locally: .dev.vars)"
            ),
        }
    }
}

fn parse_seed(name: &'static str, text: &str) -> Result<Seed, KeyError> {
    let text = text.trim();
    let d = if text.starts_with('{') {
        let jwk: Value = serde_json::from_str(text).map_err(|_| KeyError::Malformed(name))?;
        if !is_ed25519_jwk(&jwk) {
            return Err(KeyError::Malformed(name));
        }
        jwk.get("d")
            .and_then(Value::as_str)
            .ok_or(KeyError::Malformed(name))?
            .to_string()
    } else {
        text.to_string()
    };
    let bytes = b64url_decode(&d).ok_or(KeyError::Malformed(name))?;
    bytes.try_into().map_err(|_| KeyError::Malformed(name))
}

fn is_ed25519_jwk(jwk: &Value) -> bool {
    let field = |name| jwk.get(name).and_then(Value::as_str);
    field("kty") == Some("OKP") && field("crv") == Some("Ed25519")
}

/// The previous key: a public JWK stands for itself; anything else is a seed.
enum Previous {
    Public(PublicKey),
    Seed(Seed),
}

fn parse_previous(text: &str) -> Result<Previous, KeyError> {
    let name = PREVIOUS_KEY_SECRET;
    let text = text.trim();
    if text.starts_with('{') {
        let jwk: Value = serde_json::from_str(text).map_err(|_| KeyError::Malformed(name))?;
        if jwk.get("d").is_none() {
            if !is_ed25519_jwk(&jwk) {
                return Err(KeyError::Malformed(name));
            }
            let x = jwk.get("x").and_then(Value::as_str).and_then(b64url_decode);
            return x
                .and_then(|x| x.try_into().ok())
                .map(Previous::Public)
                .ok_or(KeyError::Malformed(name));
        }
    }
    parse_seed(name, text).map(Previous::Seed)
}

async fn verifying_key(
    crypto: &impl Ed25519,
    name: &'static str,
    seed: &Seed,
) -> Result<VerifyingKey, KeyError> {
    let public = crypto
        .public_key(seed)
        .await
        .map_err(|_| KeyError::Malformed(name))?;
    Ok(VerifyingKey {
        kid: thumbprint(&public),
        public,
    })
}

/// RFC 7638 thumbprint of an Ed25519 public key: the members in lexicographic order.
pub fn thumbprint(public: &PublicKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        b64url(public)
    );
    b64url(&sha256(canonical.as_bytes()))
}

/// The public JWK published at `jwks_uri`.
pub fn public_jwk(key: &VerifyingKey) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(&key.public),
        "kid": key.kid,
        "use": "sig",
        "alg": "EdDSA",
    })
}

impl KeySet {
    /// Builds the key set from the two secrets' values.
    pub async fn load(
        crypto: &impl Ed25519,
        current: Option<&str>,
        previous: Option<&str>,
    ) -> Result<KeySet, KeyError> {
        let seed = match current {
            Some(c) if !c.trim().is_empty() => parse_seed(SIGNING_KEY_SECRET, c)?,
            _ => return Err(KeyError::Missing(SIGNING_KEY_SECRET)),
        };
        let previous = match previous.filter(|p| !p.trim().is_empty()) {
            Some(p) => Some(parse_previous(p)?),
            None => None,
        };
        let current = verifying_key(crypto, SIGNING_KEY_SECRET, &seed).await?;
        let kid = current.kid.clone();
        let previous = match previous {
            Some(Previous::Seed(prev)) => {
                Some(verifying_key(crypto, PREVIOUS_KEY_SECRET, &prev).await?)
            }
            Some(Previous::Public(public)) => Some(VerifyingKey {
                kid: thumbprint(&public),
                public,
            }),
            None => None,
        };
        let current_public = current.public;
        let mut verifying = vec![current];
        // The current key first: `npm run key:rotate` reads it from the JWKS.
        if let Some(prev) = previous.filter(|p| p.public != current_public) {
            verifying.push(prev);
        }
        Ok(KeySet {
            kid,
            seed,
            verifying,
        })
    }

    /// The JWKS document (RFC 7517 §5).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.verifying.iter().map(public_jwk).collect::<Vec<_>>() })
    }

    /// A 256-bit key for one purpose (sealing codes, sessions, CSRF tokens), derived from
    /// the current signing key so that there is one secret to manage and rotate.
    pub fn mac_key(&self, purpose: &str) -> [u8; 32] {
        crate::oauth::seal::derive_key(&self.seed, purpose)
    }

    pub fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|k| k.kid == kid)
    }
}

/// The two secrets' values a cached key set was loaded from.
type Secrets = (Option<String>, Option<String>);

thread_local! {
    // One parsed key set per isolate, keyed by the secrets it came from so a rotation
    // (which starts new isolates anyway) can never serve a stale key.
    static CACHE: RefCell<Option<(Secrets, Rc<KeySet>)>> = const { RefCell::new(None) };
}

/// `KeySet::load`, cached for the life of the isolate.
pub async fn cached(
    crypto: &impl Ed25519,
    current: Option<&str>,
    previous: Option<&str>,
) -> Result<Rc<KeySet>, KeyError> {
    // Compared as they are, without building a key: this runs on every request.
    if let Some(hit) = CACHE.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|((c, p), _)| c.as_deref() == current && p.as_deref() == previous)
            .map(|(_, v)| v.clone())
    }) {
        return Ok(hit);
    }
    let keys = Rc::new(KeySet::load(crypto, current, previous).await?);
    let secrets = (current.map(str::to_string), previous.map(str::to_string));
    CACHE.with(|c| *c.borrow_mut() = Some((secrets, keys.clone())));
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ed25519::{block_on, Native};

    fn parse(current: Option<&str>, previous: Option<&str>) -> Result<KeySet, KeyError> {
        block_on(KeySet::load(&Native, current, previous))
    }

    // RFC 8037 appendix A.1-A.3.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    #[test]
    fn rfc8037_public_key_and_thumbprint() {
        let keys = parse(Some(RFC8037_D), None).unwrap();
        assert_eq!(keys.kid, RFC8037_THUMBPRINT);
        let jwks = keys.jwks();
        assert_eq!(jwks["keys"][0]["x"], RFC8037_X);
        assert_eq!(jwks["keys"][0]["kid"], RFC8037_THUMBPRINT);
        assert!(jwks["keys"][0].get("d").is_none());
    }

    #[test]
    fn accepts_a_private_jwk() {
        let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","d":"{RFC8037_D}","x":"{RFC8037_X}"}}"#);
        assert_eq!(parse(Some(&jwk), None).unwrap().kid, RFC8037_THUMBPRINT);
    }

    #[test]
    fn missing_and_malformed_keys_name_the_setting() {
        assert_eq!(
            parse(None, None).unwrap_err(),
            KeyError::Missing(SIGNING_KEY_SECRET)
        );
        assert_eq!(
            parse(Some("  "), None).unwrap_err(),
            KeyError::Missing(SIGNING_KEY_SECRET)
        );
        assert_eq!(
            parse(Some("not a key!"), None).unwrap_err(),
            KeyError::Malformed(SIGNING_KEY_SECRET)
        );
        assert_eq!(
            parse(Some("AAAA"), None).unwrap_err(),
            KeyError::Malformed(SIGNING_KEY_SECRET)
        );
        assert_eq!(
            parse(Some(RFC8037_D), Some("bad")).unwrap_err(),
            KeyError::Malformed(PREVIOUS_KEY_SECRET)
        );
    }

    #[test]
    fn previous_key_may_be_only_its_public_jwk() {
        let other = b64url(&[7u8; 32]);
        let public = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}"}}"#);
        let keys = parse(Some(&other), Some(&public)).unwrap();
        assert_eq!(keys.verifying.len(), 2);
        assert_eq!(keys.verifying[1].kid, RFC8037_THUMBPRINT);
        assert_ne!(keys.kid, RFC8037_THUMBPRINT);
        // The same key as current is listed once.
        let same = parse(Some(RFC8037_D), Some(&public)).unwrap();
        assert_eq!(same.verifying.len(), 1);
        for bad in [
            r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#,
            r#"{"kty":"EC","crv":"P-256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            r#"{"kty":"OKP","crv":"Ed25519"}"#,
        ] {
            assert_eq!(
                parse(Some(&other), Some(bad)).unwrap_err(),
                KeyError::Malformed(PREVIOUS_KEY_SECRET)
            );
        }
    }

    #[test]
    fn previous_key_is_published_but_not_current() {
        let other = b64url(&[7u8; 32]);
        let keys = parse(Some(&other), Some(RFC8037_D)).unwrap();
        assert_eq!(keys.verifying.len(), 2);
        assert_ne!(keys.kid, RFC8037_THUMBPRINT);
        assert!(keys.verifying_key(RFC8037_THUMBPRINT).is_some());
    }
}
