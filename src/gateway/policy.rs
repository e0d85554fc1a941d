//! One policy for an upstream's tools: which are exposed, under which name, and which
//! scope each needs. `tools/list` and `tools/call` both ask it, so what a client is shown
//! and what it may call cannot drift apart. An upstream's descriptions are its words, not
//! ours: they are bounded and never become the Worker's own instructions.

use super::config::Upstream;
use serde_json::{json, Map, Value};

/// Bounds on what an upstream's tool entry may bring into our `tools/list`.
const MAX_DESCRIPTION: usize = 2_000;
const MAX_TITLE: usize = 200;
const MAX_SCHEMA_BYTES: usize = 16 * 1024;
const MAX_NAME: usize = 64;

/// `*` matches any run of characters (none included); everything else matches itself.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let (g, n) = (glob.as_bytes(), name.as_bytes());
    let (mut gi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if gi < g.len() && g[gi] == b'*' {
            star = Some((gi, ni));
            gi += 1;
        } else if gi < g.len() && g[gi] == n[ni] {
            gi += 1;
            ni += 1;
        } else if let Some((sg, sn)) = star {
            gi = sg + 1;
            ni = sn + 1;
            star = Some((sg, sn + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&b| b == b'*')
}

/// The name a client sees for the upstream's tool `name`.
pub fn exposed_name(upstream: &Upstream, name: &str) -> String {
    match &upstream.prefix {
        Some(p) => format!("{p}{name}"),
        None => name.to_string(),
    }
}

/// The upstream's own name for an exposed name, if it is one of this upstream's.
pub fn upstream_name<'a>(upstream: &Upstream, exposed: &'a str) -> Option<&'a str> {
    match &upstream.prefix {
        Some(p) => exposed.strip_prefix(p.as_str()),
        None => Some(exposed),
    }
}

pub fn is_exposed(upstream: &Upstream, name: &str) -> bool {
    upstream.tools.iter().any(|g| glob_matches(g, name))
}

/// The scope the upstream's tool needs: the operator's word first, else what the tool
/// says of itself (`readOnlyHint: true` reads; anything else, or no word, writes).
pub fn scope_for(upstream: &Upstream, name: &str, annotations: Option<&Value>) -> &'static str {
    for (glob, scope) in &upstream.scopes {
        if glob_matches(glob, name) {
            return if scope == "mcp:read" {
                "mcp:read"
            } else {
                "mcp:write"
            };
        }
    }
    let read_only = annotations
        .and_then(|a| a.get("readOnlyHint"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if read_only {
        "mcp:read"
    } else {
        "mcp:write"
    }
}

/// A tool the gateway exposes: its exposed name, the upstream's name, its scope and the
/// entry `tools/list` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayTool {
    pub exposed: String,
    pub upstream_name: String,
    pub scope: &'static str,
    pub entry: Value,
}

/// The upstream's `tools/list` entry as the gateway shows it, or `None` for a tool it does
/// not expose or cannot use (no name, an unusable schema, a name too long).
pub fn rewrite(upstream: &Upstream, tool: &Value, structured: bool) -> Option<GatewayTool> {
    let name = tool.get("name")?.as_str()?;
    let name_ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if !name_ok || !is_exposed(upstream, name) {
        return None;
    }
    let schema = tool.get("inputSchema").filter(|s| s.is_object())?;
    if schema.to_string().len() > MAX_SCHEMA_BYTES {
        return None;
    }
    let annotations = tool.get("annotations").filter(|a| a.is_object());
    let scope = scope_for(upstream, name, annotations);
    let exposed = exposed_name(upstream, name);
    let schemes = json!([{ "type": "oauth2", "scopes": [scope] }]);
    let mut entry = Map::new();
    entry.insert("name".into(), json!(exposed));
    if let Some(d) = tool.get("description").and_then(Value::as_str) {
        entry.insert("description".into(), json!(bounded(d, MAX_DESCRIPTION)));
    }
    entry.insert("inputSchema".into(), schema.clone());
    if let Some(a) = annotations {
        entry.insert("annotations".into(), a.clone());
    }
    entry.insert("securitySchemes".into(), schemes.clone());
    entry.insert("_meta".into(), json!({ "securitySchemes": schemes }));
    if structured {
        if let Some(t) = tool.get("title").and_then(Value::as_str) {
            entry.insert("title".into(), json!(bounded(t, MAX_TITLE)));
        }
        if let Some(o) = tool.get("outputSchema").filter(|o| o.is_object()) {
            if o.to_string().len() <= MAX_SCHEMA_BYTES {
                entry.insert("outputSchema".into(), o.clone());
            }
        }
    }
    Some(GatewayTool {
        exposed,
        upstream_name: name.to_string(),
        scope,
        entry: Value::Object(entry),
    })
}

