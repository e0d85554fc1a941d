//! PKCE (RFC 7636) with the only method OAuth 2.1 allows here: S256.

use crate::encoding::{b64url, b64url_decode, constant_time_eq, sha256};

/// A verifier or challenge: 43 to 128 characters of the unreserved set (RFC 7636 §4.1).
pub fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An S256 challenge: BASE64URL(SHA256(verifier)) is exactly 43 characters that decode
/// (canonically) to 32 bytes. Anything else could never verify, so `/authorize` refuses it
/// at once instead of letting the client find out at `/token`.
pub fn is_s256_challenge(value: &str) -> bool {
    value.len() == 43 && b64url_decode(value).is_some_and(|b| b.len() == 32)
}

/// `BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge`, in constant time.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    is_well_formed(verifier)
        && constant_time_eq(
            b64url(&sha256(verifier.as_bytes())).as_bytes(),
            challenge.as_bytes(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        assert!(verify_s256(VERIFIER, CHALLENGE));
    }

    #[test]
    fn wrong_or_malformed_verifiers_fail() {
        assert!(!verify_s256(&VERIFIER.replace('d', "e"), CHALLENGE));
        assert!(!verify_s256("short", CHALLENGE));
        assert!(!verify_s256(CHALLENGE, CHALLENGE));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}!", "a".repeat(43))));
    }

    #[test]
    fn only_a_sha256_shaped_challenge_is_one() {
        assert!(is_s256_challenge(CHALLENGE));
        for bad in [
            format!("{CHALLENGE}A"),
            "A".repeat(128),
            CHALLENGE[..42].to_string(),
            CHALLENGE.replace('-', "."),
            CHALLENGE.replace('-', "~"),
            // The last character carries two unused bits: 'N' is not canonical here.
            format!("{}N", &CHALLENGE[..42]),
        ] {
            assert!(!is_s256_challenge(&bad), "{bad}");
        }
    }
}
