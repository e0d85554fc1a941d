//! What an upstream's `_meta` and `icons` may bring through the gateway: MCP Apps (a
//! tool's `ui.resourceUri`, a UI resource's `ui.csp`, `ui.domain`, ...), ChatGPT's
//! `openai/*` keys, and icons, bounded. An allow-list: anything else an upstream writes
//! there stays behind, above all what changes how the client authenticates
//! (`securitySchemes`, `mcp/www_authenticate`), which is the gateway's alone to say.
//!
//! `ui://` resources are addressed per upstream: where upstreams' names are prefixed, an
//! upstream's `ui://widget/list.html` is `ui://<prefix>widget/list.html` here (two
//! upstreams may both name `ui://widget/...`), and every place a tool names its UI
//! resource is rewritten the same way, so reading it leads back to its upstream.

use super::config::Upstream;
use serde_json::{Map, Value};

/// A listed item's `_meta` (a tool, a resource): what the gateway keeps, in bytes.
pub const MAX_ITEM_META: usize = 8 * 1024;
/// A result's or a read content's `_meta` (a View's data may travel there).
pub const MAX_RESULT_META: usize = 64 * 1024;
/// Icons of one item: how many, and their bytes in all (a `data:` icon holds its image).
const MAX_ICONS: usize = 8;
const MAX_ICONS_BYTES: usize = 32 * 1024;
const MAX_ICON_SRC: usize = 16 * 1024;

/// The media type of an MCP Apps UI resource.
pub const UI_MIME_TYPE: &str = "text/html;profile=mcp-app";

/// The scheme of MCP Apps' UI resources.
pub const UI_SCHEME: &str = "ui://";

/// The `_meta` keys an upstream may give: MCP Apps' `ui` object and its older flat
/// `ui/resourceUri`, and ChatGPT's `openai/*` keys (`openai/outputTemplate`,
/// `openai/widgetCSP`, `openai/toolInvocation/invoking`, ...). None of them says how a
/// client signs in.
pub fn is_allowed_key(key: &str) -> bool {
    key == "ui" || key == "ui/resourceUri" || key.starts_with("openai/")
}

/// The keys of `meta` (an upstream's `_meta`) the gateway passes on, each URI that names
/// a UI resource rewritten for `upstream`, within `max` bytes (keys past the bound are
/// left out whole, never cut). `None` when nothing is kept.
pub fn kept(upstream: &Upstream, meta: Option<&Value>, max: usize) -> Option<Map<String, Value>> {
    let Some(Value::Object(meta)) = meta else {
        return None;
    };
    let mut out = Map::new();
    let mut used = 0;
    for (key, value) in meta {
        if !is_allowed_key(key) {
            continue;
        }
        let Some(value) = rewritten(upstream, key, value) else {
            continue;
        };
        let size = key.len() + value.to_string().len();
        if used + size > max {
            continue;
        }
        used += size;
        out.insert(key.clone(), value);
    }
    (!out.is_empty()).then_some(out)
}

/// Whether an upstream's tool list names a UI resource (MCP Apps or ChatGPT's template):
/// only then may its tools be called from a view (`model_only`).
pub fn offers_ui(tools: &[Value]) -> bool {
    tools.iter().any(|t| {
        let meta = t.get("_meta");
        let at = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
        meta.and_then(|m| m.get("ui"))
            .and_then(|ui| ui.get("resourceUri"))
            .and_then(Value::as_str)
            .or(at("ui/resourceUri"))
            .or(at("openai/outputTemplate"))
            .is_some_and(is_ui_uri)
    })
}

/// Marks a tool for the model only (MCP Apps `ui.visibility: ["model"]`): a host refuses
/// a view's call of it. Every tool behind `/mcp` is reached with the same token, so a view
/// from one upstream could otherwise call the built-in notes or another upstream's tools;
/// the tools of an upstream without a UI, and the built-in ones, are never a view's.
pub fn model_only(meta: &mut Map<String, Value>) {
    let ui = meta
        .entry("ui")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(ui) = ui {
        ui.insert(
            "visibility".into(),
            Value::Array(vec![Value::from("model")]),
        );
    }
    // ChatGPT's own switch for the same thing says the same.
    meta.insert("openai/widgetAccessible".into(), Value::Bool(false));
}

