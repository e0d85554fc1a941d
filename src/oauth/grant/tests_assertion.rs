//! `private_key_jwt` as whole requests on the same harness: an app of a metadata document
//! signs assertions with its Ed25519 key (RS256 and ES256 are checked by WebCrypto, end to
//! end in `tests/private-key-jwt.test.mjs`), at `/token`, `/revoke` and `/introspect`.

use super::*;
use crate::oauth::client_assertion::JWT_BEARER;
use serde_json::json;

const APP: &str = "https://app.example/client.json";

struct Key {
    pair: ed25519_compact::KeyPair,
    kid: &'static str,
}

impl Key {
    fn new(seed: u8, kid: &'static str) -> Key {
        Key {
            pair: ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32])),
            kid,
        }
    }

    fn jwk(&self) -> Value {
        json!({ "kty": "OKP", "crv": "Ed25519", "x": b64url(&self.pair.pk[..]), "kid": self.kid, "use": "sig" })
    }

    fn sign(&self, header: Value, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = self.pair.sk.sign(input.as_bytes(), None);
        format!("{input}.{}", b64url(&signature[..]))
    }
}

fn app(jwks: Option<Value>, uri: bool) -> Client {
    let mut c = client(APP, AuthMethod::PrivateKeyJwt, None);
    c.source = ClientSource::MetadataDocument;
    c.jwks = jwks;
    if uri {
        c.jwks_uri = Some("https://app.example/jwks.json".into());
    }
    c
}

fn harness(client: Client) -> H {
    let mut h = H::new();
    h.world.clients.insert(APP.into(), client);
    h
}

fn now(h: &H) -> u64 {
    h.world.clock.get() / 1000
}

fn claims(h: &H, jti: &str) -> Value {
    json!({ "iss": APP, "sub": APP, "aud": ISSUER, "exp": now(h) + 60, "iat": now(h), "jti": jti })
}

fn header(key: &Key) -> Value {
    json!({ "alg": "EdDSA", "kid": key.kid, "typ": "JWT" })
}

/// The code exchange with this assertion (and `client_id` unless `None`).
fn redeem_with(h: &H, assertion: &str, client_id: Option<&str>) -> Result<Issued, OAuthError> {
    let code = h.code(APP, "u1");
    let mut list = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        list.push(("client_id", id));
    }
    h.token(&list, None)
}

#[test]
fn a_signed_assertion_authenticates_and_its_jti_works_once() {
    let key = Key::new(3, "k1");
    let h = harness(app(Some(json!({ "keys": [key.jwk()] })), false));
    let assertion = key.sign(header(&key), claims(&h, "j-1"));
    let issued = redeem_with(&h, &assertion, Some(APP)).unwrap();
    assert!(issued.refresh_token.is_some());
    // The same assertion again: a replay, refused however fresh the code.
    assert_eq!(
        code_of(redeem_with(&h, &assertion, Some(APP))),
        "invalid_client"
    );
    // Without client_id the assertion's subject names the app (RFC 7521 §4.2).
    let other = key.sign(header(&key), claims(&h, "j-2"));
    assert!(redeem_with(&h, &other, None).is_ok());
}

