//! The edge's side of the connector doctor (`crate::doctor`): which attempt a browser's
//! request belongs to, the causes of what only the edge sees (an `/authorize` it refused,
//! a sign-in, an `Origin`, an expired token, an upstream), and the thinning of marks on
//! the hot path: an isolate keeps a grant's `/mcp` success and refresh at most every ten
//! minutes, so a busy connection writes almost nothing.

use crate::doctor::{attempt_key, Attempt, Mark, Step};
use crate::http::bearer::{Credential, Principal};
use crate::http::session::SignInError;
use crate::http::{now, Ctx};
use crate::oauth::authorize::{AuthorizeParams, AuthorizeRequest};
use crate::oauth::client::Client;
use crate::store::memo::Memo;
use std::cell::RefCell;

/// How long an isolate skips the same success of the same grant.
const THINNED_SECONDS: u64 = 600;

thread_local! {
    /// `grant\nstep` of the successes written in the last `THINNED_SECONDS`.
    static WRITTEN: RefCell<Memo<String, ()>> = RefCell::new(Memo::new(2048));
}

/// The attempt an authorization request began: its client and PKCE challenge (or, when
/// it sent none, its redirect URI).
pub fn of_params(client_id: &str, params: &AuthorizeParams) -> Attempt {
    let key = params
        .code_challenge
        .as_deref()
        .filter(|c| !c.is_empty())
        .or(params.redirect_uri.as_deref())
        .unwrap_or("");
    Attempt::Key(attempt_key(client_id, key))
}

pub fn of_request(request: &AuthorizeRequest) -> Attempt {
    Attempt::Key(attempt_key(
        &request.client.client_id,
        &request.code_challenge,
    ))
}

/// Marks a step of a validated authorization request.
pub async fn authorize_step(
    ctx: &Ctx,
    request: &AuthorizeRequest,
    step: Step,
    user: Option<&str>,
    stopped: Option<&str>,
) {
    let id = &request.client.client_id;
    let mut mark = match stopped {
        Some(cause) => Mark::stopped(id, of_request(request), step, cause),
        None => Mark::reached(id, of_request(request), step),
    };
    if let Some(u) = user {
        mark = mark.by(u);
    }
    ctx.doctor(mark).await;
}

/// The words for an `/authorize` that named no app this server knows.
pub fn unknown_client(client_id: &str) -> String {
    format!(
        "The client ID {} is not known here: never registered, registered while dynamic \
         registration was on and it is off now, or removed",
        crate::util::text::truncate(client_id, 120)
    )
}

/// The words for a redirect URI the app did not register.
pub fn unregistered_redirect(client: &Client, asked: Option<&str>) -> String {
    let registered = client.redirect_uris.join(", ");
    match asked {
        Some(uri) => format!(
            "The redirect URI {} is not one the app registered (it registered: {})",
            crate::util::text::truncate(uri, 200),
            crate::util::text::truncate(&registered, 200)
        ),
        None => format!(
            "No redirect_uri was sent, and the app registered several ({})",
            crate::util::text::truncate(&registered, 200)
        ),
    }
}

/// The words for a password sign-in that failed.
pub fn sign_in_failed(e: SignInError) -> &'static str {
    match e {
        SignInError::Missing => "The sign-in form was sent without an email or password",
        SignInError::Failed => "The email or password was not right (or the account is disabled)",
        SignInError::Locked(_) => "Sign-in is paused for this account or network after failed attempts",
        SignInError::Unavailable => "The password could not be checked: storage or the operator's password check did not answer",
        SignInError::Refused(_) => "The operator's app vouched for the password but refused the person",
    }
}

/// Marks a later step of a grant (`/mcp`).
pub async fn grant_step(
    ctx: &Ctx,
    client_id: &str,
    grant_id: &str,
    user_id: &str,
    step: Step,
    stopped: Option<&str>,
) {
    let attempt = Attempt::Grant(grant_id.to_string());
    let mark = match stopped {
        Some(cause) => Mark::stopped(client_id, attempt, step, cause),
        None => Mark::reached(client_id, attempt, step),
    };
    ctx.doctor(mark.by(user_id)).await;
}

/// Marks a step of the grant an `/mcp` caller holds (nothing for a personal token, which
/// is not a connection).
pub async fn caller_step(ctx: &Ctx, caller: &Principal, stopped: Option<&str>) {
    if let Credential::Access {
        grant_id,
        client_id,
    } = &caller.credential
    {
        grant_step(ctx, client_id, grant_id, &caller.user, Step::Mcp, stopped).await;
    }
}

/// Whether to write `mark`: a grant's success (`/mcp`, a refresh) at most every ten
/// minutes per isolate; everything else, and every stop, always. After a stop, the next
/// success of that step is news again.
pub fn worth_writing(mark: &Mark) -> bool {
    let Attempt::Grant(grant_id) = &mark.attempt else {
        return true;
    };
    let key = format!("{grant_id}\n{}", mark.step.name());
    let now = now();
    if mark.stopped.is_some() {
        WRITTEN.with(|w| w.borrow_mut().remove(&key));
        return true;
    }
    if WRITTEN.with(|w| w.borrow().get(&key, now)).is_some() {
        return false;
    }
    WRITTEN.with(|w| w.borrow_mut().put(key, (), now + THINNED_SECONDS, now));
    true
}
