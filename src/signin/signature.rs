//! `Mcp-Signature`: how this Worker and the operator's app trust each other's requests
//! (the hand-off's completion, the password check) with a shared secret, the scheme
//! webhook senders use, with the request's purpose signed too:
//! `t=<unix seconds>,v2=<base64url HMAC-SHA256(secret, "<t>.<purpose>.<body>")>`, where the
//! purpose is `handoff` or `password_check`. The time is signed, so a captured request is
//! useless after `WINDOW` seconds; the purpose is signed, so a request made for one (a
//! password check this Worker sent) cannot be replayed as the other (a hand-off), even
//! where an operator gave both providers one secret. `v1`, which signed no purpose, is
//! refused.

use crate::encoding::{b64url, b64url_decode, constant_time_eq};
use crate::oauth::seal::hmac_sha256_bytes;

/// What a signed request is for: part of what is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The operator's app says who signed in (`POST /signin/handoff`).
    Handoff,
    /// This Worker asks the operator's app to check a password.
    PasswordCheck,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Handoff => "handoff",
            Purpose::PasswordCheck => "password_check",
        }
    }
}

pub const HEADER: &str = "Mcp-Signature";
const WINDOW: u64 = 300;

pub fn sign(secret: &str, purpose: Purpose, t: u64, body: &[u8]) -> String {
    format!("t={t},v2={}", b64url(&mac(secret, purpose, t, body)))
}

fn mac(secret: &str, purpose: Purpose, t: u64, body: &[u8]) -> [u8; 32] {
    let mut message = format!("{t}.{}.", purpose.label()).into_bytes();
    message.extend_from_slice(body);
    hmac_sha256_bytes(secret.as_bytes(), &message)
}

/// Why a signed request was refused (the answer says only `invalid_signature`).
#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

pub fn verify(
    secret: &str,
    purpose: Purpose,
    header: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut v2 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v2", v)) => v2.push(b64url_decode(v).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v2.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if t.saturating_add(WINDOW) < now || t > now.saturating_add(WINDOW) {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, purpose, t, body);
    // Several v2 values let an operator roll the secret with two signatures at once.
    if v2.iter().any(|s| constant_time_eq(s, &expected)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HANDOFF: Purpose = Purpose::Handoff;

    #[test]
    fn signs_and_refuses() {
        let h = sign("s3cret", HANDOFF, 1000, b"{\"a\":1}");
        assert!(h.starts_with("t=1000,v2="));
        assert_eq!(
            verify("s3cret", HANDOFF, Some(&h), b"{\"a\":1}", 1100),
            Ok(())
        );
        // Signed for the password check: not a hand-off, even with the same secret.
        let other = sign("s3cret", Purpose::PasswordCheck, 1000, b"{\"a\":1}");
        assert_eq!(
            verify("s3cret", HANDOFF, Some(&other), b"{\"a\":1}", 1100),
            Err(SignatureError::Mismatch)
        );
        // v1 signed no purpose: refused, even when its MAC is right for the old scheme.
        let mut old = b"1000.".to_vec();
        old.extend_from_slice(b"{\"a\":1}");
        let v1 = format!("t=1000,v1={}", b64url(&hmac_sha256_bytes(b"s3cret", &old)));
        assert_eq!(
            verify("s3cret", HANDOFF, Some(&v1), b"{\"a\":1}", 1100),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("s3cret", HANDOFF, Some(&h), b"{\"a\":2}", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", HANDOFF, Some(&h), b"{\"a\":1}", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("s3cret", HANDOFF, Some(&h), b"{\"a\":1}", 1400),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("s3cret", HANDOFF, None, b"", 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify("s3cret", HANDOFF, Some("v2=abc"), b"", 1000),
            Err(SignatureError::Malformed)
        );
        let two = format!("{h},v2={}", b64url(&[0u8; 32]));
        assert_eq!(
            verify("s3cret", HANDOFF, Some(&two), b"{\"a\":1}", 1000),
            Ok(())
        );
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2 (a short key) and 6 (a key longer than the block).
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(&hmac_sha256_bytes(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256_bytes(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
