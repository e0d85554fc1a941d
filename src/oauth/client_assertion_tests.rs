//! Tests of `client_assertion`: each claim rule refuses on its own.

use super::*;
use serde_json::json;

const APP: &str = "https://app.example/c.json";
const NOW: u64 = 1_800_000_000;
const AUD: [&str; 2] = ["https://as.example", "https://as.example/token"];

fn good() -> serde_json::Map<String, Value> {
    json!({ "iss": APP, "sub": APP, "aud": AUD[0], "exp": NOW + 60, "iat": NOW, "jti": "j" })
        .as_object()
        .cloned()
        .unwrap()
}

fn check(change: impl Fn(&mut serde_json::Map<String, Value>)) -> Result<Passed, Refusal> {
    let mut c = good();
    change(&mut c);
    check_claims(&c, APP, &AUD, NOW)
}

#[test]
fn a_good_assertion_passes_with_its_jti_kept_until_it_expires() {
    assert_eq!(
        check(|_| {}),
        Ok(Passed {
            jti: "j".into(),
            expires_at: NOW + 60 + LEEWAY
        })
    );
    assert!(check(|c| {
        c.insert("aud".into(), json!(AUD[1]));
    })
    .is_ok());
    assert!(check(|c| {
        c.insert("aud".into(), json!([AUD[1]]));
    })
    .is_ok());
    // Several audiences: any of them could replay it.
    assert!(check(|c| {
        c.insert("aud".into(), json!(["x", AUD[1]]));
    })
    .is_err());
    assert!(check(|c| {
        c.insert("exp".into(), json!(u64::MAX));
    })
    .is_err());
    // Within the leeway either way.
    assert!(check(|c| {
        c.insert("exp".into(), json!(NOW - 29));
    })
    .is_ok());
    assert!(check(|c| {
        c.insert("nbf".into(), json!(NOW + 29));
    })
    .is_ok());
    assert!(check(|c| {
        c.insert("exp".into(), json!(NOW + MAX_LIFETIME + LEEWAY));
    })
    .is_ok());
}

#[test]
fn each_rule_refuses_on_its_own() {
    let cases: [(&str, Value); 14] = [
        ("iss", json!("https://other.example/c.json")),
        ("sub", json!("other")),
        ("aud", json!("https://as.example/revoke")),
        ("aud", json!([])),
        ("aud", json!(5)),
        ("exp", json!(NOW - 30)),
        ("exp", json!(NOW + MAX_LIFETIME + LEEWAY + 1)),
        ("exp", json!("soon")),
        ("nbf", json!(NOW + 31)),
        ("iat", json!(NOW + 31)),
        ("iat", json!(-5)),
        ("jti", json!("")),
        ("jti", json!("x".repeat(257))),
        ("jti", json!(7)),
    ];
    for (name, value) in cases {
        assert!(
            matches!(
                check(|c| {
                    c.insert(name.into(), value.clone());
                }),
                Err(Refusal::Claim(_))
            ),
            "{name} = {value}"
        );
    }
    for name in ["iss", "sub", "aud", "exp", "jti"] {
        assert!(
            check(|c| {
                c.remove(name);
            })
            .is_err(),
            "without {name}"
        );
    }
}

#[test]
fn only_asymmetric_algorithms_and_the_registered_one() {
    let token = |header: Value| {
        let enc = |v: &Value| crate::encoding::b64url(v.to_string().as_bytes());
        format!("{}.{}.c2ln", enc(&header), enc(&json!({"sub": APP})))
    };
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(split(&token(json!({ "alg": alg })), None).is_ok(), "{alg}");
    }
    for alg in ["none", "HS256", "RS384", "PS256", "ES512"] {
        assert!(split(&token(json!({ "alg": alg })), None).is_err(), "{alg}");
    }
    assert!(split(&token(json!({ "alg": "RS256" })), Some("RS256")).is_ok());
    assert!(split(&token(json!({ "alg": "EdDSA" })), Some("RS256")).is_err());
    assert_eq!(
        claimed_client(&token(json!({ "alg": "EdDSA" }))).as_deref(),
        Some(APP)
    );
    assert_eq!(claimed_client("x.y"), None);
    // Nothing an assertion holds appears in a refusal's words.
    assert!(!Refusal::Malformed("x".into()).to_string().contains(APP));
}
