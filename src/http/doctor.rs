//! The edge's side of the connector doctor (`crate::doctor`): which attempt a browser's
//! request belongs to, the causes of what only the edge sees (an `/authorize` it refused,
//! a sign-in, an `Origin`, an expired token, an upstream), and the thinning of marks on
//! the hot path: an isolate keeps a grant's `/mcp` success and refresh at most every ten
//! minutes, and any other repeated mark once a minute, so a busy connection (or a client
//! retrying in a loop) writes almost nothing.

use crate::doctor::{attempt_key, Attempt, Mark, Step};
use crate::http::session::SignInError;
use crate::http::{now, Ctx};
use crate::oauth::authorize::{AuthorizeParams, AuthorizeRequest};
use crate::oauth::client::Client;
use crate::store::memo::Memo;
use std::cell::RefCell;

/// How long an isolate skips the same success of the same grant.
const THINNED_SECONDS: u64 = 600;
/// How long an isolate skips a repeat of any other mark (the same outcome of the same
/// step of the same attempt).
const REPEAT_SECONDS: u64 = 60;

/// This isolate's unproven marks: the current minute and how many it wrote in it, and the
/// UTC day whose deployment-wide budget it found spent (0: none).
#[derive(Default)]
struct Unproven {
    minute: u64,
    written: u64,
    spent_day: u64,
}

thread_local! {
    static UNPROVEN: RefCell<Unproven> = RefCell::new(Unproven::default());
    /// The outcome last written (empty: reached; else the cause), by app, attempt and
    /// step, for `THINNED_SECONDS` or `REPEAT_SECONDS`.
    static WRITTEN: RefCell<Memo<String, String>> = RefCell::new(Memo::new(2048));
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
    // With a person signed in it proves something; without, anyone could have sent it.
    if let Some(u) = user {
        mark = mark.by(u).proven();
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

/// Whether an unproven mark may be written now: within this isolate's minute allowance,
/// and not on a day whose budget it found spent. Counts it when it may.
pub fn unproven_allowed(now: u64) -> bool {
    UNPROVEN.with(|u| {
        let mut u = u.borrow_mut();
        if u.spent_day == now / 86_400 {
            return false;
        }
        if u.minute != now / 60 {
            u.minute = now / 60;
            u.written = 0;
        }
        if u.written >= crate::doctor::UNPROVEN_PER_MINUTE {
            return false;
        }
        u.written += 1;
        true
    })
}

/// Remembers that today's budget of unproven marks is spent: no more queries for them
/// from this isolate until the next UTC day.
pub fn budget_spent(now: u64) {
    UNPROVEN.with(|u| u.borrow_mut().spent_day = now / 86_400);
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
    // A grant's steps come with this server's own credentials (a signed access token).
    ctx.doctor(mark.by(user_id).proven()).await;
}

/// Whether to write `mark`: the same outcome of the same step of the same attempt is
/// written once per isolate within `REPEAT_SECONDS` (a client looping on an expired token
/// or a wrong secret costs one write a minute, not one a request), and a grant's success
/// (an `/mcp` call, a refresh) once within `THINNED_SECONDS`. A different outcome is
/// always written: a success after a stop, or a stop after a success, is news.
pub fn worth_writing(mark: &Mark) -> bool {
    worth_writing_at(mark, now())
}

fn worth_writing_at(mark: &Mark, now: u64) -> bool {
    let attempt = match &mark.attempt {
        Attempt::Key(k) => k.as_str(),
        Attempt::Grant(g) => g.as_str(),
        Attempt::App => "app",
    };
    let key = format!("{}\n{attempt}\n{}", mark.client_id, mark.step.name());
    let outcome = mark.stopped.clone().unwrap_or_default();
    if WRITTEN.with(|w| w.borrow().get(&key, now)).as_ref() == Some(&outcome) {
        return false;
    }
    let ttl = match (&mark.attempt, &mark.stopped) {
        (Attempt::Grant(_), None) => THINNED_SECONDS,
        _ => REPEAT_SECONDS,
    };
    WRITTEN.with(|w| w.borrow_mut().put(key, outcome, now + ttl, now));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unproven_marks_have_a_minute_allowance_and_stop_for_a_spent_day() {
        let t = 86_400 * 20_000 + 30;
        let allowed = (0..100).filter(|_| unproven_allowed(t)).count() as u64;
        assert_eq!(allowed, crate::doctor::UNPROVEN_PER_MINUTE);
        assert!(unproven_allowed(t + 60), "a new minute");
        budget_spent(t + 61);
        assert!(!unproven_allowed(t + 120));
        assert!(unproven_allowed(t + 86_400), "the next day");
    }

    #[test]
    fn repeats_are_thinned_and_a_new_outcome_is_always_written() {
        let grant = |stopped: Option<&str>| Mark {
            stopped: stopped.map(str::to_string),
            ..Mark::reached("c", Attempt::Grant("g1".into()), Step::Mcp)
        };
        // A grant's success: once per ten minutes.
        assert!(worth_writing_at(&grant(None), 1_000));
        assert!(!worth_writing_at(&grant(None), 1_599));
        // A stop after it is news; the same stop again within the minute is not.
        assert!(worth_writing_at(&grant(Some("expired")), 1_600));
        assert!(!worth_writing_at(&grant(Some("expired")), 1_650));
        assert!(worth_writing_at(&grant(Some("other cause")), 1_651));
        // The success after the stop is news again, at once.
        assert!(worth_writing_at(&grant(None), 1_652));
        // A stop repeats after the minute.
        let key = Attempt::Key("k1".into());
        let stop = Mark::stopped("c", key.clone(), Step::Token, "bad secret");
        assert!(worth_writing_at(&stop, 2_000));
        assert!(!worth_writing_at(&stop, 2_059));
        assert!(worth_writing_at(&stop, 2_061));
        // Other apps, attempts and steps are their own.
        assert!(worth_writing_at(
            &Mark::stopped("d", key.clone(), Step::Token, "bad secret"),
            2_062
        ));
        assert!(worth_writing_at(
            &Mark::stopped("c", key, Step::Authorize, "bad secret"),
            2_062
        ));
    }
}
