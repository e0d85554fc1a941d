//! Tests of `policy`.

use super::*;
use crate::gateway::config::{Target, DEFAULT_TIMEOUT_MS};
use crate::oauth::catalog::{Catalog, Need};

fn upstream(prefix: Option<&str>, tools: &[&str], scopes: &[(&str, &str)]) -> Upstream {
    Upstream {
        name: "docs".into(),
        target: Target::Url("https://a.example/mcp".into()),
        credential: None,
        timeout_ms: DEFAULT_TIMEOUT_MS,
        tools: tools.iter().map(|t| t.to_string()).collect(),
        scopes: scopes
            .iter()
            .map(|(g, s)| (g.to_string(), Need::one(s)))
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
    let t = rewrite(&u, &Catalog::default(), &tool, true, true).unwrap();
    assert_eq!(t.exposed, "docs_get_doc");
    assert_eq!(t.need, Need::one("mcp:read"));
    assert_eq!(t.entry["securitySchemes"][0]["scopes"][0], "mcp:read");
    assert_eq!(upstream_name(&u, "docs_get_doc"), Some("get_doc"));
    assert_eq!(upstream_name(&u, "other"), None);
    let hidden = json!({"name":"drop_all","inputSchema":{"type":"object"}});
    assert!(rewrite(&u, &Catalog::default(), &hidden, true, true).is_none());
    // No annotation, or the operator's word, means write.
    let del = json!({"name":"delete_doc","inputSchema":{"type":"object"},
        "annotations":{"readOnlyHint":true}});
    assert_eq!(
        rewrite(&u, &Catalog::default(), &del, true, true)
            .unwrap()
            .need,
        Need::one("mcp:write")
    );
    let plain = upstream(None, &["*"], &[]);
    let t = rewrite(
        &plain,
        &Catalog::default(),
        &json!({"name":"x","inputSchema":{"type":"object"}}),
        false,
        true,
    );
    assert_eq!(t.unwrap().need, Need::one("mcp:write"));
}

#[test]
fn an_upstreams_words_are_bounded() {
    let u = upstream(None, &["*"], &[]);
    let long = json!({"name":"x","description":"d".repeat(10_000),"inputSchema":{"type":"object"}});
    let t = rewrite(&u, &Catalog::default(), &long, true, true).unwrap();
    assert!(t.entry["description"].as_str().unwrap().len() <= MAX_DESCRIPTION + 4);
    let huge = json!({"name":"x","inputSchema":{"type":"object","description":"s".repeat(20_000)}});
    assert!(rewrite(&u, &Catalog::default(), &huge, true, true).is_none());
    assert!(rewrite(
        &u,
        &Catalog::default(),
        &json!({"name":"a b","inputSchema":{}}),
        true,
        true
    )
    .is_none());
    assert!(rewrite(&u, &Catalog::default(), &json!({"name":"x"}), true, true).is_none());
}

#[test]
fn prompts_are_named_like_tools_and_bounded() {
    let u = upstream(Some("docs_"), &["*"], &[]);
    let p = json!({"name":"summarize","description":"d".repeat(5_000),
        "arguments":[{"name":"order","required":true,"evil":"x"}],"icons":[]});
    let g = rewrite_prompt(&u, &p).unwrap();
    assert_eq!(g.exposed, "docs_summarize");
    assert_eq!(g.upstream_name, "summarize");
    assert_eq!(
        g.entry["arguments"][0],
        json!({"name":"order","required":true})
    );
    assert!(g.entry["description"].as_str().unwrap().len() <= MAX_DESCRIPTION + 4);
    assert!(g.entry.get("icons").is_none());
    assert!(rewrite_prompt(&u, &json!({"name":"a b"})).is_none());
}

#[test]
fn resources_keep_their_uri_and_never_take_the_notes_scheme() {
    let r = json!({"uri":"docs://handbook","name":"handbook","mimeType":"text/markdown","x":1});
    let e = rewrite_resource(&upstream(None, &["*"], &[]), &r, "uri").unwrap();
    assert_eq!(
        e,
        json!({"uri":"docs://handbook","name":"handbook","mimeType":"text/markdown"})
    );
    assert!(rewrite_resource(
        &upstream(None, &["*"], &[]),
        &json!({"uri":"note://abc"}),
        "uri"
    )
    .is_none());
    assert!(rewrite_resource(
        &upstream(None, &["*"], &[]),
        &json!({"uriTemplate":"a://{x}"}),
        "uriTemplate"
    )
    .is_some());
    assert!(rewrite_resource(&upstream(None, &["*"], &[]), &json!({"uri":""}), "uri").is_none());
}

#[test]
fn templates_match_the_uris_they_expand_to() {
    // Four reserved expansions and no final '!': memoized, not 2,000^4 steps.
    let long = format!("a://{}", "b".repeat(2_000));
    for (t, u, m) in [
        ("orders://{number}", "orders://42", true),
        ("orders://{number}", "orders://", false),
        ("orders://{number}", "orders://4/2", false),
        ("files://{+path}", "files://a/b/c", true),
        ("users://{id}/profile", "users://7/profile", true),
        ("users://{id}/profile", "users://7/other", false),
        (
            "search://items{?q,limit}",
            "search://items?q=a&limit=2",
            true,
        ),
        ("search://items{?q,limit}", "search://items", true),
        ("exact://a", "exact://a", true),
        ("exact://a", "exact://ab", false),
        ("broken://{x", "broken://{x", false),
        ("a://{+x}{+y}{+z}{+w}!", long.as_str(), false),
    ] {
        assert_eq!(template_matches(t, u), m, "{t} {u}");
    }
}

#[test]
fn an_upstream_tool_needs_what_the_operator_mapped_it_to() {
    let c = Catalog::from_setting(Some(
        r#"{"scopes":[{"name":"mcp:read","description":"R","default":true},
        {"name":"mcp:execute","description":"X","default":true},
        {"name":"mcp:manage","description":"M","roles":["admin"]}],
        "write":"mcp:execute","tools":{"docs_admin_*":"mcp:manage"}}"#,
    ))
    .unwrap();
    let own = vec![(
        "run_*".to_string(),
        Need::AllOf(vec!["mcp:execute".into(), "mcp:read".into()]),
    )];
    let u = Upstream {
        scopes: own,
        ..upstream(Some("docs_"), &["*"], &[])
    };
    let schema = json!({"type":"object"});
    let run = rewrite(
        &u,
        &c,
        &json!({"name":"run_job","inputSchema":schema}),
        true,
        true,
    )
    .unwrap();
    assert_eq!(
        run.entry["securitySchemes"],
        json!([{"type":"oauth2","scopes":["mcp:execute","mcp:read"]}])
    );
    // SCOPES.tools matches the exposed name.
    let admin = rewrite(
        &u,
        &c,
        &json!({"name":"admin_purge","inputSchema":schema}),
        true,
        true,
    )
    .unwrap();
    assert_eq!(admin.need, Need::one("mcp:manage"));
    assert_eq!(
        admin.entry["_meta"]["securitySchemes"][0]["scopes"][0],
        "mcp:manage"
    );
    // Otherwise the catalog's write scope.
    let other = rewrite(
        &u,
        &c,
        &json!({"name":"edit","inputSchema":schema}),
        true,
        true,
    )
    .unwrap();
    assert_eq!(other.need, Need::one("mcp:execute"));
}

#[test]
fn an_upstream_without_a_ui_has_its_tools_marked_for_the_model_only() {
    let u = upstream(None, &["*"], &[]);
    let tool = json!({ "name": "t", "inputSchema": { "type": "object" }, "_meta": { "ui": { "visibility": ["model", "app"] } } });
    let catalog = Catalog::default();
    let shown = rewrite(&u, &catalog, &tool, true, true).unwrap();
    assert_eq!(
        shown.entry["_meta"]["ui"]["visibility"],
        json!(["model", "app"])
    );
    let alone = rewrite(&u, &catalog, &tool, true, false).unwrap();
    assert_eq!(alone.entry["_meta"]["ui"]["visibility"], json!(["model"]));
    assert_eq!(alone.entry["_meta"]["openai/widgetAccessible"], false);
}
