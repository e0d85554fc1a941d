//! The tools, resources and prompts under the operator's own scopes (`SCOPES`).

use super::*;

/// The agent platform's vocabulary: deleting is for administrators (`mcp:manage`), which
/// implies `mcp:execute`, which implies `mcp:read`.
fn agent_catalog() -> Catalog {
    Catalog::from_setting(Some(
        r#"{"scopes":[{"name":"mcp:read","description":"R","default":true},
        {"name":"mcp:execute","description":"X","default":true,"implies":["mcp:read"]},
        {"name":"mcp:manage","description":"M","roles":["admin"],"implies":["mcp:execute"]}],
        "write":"mcp:execute","tools":{"memory_delete":"mcp:manage"},
        "resources":{"note://*":{"all_of":["mcp:read","mcp:execute"]}}}"#,
    ))
    .unwrap()
}

#[test]
fn the_operators_scopes_decide_every_tool_and_the_list_says_so() {
    let notes = MemoryNotes::default();
    let c = agent_catalog();
    let executor = server_with(&notes, "alice", &["mcp:read", "mcp:execute"], &c);
    let stored = structured(&call(
        &executor,
        "2025-06-18",
        "memory_store",
        json!({"text": "x"}),
    ));
    let id = stored["id"].as_str().unwrap().to_string();
    // Mapped to mcp:manage: the challenge names what is held and mcp:manage.
    let r = call(&executor, "2025-06-18", "memory_delete", json!({"id": id}));
    assert_eq!(r["isError"], true, "{r}");
    let challenge = r["_meta"]["mcp/www_authenticate"][0].as_str().unwrap();
    assert!(
        challenge.contains("scope=\"mcp:read mcp:execute mcp:manage\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("needs the mcp:manage scope"),
        "{challenge}"
    );
    // mcp:manage alone passes every check below it, by implication.
    let admin = server_with(&notes, "alice", &["mcp:manage"], &c);
    assert_eq!(
        call(&admin, "2025-06-18", "search", json!({"query": "x"}))["isError"],
        false
    );
    assert_eq!(
        call(&admin, "2025-06-18", "memory_delete", json!({"id": id}))["isError"],
        false
    );
    // The list shows each tool's real scopes.
    let Ok(list) = request(&executor, "2025-06-18", "tools/list", json!({})) else {
        panic!("tools/list failed")
    };
    let scheme = |name: &str| {
        list["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["securitySchemes"]
            .clone()
    };
    assert_eq!(
        scheme("memory_delete"),
        json!([{"type":"oauth2","scopes":["mcp:manage"]}])
    );
    assert_eq!(
        scheme("memory_store"),
        json!([{"type":"oauth2","scopes":["mcp:execute"]}])
    );
    assert_eq!(
        scheme("search"),
        json!([{"type":"oauth2","scopes":["mcp:read"]}])
    );
    // A resource mapped to all of two scopes needs both (implied ones count).
    let reader = server_with(&notes, "alice", &["mcp:read"], &c);
    match request(
        &reader,
        "2025-06-18",
        "resources/read",
        json!({"uri": "note://x"}),
    ) {
        Err(Failure::Scope(scope)) => assert_eq!(scope, "mcp:read mcp:execute"),
        other => panic!("read without mcp:execute: {:?}", other.is_ok()),
    }
    assert!(matches!(
        request(
            &executor,
            "2025-06-18",
            "resources/read",
            json!({"uri": "note://x"})
        ),
        Err(Failure::Rpc(_))
    ));
}

#[test]
fn lists_show_only_the_resources_a_token_may_read() {
    let notes = MemoryNotes::default();
    let c = agent_catalog();
    let executor = server_with(&notes, "alice", &["mcp:read", "mcp:execute"], &c);
    structured(&call(
        &executor,
        "2025-06-18",
        "memory_store",
        json!({"text": "x"}),
    ));
    let listed = |s: &Server| match request(s, "2025-06-18", "resources/list", json!({})) {
        Ok(v) => v["resources"].as_array().map_or(0, Vec::len),
        Err(_) => usize::MAX,
    };
    assert_eq!(listed(&executor), 1);
    // Reading a note needs mcp:read and mcp:execute; a reader lists nothing of them.
    let reader = server_with(&notes, "alice", &["mcp:read"], &c);
    assert_eq!(listed(&reader), 0);
}
