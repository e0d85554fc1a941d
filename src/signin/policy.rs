//! Who a provider's sign-in makes of a person here: the allow rules, and whether the
//! identity is an existing person, links to one by email, creates one, or is refused.
//! Free of storage: the edge looks the rows up and carries out the decision.

use crate::signin::config::{Allow, Provider};

/// What a provider said about the person, as this Worker trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The provider's immutable identifier (OIDC `sub`, GitHub's numeric id, the app's id).
    pub subject: String,
    /// Lower case; `None` unless the provider vouches for it (`email_verified`, GitHub's
    /// verified primary address, the operator's own app): an unverified address is never
    /// matched, linked or stored.
    pub verified_email: Option<String>,
    /// Whether the provider sent an address it did not vouch for (for the page's words).
    pub unverified_email: bool,
    pub name: Option<String>,
    /// The ID token's `hd` claim, lower case.
    pub hosted_domain: Option<String>,
    /// GitHub's login, to ask about memberships.
    pub login: Option<String>,
    /// The roles the provider's values give (`SIGNIN_PROVIDERS[].roles`); `None` when
    /// the provider gives none, so the roles it gave before are left alone.
    pub roles: Option<Vec<String>>,
}

/// An email address as a provider sent it, if it looks like one: lower case, one `@` with
/// something on each side and a dot in the domain, nothing invisible. Anything else is
/// treated as no email (it could never be matched, disabled or typed by an operator).
pub fn clean_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_ascii_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = e.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c));
    ok.then_some(e)
}

/// A display name from a provider: no control or direction-changing characters (which
/// could rewrite an operator's terminal or reorder a page's text), at most 100 characters.
pub fn clean_name(raw: &str) -> Option<String> {
    let n: String = raw
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .take(100)
        .collect();
    let n = n.trim();
    (!n.is_empty()).then(|| n.to_string())
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Whether `allow` admits the person without asking GitHub; `None` when only an org or
/// team membership could still admit them (the edge then asks).
pub fn admits(allow: &Allow, who: &Claimed) -> Option<bool> {
    let email = who.verified_email.as_deref();
    let domain = email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);
    let yes = allow.everyone
        || email.is_some_and(|e| allow.emails.iter().any(|a| a == e))
        || domain.is_some_and(|d| allow.email_domains.iter().any(|a| a == d))
        || who
            .hosted_domain
            .as_deref()
            .is_some_and(|h| allow.hosted_domains.iter().any(|a| a == h))
        || allow.subjects.contains(&who.subject);
    if yes {
        Some(true)
    } else if allow.needs_membership() && who.login.is_some() {
        None
    } else {
        Some(false)
    }
}

/// A person row as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The identity is this person's already.
    SignIn(String),
    /// Link the identity to this person (same verified email, `link_by_email`).
    Link(String),
    /// Create a person with the verified email and link the identity.
    Create,
    Refuse(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoAccess,
    EmailUnverified,
    /// A person here has this email, and the operator has not said to link by email.
    AccountExists,
    Disabled,
}

impl Refusal {
    pub fn why(self) -> &'static str {
        match self {
            Refusal::NoAccess => "not allowed",
            Refusal::EmailUnverified => "email not verified",
            Refusal::AccountExists => "email taken by an unlinked account",
            Refusal::Disabled => "account disabled",
        }
    }
}

