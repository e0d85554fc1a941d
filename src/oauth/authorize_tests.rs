//! Tests of `authorize`.

use super::*;
use crate::oauth::catalog::Catalog;
use crate::oauth::client::{validate_metadata, ClientSource};
use crate::oauth::offer::Offer;
use serde_json::json;

const ISS: &str = "https://as.example";
const RES: &str = "https://as.example/mcp";

fn client() -> Client {
    validate_metadata(&json!({"redirect_uris": ["https://app.example/cb"]}))
        .unwrap()
        .into_client("c1".into(), None, 0, ClientSource::Registered)
}

/// `validate` with this file's issuer, resource and the catalog without `SCOPES`.
fn check(p: &AuthorizeParams, c: Option<Client>) -> Result<AuthorizeRequest, AuthorizeFailure> {
    validate(p, c, ISS, RES, &Catalog::default())
}

fn params() -> AuthorizeParams {
    AuthorizeParams {
        client_id: Some("c1".into()),
        redirect_uri: Some("https://app.example/cb".into()),
        response_type: Some("code".into()),
        state: Some("s1".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        scope: None,
        resource: Some(RES.into()),
        ..AuthorizeParams::default()
    }
}

fn redirect_of(r: Result<AuthorizeRequest, AuthorizeFailure>) -> String {
    match r {
        Err(AuthorizeFailure::Redirect(r)) => match r.deliver(true) {
            Delivery::Redirect(r) => r.location(),
            other => panic!("a signed-in person is redirected, got {other:?}"),
        },
        other => panic!("expected a redirect, got {other:?}"),
    }
}

#[test]
fn errors_before_sign_in_are_shown_not_redirected() {
    let mut p = params();
    p.response_type = Some("x".into());
    let mut named = client();
    named.client_name = Some("Sketchy App".into());
    let Err(AuthorizeFailure::Redirect(r)) = check(&p, Some(named)) else {
        panic!("expected an error for a trusted redirect URI");
    };
    match r.deliver(false) {
        Delivery::Page(unsent) => {
            assert_eq!(unsent.app, "Sketchy App");
            assert_eq!(unsent.redirect_host, "app.example");
            assert!(unsent.description.contains("response_type x"));
        }
        other => panic!("a signed-out person sees a page, got {other:?}"),
    }
}

#[test]
fn a_good_request_validates_with_default_scopes() {
    let r = check(&params(), Some(client())).unwrap();
    assert_eq!(r.scopes.to_string(), "mcp:read mcp:write offline_access");
}

#[test]
fn an_operator_scope_limit_holds_and_a_self_declared_one_does_not() {
    let mut limited = client();
    limited.scope = Some("mcp:read offline_access".into());
    // Self-registered: its scope is a claim, not a limit.
    let r = check(&params(), Some(limited.clone())).unwrap();
    assert_eq!(r.scopes.to_string(), "mcp:read mcp:write offline_access");
    limited.source = ClientSource::Preregistered;
    let r = check(&params(), Some(limited.clone())).unwrap();
    assert_eq!(r.scopes.to_string(), "mcp:read offline_access");
    let mut p = params();
    p.scope = Some("mcp:write".into());
    assert!(redirect_of(check(&p, Some(limited))).contains("error=invalid_scope"));
}

#[test]
fn unknown_client_and_unregistered_redirect_never_redirect() {
    assert!(matches!(
        check(&params(), None),
        Err(AuthorizeFailure::Page(Refusal::UnknownClient))
    ));
    let mut p = params();
    p.redirect_uri = Some("https://evil.example/cb".into());
    assert!(matches!(
        check(&p, Some(client())),
        Err(AuthorizeFailure::Page(Refusal::UnregisteredRedirect))
    ));
}

#[test]
fn other_errors_redirect_with_state_and_iss() {
    let mut p = params();
    p.code_challenge_method = Some("plain".into());
    let loc = redirect_of(check(&p, Some(client())));
    assert!(loc.starts_with("https://app.example/cb?error=invalid_request&"));
    assert!(loc.contains("state=s1"));
    assert!(loc.contains("iss=https%3A%2F%2Fas.example"));
    let mut p = params();
    p.code_challenge = None;
    assert!(redirect_of(check(&p, Some(client()))).contains("error=invalid_request"));
    let mut p = params();
    p.resource = Some("https://other.example/mcp".into());
    assert!(redirect_of(check(&p, Some(client()))).contains("error=invalid_target"));
    let mut p = params();
    p.scope = Some("admin".into());
    assert!(redirect_of(check(&p, Some(client()))).contains("error=invalid_scope"));
    let mut p = params();
    p.response_type = Some("token".into());
    assert!(redirect_of(check(&p, Some(client()))).contains("error=unsupported_response_type"));
}

#[test]
fn repeated_parameters_are_refused() {
    let pairs = vec![
        ("client_id".to_string(), "a".to_string()),
        ("client_id".to_string(), "b".to_string()),
    ];
    assert!(AuthorizeParams::from_pairs(&pairs).is_err());
}

#[test]
fn overlong_parameters_are_refused() {
    for (name, len) in [
        ("state", 2049),
        ("scope", 1025),
        ("resource", 2049),
        ("redirect_uri", 2049),
        ("code_challenge", 129),
        ("response_type", 33),
    ] {
        let pairs = vec![(name.to_string(), "a".repeat(len))];
        let e = AuthorizeParams::from_pairs(&pairs).unwrap_err();
        assert!(e.contains(name), "{e}");
        let pairs = vec![(name.to_string(), "a".repeat(len - 1))];
        assert!(AuthorizeParams::from_pairs(&pairs).is_ok(), "{name}");
    }
}

#[test]
fn an_offer_leaves_out_what_the_roles_do_not_allow_and_is_never_silently_empty() {
    let c = Catalog::from_setting(Some(
        r#"{"scopes":[{"name":"mcp:read","description":"R","default":true},
        {"name":"mcp:execute","description":"X","default":true},
        {"name":"mcp:manage","description":"M","roles":["admin"]}],"write":"mcp:execute"}"#,
    ))
    .unwrap();
    let asked = c.parse(Some("mcp:read mcp:execute mcp:manage")).unwrap();
    let o = Offer::of(&c, &asked, &[]);
    assert!(o.usable());
    assert_eq!(o.granted.to_string(), "mcp:read mcp:execute");
    assert_eq!(o.refused.to_string(), "mcp:manage");
    let all = Offer::of(&c, &asked, &["admin"]);
    assert_eq!(all.granted, asked);
    assert!(all.refused.is_empty());
    // Only a restricted scope (with the protocol's): nothing usable is left.
    let manage = c.parse(Some("mcp:manage offline_access openid")).unwrap();
    let none = Offer::of(&c, &manage, &["staff"]);
    assert!(!none.usable());
    assert_eq!(none.refused, manage);
    // An OpenID-only request is usable without any resource scope.
    let oidc = c.parse(Some("openid email")).unwrap();
    assert!(Offer::of(&c, &oidc, &[]).usable());
}

