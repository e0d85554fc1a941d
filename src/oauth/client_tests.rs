//! Tests of `client`.

use super::*;
use serde_json::json;

fn named(name: Option<&str>, source: ClientSource) -> Client {
    let mut c = validate_metadata(&json!({"redirect_uris": ["https://app.example/cb"]}))
        .unwrap()
        .into_client("https://app.example/client.json".into(), None, 0, source);
    c.client_name = name.map(str::to_string);
    c
}

#[test]
fn names_are_shown_without_controls_or_direction_overrides() {
    let c = named(
        Some(" Good\u{202e}ppA\u{2069} \n"),
        ClientSource::Registered,
    );
    assert_eq!(c.display_name().as_deref(), Some("GoodppA"));
    assert_eq!(
        named(Some("\u{200f}\t"), ClientSource::Registered).display_name(),
        None
    );
    assert_eq!(named(None, ClientSource::Registered).display_name(), None);
}

#[test]
fn only_metadata_documents_are_vouched_for() {
    assert_eq!(named(None, ClientSource::Registered).vouched_by(), None);
    assert_eq!(
        named(None, ClientSource::MetadataDocument)
            .vouched_by()
            .as_deref(),
        Some("app.example")
    );
    assert_eq!(host_of("cursor://anysphere/cb"), "anysphere");
    assert_eq!(host_of("com.example.app:/cb"), "com.example.app:");
    assert_eq!(host_of("not a uri"), "");
}

#[test]
fn accepts_the_three_kinds_of_redirect_uri() {
    for ok in [
        "https://chatgpt.com/connector_platform_oauth_redirect",
        "http://127.0.0.1:33418/callback",
        "http://[::1]/cb",
        "http://localhost:6274/oauth/callback",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
        "vscode://vscode.github-authentication/did-authenticate",
        "com.example.app:/oauth2redirect/example-provider",
    ] {
        assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
    }
}

#[test]
fn refuses_dangerous_redirect_uris() {
    for bad in [
        "http://example.com/cb",
        "https://example.com/cb#frag",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "https://*.example.com/cb",
        "https://user:pw@example.com/cb",
        "/relative",
        "https://exa mple.com/",
        "mailto:a@example.com",
        "tel:+15551234",
        "sms:+15551234",
        "about:blank",
        "blob:https://app.example/x",
        "vbscript:msgbox(1)",
        "view-source:https://app.example/",
        "ws://127.0.0.1/cb",
        "wss://app.example/cb",
        "javascript://%0aalert(1)",
        "urn:ietf:wg:oauth:2.0:oob",
        "myapp:callback",
        "intent://x#Intent;end",
    ] {
        assert!(validate_redirect_uri(bad).is_err(), "{bad}");
    }
}

#[test]
fn registration_defaults() {
    let m = validate_metadata(&json!({"redirect_uris": ["https://a.example/cb"]})).unwrap();
    assert_eq!(m.grant_types, GrantType::ALL);
    assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
    assert_eq!(m.client_name, None);
}

#[test]
fn registration_errors_name_the_rule() {
    let e = validate_metadata(&json!({})).unwrap_err();
    assert_eq!(e.code(), "invalid_redirect_uri");
    let e = validate_metadata(&json!({"redirect_uris": "https://a.example"})).unwrap_err();
    assert_eq!(e.code(), "invalid_client_metadata");
    let e = validate_metadata(&json!([1])).unwrap_err();
    assert_eq!(e.code(), "invalid_client_metadata");
    let e = validate_metadata(
        &json!({"redirect_uris": ["https://a.example"], "grant_types": ["implicit"]}),
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_client_metadata");
    let e = validate_metadata(&json!({"redirect_uris": ["https://a.example"], "client_name": 5}))
        .unwrap_err();
    assert_eq!(e.code(), "invalid_client_metadata");
}

#[test]
fn words_that_are_not_scopes_are_dropped() {
    let m = validate_metadata(
        &json!({"redirect_uris": ["https://a.example"], "scope": "openid mcp:read a\\b openid"}),
    )
    .unwrap();
    assert_eq!(m.scope.as_deref(), Some("openid mcp:read"));
}

fn client(uris: &[&str]) -> Client {
    validate_metadata(&json!({ "redirect_uris": uris }))
        .unwrap()
        .into_client("c".into(), None, 0, ClientSource::Registered)
}

#[test]
fn redirect_matching_is_exact_except_loopback_port() {
    let c = client(&["https://a.example/cb", "http://127.0.0.1/callback"]);
    assert!(c.match_redirect_uri("https://a.example/cb").is_some());
    assert!(c.match_redirect_uri("https://a.example/cb/").is_none());
    assert!(c.match_redirect_uri("https://a.example/cb?x=1").is_none());
    assert!(c
        .match_redirect_uri("http://127.0.0.1:51234/callback")
        .is_some());
    assert!(c
        .match_redirect_uri("http://127.0.0.1:51234/other")
        .is_none());
    assert!(c
        .match_redirect_uri("http://localhost:51234/callback")
        .is_none());
    assert!(!c.loopback_only());
    assert!(client(&["http://localhost:1/cb"]).loopback_only());
    // Only the port may vary: no user information, no fragment, nothing else.
    for other in [
        "http://u:p@127.0.0.1:9/callback",
        "http://u@127.0.0.1:9/callback",
        "http://127.0.0.1:9/callback#x",
        "http://127.0.0.1:9/callback#",
        "http://u:p@127.0.0.1:9/callback#x",
        "http://127.0.0.1:9/callback?",
        "http://127.0.0.1:9/Callback",
    ] {
        assert!(c.match_redirect_uri(other).is_none(), "{other}");
    }
    let with_port = client(&["http://127.0.0.1:8080/cb?a=1"]);
    assert!(with_port
        .match_redirect_uri("http://127.0.0.1/cb?a=1")
        .is_some());
    assert!(with_port
        .match_redirect_uri("http://127.0.0.1:9/cb?a=2")
        .is_none());
}

#[test]
fn one_apps_registrations_share_a_fingerprint_and_another_app_does_not() {
    let meta = |v: serde_json::Value| validate_metadata(&v).unwrap().fingerprint();
    let a = meta(serde_json::json!({
        "client_name": "ChatGPT",
        "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect", "https://chatgpt.com/connector/oauth/x"],
        "token_endpoint_auth_method": "none",
    }));
    // The same app, its callbacks in another order, another connector's path.
    let same = meta(serde_json::json!({
        "client_name": "ChatGPT",
        "redirect_uris": ["https://chatgpt.com/connector/oauth/y", "https://chatgpt.com/connector_platform_oauth_redirect"],
        "token_endpoint_auth_method": "none",
    }));
    assert_eq!(a, same);
    for other in [
        serde_json::json!({ "client_name": "ChatGPT 2", "redirect_uris": ["https://chatgpt.com/connector/oauth/x", "https://chatgpt.com/connector_platform_oauth_redirect"], "token_endpoint_auth_method": "none" }),
        serde_json::json!({ "client_name": "ChatGPT", "redirect_uris": ["https://evil.example/connector/oauth/x"], "token_endpoint_auth_method": "none" }),
        serde_json::json!({ "client_name": "ChatGPT", "redirect_uris": ["https://chatgpt.com/connector/oauth/x", "https://chatgpt.com/connector_platform_oauth_redirect"] }),
    ] {
        assert_ne!(a, meta(other));
    }
    assert_eq!(a.len(), 43, "a SHA-256, base64url");
}
