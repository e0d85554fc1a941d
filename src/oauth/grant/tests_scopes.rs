//! The grants with the operator's scopes and roles, per-client lifetimes and OpenID
//! Connect's ID tokens, on the same harness.

use super::*;

/// The agent platform's vocabulary: `mcp:manage` for administrators.
fn agent_catalog() -> Catalog {
    Catalog::from_setting(Some(
        r#"{"scopes":[{"name":"mcp:read","description":"R","default":true},
        {"name":"mcp:write","description":"W","default":true},
        {"name":"mcp:manage","description":"M","roles":["admin"]}]}"#,
    ))
    .unwrap()
}

fn with_roles(h: &H, user: &str, roles: &[&str]) {
    h.store.users.borrow_mut().insert(
        user.into(),
        User {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..User::default()
        },
    );
}

fn code_with_scope(h: &H, user: &str, scope: &str, roles: &str) -> String {
    h.mint(&CodeGrant {
        scope: scope.into(),
        roles: roles.into(),
        ..h.grant("app", user)
    })
}

#[test]
fn a_person_who_loses_a_role_gets_a_narrower_token_at_the_next_refresh() {
    let mut h = H::new();
    h.catalog = agent_catalog();
    with_roles(&h, "u1", &["admin"]);
    let code = code_with_scope(&h, "u1", "mcp:read mcp:manage offline_access", "admin");
    let first = h.redeem("app", &code).unwrap();
    assert_eq!(
        first.scope.to_string(),
        "mcp:read mcp:manage offline_access"
    );
    let claims = claims_of(&h, &first.access_token);
    assert_eq!(claims.roles, ["admin"]);

    with_roles(&h, "u1", &[]);
    let second = h
        .refresh("app", first.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(second.scope.to_string(), "mcp:read offline_access");
    assert!(claims_of(&h, &second.access_token).roles.is_empty());
    assert!(h
        .world
        .events
        .borrow()
        .iter()
        .any(|(e, d)| *e == Event::ScopeNarrowed && d == "u1 mcp:manage"));

    // Given back, the role does not widen the grant again: that needs a new consent.
    with_roles(&h, "u1", &["admin"]);
    let third = h
        .refresh("app", second.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(third.scope.to_string(), "mcp:read offline_access");
}

#[test]
fn a_grant_left_with_nothing_of_the_resource_is_refused_at_refresh() {
    let mut h = H::new();
    h.catalog = agent_catalog();
    with_roles(&h, "u1", &["admin"]);
    let code = code_with_scope(&h, "u1", "mcp:manage offline_access", "admin");
    let first = h.redeem("app", &code).unwrap();
    with_roles(&h, "u1", &[]);
    let e = h
        .refresh("app", first.refresh_token.as_deref().unwrap())
        .unwrap_err();
    assert_eq!(e.code(), "invalid_grant");
}

#[test]
fn a_scope_the_operator_removed_is_dropped_at_refresh() {
    let mut h = H::new();
    let first = h.redeem("app", &h.code("app", "u1")).unwrap();
    assert_eq!(first.scope.to_string(), "mcp:read mcp:write");
    h.catalog = Catalog::from_setting(Some(
        r#"{"scopes":[{"name":"mcp:read","description":"R","default":true}],"write":"mcp:read"}"#,
    ))
    .unwrap();
    let second = h
        .refresh("app", first.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(second.scope.to_string(), "mcp:read");
}

#[test]
fn a_client_with_its_own_lifetimes_gets_them() {
    let mut h = H::new();
    let mut own = client("app", AuthMethod::None, None);
    own.access_token_ttl = Some(120);
    own.refresh_token_ttl = Some(600);
    h.world.clients.insert("app".into(), own);
    let first = h.redeem("app", &h.code("app", "u1")).unwrap();
    assert_eq!(first.expires_in, 120);
    let claims = block_on(access_token::verify(
        &Native,
        &h.keys,
        &first.access_token,
        ISSUER,
        &h.settings.resource,
        h.world.clock.get() / 1000,
    ))
    .unwrap();
    assert_eq!(claims.expires_at - claims.issued_at, 120);
    // Its refresh token is gone after its own lifetime, not the setting's 30 days.
    h.advance(601);
    let e = h
        .refresh("app", first.refresh_token.as_deref().unwrap())
        .unwrap_err();
    assert_eq!(e.code(), "invalid_grant");
}

#[test]
fn roles_asked_again_at_refresh_replace_those_read_with_the_token() {
    let mut h = H::new();
    h.catalog = agent_catalog();
    with_roles(&h, "u1", &["admin"]);
    let code = code_with_scope(&h, "u1", "mcp:read mcp:manage", "admin");
    let first = h.redeem("app", &code).unwrap();
    // GitHub says the person left the team that gave admin: the stored rows are stale.
    *h.world.roles_now.borrow_mut() = Some(Vec::new());
    let second = h
        .refresh("app", first.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(second.scope.to_string(), "mcp:read");
}

/// The header and claims of a compact JWS, after checking its Ed25519 signature.
fn open_eddsa(h: &H, jws: &str) -> (serde_json::Value, serde_json::Value) {
    use crate::oauth::ed25519::Ed25519;
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3);
    let signature = crate::encoding::b64url_decode(parts[2]).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    let key = &h.keys.verifying[0].public;
    assert!(block_on(Native.verify(key, input.as_bytes(), &signature)));
    let part = |i: usize| -> serde_json::Value {
        serde_json::from_slice(&crate::encoding::b64url_decode(parts[i]).unwrap()).unwrap()
    };
    (part(0), part(1))
}

#[test]
fn an_openid_grant_gets_an_id_token_from_the_code_and_from_refresh() {
    let mut h = H::new();
    let mut eddsa = client("app", AuthMethod::None, None);
    eddsa.id_token_signed_response_alg = Some(crate::oauth::id_token::IdAlg::EdDsa);
    h.world.clients.insert("app".into(), eddsa);
    let now = h.world.clock.get() / 1000;
    let code = h.mint(&CodeGrant {
        scope: "mcp:read openid email".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        auth_time: Some(now - 30),
        ..h.grant("app", "u1")
    });
    let first = h.redeem("app", &code).unwrap();
    let (header, claims) = open_eddsa(&h, first.id_token.as_deref().unwrap());
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("EdDSA"), Some("JWT"))
    );
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(
        (claims["aud"].as_str(), claims["azp"].as_str()),
        (Some("app"), Some("app"))
    );
    assert_eq!(claims["sub"], "u1");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["auth_time"], now - 30);
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["email_verified"], true);
    assert!(claims.get("name").is_none(), "no profile scope");
    use sha2::Digest;
    let digest = sha2::Sha512::digest(first.access_token.as_bytes());
    assert_eq!(claims["at_hash"], b64url(&digest[..32]));
    assert!(first.to_json().get("id_token").is_some());
    // §12.2: refreshed, the same person and client, the first sign-in's time, no nonce.
    h.advance(5);
    let second = h
        .refresh("app", first.refresh_token.as_deref().unwrap())
        .unwrap();
    let (_, again) = open_eddsa(&h, second.id_token.as_deref().unwrap());
    assert_eq!(
        (again["sub"].as_str(), again["aud"].as_str()),
        (Some("u1"), Some("app"))
    );
    assert_eq!(again["auth_time"], now - 30);
    assert!(again.get("nonce").is_none());
    assert!(again["iat"].as_u64() > claims["iat"].as_u64());
    // Without openid, no ID token.
    let plain = h.redeem("app", &h.code("app", "u2")).unwrap();
    assert!(plain.id_token.is_none());
    assert!(plain.to_json().get("id_token").is_none());
}

