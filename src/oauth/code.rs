//! Authorization codes. A code is self-contained: the grant it stands for, plus 256 random
//! bits, sealed (encrypted and MACed) with a key only this server has, so whoever sees the
//! redirect URL learns nothing from it. `/token` can redeem it in any
//! Cloudflare location the moment it is issued, without waiting for KV to replicate; that
//! it redeems only once is enforced atomically in D1 by its hash (see `store`).

use crate::encoding::{random_token, secret_hash};
use crate::oauth::seal;
use serde::{Deserialize, Serialize};

/// The grant a code carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub user_id: String,
    pub scope: String,
    pub resource: String,
    /// Unix seconds after which the code is refused.
    pub expires_at: u64,
    /// When it was issued, in Unix milliseconds: a withdrawal after this refuses it.
    pub issued_ms: u64,
    /// The person's roles at consent, space separated, for the access token's `roles`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub roles: String,
    /// OpenID Connect: the `/authorize` request's `nonce`, echoed in the ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// OpenID Connect: when the person signed in (Unix seconds), the ID token's
    /// `auth_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    #[serde(flatten)]
    grant: CodeGrant,
    /// 256 random bits, so two codes for the same grant differ and none can be guessed.
    n: String,
}

/// Mints a code for `grant`; returns the code and the hash it is stored under.
pub fn mint(key: &[u8; 32], grant: &CodeGrant) -> (String, String) {
    let payload = Sealed {
        grant: grant.clone(),
        n: random_token(),
    };
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let code = seal::seal(key, &json);
    let hash = secret_hash(&code);
    (code, hash)
}

/// Opens a code: its grant if the seal is intact and it has not expired.
pub fn open(key: &[u8; 32], code: &str, now: u64) -> Option<CodeGrant> {
    let bytes = seal::open(key, code)?;
    let sealed: Sealed = serde_json::from_slice(&bytes).ok()?;
    (sealed.grant.expires_at >= now).then_some(sealed.grant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::seal::derive_key;

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "c".into(),
            redirect_uri: "https://a.example/cb".into(),
            code_challenge: "x".repeat(43),
            user_id: "u".into(),
            scope: "mcp:read".into(),
            resource: "https://as.example/mcp".into(),
            expires_at: 1_300,
            issued_ms: 1_240_000,
            roles: "admin".into(),
            nonce: Some("n-0S6_WzA2Mj".into()),
            auth_time: Some(1_200),
        }
    }

    #[test]
    fn a_code_opens_anywhere_with_the_key_until_it_expires() {
        let key = derive_key(b"k", "code");
        let (code, hash) = mint(&key, &grant());
        // "Another location": nothing shared but the key.
        assert_eq!(open(&key, &code, 1_299), Some(grant()));
        assert_eq!(open(&key, &code, 1_301), None);
        assert_eq!(hash, secret_hash(&code));
        assert_ne!(mint(&key, &grant()).0, code);
    }

    #[test]
    fn a_code_has_one_spelling() {
        let key = derive_key(b"k", "code");
        let (code, _) = mint(&key, &grant());
        for variant in [format!("{code} "), format!(" {code}"), format!("{code}\n")] {
            assert_eq!(open(&key, &variant, 0), None);
        }
    }

    #[test]
    fn a_tampered_or_foreign_code_does_not_open() {
        let key = derive_key(b"k", "code");
        let (code, _) = mint(&key, &grant());
        assert_eq!(open(&derive_key(b"other", "code"), &code, 0), None);
        let mut bytes = code.into_bytes();
        bytes[5] ^= 1;
        assert_eq!(open(&key, &String::from_utf8(bytes).unwrap(), 0), None);
    }
}
