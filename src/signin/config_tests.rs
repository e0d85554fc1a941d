//! Tests of `config`.

use super::*;

fn env() -> Environment<'static> {
    Environment {
        secret_len: &|n| match n {
            "SHORT_SECRET" => Some(8),
            n if n.ends_with("_SECRET") || n == "GH_TOKEN" => Some(40),
            _ => None,
        },
        is_role: &|r| ["admin", "staff"].contains(&r),
    }
}

fn parse_one(item: &str) -> Result<Provider, ConfigError> {
    parse(Some(&format!("[{item}]")), &env()).map(|mut v| v.remove(0))
}

#[test]
fn every_kind_says_its_flow() {
    let oidc = Kind::Oidc {
        issuer: GOOGLE_ISSUER.into(),
    };
    let github = Kind::GitHub {
        web: "https://github.com".into(),
        api: "https://api.github.com".into(),
        membership_token: None,
    };
    let handoff = Kind::Handoff {
        login_url: "https://app.example/login".into(),
    };
    let check = Kind::PasswordCheck {
        url: "https://app.example/check".into(),
    };
    assert_eq!(oidc.flow(), Flow::Callback);
    assert_eq!(github.flow(), Flow::Callback);
    assert_eq!(handoff.flow(), Flow::Handoff);
    assert_eq!(check.flow(), Flow::PasswordCheck);
}

#[test]
fn presets_fill_in_what_they_know() {
    let g = parse_one(
        r#"{"id":"google","type":"google","client_id":"c","client_secret":{"secret":"G_SECRET"},"allow":{"hosted_domains":["Example.com"]}}"#,
    )
    .unwrap();
    assert_eq!(g.name, "Google");
    assert_eq!(
        g.kind,
        Kind::Oidc {
            issuer: GOOGLE_ISSUER.into()
        }
    );
    assert_eq!(g.identity_namespace(), "oidc:https://accounts.google.com");
    assert_eq!(g.allow.unwrap().hosted_domains, vec!["example.com"]);
    let gh = parse_one(
        r#"{"id":"github","type":"github","client_id":"c","client_secret":{"secret":"GH_SECRET"},"allow":{"github_teams":["acme/eng"]},"membership_token":{"secret":"GH_TOKEN"}}"#,
    )
    .unwrap();
    assert_eq!(gh.identity_namespace(), "github:github.com");
    assert_eq!(gh.scopes, vec!["read:user", "user:email"]);
    let o = parse_one(
        r#"{"id":"corp","type":"oidc","name":"Corp","issuer":"http://127.0.0.1:9000/","client_id":"c","client_secret":{"secret":"C_SECRET"}}"#,
    )
    .unwrap();
    assert_eq!(
        o.kind,
        Kind::Oidc {
            issuer: "http://127.0.0.1:9000/".into()
        }
    );
    assert_eq!(o.allow, None);
    assert!(parse(None, &env()).unwrap().is_empty());
}