fn bounded(text: &str, max: usize) -> String {
    crate::oauth::scope::truncate(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::config::{Target, DEFAULT_TIMEOUT_MS};

    fn upstream(prefix: Option<&str>, tools: &[&str], scopes: &[(&str, &str)]) -> Upstream {
        Upstream {
            name: "docs".into(),
            target: Target::Url("https://a.example/mcp".into()),
            credential: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            tools: tools.iter().map(|t| t.to_string()).collect(),
            scopes: scopes
                .iter()
                .map(|(g, s)| (g.to_string(), s.to_string()))
                .collect(),
            prefix: prefix.map(str::to_string),
        }
    }

    #[test]
    fn globs() {
        for (g, n, m) in [
            ("*", "anything", true),
            ("get_*", "get_doc", true),
            ("get_*", "put_doc", false),
            ("*_doc", "get_doc", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("", "", true),
        ] {
            assert_eq!(glob_matches(g, n), m, "{g} {n}");
        }
    }

    #[test]
    fn names_scopes_and_exposure_come_from_one_policy() {
        let u = upstream(
            Some("docs_"),
            &["get_*", "delete_doc"],
            &[("delete_*", "mcp:write")],
        );
        let tool = json!({"name":"get_doc","description":"d","inputSchema":{"type":"object"},
            "annotations":{"readOnlyHint":true}});
        let t = rewrite(&u, &tool, true).unwrap();
        assert_eq!(t.exposed, "docs_get_doc");
        assert_eq!(t.scope, "mcp:read");
        assert_eq!(t.entry["securitySchemes"][0]["scopes"][0], "mcp:read");
        assert_eq!(upstream_name(&u, "docs_get_doc"), Some("get_doc"));
        assert_eq!(upstream_name(&u, "other"), None);
        let hidden = json!({"name":"drop_all","inputSchema":{"type":"object"}});
        assert!(rewrite(&u, &hidden, true).is_none());
        // No annotation, or the operator's word, means write.
        let del = json!({"name":"delete_doc","inputSchema":{"type":"object"},
            "annotations":{"readOnlyHint":true}});
        assert_eq!(rewrite(&u, &del, true).unwrap().scope, "mcp:write");
        let plain = upstream(None, &["*"], &[]);
        let t = rewrite(
            &plain,
            &json!({"name":"x","inputSchema":{"type":"object"}}),
            false,
        );
        assert_eq!(t.unwrap().scope, "mcp:write");
    }

    #[test]
    fn an_upstreams_words_are_bounded() {
        let u = upstream(None, &["*"], &[]);
        let long =
            json!({"name":"x","description":"d".repeat(10_000),"inputSchema":{"type":"object"}});
        let t = rewrite(&u, &long, true).unwrap();
        assert!(t.entry["description"].as_str().unwrap().len() <= MAX_DESCRIPTION + 4);
        let huge =
            json!({"name":"x","inputSchema":{"type":"object","description":"s".repeat(20_000)}});
        assert!(rewrite(&u, &huge, true).is_none());
        assert!(rewrite(&u, &json!({"name":"a b","inputSchema":{}}), true).is_none());
        assert!(rewrite(&u, &json!({"name":"x"}), true).is_none());
    }
}
