//! Tests of `config`.

use super::*;

fn env() -> Environment<'static> {
    Environment {
        has_secret: &|s| s == "DOCS_TOKEN",
        has_service: &|s| s == "DOCS",
        builtin_names: &BUILTIN,
        catalog: &DEFAULT_CATALOG,
    }
}

static DEFAULT_CATALOG: std::sync::LazyLock<crate::oauth::catalog::Catalog> =
    std::sync::LazyLock::new(crate::oauth::catalog::Catalog::default);

const BUILTIN: [&str; 6] = [
    "search",
    "fetch",
    "memory_store",
    "memory_list",
    "memory_delete",
    "about",
];

#[test]
fn the_builtin_names_here_are_the_servers() {
    let names: Vec<&str> = crate::mcp::tools::TOOLS.iter().map(|t| t.name()).collect();
    assert_eq!(names, BUILTIN);
}

fn parse_one(item: &str, builtin: bool) -> Result<Vec<Upstream>, ConfigError> {
    parse(Some(&format!("[{item}]")), builtin, &env())
}

#[test]
fn an_upstream_by_url_or_binding() {
    let u = parse_one(
        r#"{"name":"docs","url":"https://mcp.example.com/mcp","credential":{"secret":"DOCS_TOKEN"}}"#,
        false,
    )
    .unwrap();
    assert_eq!(
        u[0].target,
        Target::Url("https://mcp.example.com/mcp".into())
    );
    assert_eq!(u[0].credential.as_ref().unwrap().header, "Authorization");
    assert_eq!(u[0].prefix, None);
    assert_eq!(u[0].tools, vec!["*"]);
    let u = parse_one(r#"{"name":"docs-2","service":"DOCS"}"#, true).unwrap();
    assert_eq!(
        u[0].target,
        Target::Service {
            binding: "DOCS".into(),
            path: "/mcp".into()
        }
    );
    assert_eq!(u[0].prefix.as_deref(), Some("docs_2_"));
    assert_eq!(parse(None, true, &env()), Ok(vec![]));
}

#[test]
fn bad_settings_name_themselves() {
    for (item, setting) in [
        (
            r#"{"name":"x","url":"http://example.com/mcp"}"#,
            "UPSTREAMS[0].url",
        ),
        (r#"{"name":"x","service":"NOPE"}"#, "UPSTREAMS[0].service"),
        (
            r#"{"name":"x","url":"https://a.example","credential":{"secret":"UNSET"}}"#,
            "UPSTREAMS[0].credential.secret",
        ),
        (
            r#"{"name":"x","url":"https://a.example","credential":{"secret":"DOCS_TOKEN","header":"Cookie"}}"#,
            "UPSTREAMS[0].credential.header",
        ),
        (
            r#"{"name":"Bad Name","url":"https://a.example"}"#,
            "UPSTREAMS[0].name",
        ),
        (r#"{"name":"x"}"#, "UPSTREAMS[0].url"),
        (
            r#"{"name":"x","url":"https://a.example","timeout_ms":5}"#,
            "UPSTREAMS[0].timeout_ms",
        ),
        (
            r#"{"name":"x","url":"https://a.example","colour":1}"#,
            "UPSTREAMS[0].colour",
        ),
        (
            r#"{"name":"x","url":"https://a.example","scopes":{"*":"admin"}}"#,
            "UPSTREAMS[0].scopes.*",
        ),
    ] {
        assert_eq!(
            parse_one(item, false).unwrap_err().setting,
            setting,
            "{item}"
        );
    }
    let twice =
        r#"[{"name":"a","url":"https://a.example"},{"name":"a","url":"https://b.example"}]"#;
    assert_eq!(
        parse(Some(twice), false, &env()).unwrap_err().setting,
        "UPSTREAMS[1].name"
    );
    assert_eq!(
        parse(Some("{"), false, &env()).unwrap_err().setting,
        "UPSTREAMS"
    );
    assert!(parse_one(r#"{"name":"x","url":"http://127.0.0.1:9/mcp"}"#, false).is_ok());
}

#[test]
fn prefixes_that_could_give_two_tools_one_name_are_refused() {
    let two = |a: &str, b: &str| {
        format!(
            r#"[{{"name":"{a}","url":"https://a.example"}},{{"name":"{b}","url":"https://b.example"}}]"#
        )
    };
    // flaky_ + x_ping and flaky_x_ + ping: both flaky_x_ping.
    let e = parse(Some(&two("flaky", "flaky-x")), false, &env()).unwrap_err();
    assert_eq!(e.setting, "UPSTREAMS[1].name");
    assert!(
        e.message.contains("'flaky'") && e.message.contains("'flaky-x'"),
        "{}",
        e.message
    );
    let e = parse(Some(&two("flaky-x", "flaky")), false, &env()).unwrap_err();
    assert!(
        e.message.contains("'flaky_x_' and 'flaky_'"),
        "{}",
        e.message
    );
    assert!(parse(Some(&two("a", "a-b")), false, &env()).is_err());
    assert!(parse(Some(&two("docs", "doc")), false, &env()).is_ok());
    assert!(parse(Some(&two("docs", "files")), false, &env()).is_ok());
    // Beside the built-in tools: memory_ + store would be the built-in memory_store.
    let e = parse_one(r#"{"name":"memory","url":"https://a.example"}"#, true).unwrap_err();
    assert!(e.message.contains("memory_store"), "{}", e.message);
    assert!(parse_one(r#"{"name":"memory","url":"https://a.example"}"#, false).is_ok());
}