/// `mapped`: the person this identity already maps to; `by_email`: the person with the
/// claimed verified email; `admitted`: the allow rules' answer (`None` when the provider
/// has none: then only people already here may sign in).
pub fn decide(
    p: &Provider,
    who: &Claimed,
    mapped: Option<&Person>,
    by_email: Option<&Person>,
    admitted: Option<bool>,
) -> Decision {
    let person = |x: &Person, d: Decision| {
        if x.disabled {
            Decision::Refuse(Refusal::Disabled)
        } else {
            d
        }
    };
    if admitted == Some(false) {
        // A disabled person hears that first: the operator's decision, whatever the rule.
        return match mapped {
            Some(m) if m.disabled => Decision::Refuse(Refusal::Disabled),
            _ => Decision::Refuse(Refusal::NoAccess),
        };
    }
    if let Some(m) = mapped {
        return person(m, Decision::SignIn(m.id.clone()));
    }
    if let Some(e) = by_email {
        return if p.link_by_email {
            person(e, Decision::Link(e.id.clone()))
        } else if admitted == Some(true) {
            Decision::Refuse(Refusal::AccountExists)
        } else {
            Decision::Refuse(Refusal::NoAccess)
        };
    }
    match admitted {
        Some(true) if who.verified_email.is_some() => Decision::Create,
        Some(true) => Decision::Refuse(Refusal::EmailUnverified),
        _ if who.unverified_email && p.link_by_email => Decision::Refuse(Refusal::EmailUnverified),
        _ => Decision::Refuse(Refusal::NoAccess),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signin::config::{parse, Environment};

    fn provider(extra: &str) -> Provider {
        let text = format!(
            r#"[{{"id":"corp","type":"oidc","name":"Corp","issuer":"https://idp.example","client_id":"c","client_secret":{{"secret":"S"}}{extra}}}]"#
        );
        parse(
            Some(&text),
            &Environment {
                secret_len: &|_| Some(40),
                is_role: &|r| r == "admin",
            },
        )
        .unwrap()
        .remove(0)
    }

    fn who(email: Option<&str>) -> Claimed {
        Claimed {
            subject: "sub-1".into(),
            verified_email: email.map(str::to_string),
            unverified_email: false,
            name: None,
            hosted_domain: None,
            login: None,
            roles: None,
        }
    }

    fn person(id: &str, disabled: bool) -> Person {
        Person {
            id: id.into(),
            disabled,
        }
    }

    #[test]
    fn allow_rules_match_only_what_they_name() {
        let p = provider(
            r#","allow":{"email_domains":["example.com"],"emails":["boss@other.example"],"hosted_domains":["corp.example"],"subjects":["sub-9"]}"#,
        );
        let a = p.allow.as_ref().unwrap();
        assert_eq!(admits(a, &who(Some("ann@example.com"))), Some(true));
        assert_eq!(admits(a, &who(Some("ann@example.com.evil"))), Some(false));
        assert_eq!(admits(a, &who(Some("ann@sub.example.com"))), Some(false));
        assert_eq!(admits(a, &who(Some("boss@other.example"))), Some(true));
        assert_eq!(admits(a, &who(None)), Some(false));
        let mut hd = who(None);
        hd.hosted_domain = Some("corp.example".into());
        assert_eq!(admits(a, &hd), Some(true));
        let mut s = who(None);
        s.subject = "sub-9".into();
        assert_eq!(admits(a, &s), Some(true));
    }

    #[test]
    fn emails_and_names_are_cleaned() {
        assert_eq!(
            clean_email(" Ann@Example.COM ").as_deref(),
            Some("ann@example.com")
        );
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@localhost",
            "a@b@example.com",
            "a b@example.com",
            "ann@example.com.",
            "a\u{202e}@example.com",
        ] {
            assert_eq!(clean_email(bad), None, "{bad:?}");
        }
        assert_eq!(
            clean_name(" Ann\u{1b}]52;c;x\u{7} \u{202e}Lee ").as_deref(),
            Some("Ann]52;c;x Lee")
        );
        assert_eq!(clean_name("\u{7}"), None);
        assert_eq!(clean_name(&"x".repeat(500)).map(|n| n.len()), Some(100));
    }

    #[test]
    fn decisions() {
        let open = provider(r#","allow":{"everyone":true}"#);
        let linking = provider(r#","link_by_email":true"#);
        let closed = provider("");
        let ann = who(Some("ann@example.com"));
        let (alice, off) = (person("u1", false), person("u2", true));
        assert_eq!(
            decide(&open, &ann, Some(&alice), None, Some(true)),
            Decision::SignIn("u1".into())
        );
        assert_eq!(
            decide(&open, &ann, Some(&off), None, Some(true)),
            Decision::Refuse(Refusal::Disabled)
        );
        assert_eq!(
            decide(&open, &ann, Some(&off), None, Some(false)),
            Decision::Refuse(Refusal::Disabled)
        );
        assert_eq!(
            decide(&open, &ann, Some(&alice), None, Some(false)),
            Decision::Refuse(Refusal::NoAccess)
        );
        assert_eq!(
            decide(&open, &ann, None, None, Some(true)),
            Decision::Create
        );
        assert_eq!(
            decide(&open, &who(None), None, None, Some(true)),
            Decision::Refuse(Refusal::EmailUnverified)
        );
        assert_eq!(
            decide(&open, &ann, None, Some(&alice), Some(true)),
            Decision::Refuse(Refusal::AccountExists)
        );
        assert_eq!(
            decide(&linking, &ann, None, Some(&alice), None),
            Decision::Link("u1".into())
        );
        assert_eq!(
            decide(&linking, &ann, None, Some(&off), None),
            Decision::Refuse(Refusal::Disabled)
        );
        assert_eq!(
            decide(&linking, &ann, None, None, None),
            Decision::Refuse(Refusal::NoAccess)
        );
        assert_eq!(
            decide(&closed, &ann, None, Some(&alice), None),
            Decision::Refuse(Refusal::NoAccess)
        );
        assert_eq!(
            decide(&closed, &ann, Some(&alice), None, None),
            Decision::SignIn("u1".into())
        );
    }
}
