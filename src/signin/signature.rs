//! `Mcp-Signature`: how this Worker and the operator's app trust each other's requests
//! (the hand-off's completion, the password check) with a shared secret, the scheme
//! webhook senders use: `t=<unix seconds>,v1=<base64url HMAC-SHA256(secret, "<t>.<body>")>`.
//! The time is signed too, so a captured request is useless after `WINDOW` seconds.

use crate::encoding::{b64url, b64url_decode, constant_time_eq};
use crate::oauth::seal::hmac_sha256_bytes;

pub const HEADER: &str = "Mcp-Signature";
const WINDOW: u64 = 300;

pub fn sign(secret: &str, t: u64, body: &[u8]) -> String {
    format!("t={t},v1={}", b64url(&mac(secret, t, body)))
}

fn mac(secret: &str, t: u64, body: &[u8]) -> [u8; 32] {
    let mut message = format!("{t}.").into_bytes();
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
    header: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => v1.push(b64url_decode(v).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if t.saturating_add(WINDOW) < now || t > now.saturating_add(WINDOW) {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, t, body);
    // Several v1 values let an operator roll the secret with two signatures at once.
    if v1.iter().any(|s| constant_time_eq(s, &expected)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_refuses() {
        let h = sign("s3cret", 1000, b"{\"a\":1}");
        assert_eq!(verify("s3cret", Some(&h), b"{\"a\":1}", 1100), Ok(()));
        assert_eq!(
            verify("s3cret", Some(&h), b"{\"a\":2}", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", Some(&h), b"{\"a\":1}", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("s3cret", Some(&h), b"{\"a\":1}", 1400),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("s3cret", None, b"", 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify("s3cret", Some("v1=abc"), b"", 1000),
            Err(SignatureError::Malformed)
        );
        let two = format!("{h},v1={}", b64url(&[0u8; 32]));
        assert_eq!(verify("s3cret", Some(&two), b"{\"a\":1}", 1000), Ok(()));
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