#[test]
fn mistakes_name_their_setting() {
    let cases = [
        (
            r#"{"id":"x","type":"oidc","name":"X","issuer":"http://idp.example","client_id":"c","client_secret":{"secret":"C_SECRET"}}"#,
            "SIGNIN_PROVIDERS[0].issuer",
        ),
        (
            r#"{"id":"x","type":"oidc","name":"X","issuer":"https://idp.example","client_id":"c","client_secret":{"secret":"UNSET"}}"#,
            "SIGNIN_PROVIDERS[0].client_secret.secret",
        ),
        (
            r#"{"id":"x","type":"oidc","issuer":"https://idp.example","client_id":"c","client_secret":{"secret":"C_SECRET"}}"#,
            "SIGNIN_PROVIDERS[0].name",
        ),
        (
            r#"{"id":"X Y","type":"google","client_id":"c","client_secret":{"secret":"C_SECRET"}}"#,
            "SIGNIN_PROVIDERS[0].id",
        ),
        (
            r#"{"id":"g","type":"github","client_id":"c","client_secret":{"secret":"C_SECRET"},"allow":{"github_orgs":["acme"]}}"#,
            "SIGNIN_PROVIDERS[0].membership_token",
        ),
        (
            r#"{"id":"g","type":"google","client_id":"c","client_secret":{"secret":"C_SECRET"},"allow":{"domains":["a"]}}"#,
            "SIGNIN_PROVIDERS[0].allow.domains",
        ),
        (
            r#"{"id":"h","type":"handoff","name":"App","login_url":"https://app.example/login"}"#,
            "SIGNIN_PROVIDERS[0].shared_secret",
        ),
        (
            r#"{"id":"h","type":"handoff","name":"App","login_url":"https://app.example/login","shared_secret":{"secret":"SHORT_SECRET"}}"#,
            "SIGNIN_PROVIDERS[0].shared_secret.secret",
        ),
        (
            r#"{"id":"g","type":"google","client_id":"c","client_secret":{"secret":"C_SECRET"},"emails_verified":true}"#,
            "SIGNIN_PROVIDERS[0].emails_verified",
        ),
        (
            r#"{"id":"g","type":"oidc","name":"X","issuer":"https://idp.example","client_id":"c","client_secret":{"secret":"C_SECRET"},"emails_verified":true,"link_by_email":true}"#,
            "SIGNIN_PROVIDERS[0].emails_verified",
        ),
        (
            r#"{"id":"g","type":"oidc","name":"X","issuer":"https://idp.example","client_id":"c","client_secret":{"secret":"C_SECRET"},"token_endpoint_auth_method":"none"}"#,
            "SIGNIN_PROVIDERS[0].token_endpoint_auth_method",
        ),
        (
            r#"{"id":"g","type":"google","client_id":"c","client_secret":{"secret":"C_SECRET"},"colour":1}"#,
            "SIGNIN_PROVIDERS[0].colour",
        ),
        (
            r#"{"id":"g","type":"oidc","name":"X","issuer":"https://idp.example","client_id":"c","client_secret":{"secret":"C_SECRET"},"scopes":["email"]}"#,
            "SIGNIN_PROVIDERS[0].scopes",
        ),
    ];
    for (item, setting) in cases {
        let e = parse_one(item).unwrap_err();
        assert_eq!(e.setting, setting, "{item}: {e}");
    }
    let two = r#"[{"id":"a","type":"google","client_id":"c","client_secret":{"secret":"C_SECRET"}},{"id":"a","type":"google","client_id":"c","client_secret":{"secret":"C_SECRET"}}]"#;
    assert_eq!(
        parse(Some(two), &env()).unwrap_err().setting,
        "SIGNIN_PROVIDERS[1].id"
    );
}

#[test]
fn roles_map_only_roles_scopes_declares_and_github_needs_its_token() {
    let p = parse_one(
        r#"{"id":"corp","type":"oidc","name":"Corp","issuer":"https://id.example","client_id":"c",
        "client_secret":{"secret":"CORP_SECRET"},"roles":{"claim":"roles","map":{"mcp-admins":"admin"}}}"#,
    )
    .unwrap();
    let roles = p.roles.unwrap();
    assert_eq!(roles.claim, "roles");
    assert_eq!(roles.map, [("mcp-admins".to_string(), "admin".to_string())]);
    let e = parse_one(
        r#"{"id":"corp","type":"oidc","name":"Corp","issuer":"https://id.example","client_id":"c",
        "client_secret":{"secret":"CORP_SECRET"},"roles":{"map":{"x":"boss"}}}"#,
    )
    .unwrap_err();
    assert_eq!(e.setting, "SIGNIN_PROVIDERS[0].roles.map.x");
    let e = parse_one(
        r#"{"id":"gh","type":"github","client_id":"c","client_secret":{"secret":"GH_SECRET"},
        "roles":{"map":{"acme":"staff"}}}"#,
    )
    .unwrap_err();
    assert_eq!(e.setting, "SIGNIN_PROVIDERS[0].roles");
    assert!(e.message.contains("membership_token"), "{e}");
}