#[test]
fn every_bad_assertion_is_invalid_client_and_burns_no_jti() {
    let key = Key::new(3, "k1");
    let stranger = Key::new(9, "k1");
    let h = harness(app(Some(json!({ "keys": [key.jwk()] })), false));
    let n = now(&h);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims(&h, "j-bad");
        change(&mut c);
        key.sign(header(&key), c)
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "another key",
            stranger.sign(header(&key), claims(&h, "j-bad")),
        ),
        (
            "iss",
            with(&|c| c["iss"] = json!("https://evil.example/c.json")),
        ),
        ("sub", with(&|c| c["sub"] = json!("someone"))),
        ("aud", with(&|c| c["aud"] = json!("https://other.example"))),
        (
            "aud list",
            with(&|c| c["aud"] = json!(["https://other.example"])),
        ),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        ("expired", with(&|c| c["exp"] = json!(n - 31))),
        ("far exp", with(&|c| c["exp"] = json!(n + 3600))),
        ("future nbf", with(&|c| c["nbf"] = json!(n + 300))),
        ("future iat", with(&|c| c["iat"] = json!(n + 300))),
        (
            "no jti",
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
        ),
        ("long jti", with(&|c| c["jti"] = json!("x".repeat(300)))),
        (
            "alg none",
            key.sign(json!({ "alg": "none" }), claims(&h, "j-bad")),
        ),
        (
            "HS256",
            key.sign(json!({ "alg": "HS256", "kid": "k1" }), claims(&h, "j-bad")),
        ),
        (
            "unknown kid",
            key.sign(json!({ "alg": "EdDSA", "kid": "k9" }), claims(&h, "j-bad")),
        ),
        (
            "crit",
            key.sign(
                json!({ "alg": "EdDSA", "kid": "k1", "crit": ["exp"] }),
                claims(&h, "j-bad"),
            ),
        ),
        ("not a JWT", "abc.def".to_string()),
    ];
    for (what, assertion) in cases {
        assert_eq!(
            code_of(redeem_with(&h, &assertion, Some(APP))),
            "invalid_client",
            "{what}"
        );
    }
    assert!(
        h.world.used_jtis.borrow().is_empty(),
        "no refused assertion records its jti"
    );
    // The client_id sent must be the assertion's app.
    let good = key.sign(header(&key), claims(&h, "j-ok"));
    assert_eq!(
        code_of(redeem_with(&h, &good, Some("app"))),
        "invalid_client"
    );
    // And the good one still works afterwards.
    assert!(redeem_with(&h, &good, Some(APP)).is_ok());
    // The doctor says why, never with the assertion in it.
    let marks = h.world.marks.borrow();
    assert!(marks.iter().any(|m| m
        .stopped
        .as_deref()
        .is_some_and(|c| c.contains("signature"))));
    assert!(!format!("{marks:?}").contains(&good));
}

#[test]
fn an_assertion_is_one_method_with_the_type_it_names() {
    let key = Key::new(3, "k1");
    let h = harness(app(Some(json!({ "keys": [key.jwk()] })), false));
    let assertion = key.sign(header(&key), claims(&h, "j-1"));
    let code = h.code(APP, "u1");
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", APP),
    ];
    let with = |extra: &[(&str, &str)], basic: Option<&str>| {
        let mut list = base.to_vec();
        list.extend_from_slice(extra);
        code_of(h.token(&list, basic))
    };
    assert_eq!(
        with(
            &[
                ("client_assertion", &assertion),
                ("client_assertion_type", "urn:other")
            ],
            None
        ),
        "invalid_client"
    );
    assert_eq!(
        with(&[("client_assertion", &assertion)], None),
        "invalid_request"
    );
    assert_eq!(
        with(
            &[
                ("client_assertion", &assertion),
                ("client_assertion_type", JWT_BEARER),
                ("client_secret", "x")
            ],
            None
        ),
        "invalid_request"
    );
    assert_eq!(
        with(
            &[
                ("client_assertion", &assertion),
                ("client_assertion_type", JWT_BEARER)
            ],
            Some(&basic(APP, "x"))
        ),
        "invalid_request"
    );
    // An app of private_key_jwt cannot come as a public client, by its id alone.
    assert_eq!(with(&[], None), "invalid_client");
    // And a public app cannot send an assertion instead.
    let public = key.sign(
        header(&key),
        json!({ "iss": "app", "sub": "app", "aud": ISSUER, "exp": now(&h) + 60, "jti": "p" }),
    );
    let code = h.code("app", "u1");
    let list = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", "app"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", public.as_str()),
    ];
    assert_eq!(code_of(h.token(&list, None)), "invalid_client");
}

#[test]
fn the_token_endpoint_is_an_audience_too_and_the_registered_alg_binds() {
    let key = Key::new(3, "k1");
    let mut c = app(Some(json!({ "keys": [key.jwk()] })), false);
    c.token_endpoint_auth_signing_alg = Some("ES256".into());
    let h = harness(c);
    let mut claims = claims(&h, "j-1");
    claims["aud"] = json!([format!("{ISSUER}/token")]);
    let assertion = key.sign(header(&key), claims.clone());
    assert_eq!(
        code_of(redeem_with(&h, &assertion, Some(APP))),
        "invalid_client",
        "EdDSA, not ES256"
    );
    let h = harness(app(Some(json!({ "keys": [key.jwk()] })), false));
    assert!(redeem_with(&h, &key.sign(header(&key), claims), Some(APP)).is_ok());
}

