//! One policy for an upstream's tools: which are exposed, under which name, and which
//! scope each needs. `tools/list` and `tools/call` both ask it, so what a client is shown
//! and what it may call cannot drift apart. An upstream's descriptions are its words, not
//! ours: they are bounded and never become the Worker's own instructions.

use super::config::Upstream;
use crate::oauth::catalog::{Catalog, Need};
use serde_json::{json, Map, Value};

/// Bounds on what an upstream's tool entry may bring into our `tools/list`.
const MAX_DESCRIPTION: usize = 2_000;
const MAX_TITLE: usize = 200;
const MAX_SCHEMA_BYTES: usize = 16 * 1024;
const MAX_NAME: usize = 64;

pub use crate::util::text::glob_matches;

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

/// What the upstream's tool needs: the operator's word first (the upstream's mapping,
/// then `SCOPES.tools` by exposed name), else what the tool says of itself
/// (`readOnlyHint: true` reads; anything else, or no word, writes).
pub fn need_for(
    upstream: &Upstream,
    catalog: &Catalog,
    name: &str,
    annotations: Option<&Value>,
) -> Need {
    let read_only = annotations
        .and_then(|a| a.get("readOnlyHint"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match matching_own(upstream, name) {
        Some(need) => need,
        None => catalog.tool_need(&Vec::new(), &exposed_name(upstream, name), read_only),
    }
}

fn matching_own(upstream: &Upstream, name: &str) -> Option<Need> {
    crate::oauth::catalog::matching(&upstream.scopes, name)
}

/// A tool the gateway exposes: its exposed name, the upstream's name, its scope and the
/// entry `tools/list` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayTool {
    pub exposed: String,
    pub upstream_name: String,
    pub need: Need,
    pub entry: Value,
}

/// The upstream's `tools/list` entry as the gateway shows it, or `None` for a tool it does
/// not expose or cannot use (no name, an unusable schema, a name too long). `offers_ui`:
/// the upstream's list names a UI resource; when it does not, its tools are marked for
/// the model only (`meta::model_only`), so no other upstream's view can call them.
pub fn rewrite(
    upstream: &Upstream,
    catalog: &Catalog,
    tool: &Value,
    structured: bool,
    offers_ui: bool,
) -> Option<GatewayTool> {
    let name = tool.get("name")?.as_str()?;
    if !usable_name(name) || !is_exposed(upstream, name) {
        return None;
    }
    let schema = tool.get("inputSchema").filter(|s| s.is_object())?;
    if schema.to_string().len() > MAX_SCHEMA_BYTES {
        return None;
    }
    let annotations = tool.get("annotations").filter(|a| a.is_object());
    let need = need_for(upstream, catalog, name, annotations);
    let exposed = exposed_name(upstream, name);
    let schemes = need.security_schemes();
    let mut entry = Map::new();
    entry.insert("name".into(), json!(exposed));
    if let Some(d) = tool.get("description").and_then(Value::as_str) {
        entry.insert("description".into(), json!(bounded(d, MAX_DESCRIPTION)));
    }
    entry.insert("inputSchema".into(), schema.clone());
    if let Some(a) = annotations.filter(|a| a.to_string().len() <= 2_048) {
        entry.insert("annotations".into(), a.clone());
    }
    entry.insert("securitySchemes".into(), schemes.clone());
    // The upstream's MCP Apps and ChatGPT keys, then the gateway's own word on sign-in.
    let mut meta = super::meta::kept(upstream, tool.get("_meta"), super::meta::MAX_ITEM_META)
        .unwrap_or_default();
    if !offers_ui {
        super::meta::model_only(&mut meta);
    }
    meta.insert("securitySchemes".into(), schemes);
    entry.insert("_meta".into(), Value::Object(meta));
    if structured {
        if let Some(icons) = super::meta::icons(tool) {
            entry.insert("icons".into(), icons);
        }
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
        need,
        entry: Value::Object(entry),
    })
}

/// A prompt the gateway exposes: the client's name for it, the upstream's, its entry.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayPrompt {
    pub exposed: String,
    pub upstream_name: String,
    pub entry: Value,
}

const MAX_PROMPT_ARGUMENTS: usize = 32;
const MAX_URI: usize = 2_048;

/// The upstream's `prompts/list` entry as the gateway shows it: named like its tools
/// (prefixed when sources share `/mcp`), with bounded words and arguments.
pub fn rewrite_prompt(upstream: &Upstream, prompt: &Value) -> Option<GatewayPrompt> {
    let name = prompt.get("name")?.as_str()?;
    if !usable_name(name) {
        return None;
    }
    let exposed = exposed_name(upstream, name);
    let mut entry = Map::new();
    entry.insert("name".into(), json!(exposed));
    copy_words(prompt, &mut entry);
    if let Some(icons) = super::meta::icons(prompt) {
        entry.insert("icons".into(), icons);
    }
    if let Some(Value::Array(args)) = prompt.get("arguments") {
        let kept: Vec<Value> = args
            .iter()
            .take(MAX_PROMPT_ARGUMENTS)
            .filter_map(|a| {
                let name = a.get("name")?.as_str()?;
                let mut out = Map::new();
                out.insert("name".into(), json!(bounded(name, MAX_NAME)));
                copy_words(a, &mut out);
                if let Some(r) = a.get("required").and_then(Value::as_bool) {
                    out.insert("required".into(), json!(r));
                }
                Some(Value::Object(out))
            })
            .collect();
        entry.insert("arguments".into(), Value::Array(kept));
    }
    Some(GatewayPrompt {
        exposed,
        upstream_name: name.to_string(),
        entry: Value::Object(entry),
    })
}

