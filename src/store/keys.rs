//! Every storage key this Worker spells, in one place: the Workers KV keys, and the keys of
//! D1's counters (`rate_limits`) and lockouts (`login_failures`). The operator commands in
//! `scripts/` write some of the same keys; a test below reads those scripts and checks they
//! spell them as this file does.
//!
//! KV:
//! - `client:<client_id>`: a registered client's record (JSON); D1's `clients` is the
//!   strongly consistent copy read when KV misses.
//! - `cimd:<sha256(url)>`: a fetched client ID metadata document, for its cache lifetime.
//! - `revoked-grant:<grant_id>`: present once a grant is revoked; read at `/mcp` with a
//!   40-second edge cache. D1 holds the revocation itself (see `d1_revocations`).
//! - `mcp-session-ended:<sha256(session id)>`: present once a client ended its MCP session
//!   with `DELETE /mcp`; read with a 60-second cache, for the session's remaining life.
//!
//! D1 counters (`rate_limits`, fixed windows; the window's number is part of the key):
//! `register:<network>:<hour>`, `register-kv:<day>`, `signin-start:<network>:<10 min>`,
//! `sse:<user>:<hour>`, `cimd-fill:*:<day>`, `cimd-fill:<network>:<hour>`.
//!
//! D1 lockouts (`login_failures`): `user:<email>` and `ip:<network>`.

use crate::encoding::{b64url, secret_hash, sha256};

// --- KV ------------------------------------------------------------------------------

pub fn client(client_id: &str) -> String {
    format!("client:{client_id}")
}

pub fn metadata_document(url: &str) -> String {
    format!("cimd:{}", b64url(&sha256(url.as_bytes())))
}

pub fn revoked_grant(grant_id: &str) -> String {
    format!("revoked-grant:{grant_id}")
}

pub fn mcp_session_ended(session_id: &str) -> String {
    format!("mcp-session-ended:{}", secret_hash(session_id))
}

// --- D1 counters ---------------------------------------------------------------------

/// Registrations from a client network in an hour (`hour` = unix seconds / 3600).
pub fn registrations(network: &str, hour: u64) -> String {
    format!("register:{network}:{hour}")
}

/// A `private_key_jwt` app's assertion, by the hash of its client ID and `jti`: counted
/// once, so a second use is a replay (kept until the assertion's `exp`).
pub fn client_assertion(client_id: &str, jti: &str) -> String {
    let hash = crate::encoding::secret_hash(&format!("{client_id}\0{jti}"));
    format!("assertion:{hash}")
}

/// Registrations from a client IP in an hour of one app (the registration's
/// fingerprint): the higher bound for a platform's shared addresses.
pub fn registrations_alike(network: &str, fingerprint: &str, hour: u64) -> String {
    format!("register-alike:{network}:{fingerprint}:{hour}")
}

/// Registrations past their network's limit in a UTC day, from every network.
pub fn registrations_alike_all(day: u64) -> String {
    format!("register-alike:*:day:{day}")
}

/// Registrations of a UTC day whose client was also written to KV.
pub fn registrations_cached(day: u64) -> String {
    format!("register-kv:{day}")
}

/// Sign-ins at a provider started from a network in a ten-minute window.
pub fn signin_starts(network: &str, window: u64) -> String {
    format!("signin-start:{network}:{window}")
}

/// Legacy SSE streams a person opened in an hour.
pub fn sse_streams(user: &str, hour: u64) -> String {
    format!("sse:{user}:{hour}")
}

/// Metadata documents written to KV's cache in a UTC day, from everyone.
pub fn document_fills(day: u64) -> String {
    format!("cimd-fill:*:{day}")
}

/// Metadata documents written to KV's cache for a client network in an hour.
pub fn document_fills_from(network: &str, hour: u64) -> String {
    format!("cimd-fill:{network}:{hour}")
}

// --- D1 lockouts -----------------------------------------------------------------------

/// Failed sign-ins of an account, by its email in lower case.
pub fn account_failures(email: &str) -> String {
    format!("user:{email}")
}

/// Failed sign-ins from a client network.
pub fn network_failures(network: &str) -> String {
    format!("ip:{network}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `scripts/` writes must be what the Worker reads: each key as a script spells
    /// it, with its JavaScript placeholder in place of the value.
    #[test]
    fn the_operator_commands_spell_the_keys_as_the_worker_does() {
        let d1 = include_str!("../../scripts/lib/d1.mjs");
        let client_cli = include_str!("../../scripts/client.mjs");
        let user_cli = include_str!("../../scripts/user.mjs");
        for (script, name, key) in [
            (d1, "scripts/lib/d1.mjs", revoked_grant("${id}")),
            (
                client_cli,
                "scripts/client.mjs",
                client("${record.client_id}"),
            ),
            (client_cli, "scripts/client.mjs", client("${id}")),
            (user_cli, "scripts/user.mjs", account_failures("${email}")),
        ] {
            assert!(
                script.contains(&format!("`{key}`")),
                "{name} does not spell the key `{key}`"
            );
        }
    }

    #[test]
    fn keys_carry_their_window_and_never_a_secret() {
        assert_eq!(registrations("203.0.113.7", 5), "register:203.0.113.7:5");
        assert_eq!(document_fills(20_000), "cimd-fill:*:20000");
        let ended = mcp_session_ended("secret-session-id");
        assert!(!ended.contains("secret-session-id"));
        let doc = metadata_document("https://app.example/c.json");
        assert!(doc.starts_with("cimd:") && !doc.contains("app.example"));
    }
}