#[test]
fn a_key_rotated_in_at_the_jwks_uri_is_fetched_again_once() {
    let old = Key::new(3, "k1");
    let new = Key::new(4, "k2");
    let h = harness(app(None, true));
    *h.world.served_jwks.borrow_mut() = json!({ "keys": [old.jwk()] });
    assert!(redeem_with(&h, &old.sign(header(&old), claims(&h, "j-1")), Some(APP)).is_ok());
    assert_eq!(h.world.jwks_fetches.get(), 1);
    *h.world.served_jwks.borrow_mut() = json!({ "keys": [old.jwk(), new.jwk()] });
    assert!(redeem_with(&h, &new.sign(header(&new), claims(&h, "j-2")), Some(APP)).is_ok());
    assert_eq!(
        h.world.jwks_fetches.get(),
        2,
        "fetched anew for the unknown kid"
    );
}

#[test]
fn revocation_and_introspection_take_assertions_too() {
    let key = Key::new(3, "k1");
    let h = harness(app(Some(json!({ "keys": [key.jwk()] })), false));
    let issued = redeem_with(&h, &key.sign(header(&key), claims(&h, "j-1")), Some(APP)).unwrap();
    let refresh = issued.refresh_token.unwrap();
    let with = |jti: &str, token: &str| {
        form(&[
            ("token", token),
            ("client_id", APP),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &key.sign(header(&key), claims(&h, jti))),
        ])
    };
    let seen = block_on(
        h.grants()
            .introspect(&with("j-2", &issued.access_token), None),
    )
    .unwrap();
    assert!(seen.to_json()["active"].as_bool().unwrap());
    // An assertion used at /token does not work again at /introspect.
    let replay = form(&[
        ("token", issued.access_token.as_str()),
        ("client_id", APP),
        ("client_assertion_type", JWT_BEARER),
        (
            "client_assertion",
            &key.sign(header(&key), claims(&h, "j-2")),
        ),
    ]);
    assert_eq!(
        block_on(h.grants().introspect(&replay, None))
            .unwrap_err()
            .code(),
        "invalid_client"
    );
    block_on(h.grants().revoke(&with("j-3", &refresh), None)).unwrap();
    let after = h.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", APP),
            ("client_assertion_type", JWT_BEARER),
            (
                "client_assertion",
                &key.sign(header(&key), claims(&h, "j-4")),
            ),
        ],
        None,
    );
    assert_eq!(code_of(after), "invalid_grant");
}

#[test]
fn a_refresh_token_of_an_app_that_authenticated_needs_it_to_go_on_doing_so() {
    let key = Key::new(3, "k1");
    let mut h = harness(app(Some(json!({ "keys": [key.jwk()] })), false));
    let issued = redeem_with(&h, &key.sign(header(&key), claims(&h, "j-1")), Some(APP)).unwrap();
    let refresh = issued.refresh_token.unwrap();
    assert!(refresh.starts_with("c."), "marked: {refresh}");
    // Rotation keeps the mark.
    let list = |token: &str, jti: &str, h: &H| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", token.to_string()),
            ("client_id", APP.to_string()),
            ("client_assertion_type", JWT_BEARER.to_string()),
            ("client_assertion", key.sign(header(&key), claims(h, jti))),
        ]
    };
    let pairs = list(&refresh, "j-2", &h);
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let next = h.token(&borrowed, None).unwrap().refresh_token.unwrap();
    assert!(next.starts_with("c."));
    // The document now says none: the token alone, with the client_id, is not enough.
    let mut public = app(None, false);
    public.token_endpoint_auth_method = AuthMethod::None;
    h.world.clients.insert(APP.into(), public);
    let taken = h.refresh(APP, &next);
    assert_eq!(code_of(taken), "invalid_grant");
    // A public app's tokens carry no mark.
    let plain = h.connected().refresh_token.unwrap();
    assert!(!plain.starts_with("c."));
}
