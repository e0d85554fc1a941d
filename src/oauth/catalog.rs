//! The operator's permission model: the resource scopes of `SCOPES` (name, the words a
//! person reads, granted by default or not, the roles that may hold it, what it implies),
//! the roles it names, and which scopes each tool, resource and prompt needs. Without the
//! setting it is today's model: `mcp:read` and `mcp:write`, both granted by default, held
//! by anyone, neither implying the other. Checked once per isolate; a mistake is a
//! `ConfigError` naming the setting, and nothing is granted until it is fixed, so a typo
//! can never make a permission broader.
//!
//! A scope that implies another passes every check for it (MCP 2026-07-28 authorization,
//! scope hierarchies): `mcp:write` implying `mcp:read` lets a `mcp:write` token read.

use crate::config::ConfigError;
use crate::oauth::scope::{is_scope_token, Scopes, MCP_READ, MCP_WRITE, OFFLINE_ACCESS, PROTOCOL};
use crate::util::text::truncate;

#[path = "catalog_parse.rs"]
mod parse;

/// The one role the Worker itself knows: administrators (the operator console needs it).
pub const ADMIN: &str = "admin";

/// One resource scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeDef {
    pub name: String,
    /// The operator's words for it; `None` for the built-in two, whose words are in
    /// `templates/scopes.html`.
    pub words: Option<String>,
    /// Granted when a request names no scope.
    pub default: bool,
    /// The roles that may hold it; `None`: everyone.
    pub roles: Option<Vec<String>>,
    /// Every scope it implies, directly or through others (never itself).
    pub implies: Vec<String>,
}

/// What an operation needs: one of several scopes, or all of several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    AnyOf(Vec<String>),
    AllOf(Vec<String>),
}

impl Need {
    pub fn one(scope: &str) -> Need {
        Need::AnyOf(vec![scope.to_string()])
    }

    fn scopes(&self) -> &[String] {
        match self {
            Need::AnyOf(s) | Need::AllOf(s) => s,
        }
    }

    /// The scopes in a line: "mcp:read", "a or b", "a and b".
    pub fn summary(&self) -> String {
        match self {
            Need::AnyOf(s) => s.join(" or "),
            Need::AllOf(s) => s.join(" and "),
        }
    }

    /// The words of an error description: "the mcp:read scope", "one of the a, b scopes".
    pub fn describe(&self) -> String {
        match self {
            Need::AnyOf(s) if s.len() == 1 => format!("the {} scope", s.join("")),
            Need::AnyOf(s) => format!("one of the {} scopes", s.join(", ")),
            Need::AllOf(s) => format!("the {} scopes", s.join(" and ")),
        }
    }

    /// The OpenAI Apps SDK's `securitySchemes`: one OAuth 2 scheme per way of passing
    /// (alternatives for one-of, one scheme listing all of them for all-of).
    pub fn security_schemes(&self) -> serde_json::Value {
        match self {
            Need::AnyOf(s) => s
                .iter()
                .map(|one| serde_json::json!({ "type": "oauth2", "scopes": [one] }))
                .collect(),
            Need::AllOf(s) => serde_json::json!([{ "type": "oauth2", "scopes": s }]),
        }
    }
}

/// A glob (`*` matches any run) and what matching names need; the most specific
/// matching glob wins (`matching`).
pub type Mapping = Vec<(String, Need)>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    pub(crate) scopes: Vec<ScopeDef>,
    /// The roles a scope may name: `admin` and those `SCOPES.roles` declares.
    pub(crate) roles: Vec<String>,
    /// What a read-only tool (and every resource and prompt) needs without a mapping.
    pub(crate) read: String,
    /// What any other tool needs without a mapping.
    pub(crate) write: String,
    pub(crate) tools: Mapping,
    pub(crate) resources: Mapping,
    pub(crate) prompts: Mapping,
    /// A hash of the setting's text (0 without it): what per-isolate caches of things
    /// built from the catalog are keyed by.
    pub fingerprint: u64,
}

impl Default for Catalog {
    fn default() -> Catalog {
        let def = |name: &str| ScopeDef {
            name: name.to_string(),
            words: None,
            default: true,
            roles: None,
            implies: Vec::new(),
        };
        Catalog {
            scopes: vec![def(MCP_READ), def(MCP_WRITE)],
            roles: vec![ADMIN.to_string()],
            read: MCP_READ.to_string(),
            write: MCP_WRITE.to_string(),
            tools: Vec::new(),
            resources: Vec::new(),
            prompts: Vec::new(),
            fingerprint: 0,
        }
    }
}

