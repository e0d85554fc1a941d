//! The upstreams an operator declares in `UPSTREAMS` (a JSON array in `wrangler.toml`'s
//! `[vars]`), validated once per isolate. Nothing else is ever fetched: every URL and
//! binding the gateway reaches comes from here, never from a request. A mistake is a
//! `ConfigError` naming the setting, never a silently missing upstream.

use crate::config::check_url;
use crate::config::ConfigError;
use crate::oauth::catalog::{self, Catalog, Mapping};
use serde_json::Value;

/// Where an upstream is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An https URL (http only on a loopback host, for local work).
    Url(String),
    /// A service binding (`[[services]]`) to another Worker, and the path of its MCP
    /// endpoint there.
    Service { binding: String, path: String },
}

/// The credential this Worker itself presents upstream, read from a Worker secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The secret's name (its value is read at the edge, never logged).
    pub secret: String,
    /// `Authorization` (sent as `Bearer <secret>`) or a named header (sent as is).
    pub header: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    pub target: Target,
    pub credential: Option<Credential>,
    pub timeout_ms: u64,
    /// Globs of the upstream's tool names it exposes (`*` matches any run).
    pub tools: Vec<String>,
    /// Globs of the upstream's own tool names and what a matching tool needs, the most
    /// specific match winning; then `SCOPES.tools` by exposed name; otherwise the catalog's read scope for a
    /// tool annotated read-only and its write scope for any other.
    pub scopes: Mapping,
    /// `<name>_` in front of the upstream's names when several sources share `/mcp`.
    pub prefix: Option<String>,
}

pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
const MAX_TIMEOUT_MS: u64 = 60_000;
const MAX_UPSTREAMS: usize = 20;

/// What the edge can tell about the environment, to check names against it.
pub struct Environment<'a> {
    pub has_secret: &'a dyn Fn(&str) -> bool,
    pub has_service: &'a dyn Fn(&str) -> bool,
    /// The built-in tools' names, which a prefix must not be able to take.
    pub builtin_names: &'a [&'a str],
    /// The operator's scopes, which every mapping must name.
    pub catalog: &'a Catalog,
}

/// The upstreams of `UPSTREAMS` (`None` or empty: none). `builtin` says whether the
/// built-in tools share `/mcp` (then every upstream is prefixed).
pub fn parse(
    text: Option<&str>,
    builtin: bool,
    env: &Environment,
) -> Result<Vec<Upstream>, ConfigError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let err = |setting: String, message: &str| ConfigError {
        setting,
        message: message.to_string(),
    };
    let list = crate::json::parse(text.as_bytes())
        .map_err(|e| err("UPSTREAMS".into(), &format!("not JSON: {e}")))?;
    let Value::Array(items) = list else {
        return Err(err("UPSTREAMS".into(), "must be a JSON array of upstreams"));
    };
    if items.len() > MAX_UPSTREAMS {
        return Err(err("UPSTREAMS".into(), "at most 20 upstreams"));
    }
    let prefixed = items.len() > 1 || builtin;
    let mut out: Vec<Upstream> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |key: &str| format!("UPSTREAMS[{i}].{key}");
        let u = one(item, &at, prefixed, env)?;
        if out.iter().any(|o| o.name == u.name) {
            return Err(err(at("name"), "two upstreams have this name (and prefix)"));
        }
        if let Some(message) = colliding_prefix(&out, &u, builtin.then_some(env.builtin_names)) {
            return Err(err(at("name"), &message));
        }
        out.push(u);
    }
    Ok(out)
}

/// Why `u`'s prefix could give one of its tools the exposed name of another upstream's
/// tool or of a built-in tool, if it could: `flaky_` + `x_ping` and `flaky_x_` + `ping`
/// are both `flaky_x_ping`, and one of the two would be lost without a word. Names are
/// only known at run time, so prefixes where one starts with the other are refused.
fn colliding_prefix(
    earlier: &[Upstream],
    u: &Upstream,
    builtin: Option<&[&str]>,
) -> Option<String> {
    let mine = u.prefix.as_deref()?;
    for other in earlier {
        let Some(theirs) = other.prefix.as_deref() else {
            continue;
        };
        if mine.starts_with(theirs) || theirs.starts_with(mine) {
            return Some(format!(
                "the upstreams '{}' and '{}' expose tools under the prefixes '{theirs}' and \
                 '{mine}', so a tool of one could take the name of a tool of the other; \
                 rename one of them",
                other.name, u.name
            ));
        }
    }
    if let Some(names) = builtin {
        if let Some(tool) = names.iter().find(|t| t.starts_with(mine)) {
            return Some(format!(
                "the upstream '{}' exposes tools under the prefix '{mine}', so one could take \
                 the name of the built-in tool '{}'; rename the upstream (or set \
                 BUILTIN_TOOLS=off)",
                u.name, tool
            ));
        }
    }
    None
}

