//! Personal access tokens: long-lived bearer tokens a person makes for clients that cannot
//! run OAuth (Claude Code or Copilot with a token in a config file, scripts, CI). They are
//! opaque, not JWTs: `mcp_pat_` and 256 random bits in base64url, stored only as SHA-256,
//! accepted at `/mcp` alone. The prefix lets secret scanners and people recognize them,
//! and lets `/mcp` tell them from access tokens before any lookup.

use crate::encoding::{b64url, random_bytes};
use crate::oauth::catalog::Catalog;
use crate::oauth::scope::Scopes;

pub const PREFIX: &str = "mcp_pat_";
/// base64url of 32 bytes.
const SECRET_LEN: usize = 43;
/// A person may hold at most this many live tokens.
pub const MAX_PER_USER: u64 = 50;
pub const MAX_NAME_CHARS: usize = 100;
/// The lifetimes offered, in days; `None` is "never expires".
pub const EXPIRY_DAYS: [u64; 3] = [7, 30, 90];

/// A new token: the prefix and 256 bits of randomness.
pub fn generate() -> String {
    format!("{PREFIX}{}", b64url(&random_bytes::<32>()))
}

/// Whether `token` has the shape of a personal access token (not whether it is one).
pub fn looks_like(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|secret| {
        secret.len() == SECRET_LEN
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The request to make a token, checked: what the account page and the CLI both submit.
#[derive(Debug, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub scope: Scopes,
    /// Unix seconds, or `None` for a token that never expires.
    pub expires_at: Option<u64>,
}

impl NewToken {
    /// `expires` is a number of days from `EXPIRY_DAYS` (a trailing `d` allowed) or
    /// "never"; `scopes` are resource scopes only, at least one, each one the person's
    /// `roles` let them hold.
    pub fn parse(
        name: &str,
        scopes: &[&str],
        expires: &str,
        now: u64,
        (catalog, roles): (&Catalog, &[&str]),
    ) -> Result<Self, String> {
        let name: String = name.trim().to_string();
        if name.is_empty() {
            return Err("Give the token a name, so you can tell it apart later.".into());
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(format!(
                "The name must be at most {MAX_NAME_CHARS} characters."
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("The name must not contain control characters.".into());
        }
        let words: Vec<&str> = scopes.iter().flat_map(|s| s.split(' ')).collect();
        let offered =
            catalog.allowed_for(&catalog.stored(&catalog.resource_scopes().join(" ")), roles);
        if let Some(bad) = words.iter().find(|w| !w.is_empty() && !offered.contains(w)) {
            return Err(format!(
                "'{}' is not a scope a personal token can have (choose from {}).",
                crate::util::text::truncate(bad, 40),
                offered.names().join(", ")
            ));
        }
        let scope = catalog.stored(&words.join(" "));
        if scope.is_empty() {
            return Err("Choose at least one thing the token may do.".into());
        }
        let expires = expires.trim();
        let expires_at = if expires.eq_ignore_ascii_case("never") || expires == "none" {
            None
        } else {
            let days: u64 = expires
                .strip_suffix('d')
                .unwrap_or(expires)
                .parse()
                .ok()
                .filter(|d| EXPIRY_DAYS.contains(d))
                .ok_or_else(|| "The expiry must be 7, 30 or 90 days, or never.".to_string())?;
            Some(now + days * 86_400)
        };
        Ok(NewToken {
            name,
            scope,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_prefix_and_256_bits() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(looks_like(&a), "{a}");
        assert_eq!(a.len(), PREFIX.len() + 43);
        assert!(!looks_like("mcp_pat_short"));
        assert!(!looks_like(&a.replace(PREFIX, "mcp_pax_")));
        assert!(!looks_like(&format!("{a}x")));
        assert!(!looks_like(&format!("{}{}", PREFIX, "!".repeat(43))));
        assert!(!looks_like("eyJhbGciOiJFZERTQSJ9.e30.sig"));
    }

    #[test]
    fn a_person_may_give_a_token_only_the_scopes_their_roles_allow() {
        let c = Catalog::from_setting(Some(
            r#"{"scopes":[{"name":"mcp:read","description":"R","default":true},
            {"name":"mcp:write","description":"W"},
            {"name":"mcp:manage","description":"M","roles":["admin"]}]}"#,
        ))
        .unwrap();
        let e = NewToken::parse("x", &["mcp:manage"], "7d", 0, (&c, &[])).unwrap_err();
        assert!(e.contains("mcp:read, mcp:write"), "{e}");
        let t = NewToken::parse("x", &["mcp:manage", "mcp:read"], "7d", 0, (&c, &["admin"]));
        assert_eq!(t.unwrap().scope.to_string(), "mcp:read mcp:manage");
    }

    #[test]
    fn requests_are_checked() {
        let now = 1_000;
        let t = NewToken::parse(
            " Claude Code ",
            &["mcp:read", "mcp:write"],
            "30d",
            now,
            (&Catalog::default(), &[]),
        )
        .unwrap();
        assert_eq!(t.name, "Claude Code");
        assert_eq!(t.scope.to_string(), "mcp:read mcp:write");
        assert_eq!(t.expires_at, Some(now + 30 * 86_400));
        let t = NewToken::parse(
            "ci",
            &["mcp:read"],
            "never",
            now,
            (&Catalog::default(), &[]),
        )
        .unwrap();
        assert_eq!(t.expires_at, None);
        assert_eq!(
            NewToken::parse(
                "ci",
                &["mcp:read mcp:write"],
                "7",
                now,
                (&Catalog::default(), &[])
            )
            .unwrap()
            .scope
            .to_string(),
            "mcp:read mcp:write"
        );
        for (name, scopes, expires, says) in [
            ("", &["mcp:read"][..], "7d", "name"),
            ("x", &[][..], "7d", "at least one"),
            ("x", &["profile"][..], "7d", "not a scope"),
            ("x", &["admin"][..], "7d", "not a scope"),
            ("x", &["mcp:read"][..], "1d", "7, 30 or 90"),
            ("x", &["mcp:read"][..], "forever", "7, 30 or 90"),
            ("a\u{7}b", &["mcp:read"][..], "7d", "control"),
        ] {
            let e = NewToken::parse(name, scopes, expires, now, (&Catalog::default(), &[]))
                .unwrap_err();
            assert!(e.contains(says), "{name:?} {scopes:?} {expires}: {e}");
        }
        let long = "n".repeat(MAX_NAME_CHARS + 1);
        assert!(
            NewToken::parse(&long, &["mcp:read"], "7d", now, (&Catalog::default(), &[])).is_err()
        );
    }
}