#[test]
fn an_rs256_id_token_without_its_key_falls_back_to_eddsa() {
    // A deployment from before OIDC_SIGNING_KEY: ID tokens still come, EdDSA.
    let h = H::new();
    let code = h.mint(&CodeGrant {
        scope: "openid".into(),
        ..h.grant("app", "u1")
    });
    let issued = h.redeem("app", &code).unwrap();
    let (header, claims) = open_eddsa(&h, issued.id_token.as_deref().unwrap());
    assert_eq!(header["alg"], "EdDSA");
    assert!(claims.get("email").is_none() && claims.get("auth_time").is_none());
}

#[test]
fn a_key_that_cannot_sign_uses_up_nothing() {
    let mut h = H::new();
    let n = b64url(&[7u8; 256]);
    let jwk = format!(
        r#"{{"kty":"RSA","n":"{n}","e":"AQAB","d":"x","p":"x","q":"x","dp":"x","dq":"x","qi":"x"}}"#
    );
    h.rsa = crate::oauth::rsa_key::RsaKeys::load(Some(&jwk), None).unwrap();
    let code = h.mint(&CodeGrant {
        scope: "mcp:read openid offline_access".into(),
        ..h.grant("app", "u1")
    });
    // RS256 cannot be signed here: server_error, and the code is still unused.
    assert_eq!(code_of(h.redeem("app", &code)), "server_error");
    h.rsa = None;
    let issued = h.redeem("app", &code).unwrap();
    assert!(issued.id_token.is_some());
    // Nor does a refresh rotate the token away when the ID token cannot be signed.
    h.rsa = crate::oauth::rsa_key::RsaKeys::load(Some(&jwk), None).unwrap();
    let token = issued.refresh_token.unwrap();
    assert_eq!(code_of(h.refresh("app", &token)), "server_error");
    h.rsa = None;
    assert!(
        h.refresh("app", &token).is_ok(),
        "the refresh token was not used up"
    );
}

#[test]
fn a_pre_registered_clients_narrowed_limit_narrows_its_connections_at_refresh() {
    let mut h = H::new();
    let mut desk = client("desk", AuthMethod::None, None);
    desk.source = ClientSource::Preregistered;
    h.world.clients.insert("desk".into(), desk.clone());
    let code = h.mint(&CodeGrant {
        scope: "mcp:read mcp:write offline_access".into(),
        ..h.grant("desk", "u1")
    });
    let first = h.redeem("desk", &code).unwrap();
    assert_eq!(first.scope.to_string(), "mcp:read mcp:write offline_access");
    // The operator limits it to mcp:read (the console's Save the limits).
    desk.scope = Some("mcp:read offline_access".into());
    h.world.clients.insert("desk".into(), desk.clone());
    let second = h
        .refresh("desk", first.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(second.scope.to_string(), "mcp:read offline_access");
    assert!(h
        .world
        .events
        .borrow()
        .iter()
        .any(|(e, d)| *e == Event::ScopeNarrowed && d == "u1 mcp:write"));
    // Limited to a scope the grant never held: nothing of the resource is left.
    desk.scope = Some("openid".into());
    h.world.clients.insert("desk".into(), desk.clone());
    assert_eq!(
        code_of(h.refresh("desk", second.refresh_token.as_deref().unwrap())),
        "invalid_grant"
    );
    // A self-registered client's own `scope` is only its claim and limits nothing.
    let mut own = client("own", AuthMethod::None, None);
    own.scope = Some("mcp:read".into());
    h.world.clients.insert("own".into(), own);
    let code = h.mint(&CodeGrant {
        scope: "mcp:read mcp:write".into(),
        ..h.grant("own", "u1")
    });
    let issued = h.redeem("own", &code).unwrap();
    let again = h
        .refresh("own", issued.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(again.scope.to_string(), "mcp:read mcp:write");
}
