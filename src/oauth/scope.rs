//! A set of granted scopes (RFC 6749 §3.3) and the protocol scopes every deployment knows.
//! Which resource scopes exist, what they mean and who may hold them is the operator's
//! catalog (`oauth::catalog`); a `Scopes` is only ever made by it, so it holds known
//! scopes, each once, in the catalog's order.

pub const MCP_READ: &str = "mcp:read";
pub const MCP_WRITE: &str = "mcp:write";
pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The scopes of OpenID Connect and refresh, always known whatever `SCOPES` declares, in
/// the order pages list them (after the resource's own). Their words are in
/// `templates/scopes.html`.
pub const PROTOCOL: [&str; 4] = [OPENID, PROFILE, EMAIL, OFFLINE_ACCESS];

/// Known scopes, each once, in the catalog's order, so a set prints the same every time.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scopes(pub(super) Vec<String>);

impl Scopes {
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    pub fn intersect(&self, other: &Scopes) -> Scopes {
        Scopes(
            self.0
                .iter()
                .filter(|s| other.contains(s))
                .cloned()
                .collect(),
        )
    }

    /// These scopes without `dropped`'s.
    pub fn without(&self, dropped: &Scopes) -> Scopes {
        Scopes(
            self.0
                .iter()
                .filter(|s| !dropped.contains(s))
                .cloned()
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(String::as_str)
    }

    /// The scope names, in the catalog's order.
    pub fn names(&self) -> Vec<&str> {
        self.iter().collect()
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// RFC 6749 §3.3's scope-token: printable ASCII but space, `"` and `\`.
pub fn is_scope_token(word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

pub use crate::util::text::truncate;
