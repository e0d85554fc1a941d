//! The MCP protocol revisions this server speaks. Up to 2025-11-25 a client opens a
//! session with `initialize`; from 2026-07-28 every request stands alone and names its
//! revision itself.

/// Session-era revisions, oldest first.
pub const SESSION_ERA: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", NEWEST_SESSION_ERA];
/// The last revision with sessions: what `initialize` offers a client asking for another.
pub const NEWEST_SESSION_ERA: &str = "2025-11-25";
/// The stateless revision.
pub const STATELESS: &str = "2026-07-28";
/// Every revision, oldest first, as `server/discover` and version errors list them.
pub const ALL: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];
/// What a session-era request without `MCP-Protocol-Version` is taken to speak
/// (the header arrived with 2025-06-18).
pub const ASSUMED_WITHOUT_HEADER: &str = "2025-03-26";

pub fn supported(version: &str) -> Option<&'static str> {
    ALL.iter().copied().find(|v| *v == version)
}

/// `initialize`'s answer: the client's revision when we speak it in the session era,
/// else our latest session-era revision (the client then decides whether to go on).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| SESSION_ERA.iter().copied().find(|v| *v == r))
        .unwrap_or(NEWEST_SESSION_ERA)
}

/// Batches (a JSON array of messages) exist only in 2025-03-26.
pub fn allows_batches(version: &str) -> bool {
    version == "2025-03-26"
}

/// `title`, `outputSchema` and `structuredContent` arrived with 2025-06-18.
pub fn has_structured_output(version: &str) -> bool {
    version >= "2025-06-18"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_keeps_a_known_session_version_else_offers_the_latest() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2024-11-05")), "2024-11-05");
        assert_eq!(negotiate(Some("1999-01-01")), "2025-11-25");
        assert_eq!(negotiate(None), "2025-11-25");
        // 2026-07-28 has no initialize; a client that sends it there gets a session version.
        assert_eq!(negotiate(Some(STATELESS)), "2025-11-25");
        assert!(allows_batches("2025-03-26") && !allows_batches("2025-06-18"));
        assert!(has_structured_output("2026-07-28") && !has_structured_output("2025-03-26"));
    }
}
