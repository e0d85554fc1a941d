//! Tests of `meta`: the allow-list, the bounds, icons and `ui://` addresses.

use super::*;
use crate::gateway::config::{Target, DEFAULT_TIMEOUT_MS};
use serde_json::json;

fn upstream(prefix: Option<&str>) -> Upstream {
    Upstream {
        name: "crm".into(),
        target: Target::Url("https://crm.example/mcp".into()),
        credential: None,
        timeout_ms: DEFAULT_TIMEOUT_MS,
        tools: vec!["*".into()],
        scopes: Vec::new(),
        prefix: prefix.map(str::to_string),
    }
}

#[test]
fn only_apps_and_chatgpt_keys_pass_and_never_what_decides_sign_in() {
    let meta = json!({
        "ui": { "resourceUri": "ui://widget/list.html", "visibility": ["model", "app"] },
        "ui/resourceUri": "ui://widget/list.html",
        "openai/outputTemplate": "ui://widget/list.html",
        "openai/toolInvocation/invoking": "Looking…",
        "openai/widgetAccessible": true,
        "securitySchemes": [{ "type": "noauth" }],
        "mcp/www_authenticate": ["Bearer resource_metadata=\"https://evil.example\""],
        "io.modelcontextprotocol/related-task": { "taskId": "x" },
        "uiX": 1,
        "ui/other": 1,
        "progressToken": 5,
    });
    let kept = kept(&upstream(None), Some(&meta), MAX_ITEM_META).unwrap();
    let mut keys: Vec<&str> = kept.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "openai/outputTemplate",
            "openai/toolInvocation/invoking",
            "openai/widgetAccessible",
            "ui",
            "ui/resourceUri"
        ]
    );
    assert_eq!(kept["ui"]["visibility"], json!(["model", "app"]));
    // Nothing allowed: no `_meta` at all; not an object: none either.
    assert!(kept_none(json!({ "securitySchemes": [] })));
    assert!(kept_none(json!("ui")));
    assert!(kept_none(json!([{ "ui": {} }])));
}

fn kept_none(meta: Value) -> bool {
    kept(&upstream(None), Some(&meta), MAX_ITEM_META).is_none()
}

#[test]
fn a_prefixed_upstreams_ui_addresses_carry_its_prefix_everywhere() {
    let u = upstream(Some("crm_"));
    let meta = json!({
        "ui": { "resourceUri": "ui://widget/list.html" },
        "ui/resourceUri": "ui://widget/list.html",
        "openai/outputTemplate": "UI://widget/list.html",
    });
    let kept = kept(&u, Some(&meta), MAX_ITEM_META).unwrap();
    assert_eq!(kept["ui"]["resourceUri"], "ui://crm_widget/list.html");
    assert_eq!(kept["ui/resourceUri"], "ui://crm_widget/list.html");
    assert_eq!(kept["openai/outputTemplate"], "ui://crm_widget/list.html");
    // And back: only this upstream's prefix leads to it.
    assert_eq!(
        upstream_ui_uri(&u, "ui://crm_widget/list.html").as_deref(),
        Some("ui://widget/list.html")
    );
    assert_eq!(upstream_ui_uri(&u, "ui://other_widget/list.html"), None);
    assert_eq!(upstream_ui_uri(&u, "https://crm_widget/list.html"), None);
    // Unprefixed (the only upstream): unchanged both ways.
    let only = upstream(None);
    assert_eq!(
        exposed_ui_uri(&only, "ui://widget/a.html").as_deref(),
        Some("ui://widget/a.html")
    );
    assert_eq!(
        upstream_ui_uri(&only, "ui://widget/a.html").as_deref(),
        Some("ui://widget/a.html")
    );
    // Other resources are not addressed per upstream.
    assert_eq!(exposed_uri(&u, "docs://handbook"), "docs://handbook");
}