fn one(
    item: &Value,
    at: &dyn Fn(&str) -> String,
    prefixed: bool,
    env: &Environment,
) -> Result<Upstream, ConfigError> {
    let err = |key: &str, message: &str| ConfigError {
        setting: at(key),
        message: message.to_string(),
    };
    let obj = item
        .as_object()
        .ok_or_else(|| err("", "must be an object"))?;
    for key in obj.keys() {
        if ![
            "name",
            "url",
            "service",
            "path",
            "credential",
            "timeout_ms",
            "tools",
            "scopes",
        ]
        .contains(&key.as_str())
        {
            return Err(err(key, "is not a setting of an upstream"));
        }
    }
    let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::trim);
    let name = text("name").unwrap_or("");
    let name_ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(err("name", "must be 1 to 32 of a-z, 0-9 and -"));
    }
    let target = match (text("url"), text("service")) {
        (Some(url), None) => Target::Url(check_url(url).map_err(|m| err("url", &m))?),
        (None, Some(binding)) => {
            if !(env.has_service)(binding) {
                return Err(err(
                    "service",
                    &format!("no service binding named {binding} ([[services]] in wrangler.toml)"),
                ));
            }
            let path = text("path").unwrap_or("/mcp");
            if !path.starts_with('/') || path.contains(['?', '#']) {
                return Err(err("path", "must be a path such as /mcp"));
            }
            Target::Service {
                binding: binding.to_string(),
                path: path.to_string(),
            }
        }
        _ => return Err(err("url", "give exactly one of url and service")),
    };
    let credential = match obj.get("credential") {
        None | Some(Value::Null) => None,
        Some(c) => {
            let secret = c.get("secret").and_then(Value::as_str).unwrap_or("");
            if secret.is_empty() || !(env.has_secret)(secret) {
                return Err(err(
                    "credential.secret",
                    &format!("the Worker secret {secret:?} is not set (wrangler secret put)"),
                ));
            }
            let header = c
                .get("header")
                .and_then(Value::as_str)
                .unwrap_or("Authorization");
            if !is_header_name(header) || is_reserved(header) {
                return Err(err(
                    "credential.header",
                    "is not a header this Worker may set",
                ));
            }
            Some(Credential {
                secret: secret.to_string(),
                header: header.to_string(),
            })
        }
    };
    let timeout_ms = match obj.get("timeout_ms") {
        None => DEFAULT_TIMEOUT_MS,
        Some(v) => v
            .as_u64()
            .filter(|t| (100..=MAX_TIMEOUT_MS).contains(t))
            .ok_or_else(|| err("timeout_ms", "must be 100 to 60000"))?,
    };
    let tools = match obj.get("tools") {
        None => vec!["*".to_string()],
        Some(Value::Array(globs)) => globs
            .iter()
            .map(|g| g.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| err("tools", "must be an array of names or globs"))?,
        Some(_) => return Err(err("tools", "must be an array of names or globs")),
    };
    let scopes = match obj.get("scopes") {
        None => Vec::new(),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(glob, v)| {
                let here = || format!("scopes.{}", crate::util::text::truncate(glob, 64));
                let need = catalog::need_of(v).map_err(|m| err(&here(), &m))?;
                env.catalog
                    .check_need(&need)
                    .map_err(|m| err(&here(), &m))?;
                Ok((glob.clone(), need))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err("scopes", "must map tool globs to scopes")),
    };
    Ok(Upstream {
        prefix: prefixed.then(|| format!("{}_", name.replace('-', "_"))),
        name: name.to_string(),
        target,
        credential,
        timeout_ms,
        tools,
        scopes,
    })
}

fn is_header_name(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Headers the gateway sets itself, which a credential may not replace.
fn is_reserved(h: &str) -> bool {
    [
        "content-type",
        "accept",
        "mcp-session-id",
        "mcp-protocol-version",
        "host",
        "cookie",
        "content-length",
        super::ASSERTION_HEADER,
    ]
    .iter()
    .any(|r| r.eq_ignore_ascii_case(h))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
