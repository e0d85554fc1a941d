//! Session ids for the session-era transport (MCP 2025-03-26 to 2025-11-25, "Session
//! Management"). The Worker keeps no session state: an id is the negotiated revision and
//! the time it was issued, sealed (encrypted and MACed, `oauth::seal`) and bound to the
//! person and the grant (or personal token) that began it, so it cannot be guessed, read,
//! moved to another person or used by another app of the same person, and the Worker learns its
//! revision and age from the id alone. Ending a session (`DELETE`) is recorded by the edge
//! as a KV mark on the id's hash.

use crate::oauth::seal;

/// Sessions older than this are unknown (404), and the client starts a new one.
pub const MAX_AGE_SECONDS: u64 = 24 * 3600;

/// Ids longer than this are not ours, and are refused before any work.
const MAX_ID_LEN: usize = 200;

#[derive(Debug, PartialEq, Eq)]
pub struct Session {
    pub version: &'static str,
    pub issued_at: u64,
}

/// A new id: base64url, visible ASCII as the transport requires. The seal's random nonce
/// makes every id distinct. `holder` is who may use it: the person and the grant or
/// personal token the session began with (`Principal::session_holder`).
pub fn issue(key: &[u8; 32], holder: &str, version: &'static str, now: u64) -> String {
    seal::seal_bound(key, &bound(holder), format!("{version}.{now}").as_bytes())
}

/// The session an id stands for, if it is this holder's, well formed and not expired.
pub fn check(key: &[u8; 32], id: &str, holder: &str, now: u64) -> Option<Session> {
    if id.len() > MAX_ID_LEN {
        return None;
    }
    let payload = String::from_utf8(seal::open_bound(key, &bound(holder), id)?).ok()?;
    let (version, issued_at) = payload.split_once('.')?;
    let version = super::version::supported(version)?;
    let issued_at: u64 = issued_at.parse().ok()?;
    if issued_at > now + 60 || now.saturating_sub(issued_at) > MAX_AGE_SECONDS {
        return None;
    }
    Some(Session { version, issued_at })
}

/// The holder is bound into the seal, not carried by the id.
fn bound(holder: &str) -> Vec<u8> {
    format!("mcp-session\0{holder}").into_bytes()
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
        // Bound to the grant too: the same person through another app is not its holder.
        let id = issue(&KEY, "alice\0grant:g1", "2025-06-18", 1000);
        assert!(check(&KEY, &id, "alice\0grant:g1", 1010).is_some());
        assert_eq!(check(&KEY, &id, "alice\0grant:g2", 1010), None);
        assert_eq!(check(&KEY, &id, "alice\0pat:g1", 1010), None);
        assert_eq!(check(&[8; 32], &id, "alice", 1010), None);
        assert_eq!(check(&KEY, &id, "alice", 1000 + MAX_AGE_SECONDS + 1), None);
        assert_ne!(id, issue(&KEY, "alice", "2025-06-18", 1000));
    }

    #[test]
    fn tampered_or_malformed_ids_are_unknown() {
        let id = issue(&KEY, "alice", "2025-06-18", 1000);
        let mut bytes = crate::encoding::b64url_decode(&id).unwrap();
        bytes[14] ^= 1;
        let forged = crate::encoding::b64url(&bytes);
        assert_eq!(check(&KEY, &forged, "alice", 1010), None);
        for bad in ["", ".", "abc", "a.b.c", &"x".repeat(500)] {
            assert_eq!(check(&KEY, bad, "alice", 1010), None, "{bad}");
        }
    }

    #[test]
    fn an_id_reveals_neither_its_revision_nor_its_time() {
        let id = issue(&KEY, "alice", "2025-06-18", 1_700_000_000);
        let raw = crate::encoding::b64url_decode(&id).unwrap();
        assert!(!raw.windows(5).any(|w| w == b"2025-" || w == b"17000"));
    }
}
