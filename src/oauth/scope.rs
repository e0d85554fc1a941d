//! The scopes this server grants (RFC 6749 §3.3), what they mean in plain words, and the
//! parsing rules: space-delimited, only known scopes, no duplicates.

pub const MCP_READ: &str = "mcp:read";
pub const MCP_WRITE: &str = "mcp:write";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Every scope, in the order pages list them. The words a person reads for each are in
/// `templates/scopes.html`.
pub const SUPPORTED: [&str; 5] = [MCP_READ, MCP_WRITE, PROFILE, EMAIL, OFFLINE_ACCESS];

/// Scopes of the MCP resource, advertised in protected-resource metadata and challenges.
pub const RESOURCE_SCOPES: [&str; 2] = [MCP_READ, MCP_WRITE];

/// Granted when a request names no scope (ChatGPT's reconnect sends none). Refresh tokens
/// are issued to every authorization-code grant, so `offline_access` need not be asked for.
pub const DEFAULT: [&str; 3] = [MCP_READ, MCP_WRITE, OFFLINE_ACCESS];

/// A set of known scopes, kept in `SUPPORTED` order so it prints the same every time.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scopes(Vec<&'static str>);

impl Scopes {
    /// Parses a `scope` parameter. `None` (absent or blank) means the defaults; an unknown
    /// scope is an error naming it.
    pub fn parse(text: Option<&str>) -> Result<Scopes, String> {
        let text = text.map(str::trim).unwrap_or("");
        if text.is_empty() {
            return Ok(Scopes::from_known(&DEFAULT));
        }
        let mut found = Vec::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            match SUPPORTED.iter().find(|s| **s == word) {
                Some(s) => found.push(*s),
                None => return Err(format!("unknown scope '{}'", truncate(word, 40))),
            }
        }
        Ok(Scopes::from_known(&found))
    }

    fn from_known(list: &[&str]) -> Scopes {
        Scopes(
            SUPPORTED
                .iter()
                .copied()
                .filter(|s| list.contains(s))
                .collect(),
        )
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    pub fn intersect(&self, other: &Scopes) -> Scopes {
        Scopes(
            self.0
                .iter()
                .copied()
                .filter(|s| other.contains(s))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().copied()
    }

    /// The scope names, in `SUPPORTED` order.
    pub fn names(&self) -> &[&'static str] {
        &self.0
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

pub use crate::util::text::truncate;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_scope_grants_defaults() {
        assert_eq!(
            Scopes::parse(None).unwrap().to_string(),
            "mcp:read mcp:write offline_access"
        );
        assert_eq!(
            Scopes::parse(Some("  ")).unwrap(),
            Scopes::parse(None).unwrap()
        );
    }

    #[test]
    fn parses_in_canonical_order_without_duplicates() {
        let s = Scopes::parse(Some("email mcp:read  mcp:read")).unwrap();
        assert_eq!(s.to_string(), "mcp:read email");
    }

    #[test]
    fn rejects_unknown_scopes() {
        assert!(Scopes::parse(Some("mcp:read admin"))
            .unwrap_err()
            .contains("admin"));
    }

    #[test]
    fn subsets_and_intersections() {
        let all = Scopes::parse(Some("mcp:read mcp:write")).unwrap();
        let read = Scopes::parse(Some("mcp:read")).unwrap();
        assert!(read.is_subset_of(&all));
        assert!(!all.is_subset_of(&read));
        assert_eq!(all.intersect(&read), read);
    }
}
