//! Small encodings used across protocols: base64url without padding (RFC 7515 §2),
//! SHA-256, constant-time comparison and secure random values.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict decoding: no whitespace, no padding, no non-canonical trailing bits, so one
/// value has exactly one encoding (codes are single-use by the hash of their text).
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// SHA-256 of a secret, base64url: how codes, tokens and client secrets are stored.
pub fn secret_hash(secret: &str) -> String {
    b64url(&sha256(secret.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths (`subtle`, whose
/// comparison hides its result from the optimiser, so the loop never stops at the first
/// difference).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `n` bytes from the platform's CSPRNG (WebCrypto in a Worker, the OS natively).
#[allow(clippy::expect_used)]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // getrandom only fails when the platform has no entropy source at all; a Worker
    // without crypto.getRandomValues cannot run, so there is nothing better to do here.
    getrandom::getrandom(&mut buf).expect("no secure random source");
    buf
}

/// A 256-bit random value, base64url: 43 characters.
pub fn random_token() -> String {
    b64url(&random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_round_trip() {
        let v = [0u8, 0xff, 0xfe, 1, 2];
        assert_eq!(b64url(&v), "AP_-AQI");
        assert_eq!(b64url_decode("AP_-AQI").unwrap(), v);
        assert!(b64url_decode("AP+/AQI=").is_none());
        assert!(b64url_decode("AP_-AQI ").is_none());
        assert!(b64url_decode(" AP_-AQI").is_none());
        // "AP_-AQJ" differs only in trailing bits: not canonical, refused.
        assert!(b64url_decode("AP_-AQJ").is_none());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn random_tokens_are_256_bits_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
    }
}
