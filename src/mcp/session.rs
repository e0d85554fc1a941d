//! Session ids for the session-era transport (MCP 2025-03-26 to 2025-11-25, "Session
//! Management"). The Worker keeps no session state: an id is a MAC over the user, the
//! negotiated revision, the time it was issued and 128 random bits, so it cannot be
//! guessed or moved to another user, and it names its own revision and age. Ending a
//! session (`DELETE`) is recorded by the edge as a KV mark on the id's hash.

use crate::encoding::{b64url, b64url_decode, constant_time_eq, random_bytes};
use crate::oauth::seal::hmac_sha256;

/// Sessions older than this are unknown (404), and the client starts a new one.
pub const MAX_AGE_SECONDS: u64 = 24 * 3600;

#[derive(Debug, PartialEq, Eq)]
pub struct Session {
    pub version: &'static str,
    pub issued_at: u64,
}

/// A new id: `<payload>.<mac>`, both base64url, visible ASCII as the transport requires.
pub fn issue(key: &[u8; 32], user: &str, version: &'static str, now: u64) -> String {
    let nonce = b64url(&random_bytes::<16>());
    let payload = format!("{version}.{now}.{nonce}");
    let mac = hmac_sha256(key, &signed_text(user, &payload));
    format!("{}.{}", b64url(payload.as_bytes()), b64url(&mac))
}

/// The session an id stands for, if it is this user's, well formed and not expired.
pub fn check(key: &[u8; 32], id: &str, user: &str, now: u64) -> Option<Session> {
    if id.len() > 200 {
        return None;
    }
    let (payload_b64, mac_b64) = id.split_once('.')?;
    let payload = String::from_utf8(b64url_decode(payload_b64)?).ok()?;
    let mac = b64url_decode(mac_b64)?;
    let expected = hmac_sha256(key, &signed_text(user, &payload));
    if !constant_time_eq(&mac, &expected) {
        return None;
    }
    let mut parts = payload.split('.');
    let version = super::version::supported(parts.next()?)?;
    let issued_at: u64 = parts.next()?.parse().ok()?;
    if issued_at > now + 60 || now.saturating_sub(issued_at) > MAX_AGE_SECONDS {
        return None;
    }
    Some(Session { version, issued_at })
}

/// The user goes into the MAC, not the id: the id reveals nothing about who holds it.
fn signed_text(user: &str, payload: &str) -> Vec<u8> {
    format!("mcp-session\0{user}\0{payload}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn an_id_works_for_its_user_only_and_expires() {
        let id = issue(&KEY, "alice", "2025-06-18", 1000);
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(
            check(&KEY, &id, "alice", 1010),
            Some(Session {
                version: "2025-06-18",
                issued_at: 1000
            })
        );
        assert_eq!(check(&KEY, &id, "bob", 1010), None);
        assert_eq!(check(&[8; 32], &id, "alice", 1010), None);
        assert_eq!(check(&KEY, &id, "alice", 1000 + MAX_AGE_SECONDS + 1), None);
        assert_ne!(id, issue(&KEY, "alice", "2025-06-18", 1000));
    }

    #[test]
    fn tampered_or_malformed_ids_are_unknown() {
        let id = issue(&KEY, "alice", "2025-06-18", 1000);
        let (p, m) = id.split_once('.').unwrap();
        let forged_payload = b64url(b"2025-11-25.1000.AAAA");
        assert_eq!(
            check(&KEY, &format!("{forged_payload}.{m}"), "alice", 1010),
            None
        );
        assert_eq!(check(&KEY, &format!("{p}.{p}"), "alice", 1010), None);
        for bad in ["", ".", "abc", "a.b.c", &"x".repeat(500)] {
            assert_eq!(check(&KEY, bad, "alice", 1010), None, "{bad}");
        }
    }
}
