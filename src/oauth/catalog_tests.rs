use super::*;

/// The agent platform's vocabulary of the issue: `mcp:manage` for administrators.
const AGENT: &str = r#"{
  "scopes": [
    {"name": "mcp:read", "description": "See your agents", "default": true},
    {"name": "mcp:execute", "description": "Run your agents", "default": true, "implies": ["mcp:read"]},
    {"name": "mcp:manage", "description": "Manage the workspace", "roles": ["admin"], "implies": ["mcp:execute"]}
  ],
  "write": "mcp:execute",
  "tools": {"delete_*": "mcp:manage", "both": {"all_of": ["mcp:read", "mcp:manage"]}}
}"#;

fn agent() -> Catalog {
    Catalog::from_setting(Some(AGENT)).unwrap()
}

fn error_of(text: &str) -> ConfigError {
    Catalog::from_setting(Some(text)).unwrap_err()
}

#[test]
fn without_the_setting_the_two_scopes_behave_as_always() {
    let c = Catalog::from_setting(None).unwrap();
    assert_eq!(c, Catalog::from_setting(Some("  ")).unwrap());
    assert_eq!(
        c.parse(None).unwrap().to_string(),
        "mcp:read mcp:write offline_access"
    );
    assert_eq!(c.parse(Some(" ")).unwrap(), c.parse(None).unwrap());
    // No implication: a write-only token cannot read, as before.
    assert!(!c.holds(&["mcp:write"], "mcp:read"));
    assert!(!c.has_restricted_scopes());
    assert_eq!(c.resource_scopes(), ["mcp:read", "mcp:write"]);
    assert_eq!(
        c.all_scopes(),
        [
            "mcp:read",
            "mcp:write",
            "openid",
            "profile",
            "email",
            "offline_access"
        ]
    );
    assert_eq!(c.tool_need(&Vec::new(), "x", true), Need::one("mcp:read"));
    assert_eq!(c.tool_need(&Vec::new(), "x", false), Need::one("mcp:write"));
    assert!(c.words("mcp:read").is_none());
}

#[test]
fn parses_in_catalog_order_without_duplicates_and_knows_protocol_scopes() {
    let c = Catalog::default();
    let s = c.parse(Some("email mcp:read  mcp:read openid")).unwrap();
    assert_eq!(s.to_string(), "mcp:read openid email");
    assert!(c
        .parse(Some("mcp:read admin"))
        .unwrap_err()
        .contains("admin"));
    let a = agent();
    assert_eq!(
        a.parse(Some("offline_access mcp:manage mcp:read"))
            .unwrap()
            .to_string(),
        "mcp:read mcp:manage offline_access"
    );
    assert!(a.parse(Some("mcp:write")).is_err());
}

#[test]
fn defaults_are_the_default_scopes_and_offline_access() {
    assert_eq!(
        agent().parse(None).unwrap().to_string(),
        "mcp:read mcp:execute offline_access"
    );
}

#[test]
fn roles_decide_which_restricted_scopes_a_person_may_hold() {
    let a = agent();
    let asked = a
        .parse(Some("mcp:read mcp:execute mcp:manage email"))
        .unwrap();
    assert_eq!(
        a.allowed_for(&asked, &[]).to_string(),
        "mcp:read mcp:execute email"
    );
    assert_eq!(a.allowed_for(&asked, &["admin"]), asked);
    assert_eq!(
        a.allowed_for(&asked, &["staff"]).to_string(),
        "mcp:read mcp:execute email"
    );
    assert!(a.has_restricted_scopes());
}

#[test]
fn implications_are_transitive_and_checked_as_holding() {
    let a = agent();
    assert!(a.holds(&["mcp:manage"], "mcp:read"));
    assert!(a.holds(&["mcp:execute"], "mcp:read"));
    assert!(!a.holds(&["mcp:read"], "mcp:execute"));
    assert!(a.satisfies(
        &["mcp:manage"],
        &Need::AllOf(vec!["mcp:read".into(), "mcp:manage".into()])
    ));
    assert!(!a.satisfies(
        &["mcp:execute"],
        &Need::AllOf(vec!["mcp:read".into(), "mcp:manage".into()])
    ));
    assert!(a.satisfies(
        &["mcp:read"],
        &Need::AnyOf(vec!["mcp:manage".into(), "mcp:read".into()])
    ));
}