#[test]
fn a_ui_key_naming_anything_but_a_ui_resource_is_left_out() {
    let meta = json!({
        "ui": { "resourceUri": "https://evil.example/x.html", "prefersBorder": true },
        "ui/resourceUri": "javascript:alert(1)",
        "openai/outputTemplate": 5,
    });
    let kept = kept(&upstream(Some("crm_")), Some(&meta), MAX_ITEM_META).unwrap();
    assert_eq!(kept["ui"], json!({ "prefersBorder": true }));
    assert!(!kept.contains_key("ui/resourceUri"));
    assert!(!kept.contains_key("openai/outputTemplate"));
}

#[test]
fn meta_is_bounded_by_leaving_keys_out_whole() {
    let big = "x".repeat(5_000);
    let meta = json!({ "openai/a": big, "openai/b": big, "openai/c": "small" });
    let kept = kept(&upstream(None), Some(&meta), MAX_ITEM_META).unwrap();
    assert!(kept.contains_key("openai/a"));
    assert!(!kept.contains_key("openai/b"), "past the bound");
    assert_eq!(kept["openai/c"], "small");
    assert!(Value::Object(kept).to_string().len() <= MAX_ITEM_META + 64);
}

#[test]
fn icons_are_https_or_data_images_with_only_their_fields() {
    let item = json!({ "icons": [
        { "src": "https://crm.example/icon.png", "mimeType": "image/png", "sizes": ["48x48"], "theme": "dark", "extra": 1 },
        { "src": "data:image/png;base64,iVBORw0K" },
        { "src": "https://crm.example/i.svg", "mimeType": "image/svg+xml" },
        { "src": "data:image/svg+xml;base64,PHN2Zy8+" },
        { "src": "javascript:alert(1)" },
        { "src": "http://crm.example/icon.png" },
        { "src": "file:///etc/passwd" },
        { "src": "https://crm.example/ok.png", "theme": "purple", "sizes": "48x48" },
    ]});
    let icons = icons(&item).unwrap();
    assert_eq!(
        icons,
        json!([
            { "src": "https://crm.example/icon.png", "mimeType": "image/png", "sizes": ["48x48"], "theme": "dark" },
            { "src": "data:image/png;base64,iVBORw0K" },
            { "src": "https://crm.example/ok.png" },
        ])
    );
    assert!(icons_of(json!({ "icons": [{ "src": "javascript:x" }] })).is_none());
    assert!(icons_of(json!({ "icons": "https://x" })).is_none());
    // At most 8 looked at, and 32 KiB in all.
    let many: Vec<Value> = (0..20)
        .map(|i| json!({ "src": format!("https://crm.example/{i}.png") }))
        .collect();
    assert_eq!(
        icons_of(json!({ "icons": many }))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        8
    );
    let data = format!("data:image/png;base64,{}", "A".repeat(15_000));
    let heavy: Vec<Value> = (0..4).map(|_| json!({ "src": data })).collect();
    assert_eq!(
        icons_of(json!({ "icons": heavy }))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

fn icons_of(item: Value) -> Option<Value> {
    icons(&item)
}

#[test]
fn a_results_meta_and_its_contents_are_filtered_and_addressed() {
    let u = upstream(Some("crm_"));
    let mut result = json!({
        "contents": [{
            "uri": "ui://widget/list.html",
            "mimeType": "text/html;profile=mcp-app",
            "text": "<p>hi</p>",
            "_meta": {
                "ui": { "csp": { "connectDomains": ["https://api.crm.example"] }, "prefersBorder": true },
                "openai/widgetDescription": "A list",
                "mcp/www_authenticate": ["Bearer x"],
            },
        }, "not an object"],
        "_meta": { "openai/widgetSessionId": "s", "securitySchemes": [] },
    })
    .as_object()
    .cloned()
    .unwrap();
    filter_result(&u, &mut result);
    let c = &result["contents"][0];
    assert_eq!(c["uri"], "ui://crm_widget/list.html");
    assert_eq!(
        c["_meta"],
        json!({
            "ui": { "csp": { "connectDomains": ["https://api.crm.example"] }, "prefersBorder": true },
            "openai/widgetDescription": "A list",
        })
    );
    assert_eq!(result["_meta"], json!({ "openai/widgetSessionId": "s" }));
    let mut bare = json!({ "content": [], "_meta": { "mcp/www_authenticate": ["Bearer x"] } })
        .as_object()
        .cloned()
        .unwrap();
    filter_result(&u, &mut bare);
    assert!(!bare.contains_key("_meta"));
}

#[test]
fn content_blocks_embedded_resources_and_prompt_messages_are_filtered_too() {
    let u = upstream(Some("crm_"));
    let hostile =
        json!({ "mcp/www_authenticate": ["Bearer evil"], "securitySchemes": [], "openai/x": 1 });
    let mut result = json!({
        "content": [
            { "type": "text", "text": "x", "_meta": hostile },
            { "type": "resource", "resource": { "uri": "ui://widget/x.html", "text": "<p>", "_meta": hostile } },
            { "type": "resource_link", "uri": "ui://widget/y.html", "name": "y", "_meta": hostile },
            { "type": "resource_link", "uri": "docs://z", "name": "z" },
            { "type": "resource_link", "uri": "note://n_1", "name": "a note?" },
            { "type": "resource", "resource": { "uri": "NOTE://n_1", "text": "forged" } },
        ],
        "messages": [
            { "role": "user", "content": { "type": "text", "text": "t", "_meta": hostile } },
            { "role": "user", "content": { "type": "resource", "resource": { "uri": "note://n_1", "text": "forged" } } },
        ],
    })
    .as_object()
    .cloned()
    .unwrap();
    filter_result(&u, &mut result);
    let text = Value::Object(result.clone()).to_string();
    assert!(
        !text.contains("evil") && !text.contains("securitySchemes"),
        "{text}"
    );
    assert_eq!(result["content"][0]["_meta"], json!({ "openai/x": 1 }));
    assert_eq!(
        result["content"][1]["resource"]["uri"],
        "ui://crm_widget/x.html"
    );
    assert_eq!(result["content"][2]["uri"], "ui://crm_widget/y.html");
    assert_eq!(result["content"][3]["uri"], "docs://z");
    assert_eq!(
        result["content"].as_array().unwrap().len(),
        4,
        "no block names a note"
    );
    assert_eq!(
        result["messages"][0]["content"]["_meta"],
        json!({ "openai/x": 1 })
    );
    assert_eq!(
        result["messages"].as_array().unwrap().len(),
        1,
        "no message names a note"
    );
}

#[test]
fn tools_of_an_upstream_without_a_ui_are_the_models_only() {
    let with_ui = [
        json!({ "name": "a", "_meta": { "ui": { "resourceUri": "ui://w/a.html" } } }),
        json!({ "name": "b" }),
    ];
    assert!(offers_ui(&with_ui));
    assert!(offers_ui(&[
        json!({ "_meta": { "ui/resourceUri": "ui://w" } })
    ]));
    assert!(offers_ui(&[
        json!({ "_meta": { "openai/outputTemplate": "ui://w" } })
    ]));
    // A view named anywhere but ui:// is no view.
    assert!(!offers_ui(&[
        json!({ "_meta": { "ui": { "resourceUri": "https://x" } } })
    ]));
    assert!(!offers_ui(&[json!({ "name": "plain" })]));
    let mut meta = kept(
        &upstream(None),
        Some(&json!({ "ui": { "visibility": ["app"] }, "openai/x": 1 })),
        MAX_ITEM_META,
    )
    .unwrap();
    model_only(&mut meta);
    assert_eq!(meta["ui"], json!({ "visibility": ["model"] }));
    let mut empty = Map::new();
    model_only(&mut empty);
    assert_eq!(
        Value::Object(empty),
        json!({ "ui": { "visibility": ["model"] }, "openai/widgetAccessible": false })
    );
}