impl Catalog {
    /// The catalog of `SCOPES` (unset or blank: the default one). `role_ok` is never
    /// needed: roles are checked against the setting's own list.
    pub fn from_setting(text: Option<&str>) -> Result<Catalog, ConfigError> {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(Catalog::default()),
            Some(text) => parse::catalog(text).map(|c| Catalog {
                fingerprint: fnv1a(text.as_bytes()),
                ..c
            }),
        }
    }

    /// No resource scope at all: what metadata lists while `SCOPES` is broken.
    pub fn protocol_only() -> Catalog {
        Catalog {
            scopes: Vec::new(),
            ..Catalog::default()
        }
    }

    fn def(&self, name: &str) -> Option<&ScopeDef> {
        self.scopes.iter().find(|d| d.name == name)
    }

    pub fn is_resource_scope(&self, name: &str) -> bool {
        self.def(name).is_some()
    }

    pub fn is_known(&self, name: &str) -> bool {
        self.is_resource_scope(name) || PROTOCOL.contains(&name)
    }

    pub fn is_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether any scope is held by some roles only: then a grant reads the person's roles.
    pub fn has_restricted_scopes(&self) -> bool {
        self.scopes.iter().any(|d| d.roles.is_some())
    }

    /// The resource's scopes, in order (protected-resource metadata, challenges).
    pub fn resource_scopes(&self) -> Vec<&str> {
        self.scopes.iter().map(|d| d.name.as_str()).collect()
    }

    /// Every scope this server can grant (authorization-server metadata).
    pub fn all_scopes(&self) -> Vec<&str> {
        let mut all = self.resource_scopes();
        all.extend(PROTOCOL);
        all
    }

    /// The operator's words for a resource scope, if `SCOPES` gave them.
    pub fn words(&self, name: &str) -> Option<&str> {
        self.def(name).and_then(|d| d.words.as_deref())
    }

    /// Known scopes from `words`, in catalog order, each once.
    fn ordered<'w>(&self, words: impl Iterator<Item = &'w str> + Clone) -> Scopes {
        Scopes(
            self.all_scopes()
                .into_iter()
                .filter(|s| words.clone().any(|w| w == *s))
                .map(str::to_string)
                .collect(),
        )
    }

    /// Parses a `scope` parameter. Absent or blank: the default scopes and
    /// `offline_access` (every code grant gets a refresh token; ChatGPT's reconnect names
    /// no scope). An unknown scope is an error naming it (`invalid_scope`).
    pub fn parse(&self, text: Option<&str>) -> Result<Scopes, String> {
        let text = text.map(str::trim).unwrap_or("");
        if text.is_empty() {
            return Ok(self.defaults());
        }
        let words = text.split(' ').filter(|w| !w.is_empty());
        if let Some(unknown) = words.clone().find(|w| !self.is_known(w)) {
            return Err(format!("unknown scope '{}'", truncate(unknown, 40)));
        }
        Ok(self.ordered(words))
    }

    /// What a request naming no scope is granted.
    pub fn defaults(&self) -> Scopes {
        let defaults = self
            .scopes
            .iter()
            .filter(|d| d.default)
            .map(|d| d.name.as_str());
        self.ordered(defaults.chain([OFFLINE_ACCESS]))
    }

    /// A scope kept with a grant, read again: the scopes the catalog still knows. One the
    /// operator has removed since is dropped, never kept as an unchecked word.
    pub fn stored(&self, text: &str) -> Scopes {
        self.ordered(text.split(' ').filter(|w| !w.is_empty()))
    }

    /// `scopes` without the resource scopes none of `roles` may hold.
    pub fn allowed_for(&self, scopes: &Scopes, roles: &[&str]) -> Scopes {
        Scopes(
            scopes
                .iter()
                .filter(|s| match self.def(s).and_then(|d| d.roles.as_ref()) {
                    None => true,
                    Some(allowed) => allowed.iter().any(|r| roles.contains(&r.as_str())),
                })
                .map(str::to_string)
                .collect(),
        )
    }

    /// Whether `scopes` holds any of the resource's scopes.
    pub fn has_resource_scope(&self, scopes: &Scopes) -> bool {
        scopes.iter().any(|s| self.is_resource_scope(s))
    }

    /// Whether holding `held` passes a check for `scope`: held itself, or implied.
    pub fn holds(&self, held: &[&str], scope: &str) -> bool {
        held.iter().any(|h| {
            *h == scope
                || self
                    .def(h)
                    .is_some_and(|d| d.implies.iter().any(|i| i == scope))
        })
    }

    /// Whether `held` satisfies `need`.
    pub fn satisfies(&self, held: &[&str], need: &Need) -> bool {
        match need {
            Need::AnyOf(s) => s.iter().any(|one| self.holds(held, one)),
            Need::AllOf(s) => s.iter().all(|one| self.holds(held, one)),
        }
    }

    /// The `scope` of an insufficient-scope challenge: what the token holds of the
    /// resource's scopes and what `need` adds (the first of a one-of), so a client that
    /// asks for exactly this keeps what it had (MCP authorization, "Scope challenge").
    pub fn challenge_scope(&self, held: &[&str], need: &Need) -> String {
        let mut wanted: Vec<&str> = held
            .iter()
            .copied()
            .filter(|h| self.is_resource_scope(h))
            .collect();
        let missing: Vec<&str> = match need {
            Need::AnyOf(s) => s.first().map(String::as_str).into_iter().collect(),
            Need::AllOf(s) => s.iter().map(String::as_str).collect(),
        };
        for m in missing {
            if !self.holds(&wanted, m) {
                wanted.push(m);
            }
        }
        self.ordered(wanted.into_iter()).to_string()
    }

    /// What a tool needs: `first` (an upstream's own mapping), then `SCOPES`'s tool globs,
    /// each by its most specific match, else the read or the write scope by what the tool
    /// says it does.
    pub fn tool_need(&self, first: &Mapping, name: &str, read_only: bool) -> Need {
        matching(first, name)
            .or_else(|| matching(&self.tools, name))
            .unwrap_or_else(|| Need::one(if read_only { &self.read } else { &self.write }))
    }

    /// What reading a resource needs (by URI).
    pub fn resource_need(&self, uri: &str) -> Need {
        matching(&self.resources, uri).unwrap_or_else(|| Need::one(&self.read))
    }

    /// What listing resources or prompts needs: any scope that reads one of them.
    pub fn listing_need(&self, mapping_of_prompts: bool) -> Need {
        let mapping = if mapping_of_prompts {
            &self.prompts
        } else {
            &self.resources
        };
        let mut any = vec![self.read.clone()];
        for (_, need) in mapping {
            for s in need.scopes() {
                if !any.contains(s) {
                    any.push(s.clone());
                }
            }
        }
        Need::AnyOf(any)
    }

    /// What getting a prompt needs (by name).
    pub fn prompt_need(&self, name: &str) -> Need {
        matching(&self.prompts, name).unwrap_or_else(|| Need::one(&self.read))
    }

    /// Checks a mapping's scopes (a `Need` read from another setting, `UPSTREAMS`).
    pub fn check_need(&self, need: &Need) -> Result<(), String> {
        match need.scopes().iter().find(|s| !self.is_resource_scope(s)) {
            Some(s) => Err(format!(
                "names the scope '{}', which SCOPES does not declare",
                truncate(s, 64)
            )),
            None => Ok(()),
        }
    }
}