#[test]
fn tools_map_by_glob_else_read_or_write() {
    let a = agent();
    assert_eq!(
        a.tool_need(&Vec::new(), "delete_note", true),
        Need::one("mcp:manage")
    );
    assert_eq!(
        a.tool_need(&Vec::new(), "search", true),
        Need::one("mcp:read")
    );
    assert_eq!(
        a.tool_need(&Vec::new(), "store", false),
        Need::one("mcp:execute")
    );
    // An upstream's own mapping comes first.
    let first = vec![("delete_*".to_string(), Need::one("mcp:read"))];
    assert_eq!(
        a.tool_need(&first, "delete_note", false),
        Need::one("mcp:read")
    );
}

#[test]
fn a_challenge_names_what_is_held_and_what_is_missing() {
    let a = agent();
    assert_eq!(
        a.challenge_scope(&["mcp:read", "email"], &Need::one("mcp:manage")),
        "mcp:read mcp:manage"
    );
    assert_eq!(
        a.challenge_scope(
            &[],
            &Need::AllOf(vec!["mcp:read".into(), "mcp:manage".into()])
        ),
        "mcp:read mcp:manage"
    );
    assert_eq!(
        a.challenge_scope(&["mcp:execute"], &Need::one("mcp:read")),
        "mcp:execute"
    );
}

#[test]
fn stored_scopes_lose_what_the_catalog_no_longer_declares() {
    assert_eq!(
        agent()
            .stored("mcp:read mcp:write offline_access")
            .to_string(),
        "mcp:read offline_access"
    );
}

#[test]
fn security_schemes_say_one_of_or_all_of() {
    assert_eq!(
        Need::AnyOf(vec!["a".into(), "b".into()]).security_schemes(),
        serde_json::json!([{"type":"oauth2","scopes":["a"]},{"type":"oauth2","scopes":["b"]}])
    );
    assert_eq!(
        Need::AllOf(vec!["a".into(), "b".into()]).security_schemes(),
        serde_json::json!([{"type":"oauth2","scopes":["a","b"]}])
    );
}

