//! Native tests of the provider kinds over a `Reach` that answers from a table (the
//! requests each kind makes, and what each answer means), and the double itself, which
//! `linking`'s tests use too.

use super::*;
use crate::signin::config::{parse, Environment};
use crate::signin::id_token::Alg;
use crate::signin::signature;
use crate::util::fetched::{Fetched, Unreachable};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// A request as the double saw it: method, URL, headers and body.
pub type Asked = (String, String, Vec<(String, String)>, String);

/// Answers requests by method and URL; records each request with its headers and body.
#[derive(Default)]
pub struct Table {
    pub answers: RefCell<HashMap<(String, String), (u16, String)>>,
    pub asked: RefCell<Vec<Asked>>,
    pub now: u64,
    /// Signatures the double's `verify_jwk` accepts.
    pub good_signature: Vec<u8>,
}

impl Table {
    pub fn answer(&self, method: &str, url: &str, status: u16, body: Value) {
        let text = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.answers
            .borrow_mut()
            .insert((method.into(), url.into()), (status, text));
    }

    pub fn count(&self, url_part: &str) -> usize {
        self.asked
            .borrow()
            .iter()
            .filter(|(_, u, _, _)| u.contains(url_part))
            .count()
    }
}

impl Reach for Table {
    async fn fetch(&self, r: crate::signin::reach::Outbound<'_>) -> Result<Fetched, Unreachable> {
        let headers = r
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body = String::from_utf8_lossy(r.body.unwrap_or_default()).into_owned();
        self.asked
            .borrow_mut()
            .push((r.method.into(), r.url.into(), headers, body));
        let found = self
            .answers
            .borrow()
            .get(&(r.method.to_string(), r.url.to_string()))
            .cloned();
        match found {
            Some((status, body)) => Ok(Fetched {
                status,
                body: body.into_bytes(),
                ..Fetched::default()
            }),
            None => Err(format!("no answer for {} {}", r.method, r.url)),
        }
    }
    fn secret(&self, name: &str) -> Option<String> {
        (name != "UNSET").then(|| format!("value-of-{name}"))
    }
    fn now(&self) -> u64 {
        self.now
    }
}

impl crate::oauth::jws::VerifyJwk for Table {
    async fn verify_jwk(&self, _alg: Alg, _jwk: &Value, _message: &[u8], signature: &[u8]) -> bool {
        signature == self.good_signature.as_slice()
    }
}

pub fn provider(json_text: &str) -> Provider {
    let env = Environment {
        secret_len: &|_| Some(40),
        is_role: &|r| ["admin", "staff"].contains(&r),
    };
    parse(Some(&format!("[{json_text}]")), &env)
        .unwrap()
        .remove(0)
}

/// A GitHub provider (with its own hosts, so the memo of another test cannot answer)
/// admitting members of the org `acme`.
pub fn github(host: &str) -> Provider {
    provider(&format!(
        r#"{{"id":"gh","type":"github","client_id":"c","client_secret":{{"secret":"GH_SECRET"}},"github_url":"https://{host}","github_api_url":"https://api.{host}","allow":{{"github_orgs":["acme"]}},"membership_token":{{"secret":"GH_TOKEN"}}}}"#
    ))
}

fn callback_answer<'a>(q: &'a [(String, String)]) -> Answer<'a> {
    Answer::Callback {
        query: q,
        verifier: "v",
        nonce: "n",
        redirect_uri: "https://as.example/signin/callback/gh",
    }
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn github_reads_the_person_with_their_token_and_never_keeps_it() {
    let p = github("gh1.example");
    let t = Table::default();
    t.answer(
        "POST",
        "https://gh1.example/login/oauth/access_token",
        200,
        json!({"access_token": "gho_person"}),
    );
    t.answer(
        "GET",
        "https://api.gh1.example/user",
        200,
        json!({"id": 42, "login": "ann", "name": "Ann"}),
    );
    t.answer(
        "GET",
        "https://api.gh1.example/user/emails",
        200,
        json!([{"email": "Ann@Example.com", "primary": true, "verified": true}]),
    );
    let q = query(&[("code", "c0de"), ("state", "s")]);
    let who = crate::oauth::ed25519::block_on(person(&p, &t, callback_answer(&q))).unwrap();
    assert_eq!(
        (who.subject.as_str(), who.login.as_deref()),
        ("42", Some("ann"))
    );
    assert_eq!(who.verified_email.as_deref(), Some("ann@example.com"));
    let asked = t.asked.borrow();
    // The code exchange carries PKCE's verifier and the registered redirect URI.
    assert!(asked[0].3.contains("code_verifier=v") && asked[0].3.contains("code=c0de"));
    assert!(asked[1]
        .2
        .iter()
        .any(|(k, v)| k == "Authorization" && v == "Bearer gho_person"));
}