/// FNV-1a, 64 bits: a cache key, not a security boundary.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    }) | 1
}

/// What the most specific glob of `mapping` matching `name` says: a name without `*`
/// before any glob, then the glob with the most literal characters, then the first in
/// name order. JSON objects carry no order, so "first written" could not be kept.
pub fn matching(mapping: &Mapping, name: &str) -> Option<Need> {
    mapping
        .iter()
        .filter(|(glob, _)| crate::util::text::glob_matches(glob, name))
        .max_by(|(a, _), (b, _)| specificity(a).cmp(&specificity(b)).then(b.cmp(a)))
        .map(|(_, need)| need.clone())
}

/// Exact names first, then more literal characters.
fn specificity(glob: &str) -> (bool, usize) {
    (
        !glob.contains('*'),
        glob.chars().filter(|c| *c != '*').count(),
    )
}

/// A mapping's value read from JSON: a scope, `{"any_of": [...]}` or `{"all_of": [...]}`.
pub fn need_of(v: &serde_json::Value) -> Result<Need, String> {
    parse::need(v)
}

/// A role's syntax: letters, digits and `_ . : -`, at most 64.
pub fn is_role_name(role: &str) -> bool {
    (1..=64).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

/// A scope's syntax as `SCOPES` accepts it.
pub fn is_scope_name(name: &str) -> bool {
    name.len() <= 64 && is_scope_token(name)
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