/// A kept key's value with its UI resource URIs in this gateway's form; `None` drops a
/// key that names something other than a `ui://` resource where one must be named.
fn rewritten(upstream: &Upstream, key: &str, value: &Value) -> Option<Value> {
    match key {
        "ui/resourceUri" | "openai/outputTemplate" => {
            let uri = value.as_str()?;
            Some(Value::String(exposed_ui_uri(upstream, uri)?))
        }
        "ui" => {
            let Value::Object(ui) = value else {
                return None;
            };
            let mut ui = ui.clone();
            if let Some(uri) = ui.get("resourceUri") {
                match uri.as_str().and_then(|u| exposed_ui_uri(upstream, u)) {
                    Some(u) => {
                        ui.insert("resourceUri".into(), Value::String(u));
                    }
                    None => {
                        ui.remove("resourceUri");
                    }
                }
            }
            Some(Value::Object(ui))
        }
        _ => Some(value.clone()),
    }
}

/// Whether `uri` is an MCP Apps UI resource's.
pub fn is_ui_uri(uri: &str) -> bool {
    has_scheme(uri, UI_SCHEME)
}

/// Whether `uri` begins with `prefix` (a scheme, and maybe `//`), in any case: a scheme
/// is case-insensitive (RFC 3986 §3.1).
fn has_scheme(uri: &str, prefix: &str) -> bool {
    uri.get(..prefix.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(prefix))
}

/// The address here of the upstream's UI resource `uri`: prefixed like its tools where
/// they are. `None` for a URI that is not a `ui://` one.
pub fn exposed_ui_uri(upstream: &Upstream, uri: &str) -> Option<String> {
    let rest = uri.get(UI_SCHEME.len()..).filter(|_| is_ui_uri(uri))?;
    Some(match &upstream.prefix {
        Some(p) => format!("{UI_SCHEME}{p}{rest}"),
        None => uri.to_string(),
    })
}

/// A resource URI as this gateway lists it: a `ui://` one addressed per upstream
/// (`exposed_ui_uri`), any other unchanged (a URI names the thing, so it is not prefixed).
pub fn exposed_uri(upstream: &Upstream, uri: &str) -> String {
    exposed_ui_uri(upstream, uri).unwrap_or_else(|| uri.to_string())
}

/// The upstream's own address for `exposed`, a `ui://` URI of this gateway, when it is
/// one of `upstream`'s: its prefix taken off, or (unprefixed, so the only upstream) as
/// it is.
pub fn upstream_ui_uri(upstream: &Upstream, exposed: &str) -> Option<String> {
    let rest = exposed
        .get(UI_SCHEME.len()..)
        .filter(|_| is_ui_uri(exposed))?;
    match &upstream.prefix {
        Some(p) => rest
            .strip_prefix(p.as_str())
            .map(|r| format!("{UI_SCHEME}{r}")),
        None => Some(exposed.to_string()),
    }
}