/// An upstream's resource (`key` = "uri") or resource template (`key` = "uriTemplate")
/// as the gateway lists it: its URI unchanged (a URI names the thing, so it is not
/// prefixed) unless it is an MCP Apps `ui://` one (`meta::exposed_uri`), its words
/// bounded, and only the fields the specification gives it, with the `_meta` and icons
/// `meta` lets through.
pub fn rewrite_resource(upstream: &Upstream, item: &Value, key: &str) -> Option<Value> {
    let uri = item.get(key)?.as_str()?;
    if uri.is_empty() || uri.len() > MAX_URI || is_note_uri(uri) {
        // `note:` is the built-in notes' scheme: an upstream cannot stand in for them.
        return None;
    }
    let mut entry = Map::new();
    entry.insert(key.into(), json!(super::meta::exposed_uri(upstream, uri)));
    let name = item.get("name").and_then(Value::as_str).unwrap_or(uri);
    entry.insert("name".into(), json!(bounded(name, MAX_TITLE)));
    copy_words(item, &mut entry);
    if let Some(meta) = super::meta::kept(upstream, item.get("_meta"), super::meta::MAX_ITEM_META) {
        entry.insert("_meta".into(), Value::Object(meta));
    }
    if let Some(icons) = super::meta::icons(item) {
        entry.insert("icons".into(), icons);
    }
    for field in ["mimeType", "size", "annotations"] {
        if let Some(v) = item.get(field) {
            if v.to_string().len() <= 1_024 {
                entry.insert(field.into(), v.clone());
            }
        }
    }
    Some(Value::Object(entry))
}

pub use super::meta::is_note_uri;

/// Whether `uri` is one the RFC 6570 template `template` expands to: `{name}` stands for
/// a run without `/`, `{+name}` and `{#name}` for any run, `{?a,b}` and `{&a}` for an
/// optional query part. Enough to route `resources/read` to the upstream that owns it.
/// Bounded (a template's length and expressions) and memoized, so an upstream's template
/// cannot make a read cost more than a few thousand steps per expression.
pub fn template_matches(template: &str, uri: &str) -> bool {
    let (t, u) = (template.as_bytes(), uri.as_bytes());
    let expressions = t.iter().filter(|&&b| b == b'{').count();
    if t.len() > MAX_TEMPLATE || expressions > MAX_EXPRESSIONS || u.len() > MAX_ROUTED_URI {
        return false;
    }
    // Positions (in the template, in the URI) already known not to match, at '{'.
    let mut failed = std::collections::HashSet::new();
    matches_from(t, u, 0, 0, &mut failed)
}

const MAX_TEMPLATE: usize = 512;
/// The longest URI routed by template: the work is about expressions × length².
const MAX_ROUTED_URI: usize = 1_024;
/// Templates of one upstream a read is matched against.
pub const MAX_ROUTED_TEMPLATES: usize = 50;
const MAX_EXPRESSIONS: usize = 8;

fn matches_from(
    t: &[u8],
    u: &[u8],
    mut ti: usize,
    mut ui: usize,
    failed: &mut std::collections::HashSet<(usize, usize)>,
) -> bool {
    // Literal bytes first, one for one.
    while let Some(&literal) = t.get(ti).filter(|&&b| b != b'{') {
        if u.get(ui) != Some(&literal) {
            return false;
        }
        ti += 1;
        ui += 1;
    }
    if ti >= t.len() {
        return ui == u.len();
    }
    if failed.contains(&(ti, ui)) {
        return false;
    }
    let rest = t.get(ti..).unwrap_or_default();
    let Some(close) = rest.iter().position(|&b| b == b'}').map(|p| ti + p) else {
        return false;
    };
    let op = t.get(ti + 1).copied();
    let found = match op {
        Some(b'?') | Some(b'&') => {
            let stop = u
                .get(ui..)
                .unwrap_or_default()
                .iter()
                .position(|&b| b == b'#')
                .map_or(u.len(), |p| ui + p);
            let starts = u.get(ui).is_some_and(|&b| b == b'?' || b == b'&');
            (starts && matches_from(t, u, close + 1, stop, failed))
                || matches_from(t, u, close + 1, ui, failed)
        }
        _ => {
            let any = matches!(op, Some(b'+') | Some(b'#'));
            let mut found = false;
            for end in ui + 1..=u.len() {
                if !any && u.get(end - 1) == Some(&b'/') {
                    break;
                }
                if matches_from(t, u, close + 1, end, failed) {
                    found = true;
                    break;
                }
            }
            found
        }
    };
    if !found {
        failed.insert((ti, ui));
    }
    found
}

fn usable_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// `title` and `description`, bounded, where the item has them.
fn copy_words(from: &Value, to: &mut Map<String, Value>) {
    if let Some(t) = from.get("title").and_then(Value::as_str) {
        to.insert("title".into(), json!(bounded(t, MAX_TITLE)));
    }
    if let Some(d) = from.get("description").and_then(Value::as_str) {
        to.insert("description".into(), json!(bounded(d, MAX_DESCRIPTION)));
    }
}

fn bounded(text: &str, max: usize) -> String {
    crate::util::text::truncate(text, max)
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
