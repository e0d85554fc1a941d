//! The operator's own app by password check: the sign-in form's email and password are
//! sent, signed (`signin::signature`), to the app's endpoint, which answers who that is.
//! The password goes only into that request body: it is never stored or logged here.

use super::handoff::text;
use super::{wrong_flow, Answer, SignIn};
use crate::signin::config::Provider;
use crate::signin::failure::Failure;
use crate::signin::oidc::Outgoing;
use crate::signin::policy::{clean_email, clean_name, Claimed};
use crate::signin::reach::{Outbound, Reach};
use crate::signin::signature;
use serde_json::{json, Value};

/// The endpoint's answer is small: who the person is.
const ANSWER_LIMIT: usize = 16 * 1024;

pub struct PasswordCheck<'a> {
    pub p: &'a Provider,
    pub url: &'a str,
}

impl SignIn for PasswordCheck<'_> {
    /// The person never leaves this server's sign-in form.
    async fn start(
        &self,
        _reach: &impl Reach,
        _out: &Outgoing<'_>,
    ) -> Result<Option<String>, Failure> {
        Ok(None)
    }

    async fn person(&self, reach: &impl Reach, answer: Answer<'_>) -> Result<Claimed, Failure> {
        let Answer::Password { email, password } = answer else {
            return Err(wrong_flow());
        };
        let p = self.p;
        let shared = p
            .shared_secret
            .as_ref()
            .and_then(|n| reach.secret(n))
            .ok_or_else(|| {
                Failure::Unavailable("password check: the shared secret is not set".into())
            })?;
        let body = json!({ "email": email, "password": password }).to_string();
        let sig = signature::sign(
            &shared,
            signature::Purpose::PasswordCheck,
            reach.now(),
            body.as_bytes(),
        );
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            (signature::HEADER, sig.as_str()),
        ];
        let request = Outbound {
            method: "POST",
            url: self.url,
            headers: &headers,
            body: Some(body.as_bytes()),
            timeout_ms: p.timeout_ms,
            limit: ANSWER_LIMIT,
        };
        let f = reach
            .fetch(request)
            .await
            .map_err(|why| Failure::Unavailable(format!("password check: {why}")))?;
        match f.status {
            200 => {}
            401 | 403 | 404 => return Err(Failure::WrongPassword),
            s => {
                return Err(Failure::Unavailable(format!(
                    "password check: the endpoint answered {s}"
                )))
            }
        }
        let Ok(Value::Object(doc)) = crate::json::parse(&f.body) else {
            return Err(Failure::Unavailable(
                "password check: the answer has no user_id and email".into(),
            ));
        };
        let (Some(user_id), Some(email)) = (
            text(&doc, "user_id", 255),
            text(&doc, "email", 254).as_deref().and_then(clean_email),
        ) else {
            return Err(Failure::Unavailable(
                "password check: the answer has no user_id and email".into(),
            ));
        };
        let verified = doc.get("email_verified") == Some(&Value::Bool(true)) || p.emails_verified;
        Ok(Claimed {
            subject: user_id,
            verified_email: Some(email).filter(|_| verified),
            unverified_email: !verified,
            name: text(&doc, "name", usize::MAX)
                .as_deref()
                .and_then(clean_name),
            hosted_domain: None,
            login: None,
            roles: p
                .roles
                .as_ref()
                .map(|m| m.roles_for(&crate::signin::roles::values(doc.get("roles")))),
        })
    }
}
