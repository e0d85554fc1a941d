//! The notes' MCP Apps view: `memory_list` names a UI resource (`_meta.ui.resourceUri`),
//! and a host that renders MCP Apps (ChatGPT, Claude, VS Code) reads it and shows the
//! list in a sandboxed frame instead of the JSON. The page is `templates/notes-view.*`:
//! it fetches nothing and loads nothing, so its policy allows no domain, and its own CSP
//! lets through only its inline script and stylesheet, by hash. A reference to copy: an
//! upstream's views come through the gateway (`gateway::meta`).

use crate::gateway::meta::UI_MIME_TYPE;
use crate::templates::csp_hash;
use serde_json::{json, Value};

/// The view's address. `ui://notes/` is the built-in notes': an upstream's UI resources
/// are prefixed where the notes share `/mcp` (`<name>_` never ends in `/`).
pub const NOTES_VIEW: &str = "ui://notes/list.html";

const PAGE: &str = include_str!("../../templates/notes-view.html");
const SCRIPT: &str = include_str!("../../templates/notes-view.js");
const STYLE: &str = include_str!("../../templates/notes-view.css");

/// `resources/read` of the view (not listed: MCP Apps hosts find it through the tool,
/// and `resources/list` stays the person's notes): the page, and what the host needs to frame it (no
/// domain to connect to or load from, a border).
pub fn read() -> Value {
    json!({
        "contents": [{
            "uri": NOTES_VIEW,
            "mimeType": UI_MIME_TYPE,
            "text": page(),
            "_meta": {
                "ui": {
                    "csp": { "connectDomains": [], "resourceDomains": [] },
                    "prefersBorder": true,
                },
            },
        }]
    })
}

/// What a built-in tool carries in its `_meta` for MCP Apps hosts: for the model only
/// (no view, the notes' or an upstream's, may call it: they all come through one token),
/// and, for a tool shown by the view, the view's address in the standard key and its
/// older flat form, which hosts still read.
pub fn tool_meta(shown_in_view: bool) -> Value {
    if shown_in_view {
        json!({
            "ui": { "resourceUri": NOTES_VIEW, "visibility": ["model"] },
            "ui/resourceUri": NOTES_VIEW,
            "openai/widgetAccessible": false,
        })
    } else {
        json!({ "ui": { "visibility": ["model"] }, "openai/widgetAccessible": false })
    }
}

/// The page with its CSP: only its own script and stylesheet run, by hash.
pub fn page() -> String {
    let csp = format!(
        "default-src 'none'; script-src {}; style-src {}; base-uri 'none'; form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    );
    crate::templates::render(PAGE, &[("csp", &csp), ("style", STYLE), ("script", SCRIPT)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_its_own_script_and_style_and_a_csp_naming_only_them() {
        let page = page();
        assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
        let csp = page
            .split("http-equiv=\"Content-Security-Policy\" content=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .replace("&#39;", "'");
        assert!(
            csp.starts_with("default-src 'none'; script-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(!page.contains("{{"), "every placeholder filled");
        // Nothing the notes hold is ever read as HTML.
        assert!(!SCRIPT.contains("innerHTML"));
    }

    #[test]
    fn the_read_names_the_view_as_an_mcp_app_with_no_domains() {
        let r = read();
        let c = &r["contents"][0];
        assert_eq!(c["uri"], NOTES_VIEW);
        assert_eq!(c["mimeType"], "text/html;profile=mcp-app");
        assert_eq!(c["_meta"]["ui"]["csp"]["connectDomains"], json!([]));
        assert_eq!(tool_meta(true)["ui"]["resourceUri"], NOTES_VIEW);
        assert_eq!(tool_meta(true)["ui/resourceUri"], NOTES_VIEW);
        // No view may call a built-in tool.
        assert_eq!(tool_meta(true)["ui"]["visibility"], json!(["model"]));
        assert_eq!(
            tool_meta(false),
            json!({ "ui": { "visibility": ["model"] }, "openai/widgetAccessible": false })
        );
    }
}
