//! HMAC-SHA256 (RFC 2104) and values sealed with it: self-contained authorization codes,
//! session cookies and MCP session ids. A sealed value is encrypted, then MACed
//! (ChaCha20, RFC 8439, and HMAC-SHA256 truncated to 128 bits, with keys of their own
//! derived from the purpose's key): `base64url(nonce || ciphertext || tag)`. Its holder can
//! neither read it nor change it; a browser history or a proxy log learns nothing from it.

use crate::encoding::{b64url, b64url_decode, constant_time_eq, random_bytes, sha256};
use crate::oauth::chacha20;
use sha2::Sha256;

pub fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    hmac_sha256_bytes(key, message)
}

/// HMAC-SHA256 with a key of any length (a secret an operator chose; longer than the
/// block, it is hashed first, RFC 2104 §2), by the `hmac` crate.
pub fn hmac_sha256_bytes(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    // HMAC takes a key of any length, so `new_from_slice` cannot fail; were it ever to,
    // a random value (which nothing can match, and nobody can predict) fails safe.
    match hmac::Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().into()
        }
        Err(_) => random_bytes(),
    }
}

/// A key for one purpose, derived from the server's secret, so that a value sealed for one
/// purpose (a session) can never be accepted as another (a code).
pub fn derive_key(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(secret.len() + purpose.len() + 1);
    input.extend_from_slice(purpose.as_bytes());
    input.push(0);
    input.extend_from_slice(secret);
    sha256(&input)
}

const NONCE: usize = 12;
const TAG: usize = 16;

/// The cipher's and the MAC's keys for one purpose key: never the same key for both.
fn subkeys(key: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    (
        hmac_sha256(key, b"seal-encrypt"),
        hmac_sha256(key, b"seal-mac"),
    )
}

fn tag(mac_key: &[u8; 32], bound_to: &[u8], nonce_and_ciphertext: &[u8]) -> [u8; TAG] {
    // The bound value's length goes first, so no split of (bound, data) collides.
    let mut input = Vec::with_capacity(8 + bound_to.len() + nonce_and_ciphertext.len());
    input.extend_from_slice(&(bound_to.len() as u64).to_be_bytes());
    input.extend_from_slice(bound_to);
    input.extend_from_slice(nonce_and_ciphertext);
    let mut t = [0u8; TAG];
    t.copy_from_slice(&hmac_sha256(mac_key, &input)[..TAG]);
    t
}

pub fn seal(key: &[u8; 32], payload: &[u8]) -> String {
    seal_bound(key, b"", payload)
}

/// Seals `payload` so that it opens only together with `bound_to` (say, the user it was
/// issued to), which the sealed value itself does not carry.
pub fn seal_bound(key: &[u8; 32], bound_to: &[u8], payload: &[u8]) -> String {
    let (enc, mac) = subkeys(key);
    let nonce: [u8; NONCE] = random_bytes();
    let mut sealed = payload.to_vec();
    chacha20::apply(&enc, &nonce, 1, &mut sealed);
    let mut out = Vec::with_capacity(NONCE + payload.len() + TAG);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    let t = tag(&mac, bound_to, &out);
    out.extend_from_slice(&t);
    b64url(&out)
}

/// The payload, if the value was sealed with this key and its tag is intact.
pub fn open(key: &[u8; 32], sealed: &str) -> Option<Vec<u8>> {
    open_bound(key, b"", sealed)
}

/// The payload of a value from `seal_bound`, if it was sealed for `bound_to`.
pub fn open_bound(key: &[u8; 32], bound_to: &[u8], sealed: &str) -> Option<Vec<u8>> {
    let bytes = b64url_decode(sealed)?;
    if bytes.len() < NONCE + TAG {
        return None;
    }
    let (body, given) = bytes.split_at(bytes.len() - TAG);
    let (enc, mac) = subkeys(key);
    if !constant_time_eq(&tag(&mac, bound_to, body), given) {
        return None;
    }
    let (nonce, payload) = body.split_first_chunk::<NONCE>()?;
    let (nonce, mut payload) = (*nonce, payload.to_vec());
    chacha20::apply(&enc, &nonce, 1, &mut payload);
    Some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64url;

    #[test]
    fn rfc4231_test_case_2_shape() {
        // RFC 4231 case 2 uses a 4-byte key; our keys are 32 bytes, so check the padding
        // logic against the same construction with the key zero-extended (HMAC pads keys).
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        assert_eq!(b64url(&mac), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
    }

    #[test]
    fn sealed_values_resist_tampering() {
        let key = derive_key(b"secret", "code");
        let s = seal(&key, b"{\"a\":1}");
        assert_eq!(open(&key, &s).unwrap(), b"{\"a\":1}");
        let other = derive_key(b"secret", "session");
        assert!(open(&other, &s).is_none());
        let mut bytes = b64url_decode(&s).unwrap();
        for i in [0, 12, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert!(open(&key, &b64url(&bytes)).is_none(), "byte {i}");
            bytes[i] ^= 1;
        }
        assert!(open(&key, &s[..s.len() - 2]).is_none());
        assert!(open(&key, "").is_none());
    }

    #[test]
    fn sealed_values_are_unreadable_and_never_repeat() {
        let key = derive_key(b"secret", "code");
        let payload = b"{\"client_id\":\"abc\",\"user_id\":\"u_42\"}";
        let a = seal(&key, payload);
        assert_ne!(a, seal(&key, payload));
        let raw = b64url_decode(&a).unwrap();
        assert!(!raw.windows(4).any(|w| w == b"u_42" || w == b"abc\""));
    }

    #[test]
    fn a_bound_value_opens_only_with_what_it_was_bound_to() {
        let key = derive_key(b"secret", "mcp-session");
        let s = seal_bound(&key, b"alice", b"2025-06-18");
        assert_eq!(open_bound(&key, b"alice", &s).unwrap(), b"2025-06-18");
        assert!(open_bound(&key, b"bob", &s).is_none());
        assert!(open(&key, &s).is_none());
    }
}