/// An item's `icons` (MCP 2025-11-25), kept when each is an `https:` URL or a `data:` PNG,
/// JPEG, WebP or GIF (no scheme a client could be led to run or fetch locally, no SVG),
/// with only the fields icons have; `None` when none is usable.
pub fn icons(item: &Value) -> Option<Value> {
    let Some(Value::Array(list)) = item.get("icons") else {
        return None;
    };
    let mut out = Vec::new();
    let mut used = 0;
    for icon in list.iter().take(MAX_ICONS) {
        let Some(icon) = one_icon(icon) else {
            continue;
        };
        let size = icon.to_string().len();
        if used + size > MAX_ICONS_BYTES {
            break;
        }
        used += size;
        out.push(icon);
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// The image types an icon may be: raster only.
const RASTER: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

fn one_icon(icon: &Value) -> Option<Value> {
    let src = icon.get("src")?.as_str()?;
    let lower = src.get(..16).unwrap_or(src).to_ascii_lowercase();
    // Raster images only: an SVG can hold script, for a client that inlines it.
    let data_image = RASTER
        .iter()
        .any(|t| lower.starts_with(&format!("data:{t}")));
    let usable = src.len() <= MAX_ICON_SRC
        && (lower.starts_with("https://") || data_image)
        && !src.chars().any(|c| c.is_control() || c == ' ');
    if !usable {
        return None;
    }
    let mut out = Map::new();
    out.insert("src".into(), Value::String(src.to_string()));
    match icon.get("mimeType").and_then(Value::as_str) {
        Some(m) if RASTER.contains(&m) => {
            out.insert("mimeType".into(), Value::String(m.to_string()));
        }
        // An icon that says it is SVG (or anything but a raster image) is not kept.
        Some(_) => return None,
        None => {}
    }
    if let Some(Value::Array(sizes)) = icon.get("sizes") {
        let sizes: Vec<Value> = sizes
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| s.len() <= 20)
            .take(8)
            .map(|s| Value::String(s.to_string()))
            .collect();
        if !sizes.is_empty() {
            out.insert("sizes".into(), Value::Array(sizes));
        }
    }
    if let Some(t) = icon.get("theme").and_then(Value::as_str) {
        if t == "light" || t == "dark" {
            out.insert("theme".into(), Value::String(t.to_string()));
        }
    }
    Some(Value::Object(out))
}

/// An upstream's result (`tools/call`, `resources/read`, `prompts/get`) with only the
/// `_meta` the gateway passes on, in it and in everything it holds that can carry one: a
/// read's contents, a call's content blocks and the resources embedded or linked in them
/// (each with its `ui://` address in this gateway's form), a prompt's messages.
pub fn filter_result(upstream: &Upstream, result: &mut Map<String, Value>) {
    filter_meta(upstream, result);
    for list in ["contents", "content"] {
        if let Some(Value::Array(items)) = result.get_mut(list) {
            // A built-in note's address (`note:`) is never an upstream's to give.
            items.retain(|c| !names_a_note(c));
            items.iter_mut().for_each(|c| filter_block(upstream, c));
        }
    }
    if let Some(Value::Array(messages)) = result.get_mut("messages") {
        messages.retain(|m| !m.get("content").is_some_and(names_a_note));
        for m in messages.iter_mut() {
            if let Some(content) = m.get_mut("content") {
                filter_block(upstream, content);
            }
        }
    }
}

/// The built-in notes' scheme, in any case (a scheme is case-insensitive, RFC 3986
/// §3.1): an upstream can neither list nor be asked for such a URI, nor give one.
pub fn is_note_uri(uri: &str) -> bool {
    has_scheme(uri, "note:")
}

/// Whether a content block (or its embedded resource) names a built-in note's URI.
fn names_a_note(block: &Value) -> bool {
    let uri = |v: &Value| {
        v.get("uri")
            .and_then(Value::as_str)
            .is_some_and(is_note_uri)
    };
    uri(block) || block.get("resource").is_some_and(uri)
}

/// One content block (or read content): its `_meta`, its `uri`, and an embedded
/// resource's.
fn filter_block(upstream: &Upstream, block: &mut Value) {
    let Value::Object(block) = block else {
        return;
    };
    filter_meta(upstream, block);
    if let Some(uri) = block.get("uri").and_then(Value::as_str) {
        let uri = exposed_uri(upstream, uri);
        block.insert("uri".into(), Value::String(uri));
    }
    if let Some(resource) = block.get_mut("resource") {
        filter_block(upstream, resource);
    }
}

fn filter_meta(upstream: &Upstream, item: &mut Map<String, Value>) {
    match kept(upstream, item.get("_meta"), MAX_RESULT_META) {
        Some(meta) => {
            item.insert("_meta".into(), Value::Object(meta));
        }
        None => {
            item.remove("_meta");
        }
    }
}

#[cfg(test)]
#[path = "meta_tests.rs"]
mod tests;
