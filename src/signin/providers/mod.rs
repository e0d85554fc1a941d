//! Sign-in providers, one trait and one file per kind: where a person is sent to start
//! (`start`) and who the provider says they are from what came back (`person`). The
//! configured `Kind` picks the implementation in one exhaustive match, so a new kind
//! does not compile until it has both.

mod github;
mod handoff;
mod openid;
mod password_check;

pub use github::{member as github_member, roles_now as github_roles_now, still_admitted};
pub use handoff::{completion, Completion};

use crate::signin::config::{Kind, Provider};
use crate::signin::failure::Failure;
use crate::signin::oidc::Outgoing;
use crate::signin::policy::Claimed;
use crate::signin::reach::Reach;

/// What came back to this server, by flow.
pub enum Answer<'a> {
    /// The browser's return to `/signin/callback/<id>` with the pending sign-in it named.
    Callback {
        query: &'a [(String, String)],
        verifier: &'a str,
        nonce: &'a str,
        redirect_uri: &'a str,
    },
    /// A hand-off the operator's app completed (the identity it stored, as JSON).
    Handoff { identity: &'a str },
    /// The sign-in form's email and password, for the operator's password check.
    Password { email: &'a str, password: &'a str },
}

#[allow(async_fn_in_trait)]
pub trait SignIn {
    /// Where the browser goes to sign in; `None` when it never leaves this server.
    async fn start(
        &self,
        reach: &impl Reach,
        out: &Outgoing<'_>,
    ) -> Result<Option<String>, Failure>;
    /// The person, from the provider's answer.
    async fn person(&self, reach: &impl Reach, answer: Answer<'_>) -> Result<Claimed, Failure>;
}

/// The one place a provider's kind picks its implementation.
pub async fn start(
    p: &Provider,
    reach: &impl Reach,
    out: &Outgoing<'_>,
) -> Result<Option<String>, Failure> {
    match &p.kind {
        Kind::Oidc { issuer } => openid::OpenId { p, issuer }.start(reach, out).await,
        Kind::GitHub { .. } => github::GitHub { p }.start(reach, out).await,
        Kind::Handoff { login_url } => handoff::Handoff { login_url }.start(reach, out).await,
        Kind::PasswordCheck { url } => {
            password_check::PasswordCheck { p, url }
                .start(reach, out)
                .await
        }
    }
}

/// The person a provider's answer names (see `SignIn::person`).
pub async fn person(
    p: &Provider,
    reach: &impl Reach,
    answer: Answer<'_>,
) -> Result<Claimed, Failure> {
    match &p.kind {
        Kind::Oidc { issuer } => openid::OpenId { p, issuer }.person(reach, answer).await,
        Kind::GitHub { .. } => github::GitHub { p }.person(reach, answer).await,
        Kind::Handoff { login_url } => handoff::Handoff { login_url }.person(reach, answer).await,
        Kind::PasswordCheck { url } => {
            password_check::PasswordCheck { p, url }
                .person(reach, answer)
                .await
        }
    }
}

/// A provider's secret (named in its configuration) from the Worker's secrets.
fn secret(reach: &impl Reach, name: Option<&String>) -> Result<String, Failure> {
    name.and_then(|n| reach.secret(n))
        .ok_or_else(|| Failure::Internal("a provider's secret is not set".into()))
}

/// An answer of another flow than the provider's: a wiring mistake, never a person's.
fn wrong_flow() -> Failure {
    Failure::Internal("an answer of another sign-in flow".into())
}

/// The code of an authorization response, or the provider's refusal, or its absence.
fn returned_code(q: &[(String, String)]) -> Result<&str, Failure> {
    if let Some(code) = error_code(q) {
        return Err(Failure::Refused(code));
    }
    match field(q, "code") {
        "" => Err(Failure::Failed("the response has no code".into())),
        code => Ok(code),
    }
}

fn field<'a>(q: &'a [(String, String)], name: &str) -> &'a str {
    q.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// A provider's `error` code, as safe to show: only its own characters.
fn error_code(q: &[(String, String)]) -> Option<String> {
    let e = field(q, "error");
    (!e.is_empty()).then(|| {
        e.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(40)
            .collect()
    })
}

/// Discovery documents, JWKS and token answers are small; anything larger is refused.
const ANSWER_LIMIT: usize = 64 * 1024;

/// A fetch to a provider: no answer, or a 5xx, is the provider being unavailable.
async fn provider_fetch(
    reach: &impl Reach,
    p: &Provider,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<crate::util::fetched::Fetched, Failure> {
    let f = reach
        .fetch(crate::signin::reach::Outbound {
            method,
            url,
            headers,
            body,
            timeout_ms: p.timeout_ms,
            limit: ANSWER_LIMIT,
        })
        .await
        .map_err(Failure::Unavailable)?;
    if f.status >= 500 {
        return Err(Failure::Unavailable(format!(
            "the provider answered {}",
            f.status
        )));
    }
    Ok(f)
}

#[cfg(test)]
pub(crate) mod tests;