#[test]
fn prompt_and_max_age_are_read_and_checked() {
    let mut p = params();
    p.prompt = Some("login consent".into());
    p.max_age = Some("300".into());
    p.nonce = Some("n-1".into());
    let r = check(&p, Some(client())).unwrap();
    assert!(r.prompt.login && !r.prompt.none);
    assert_eq!((r.max_age, r.nonce.as_deref()), (Some(300), Some("n-1")));
    // prompt=login: never the old session; after the sign-in the request is asked
    // without it, so it does not ask again.
    assert!(!r.accepts_sign_in_at(1_000, 1_000));
    assert_eq!(after_sign_in(&p).prompt, None);
    assert_eq!(
        after_sign_in(&p).max_age,
        None,
        "max_age=0 must not ask forever"
    );
    p.prompt = None;
    let r = check(&p, Some(client())).unwrap();
    assert!(r.accepts_sign_in_at(1_000, 1_300));
    assert!(!r.accepts_sign_in_at(1_000, 1_301));
    assert!(
        !r.accepts_sign_in_at(0, 1_000),
        "an unknown sign-in time is too old"
    );
    for (prompt, max_age) in [
        ("none login", None),
        ("sometimes", None),
        ("", Some("soon")),
    ] {
        let mut p = params();
        p.prompt = Some(prompt.into());
        p.max_age = max_age.map(str::to_string);
        assert!(
            redirect_of(check(&p, Some(client()))).contains("error=invalid_request"),
            "{prompt} {max_age:?}"
        );
    }
}

#[test]
fn request_objects_are_refused_by_name() {
    let mut p = params();
    p.request = Some("eyJhbGciOiJub25lIn0.e30.".into());
    assert!(redirect_of(check(&p, Some(client()))).contains("error=request_not_supported"));
    let mut p = params();
    p.request_uri = Some("https://app.example/r".into());
    assert!(redirect_of(check(&p, Some(client()))).contains("error=request_uri_not_supported"));
}
