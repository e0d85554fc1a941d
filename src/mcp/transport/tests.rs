use super::*;
use serde_json::json;

fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn modern_meta() -> Value {
    json!({ "_meta": { META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: {} } })
}

fn headers<'a>(version: &'a str, method: &'a str, name: Option<&'a str>) -> McpHeaders<'a> {
    McpHeaders {
        protocol_version: Some(version),
        session_id: None,
        method: Some(method),
        name,
    }
}

#[test]
fn the_era_follows_the_body_version_or_the_2026_header() {
    let none = McpHeaders::default();
    assert_eq!(era(&none, None), Ok(Era::Session));
    let old = McpHeaders {
        protocol_version: Some("2025-06-18"),
        ..none
    };
    assert_eq!(era(&old, None), Ok(Era::Session));
    let new = McpHeaders {
        protocol_version: Some("2026-07-28"),
        ..none
    };
    assert_eq!(era(&new, None), Ok(Era::Stateless));
    let p = params(modern_meta());
    assert_eq!(era(&none, Some(&p)), Ok(Era::Stateless));
    let unknown = McpHeaders {
        protocol_version: Some("1999-01-01"),
        ..none
    };
    let r = era(&unknown, None).unwrap_err();
    assert_eq!((r.status, r.error.code), (400, -32022));
}

#[test]
fn stateless_checks_run_in_the_specified_order() {
    let code = |h: McpHeaders, m: &str, p: Value| {
        check_stateless(&h, m, &params(p)).map_err(|r| (r.status, r.error.code))
    };
    // Good.
    assert_eq!(
        code(
            headers("2026-07-28", "tools/list", None),
            "tools/list",
            modern_meta()
        ),
        Ok(())
    );
    // _meta fields first, even with a good header.
    assert_eq!(
        code(
            headers("2026-07-28", "tools/list", None),
            "tools/list",
            json!({})
        ),
        Err((400, -32602))
    );
    let no_caps = json!({ "_meta": { META_PROTOCOL_VERSION: "2026-07-28" } });
    assert_eq!(
        code(
            headers("2026-07-28", "tools/list", None),
            "tools/list",
            no_caps
        ),
        Err((400, -32602))
    );
    // Header version disagrees with the body.
    let v999 =
        json!({ "_meta": { META_PROTOCOL_VERSION: "v999.0.0", META_CLIENT_CAPABILITIES: {} } });
    assert_eq!(
        code(
            headers("2026-07-28", "tools/list", None),
            "tools/list",
            v999.clone()
        ),
        Err((400, -32020))
    );
    // Both name an unknown version.
    let r = check_stateless(
        &headers("v999.0.0", "tools/list", None),
        "tools/list",
        &params(v999),
    )
    .unwrap_err();
    assert_eq!((r.status, r.error.code), (400, -32022));
    assert_eq!(r.error.data.as_ref().unwrap()["requested"], "v999.0.0");
    // Missing or wrong Mcp-Method; values are case-sensitive.
    let mut h = headers("2026-07-28", "tools/list", None);
    h.method = None;
    assert_eq!(code(h, "tools/list", modern_meta()), Err((400, -32020)));
    assert_eq!(
        code(
            headers("2026-07-28", "TOOLS/LIST", None),
            "tools/list",
            modern_meta()
        ),
        Err((400, -32020))
    );
    // Mcp-Name for tools/call.
    let mut call = modern_meta();
    call["name"] = json!("search");
    assert_eq!(
        code(
            headers("2026-07-28", "tools/call", Some("search")),
            "tools/call",
            call.clone()
        ),
        Ok(())
    );
    assert_eq!(
        code(
            headers("2026-07-28", "tools/call", Some("  search  ")),
            "tools/call",
            call.clone()
        ),
        Ok(())
    );
    assert_eq!(
        code(
            headers("2026-07-28", "tools/call", Some("fetch")),
            "tools/call",
            call.clone()
        ),
        Err((400, -32020))
    );
    assert_eq!(
        code(
            headers("2026-07-28", "tools/call", None),
            "tools/call",
            call.clone()
        ),
        Err((400, -32020))
    );
    // The base64 form of a value.
    call["name"] = json!("café");
    let encoded = format!("=?base64?{}?=", "Y2Fmw6k=");
    assert_eq!(
        code(
            headers("2026-07-28", "tools/call", Some(&encoded)),
            "tools/call",
            call
        ),
        Ok(())
    );
}

#[test]
fn accept_and_content_type() {
    assert_eq!(accepts(None), Some(Accepts { sse: true }));
    assert_eq!(
        accepts(Some("application/json, text/event-stream")),
        Some(Accepts { sse: true })
    );
    assert_eq!(
        accepts(Some("application/json")),
        Some(Accepts { sse: false })
    );
    assert_eq!(accepts(Some("*/*")), Some(Accepts { sse: true }));
    assert_eq!(accepts(Some("text/html")), None);
    assert_eq!(accepts(Some("application/json;q=0, text/html")), None);
    assert!(is_json_content_type(Some(
        "application/json; charset=utf-8"
    )));
    assert!(!is_json_content_type(Some("text/plain")));
    assert!(!is_json_content_type(None));
}

#[test]
fn origins() {
    let issuer = "https://mcp.example.com";
    let extra = vec!["https://app.example.org".to_string()];
    for ok in [
        "https://mcp.example.com",
        "https://chatgpt.com",
        "https://chat.openai.com",
        "https://claude.ai",
        "https://app.example.org",
    ] {
        assert!(origin_allowed(ok, issuer, &extra), "{ok}");
    }
    for bad in [
        "https://evil.example",
        "http://chatgpt.com",
        "https://chatgpt.com.evil.example",
        "null",
        "http://localhost:6274",
    ] {
        assert!(!origin_allowed(bad, issuer, &extra), "{bad}");
    }
    assert!(origin_allowed(
        "http://localhost:6274",
        "http://127.0.0.1:8787",
        &[]
    ));
    assert!(!origin_allowed(
        "http://localhost:6275",
        "http://127.0.0.1:8787",
        &[]
    ));
}

#[test]
fn the_challenge_names_metadata_and_scopes() {
    let c = challenge(
        "https://x/.well-known/oauth-protected-resource/mcp",
        "mcp:read mcp:write",
        None,
    );
    assert_eq!(c, "Bearer resource_metadata=\"https://x/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:read mcp:write\"");
    assert!(challenge("m", "mcp:read", Some("expired"))
        .ends_with(", error=\"invalid_token\", error_description=\"expired\""));
}