#[test]
fn a_provider_error_or_a_missing_code_is_not_a_person() {
    let p = github("gh2.example");
    let t = Table::default();
    let refused = query(&[("error", "access_denied<script>"), ("state", "s")]);
    match crate::oauth::ed25519::block_on(person(&p, &t, callback_answer(&refused))) {
        Err(Failure::Refused(code)) => assert_eq!(code, "access_deniedscript"),
        other => panic!("{other:?}"),
    }
    let none = query(&[("state", "s")]);
    assert!(matches!(
        crate::oauth::ed25519::block_on(person(&p, &t, callback_answer(&none))),
        Err(Failure::Failed(_))
    ));
    assert_eq!(
        t.asked.borrow().len(),
        0,
        "nothing is fetched for an answer without a code"
    );
    // An answer of another flow is a wiring mistake, never a person.
    let other = Answer::Password {
        email: "a@b.example",
        password: "x",
    };
    assert!(matches!(
        crate::oauth::ed25519::block_on(person(&p, &t, other)),
        Err(Failure::Internal(_))
    ));
}

#[test]
fn github_membership_is_asked_with_the_operator_token_and_remembered() {
    let p = github("gh3.example");
    let t = Table {
        now: 1000,
        ..Table::default()
    };
    t.answer(
        "GET",
        "https://api.gh3.example/orgs/acme/members/ann",
        204,
        Value::Null,
    );
    t.answer(
        "GET",
        "https://api.gh3.example/orgs/acme/members/bob",
        404,
        Value::Null,
    );
    t.answer(
        "GET",
        "https://api.gh3.example/orgs/acme/members/eve",
        500,
        Value::Null,
    );
    let ask = |login| crate::oauth::ed25519::block_on(github_member(&t, &p, login));
    assert!(ask("ann").unwrap());
    assert!(!ask("bob").unwrap());
    assert!(matches!(ask("eve"), Err(Failure::Unavailable(_))));
    assert!(ask("ann").unwrap());
    assert_eq!(
        t.count("/members/ann"),
        1,
        "the second answer came from the memo"
    );
    let auth = t.asked.borrow()[0]
        .2
        .iter()
        .find(|(k, _)| k == "Authorization")
        .cloned();
    assert_eq!(
        auth.map(|(_, v)| v).as_deref(),
        Some("Bearer value-of-GH_TOKEN")
    );
}

#[test]
fn the_password_check_sends_a_signed_request_and_reads_who_it_is() {
    let p = provider(
        r#"{"id":"app","type":"password_check","url":"https://app.example/check","shared_secret":{"secret":"APP_SECRET"}}"#,
    );
    let t = Table {
        now: 1_800_000_000,
        ..Table::default()
    };
    t.answer(
        "POST",
        "https://app.example/check",
        200,
        json!({"user_id": 7, "email": "Ann@App.example", "email_verified": true}),
    );
    let answer = || Answer::Password {
        email: "ann@app.example",
        password: "pw",
    };
    let who = crate::oauth::ed25519::block_on(person(&p, &t, answer())).unwrap();
    assert_eq!(
        (who.subject.as_str(), who.verified_email.as_deref()),
        ("7", Some("ann@app.example"))
    );
    let (_, _, headers, body) = t.asked.borrow()[0].clone();
    let sig = headers
        .iter()
        .find(|(k, _)| k == signature::HEADER)
        .map(|(_, v)| v.clone())
        .unwrap();
    let purpose = signature::Purpose::PasswordCheck;
    assert!(signature::verify(
        "value-of-APP_SECRET",
        purpose,
        Some(&sig),
        body.as_bytes(),
        t.now
    )
    .is_ok());
    for (status, wrong) in [(401, true), (404, true), (500, false)] {
        t.answer("POST", "https://app.example/check", status, Value::Null);
        let got = crate::oauth::ed25519::block_on(person(&p, &t, answer()));
        assert_eq!(
            matches!(got, Err(Failure::WrongPassword)),
            wrong,
            "{status}"
        );
    }
    // Never a browser start.
    let out = Outgoing {
        redirect_uri: "r",
        state: "s",
        nonce: "n",
        code_challenge: "c",
    };
    assert_eq!(
        crate::oauth::ed25519::block_on(start(&p, &t, &out)).unwrap(),
        None
    );
}

