//! Signing in through a provider, at the edge: `/signin/start` (from the "Continue with"
//! buttons), the provider's return to `/signin/callback/<id>`, the operator's app
//! completing a hand-off at `/signin/handoff` and the person's return to `/signin/return`,
//! and the password check. What is sent, what an answer means and who the person is are
//! decided in `signin` (`providers`, `linking`); this file routes, keeps the pending
//! sign-ins and renders pages, and lends the room its reach (outbound fetch, secrets,
//! WebCrypto).
//!
//! A pending sign-in is one D1 row, taken (deleted) by the first return that names it,
//! valid for ten minutes and only in the browser whose CSRF cookie started it. So a
//! person cannot be signed in by a provider response someone else started, and a state
//! or return code cannot be used twice. The person lands back on the page they came
//! from, signed in: for an app that is the consent page, shown as for any sign-in.

use super::browser::{self, cookie_name, field, read_cookie, start_purpose};
use super::outbound;
use super::pages::{error_page, see_other, ErrorKind};
use super::providers::{list, providers};
use super::signin_roles;
use super::{now, Ctx, Incoming};
use crate::audit::Event;
use crate::encoding::{b64url, constant_time_eq, random_token, secret_hash, sha256};
use crate::reply::Reply;
use crate::signin::config::{Flow, Provider};
use crate::signin::failure::Failure;
use crate::signin::id_token::Alg;
use crate::signin::linking;
use crate::signin::oidc::Outgoing;
use crate::signin::policy::{Claimed, Refusal};
use crate::signin::providers::{self, Answer};
use crate::signin::reach::{Outbound, Reach};
use crate::store::d1::{UserRow, D1};
use crate::store::d1_identities::{NewPending, PendingRow};
use crate::util::fetched::{Fetched, Unreachable};
use serde_json::Value;
use worker::{console_error, console_log};

const PENDING_SECONDS: u64 = 600;
/// Sign-ins one network may start in ten minutes.
const STARTS_PER_WINDOW: u64 = 60;

/// The sign-in room's reach: this request's outbound fetch, the Worker's secrets and
/// WebCrypto.
impl Reach for Ctx {
    async fn fetch(&self, r: Outbound<'_>) -> Result<Fetched, Unreachable> {
        outbound::fetch(r.method, r.url, r.headers, r.body, r.timeout_ms, r.limit).await
    }

    fn secret(&self, name: &str) -> Option<String> {
        self.env.secret(name).ok().map(|s| s.to_string())
    }

    fn now(&self) -> u64 {
        now()
    }
}

/// The JWK checks of sign-in (a provider's ID tokens): WebCrypto's.
impl crate::oauth::jws::VerifyJwk for Ctx {
    async fn verify_jwk(&self, alg: Alg, jwk: &Value, message: &[u8], signature: &[u8]) -> bool {
        super::webcrypto::verify_jwk(alg, jwk, message, signature).await
    }
}

/// Only this server's own sign-in pages are returned to.
fn is_return_path(p: &str) -> bool {
    let path = p.split('?').next().unwrap_or("");
    // Room for the longest /authorize link the server accepts.
    p.len() <= crate::oauth::authorize::MAX_QUERY_LEN + 16
        && !p.chars().any(|c| c.is_control() || c == '\\')
        && super::route::Route::find(path).is_some_and(super::route::Route::is_page)
}

fn browser_hash(csrf_cookie: &str) -> String {
    secret_hash(&format!("signin\n{csrf_cookie}"))
}

fn callback_uri(ctx: &Ctx, p: &Provider) -> String {
    format!("{}/signin/callback/{}", ctx.issuer, p.id)
}

/// The page for a failure; failures of the provider's answer and refusals of the person
/// are in the audit log (with the provider), the rest only in the Worker's log.
pub(super) async fn refuse(ctx: &Ctx, p: &Provider, f: Failure) -> Reply {
    let why = f.why();
    console_log!(
        "[{}] sign-in through {} failed: {}",
        ctx.request_id,
        p.id,
        why
    );
    let audited = match &f {
        Failure::Failed(_) | Failure::Refused(_) | Failure::WrongPassword => Some(None),
        Failure::Denied(_, who) => Some(who.as_deref()),
        _ => None,
    };
    if let Some(who) = audited {
        let detail = format!("provider {}: {why}", p.id);
        ctx.audit(Event::SignInFailed, who, None, Some(&detail))
            .await;
    }
    let (kind, shown) = match &f {
        Failure::Expired(_) => (ErrorKind::SignInExpired, None),
        Failure::Refused(code) => (ErrorKind::ProviderRefused, Some(code.as_str())),
        Failure::Failed(_) | Failure::WrongPassword => (ErrorKind::ProviderFailed, None),
        Failure::Unavailable(_) => (ErrorKind::ProviderUnavailable, None),
        Failure::Denied(Refusal::NoAccess, _) => (ErrorKind::NoAccess, None),
        Failure::Denied(Refusal::EmailUnverified, _) => (ErrorKind::EmailUnverified, None),
        Failure::Denied(Refusal::AccountExists, _) => (ErrorKind::AccountExists, None),
        Failure::Denied(Refusal::Disabled, _) => (ErrorKind::AccountDisabled, None),
        Failure::Internal(_) => (ErrorKind::Unavailable, None),
    };
    error_page(ctx, kind, shown.or(Some(&why)))
}