#[test]
fn every_mistake_names_its_place() {
    let one = |s: &str| format!(r#"{{"scopes":[{s}]}}"#);
    let cases: Vec<(String, &str, &str)> = vec![
        ("[]".into(), "SCOPES", "object"),
        ("{".into(), "SCOPES", "not JSON"),
        (r#"{"scopes":[]}"#.into(), "SCOPES.scopes", "1 to 64"),
        (
            r#"{"scope":[], "scopes":[{"name":"a","description":"A","default":true}]}"#.into(),
            "SCOPES.scope",
            "not a known key",
        ),
        (
            one(r#"{"name":"mcp:read","description":"A","default":true},{"name":"mcp:read","description":"B"}"#),
            "SCOPES.scopes[1].name",
            "declared before",
        ),
        (one(r#"{"name":"a b","description":"A","default":true}"#), "SCOPES.scopes[0].name", "RFC 6749"),
        (one(r#"{"name":"a\"b","description":"A","default":true}"#), "SCOPES.scopes[0].name", "RFC 6749"),
        (one(r#"{"name":"openid","description":"A","default":true}"#), "SCOPES.scopes[0].name", "protocol"),
        (one(r#"{"name":"mcp:read","default":true}"#), "SCOPES.scopes[0].description", "required"),
        (
            one(r#"{"name":"mcp:read","description":"A","default":true,"roles":["boss"]}"#),
            "SCOPES.scopes[0].roles",
            "boss",
        ),
        (
            one(r#"{"name":"mcp:read","description":"A","default":true,"role":["admin"]}"#),
            "SCOPES.scopes[0].role",
            "not a known key",
        ),
        (
            one(r#"{"name":"mcp:read","description":"A","default":true,"roles":[]}"#),
            "SCOPES.scopes[0].roles",
            "no one",
        ),
        (
            one(r#"{"name":"mcp:read","description":"A","default":true,"implies":["mcp:write"]},{"name":"mcp:write","description":"B","implies":["mcp:read"]}"#),
            "SCOPES.scopes[0].implies",
            "cycle",
        ),
        (
            one(r#"{"name":"mcp:read","description":"A","default":true,"implies":["mcp:read"]}"#),
            "SCOPES.scopes[0].implies",
            "cycle",
        ),
        (
            one(r#"{"name":"mcp:read","description":"A","default":true,"implies":["x"]}"#),
            "SCOPES.scopes[0].implies",
            "not declared",
        ),
        (one(r#"{"name":"mcp:read","description":"A"}"#), "SCOPES.scopes", "default"),
        (one(r#"{"name":"files:read","description":"A","default":true}"#), "SCOPES.read", "required"),
        (
            r#"{"scopes":[{"name":"mcp:read","description":"A","default":true},{"name":"mcp:write","description":"B"}],"tools":{"x":"mcp:manage"}}"#.into(),
            "SCOPES.tools.x",
            "does not declare",
        ),
        (
            r#"{"scopes":[{"name":"mcp:read","description":"A","default":true},{"name":"mcp:write","description":"B"}],"tools":{"x":{"any":["mcp:read"]}}}"#.into(),
            "SCOPES.tools.x",
            "any_of",
        ),
        (
            one(r#"{"name":"mcp:read","description":"A","default":true},{"name":"mcp:write","description":"W","implies":["mcp:manage"]},{"name":"mcp:manage","description":"M","roles":["admin"]}"#),
            "SCOPES.scopes[1].implies",
            "only the roles admin",
        ),
        (
            r#"{"roles":["Bad Role"],"scopes":[{"name":"mcp:read","description":"A","default":true}]}"#.into(),
            "SCOPES.roles[0]",
            "letters",
        ),
    ];
    for (text, setting, words) in cases {
        let e = error_of(&text);
        assert_eq!(e.setting, setting, "{text}: {e}");
        assert!(e.message.contains(words), "{text}: {e}");
    }
}

#[test]
fn the_memory_service_and_the_chat_app_vocabularies_parse() {
    let memory = r#"{"scopes":[
        {"name":"mcp:tools","description":"Use the tools","default":true},
        {"name":"mcp:memory","description":"Your memories","default":true},
        {"name":"mcp:coding","description":"Coding help"},
        {"name":"mcp:graph","description":"The knowledge graph"},
        {"name":"mcp:web","description":"Search the web"}],
        "read":"mcp:tools","write":"mcp:tools",
        "tools":{"memory_*":"mcp:memory"}}"#;
    let m = Catalog::from_setting(Some(memory)).unwrap();
    assert_eq!(
        m.tool_need(&Vec::new(), "memory_store", false),
        Need::one("mcp:memory")
    );
    let chat = r#"{"roles":["ops"],"scopes":[
        {"name":"files:read","description":"Read your files","default":true},
        {"name":"files:write","description":"Change your files","implies":["files:read"]},
        {"name":"chat:read","description":"Read your chats","default":true},
        {"name":"chat:write","description":"Send messages","implies":["chat:read"]},
        {"name":"ssh:execute","description":"Run commands on your servers","roles":["ops","admin"]}],
        "read":"files:read","write":"files:write",
        "tools":{"ssh_*":{"all_of":["ssh:execute","files:read"]}}}"#;
    let c = Catalog::from_setting(Some(chat)).unwrap();
    assert_eq!(c.words("ssh:execute"), Some("Run commands on your servers"));
    assert!(c.is_role("ops") && c.is_role("admin") && !c.is_role("boss"));
}

#[test]
fn the_most_specific_glob_wins_whatever_the_json_order() {
    let c = Catalog::from_setting(Some(
        r#"{"scopes":[{"name":"files:read","description":"R","default":true},
        {"name":"files:write","description":"W"},{"name":"files:admin","description":"A","roles":["admin"]}],
        "read":"files:read","write":"files:write",
        "tools":{"files_*":"files:write","files_delete":"files:admin","files_d*":"files:read","*":"files:read"}}"#,
    ))
    .unwrap();
    let need = |n: &str| c.tool_need(&Vec::new(), n, false);
    assert_eq!(need("files_delete"), Need::one("files:admin"));
    assert_eq!(need("files_drop"), Need::one("files:read"));
    assert_eq!(need("files_put"), Need::one("files:write"));
    assert_eq!(need("other"), Need::one("files:read"));
}
