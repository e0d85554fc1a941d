//! The operator's own app by hand-off: the person is sent to the app's login page with a
//! request id; the app, server to server and signed (`signin::signature`), says who signed
//! in; the person returns with a one-time code only their browser can use.

use super::{wrong_flow, Answer, SignIn};
use crate::signin::config::Provider;
use crate::signin::failure::Failure;
use crate::signin::oidc::{self, Outgoing};
use crate::signin::policy::{clean_email, clean_name, Claimed};
use crate::signin::reach::Reach;
use serde_json::{json, Map, Value};

/// The identity was cleaned (and the provider's `emails_verified` applied) when the app
/// completed the hand-off (`completion`); the return only reads it back.
pub struct Handoff<'a> {
    pub login_url: &'a str,
}

impl SignIn for Handoff<'_> {
    async fn start(
        &self,
        _reach: &impl Reach,
        out: &Outgoing<'_>,
    ) -> Result<Option<String>, Failure> {
        Ok(Some(oidc::handoff_url(self.login_url, out.state)))
    }

    async fn person(&self, _reach: &impl Reach, answer: Answer<'_>) -> Result<Claimed, Failure> {
        let Answer::Handoff { identity } = answer else {
            return Err(wrong_flow());
        };
        let identity: Value = serde_json::from_str(identity)
            .map_err(|_| Failure::Expired("the hand-off was not completed".into()))?;
        let s = |k: &str| identity.get(k).and_then(Value::as_str).map(str::to_string);
        let verified = identity.get("email_verified") == Some(&Value::Bool(true));
        Ok(Claimed {
            subject: s("sub").unwrap_or_default(),
            verified_email: s("email").filter(|_| verified),
            unverified_email: !verified,
            name: s("name"),
            hosted_domain: None,
            login: None,
            // Mapped when the app completed the hand-off; absent: the provider gives none.
            roles: identity
                .get("roles")
                .map(|r| crate::signin::roles::values(Some(r))),
        })
    }
}

/// A hand-off completed by the operator's app: which pending request, and the identity to
/// keep for the person's return (already cleaned, as JSON).
#[derive(Debug, PartialEq, Eq)]
pub struct Completion {
    pub request: String,
    pub identity: String,
}

/// Reads the app's completion body; the error is the words for its developer.
pub fn completion(p: &Provider, body: &[u8]) -> Result<Completion, &'static str> {
    let Ok(Value::Object(doc)) = crate::json::parse(body) else {
        return Err("the body must be a JSON object");
    };
    let request =
        text(&doc, "request", 200).ok_or("request (the mcp_request it was given) is required")?;
    let user_id = text(&doc, "user_id", 255)
        .ok_or("user_id (the app's stable id for the person) is required")?;
    let email = text(&doc, "email", 254)
        .as_deref()
        .and_then(clean_email)
        .ok_or("email is required")?;
    let name = text(&doc, "name", 400).as_deref().and_then(clean_name);
    // The app vouches for the address only when it says so (or the provider's
    // emails_verified says it always does): many apps let people sign up unverified.
    let verified = doc.get("email_verified") == Some(&Value::Bool(true)) || p.emails_verified;
    let mut identity =
        json!({"sub": user_id, "email": email, "name": name, "email_verified": verified});
    if let Some(m) = &p.roles {
        let roles = m.roles_for(&crate::signin::roles::values(doc.get("roles")));
        crate::json::set(&mut identity, "roles", json!(roles));
    }
    Ok(Completion {
        request,
        identity: identity.to_string(),
    })
}

/// A string (or number) member, trimmed, non-empty and at most `max` bytes.
pub(super) fn text(doc: &Map<String, Value>, key: &str, max: usize) -> Option<String> {
    doc.get(key)
        .and_then(|v| match v {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|s| !s.is_empty() && s.len() <= max)
}