#[test]
fn a_handoff_completion_keeps_only_a_clean_identity() {
    let p = provider(
        r#"{"id":"app","type":"handoff","name":"App","login_url":"https://app.example/login","shared_secret":{"secret":"S"}}"#,
    );
    let done = completion(
        &p,
        br#"{"request":"r1","user_id":" 9 ","email":"Ann@App.example","name":"Ann\u0007"}"#,
    )
    .unwrap();
    assert_eq!(done.request, "r1");
    let t = Table::default();
    let who = crate::oauth::ed25519::block_on(person(
        &p,
        &t,
        Answer::Handoff {
            identity: &done.identity,
        },
    ))
    .unwrap();
    // Not vouched for: the app did not say email_verified.
    assert_eq!(
        (
            who.subject.as_str(),
            who.verified_email.as_deref(),
            who.name.as_deref()
        ),
        ("9", None, Some("Ann"))
    );
    for bad in [
        &b"[]"[..],
        br#"{"user_id":"9","email":"a@b.example"}"#,
        br#"{"request":"r","email":"a@b.example"}"#,
        br#"{"request":"r","user_id":"9","email":"nope"}"#,
    ] {
        assert!(completion(&p, bad).is_err());
    }
}

#[test]
fn the_operators_app_names_roles_that_its_map_turns_into_ours() {
    let handoff = provider(
        r#"{"id":"app","type":"handoff","name":"App","login_url":"https://app.example/login","shared_secret":{"secret":"S"},"roles":{"map":{"administrator":"admin","member":"staff"}}}"#,
    );
    let done = completion(
        &handoff,
        br#"{"request":"r1","user_id":"9","email":"a@app.example","roles":["administrator","root"]}"#,
    )
    .unwrap();
    let t = Table::default();
    let answer = Answer::Handoff {
        identity: &done.identity,
    };
    let who = crate::oauth::ed25519::block_on(person(&handoff, &t, answer)).unwrap();
    // "root" is not mapped, so it gives nothing here.
    assert_eq!(who.roles, Some(vec!["admin".to_string()]));
    // Without a map the app's roles are not read at all.
    let plain = provider(
        r#"{"id":"app","type":"handoff","name":"App","login_url":"https://app.example/login","shared_secret":{"secret":"S"}}"#,
    );
    let done = completion(
        &plain,
        br#"{"request":"r1","user_id":"9","email":"a@app.example","roles":["administrator"]}"#,
    )
    .unwrap();
    let answer = Answer::Handoff {
        identity: &done.identity,
    };
    assert_eq!(
        crate::oauth::ed25519::block_on(person(&plain, &t, answer))
            .unwrap()
            .roles,
        None
    );
    let check = provider(
        r#"{"id":"chk","type":"password_check","url":"https://app.example/check","shared_secret":{"secret":"APP_SECRET"},"roles":{"map":{"member":"staff"}}}"#,
    );
    let t = Table {
        now: 1_800_000_000,
        ..Table::default()
    };
    t.answer(
        "POST",
        "https://app.example/check",
        200,
        json!({"user_id": 7, "email": "ann@app.example", "roles": "member"}),
    );
    let answer = Answer::Password {
        email: "ann@app.example",
        password: "pw",
    };
    let who = crate::oauth::ed25519::block_on(person(&check, &t, answer)).unwrap();
    assert_eq!(who.roles, Some(vec!["staff".to_string()]));
}

#[test]
fn github_roles_come_from_each_mapped_org_and_team() {
    let p = provider(
        r#"{"id":"gh","type":"github","client_id":"c","client_secret":{"secret":"GH_SECRET"},"github_url":"https://gh9.example","github_api_url":"https://api.gh9.example","membership_token":{"secret":"GH_TOKEN"},"roles":{"map":{"acme":"staff","acme/admins":"admin"}}}"#,
    );
    let t = Table::default();
    t.answer(
        "POST",
        "https://gh9.example/login/oauth/access_token",
        200,
        json!({"access_token": "gho_person"}),
    );
    t.answer(
        "GET",
        "https://api.gh9.example/user",
        200,
        json!({"id": 42, "login": "ann"}),
    );
    t.answer(
        "GET",
        "https://api.gh9.example/user/emails",
        200,
        json!([{"email": "ann@example.com", "primary": true, "verified": true}]),
    );
    t.answer(
        "GET",
        "https://api.gh9.example/orgs/acme/members/ann",
        204,
        Value::Null,
    );
    t.answer(
        "GET",
        "https://api.gh9.example/orgs/acme/teams/admins/memberships/ann",
        200,
        json!({"state": "pending"}),
    );
    let q = query(&[("code", "c0de"), ("state", "s")]);
    let who = crate::oauth::ed25519::block_on(person(&p, &t, callback_answer(&q))).unwrap();
    // A pending team membership is not one.
    assert_eq!(who.roles, Some(vec!["staff".to_string()]));
}