// --- /signin/start ------------------------------------------------------------------

pub async fn start(ctx: &Ctx, req: &Incoming) -> Reply {
    let form = req.form_pairs();
    let return_to = field(&form, "return_to");
    if !is_return_path(return_to) {
        return error_page(
            ctx,
            ErrorKind::BadForm,
            Some("return_to is not a sign-in page of this server"),
        );
    }
    if !browser::csrf_ok(
        ctx,
        req,
        &start_purpose(return_to),
        field(&form, "csrf_token"),
    ) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    let all = providers(ctx);
    let wanted = field(&form, "provider");
    let Some(p) = list(&all)
        .iter()
        .find(|p| p.id == wanted && p.is_redirect())
    else {
        return error_page(ctx, ErrorKind::BadForm, Some("no such sign-in provider"));
    };
    // Each start writes a row (and its return may write an audit row): bounded per
    // network, as registrations are.
    let now = now();
    let window = now / 600;
    let key = crate::store::keys::signin_starts(&req.client_ip, window);
    match ctx.db() {
        Ok(db) => match db.count_hit(&key, (window + 1) * 600, now).await {
            Ok(n) if n > STARTS_PER_WINDOW => {
                return error_page(ctx, ErrorKind::TooManySignIns, None);
            }
            Ok(_) => {}
            Err(e) => {
                ctx.internal(e);
                return error_page(ctx, ErrorKind::Unavailable, None);
            }
        },
        Err(_) => return error_page(ctx, ErrorKind::Unavailable, Some("no database")),
    }
    // csrf_ok has just read it.
    let Some(cookie) = read_cookie(req, &cookie_name(ctx, "csrf")) else {
        return error_page(ctx, ErrorKind::Expired, None);
    };
    let (state, nonce, verifier) = (random_token(), random_token(), random_token());
    let challenge = b64url(&sha256(verifier.as_bytes()));
    let redirect_uri = callback_uri(ctx, p);
    let out = Outgoing {
        redirect_uri: &redirect_uri,
        state: &state,
        nonce: &nonce,
        code_challenge: &challenge,
    };
    let location = match providers::start(p, ctx, &out).await {
        Ok(Some(location)) => location,
        Ok(None) => return error_page(ctx, ErrorKind::BadForm, None),
        Err(f) => return refuse(ctx, p, f).await,
    };
    let stored = match ctx.db() {
        Ok(db) => db
            .insert_pending(&NewPending {
                state_hash: &secret_hash(&state),
                provider: &p.id,
                browser_hash: &browser_hash(&cookie),
                verifier: &verifier,
                nonce: &nonce,
                return_to,
                expires_at: now + PENDING_SECONDS,
            })
            .await
            .map_err(|e| e.0),
        Err(_) => Err("no database".into()),
    };
    if let Err(e) = stored {
        ctx.internal(e);
        return error_page(ctx, ErrorKind::Unavailable, None);
    }
    see_other(&location)
}

// --- /signin/callback/<id> ----------------------------------------------------------

pub async fn callback(ctx: &Ctx, req: &Incoming) -> Reply {
    let id = req.path.strip_prefix("/signin/callback/").unwrap_or("");
    let all = providers(ctx);
    let Some(p) = list(&all)
        .iter()
        .find(|p| p.id == id && p.kind.flow() == Flow::Callback)
    else {
        return error_page(ctx, ErrorKind::BadRequest, Some("no such sign-in provider"));
    };
    let q = req.query_pairs();
    let result = async {
        let pending = take(ctx, req, field(&q, "state"), p).await?;
        let answer = Answer::Callback {
            query: &q,
            verifier: &pending.verifier,
            nonce: &pending.nonce,
            redirect_uri: &callback_uri(ctx, p),
        };
        let who = providers::person(p, ctx, answer).await?;
        Ok::<_, Failure>((who, pending.return_to))
    };
    match result.await {
        Ok((who, return_to)) => finish(ctx, p, &who, &return_to).await,
        Err(f) => refuse(ctx, p, f).await,
    }
}

