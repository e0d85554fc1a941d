//! Account linking natively, on `store::memory_identities` and the table-driven reach.

use super::*;
use crate::oauth::ed25519::block_on;
use crate::signin::providers::tests::{github, provider, Table};
use crate::store::memory_identities::People;

fn oidc(extra: &str) -> Provider {
    provider(&format!(
        r#"{{"id":"corp","type":"oidc","name":"Corp","issuer":"https://idp.example","client_id":"c","client_secret":{{"secret":"S"}}{extra}}}"#
    ))
}

fn who(subject: &str, email: Option<&str>) -> Claimed {
    Claimed {
        subject: subject.into(),
        verified_email: email.map(str::to_string),
        unverified_email: email.is_none(),
        name: Some("Ann".into()),
        hosted_domain: None,
        login: None,
        roles: None,
    }
}

fn refusal(r: Result<UserRow, Failure>) -> Refusal {
    match r {
        Err(Failure::Denied(r, _)) => r,
        other => panic!("not refused: {other:?}"),
    }
}

const NS: &str = "oidc:https://idp.example";

#[test]
fn a_first_sign_in_creates_the_person_and_the_next_finds_them() {
    let (people, t) = (People::default(), Table::default());
    let p = oidc(r#","allow":{"email_domains":["example.com"]}"#);
    let first = block_on(resolve(
        &people,
        &t,
        &p,
        &who("s1", Some("ann@example.com")),
    ))
    .unwrap();
    assert_eq!(first.email, "ann@example.com");
    assert!(
        first.password_hash.is_empty(),
        "a provider-made person has no local password"
    );
    assert_eq!(people.owner(NS, "s1"), Some(first.id.clone()));
    // The same identity, with a new address: the same person, the address kept.
    let again = block_on(resolve(
        &people,
        &t,
        &p,
        &who("s1", Some("ann@example.com")),
    ))
    .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(people.users.borrow().len(), 1);
    // Outside the rule: refused, and nothing written.
    assert_eq!(
        refusal(block_on(resolve(
            &people,
            &t,
            &p,
            &who("s2", Some("eve@evil.example"))
        ))),
        Refusal::NoAccess
    );
    assert_eq!(people.owner(NS, "s2"), None);
}

#[test]
fn linking_by_email_joins_only_an_operator_added_person() {
    let (people, t) = (People::default(), Table::default());
    people.add("u-ann", "ann@example.com");
    let p = oidc(r#","link_by_email":true"#);
    let linked = block_on(resolve(
        &people,
        &t,
        &p,
        &who("s1", Some("ann@example.com")),
    ))
    .unwrap();
    assert_eq!(linked.id, "u-ann");
    assert_eq!(people.owner(NS, "s1").as_deref(), Some("u-ann"));
    // A second identity at the same provider claiming the same address is not linked:
    // one account there, one person here.
    let second = block_on(resolve(
        &people,
        &t,
        &p,
        &who("s2", Some("ann@example.com")),
    ));
    assert_eq!(refusal(second), Refusal::AccountExists);
    assert_eq!(people.owner(NS, "s2"), None);
}

#[test]
fn a_person_added_in_the_console_without_a_password_is_linked_by_email() {
    let (people, t) = (People::default(), Table::default());
    people.add("u-bea", "bea@example.com");
    for u in people.users.borrow_mut().iter_mut() {
        // As `D1::add_person` writes them: no password until a link sets one.
        u.password_hash.clear();
        u.password_salt.clear();
        u.operator_added = 1;
    }
    let p = oidc(r#","link_by_email":true"#);
    let linked = block_on(resolve(
        &people,
        &t,
        &p,
        &who("s1", Some("bea@example.com")),
    ))
    .unwrap();
    assert_eq!(linked.id, "u-bea");
    // The same row without the mark is a provider's person, and is not joined.
    let (people, t) = (People::default(), Table::default());
    people.add("u-cy", "cy@example.com");
    for u in people.users.borrow_mut().iter_mut() {
        u.password_hash.clear();
    }
    let r = block_on(resolve(&people, &t, &p, &who("s2", Some("cy@example.com"))));
    assert_eq!(refusal(r), Refusal::AccountExists);
}

#[test]
fn a_person_another_provider_created_is_never_joined_by_email() {
    let (people, t) = (People::default(), Table::default());
    let open = provider(
        r#"{"id":"other","type":"oidc","name":"Other","issuer":"https://other.example","client_id":"c","client_secret":{"secret":"S"},"allow":{"everyone":true}}"#,
    );
    let made = block_on(resolve(
        &people,
        &t,
        &open,
        &who("x", Some("ann@example.com")),
    ))
    .unwrap();
    let p = oidc(r#","link_by_email":true"#);
    let r = block_on(resolve(
        &people,
        &t,
        &p,
        &who("s1", Some("ann@example.com")),
    ));
    assert_eq!(refusal(r), Refusal::AccountExists);
    assert_eq!(people.owner(NS, "s1"), None);
    assert_eq!(
        people.owner("oidc:https://other.example", "x"),
        Some(made.id)
    );
}

#[test]
fn without_linking_an_existing_email_is_refused_not_joined() {
    let (people, t) = (People::default(), Table::default());
    people.add("u-ann", "ann@example.com");
    let open = oidc(r#","allow":{"everyone":true}"#);
    assert_eq!(
        refusal(block_on(resolve(
            &people,
            &t,
            &open,
            &who("s1", Some("ann@example.com"))
        ))),
        Refusal::AccountExists
    );
    let closed = oidc("");
    assert_eq!(
        refusal(block_on(resolve(
            &people,
            &t,
            &closed,
            &who("s1", Some("ann@example.com"))
        ))),
        Refusal::NoAccess
    );
    assert_eq!(people.identities.borrow().len(), 0);
}

#[test]
fn an_unverified_address_is_never_matched_and_a_disabled_person_stays_out() {
    let (people, t) = (People::default(), Table::default());
    people.add("u-ann", "ann@example.com");
    let p = oidc(r#","link_by_email":true,"allow":{"everyone":true}"#);
    let unverified = who("s1", None);
    assert_eq!(
        refusal(block_on(resolve(&people, &t, &p, &unverified))),
        Refusal::EmailUnverified
    );
    block_on(resolve(
        &people,
        &t,
        &p,
        &who("s1", Some("ann@example.com")),
    ))
    .unwrap();
    people.disable("u-ann");
    assert_eq!(
        refusal(block_on(resolve(
            &people,
            &t,
            &p,
            &who("s1", Some("ann@example.com"))
        ))),
        Refusal::Disabled
    );
}

#[test]
fn two_first_sign_ins_at_once_end_as_one_person() {
    let (people, t) = (People::default(), Table::default());
    let p = oidc(r#","allow":{"everyone":true}"#);
    let ann = who("s1", Some("ann@example.com"));
    // The other tab created the person and identity between this one's reads and its
    // create: the create fails (the email is taken) and the identity names the winner.
    let winner = block_on(resolve(&people, &t, &p, &ann)).unwrap();
    let identity = Identity {
        provider: NS,
        subject: "s1",
        login: None,
        email: Some("ann@example.com"),
    };
    let lost = block_on(create(&people, &identity, &ann, 5)).unwrap();
    assert_eq!(lost.id, winner.id);
    assert_eq!(people.users.borrow().len(), 1);
}

#[test]
fn github_rules_ask_membership_at_sign_in_and_again_later() {
    let (people, t) = (
        People::default(),
        Table {
            now: 100,
            ..Table::default()
        },
    );
    let p = github("gh-link.example");
    let mut ann = who("42", Some("ann@example.com"));
    ann.login = Some("ann".into());
    t.answer(
        "GET",
        "https://api.gh-link.example/orgs/acme/members/ann",
        204,
        serde_json::Value::Null,
    );
    let person = block_on(resolve(&people, &t, &p, &ann)).unwrap();
    // Later (at a refresh): the login is read from the numeric id, then membership.
    t.answer(
        "GET",
        "https://api.gh-link.example/user/42",
        200,
        serde_json::json!({"id": 42, "login": "ann-renamed"}),
    );
    t.answer(
        "GET",
        "https://api.gh-link.example/orgs/acme/members/ann-renamed",
        404,
        serde_json::Value::Null,
    );
    let providers = [p.clone()];
    let still = block_on(crate::signin::providers::still_admitted(
        &providers, &people, &t, &person.id,
    ));
    assert_eq!(still, Ok(false));
    // Someone without an identity at that provider is not asked about.
    assert_eq!(
        block_on(crate::signin::providers::still_admitted(
            &providers, &people, &t, "nobody"
        )),
        Ok(true)
    );
    let mut bob = who("43", Some("bob@example.com"));
    bob.login = Some("bob".into());
    t.answer(
        "GET",
        "https://api.gh-link.example/orgs/acme/members/bob",
        404,
        serde_json::Value::Null,
    );
    assert_eq!(
        refusal(block_on(resolve(&people, &t, &p, &bob))),
        Refusal::NoAccess
    );
}