/// Takes the pending sign-in a provider's return names: once, in time, in its browser.
async fn take(ctx: &Ctx, req: &Incoming, state: &str, p: &Provider) -> Result<PendingRow, Failure> {
    if state.is_empty() || state.len() > 200 {
        return Err(Failure::Expired("the return has no state".into()));
    }
    let db = ctx
        .db()
        .map_err(|_| Failure::Internal("no database".into()))?;
    let row = db
        .take_pending(&secret_hash(state))
        .await?
        .ok_or_else(|| Failure::Expired("unknown or used state".into()))?;
    check_pending(ctx, req, row, p)
}

pub(super) fn check_pending(
    ctx: &Ctx,
    req: &Incoming,
    row: PendingRow,
    p: &Provider,
) -> Result<PendingRow, Failure> {
    if row.provider != p.id {
        return Err(Failure::Expired(
            "the state belongs to another provider".into(),
        ));
    }
    if row.expires_at <= now() {
        return Err(Failure::Expired("the sign-in expired".into()));
    }
    let cookie = read_cookie(req, &cookie_name(ctx, "csrf"))
        .ok_or_else(|| Failure::Expired("the browser has no cookie of this sign-in".into()))?;
    if !constant_time_eq(
        browser_hash(&cookie).as_bytes(),
        row.browser_hash.as_bytes(),
    ) {
        return Err(Failure::Expired(
            "the sign-in was started in another browser".into(),
        ));
    }
    Ok(row)
}

/// At a refresh or an approval: whether a person with a GitHub identity is still in the
/// org or team their provider requires (`Ok(true)` for everyone else).
pub async fn still_member(ctx: &Ctx, db: &D1, user_id: &str) -> Result<bool, String> {
    providers::still_admitted(list(&providers(ctx)), db, ctx, user_id).await
}

/// Signs the person in and sends them back to the page they started from.
pub(super) async fn finish(ctx: &Ctx, p: &Provider, who: &Claimed, return_to: &str) -> Reply {
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    match linking::resolve(&db, ctx, p, who).await {
        Ok(user) => {
            if let Err(e) = signin_roles::keep_signin_roles(ctx, &db, p, &user.id, who).await {
                ctx.internal(e);
                return error_page(ctx, ErrorKind::Unavailable, None);
            }
            let detail = format!("provider {}", p.id);
            ctx.audit(Event::SignIn, Some(&user.id), None, Some(&detail))
                .await;
            match browser::session_cookie(ctx, &user.id) {
                Some(cookie) => see_other(return_to).header("Set-Cookie", &cookie),
                None => error_page(ctx, ErrorKind::Unavailable, Some("no signing key")),
            }
        }
        Err(f) => refuse(ctx, p, f).await,
    }
}

// --- the operator's app: password check ---------------------------------------------

/// The password-check provider, if one is configured.
pub fn password_checker(ctx: &Ctx) -> Option<Provider> {
    list(&providers(ctx))
        .iter()
        .find(|p| p.kind.flow() == Flow::PasswordCheck)
        .cloned()
}

pub enum Checked {
    Person(UserRow),
    /// The app says the email and password do not match.
    Wrong,
    Denied(Refusal, Option<String>),
    Unavailable,
}

/// Asks the operator's endpoint whether `password` is `email`'s, and who that is here.
pub async fn check_password(
    ctx: &Ctx,
    db: &D1,
    p: &Provider,
    email: &str,
    password: &str,
) -> Checked {
    let answer = Answer::Password { email, password };
    let found = match providers::person(p, ctx, answer).await {
        Ok(who) => match linking::resolve(db, ctx, p, &who).await {
            Ok(user) => match signin_roles::keep_signin_roles(ctx, db, p, &user.id, &who).await {
                Ok(()) => Ok(user),
                Err(e) => Err(Failure::Unavailable(format!("roles: {}", e.0))),
            },
            Err(f) => Err(f),
        },
        Err(f) => Err(f),
    };
    match found {
        Ok(user) => Checked::Person(user),
        Err(Failure::WrongPassword) => Checked::Wrong,
        Err(Failure::Denied(r, who)) => Checked::Denied(r, who),
        Err(f) => {
            // The room's words already say it was the password check.
            console_error!("[{}] {}", ctx.request_id, f.why());
            Checked::Unavailable
        }
    }
}
