//! Signing in through a provider, at the edge: `/signin/start` (from the "Continue with"
//! buttons), the provider's return to `/signin/callback/<id>`, the operator's app
//! completing a hand-off at `/signin/handoff` and the person's return to `/signin/return`,
//! and the password check. What is sent and what an answer means is decided in `signin`;
//! this file fetches, stores and answers.
//!
//! A pending sign-in is one D1 row, taken (deleted) by the first return that names it,
//! valid for ten minutes and only in the browser whose CSRF cookie started it. So a
//! person cannot be signed in by a provider response someone else started, and a state
//! or return code cannot be used twice. The person lands back on the page they came
//! from, signed in: for an app that is the consent page, shown as for any sign-in.

use super::outbound::{self, Fetched};
use super::pages::{error_page, see_other, ErrorKind};
use super::session::{self, cookie_name, field, read_cookie};
use super::webcrypto::verify_jwk;
use super::{now, Ctx, Incoming};
use crate::audit::Event;
use crate::config::ConfigError;
use crate::encoding::{b64url, constant_time_eq, random_bytes, random_token, secret_hash, sha256};
use crate::reply::{http_error, Reply};
use crate::signin::config::{self as provider_config, Flow, Kind, Provider};
use crate::signin::id_token::{self, Expected, IdTokenError};
use crate::signin::oidc::{self, Discovery, Outgoing};
use crate::signin::policy::{
    admits, clean_email, clean_name, decide, Claimed, Decision, Person, Refusal,
};
use crate::signin::signature;
use crate::store::d1::{UserRow, D1};
use crate::store::d1_identities::{Identity, NewPending, PendingRow};
use crate::store::memo::Memo;
use serde_json::{json, Value};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use worker::{console_error, console_log};

const PENDING_SECONDS: u64 = 600;
/// Sign-ins one network may start in ten minutes.
const STARTS_PER_WINDOW: u64 = 60;
/// Discovery documents, JWKS and token answers are small; anything larger is refused.
const ANSWER_LIMIT: usize = 64 * 1024;
const DISCOVERY_SECONDS: u64 = 3600;
const JWKS_SECONDS: u64 = 3600;
/// An unknown `kid` refetches the JWKS (the provider rotated its keys), at most this often
/// per provider, so tokens with made-up kids cannot make this Worker hammer the provider.
const JWKS_REFETCH_SECONDS: u64 = 60;
const CACHED_PROVIDERS: usize = 10;

type Providers = Rc<Result<Vec<Provider>, ConfigError>>;

thread_local! {
    static PROVIDERS: OnceCell<Providers> = const { OnceCell::new() };
    static DISCOVERED: RefCell<Vec<(String, Discovery, u64)>> = const { RefCell::new(Vec::new()) };
    static KEYSETS: RefCell<Vec<(String, Rc<Value>, u64)>> = const { RefCell::new(Vec::new()) };
    // GitHub's answers about memberships and logins, kept per isolate for the provider's
    // membership_cache_seconds: sign-ins, approvals and refreshes cannot spend the
    // membership token's rate limit, and a person removed from the org loses access at
    // most that much later.
    static MEMBERS: RefCell<Memo<String, bool>> = RefCell::new(Memo::new(1024));
    static LOGINS: RefCell<Memo<String, Option<String>>> = RefCell::new(Memo::new(1024));
}

/// The configured providers (checked once per isolate; a mistake is logged once and no
/// provider is offered until it is fixed).
pub fn providers(ctx: &Ctx) -> Providers {
    PROVIDERS.with(|cell| {
        cell.get_or_init(|| {
            let env = provider_config::Environment {
                secret_len: &|name| ctx.env.secret(name).ok().map(|s| s.to_string().len()),
            };
            let parsed = provider_config::parse(ctx.config.signin_providers.as_deref(), &env);
            if let Err(e) = &parsed {
                console_error!(
                    "sign-in providers not configured: {e}; none is offered until it is fixed"
                );
            }
            Rc::new(parsed)
        })
        .clone()
    })
}

pub fn list(all: &Providers) -> &[Provider] {
    match all.as_ref() {
        Ok(v) => v,
        Err(_) => &[],
    }
}

/// The CSRF purpose of the "Continue with" form on a page at `return_to`.
pub fn start_purpose(return_to: &str) -> String {
    format!("signin\n{return_to}")
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

fn secret(ctx: &Ctx, name: Option<&String>) -> Result<String, Failure> {
    name.and_then(|n| ctx.env.secret(n).ok())
        .map(|s| s.to_string())
        .ok_or_else(|| Failure::Internal("a provider's secret is not set".into()))
}

/// Why a sign-in through a provider did not finish; each is an error page.
#[derive(Debug)]
pub enum Failure {
    /// Unknown, used or expired state, or another browser's.
    Expired(String),
    /// The provider said no (`?error=`); its error code.
    Refused(String),
    /// The provider's answer could not be used or verified.
    Failed(String),
    /// The provider did not answer usefully in time.
    Unavailable(String),
    /// The person is who they say, and may not sign in (the user id when known).
    Denied(Refusal, Option<String>),
    Internal(String),
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Failure {
        Failure::Internal(e.0)
    }
}

/// The page for a failure; failures of the provider's answer and refusals of the person
/// are in the audit log (with the provider), the rest only in the Worker's log.
async fn refuse(ctx: &Ctx, p: &Provider, f: Failure) -> Reply {
    let why = match &f {
        Failure::Expired(w)
        | Failure::Failed(w)
        | Failure::Unavailable(w)
        | Failure::Internal(w) => w.clone(),
        Failure::Refused(code) => format!("the provider answered {code}"),
        Failure::Denied(r, _) => r.why().to_string(),
    };
    console_log!(
        "[{}] sign-in through {} failed: {}",
        ctx.request_id,
        p.id,
        why
    );
    let audited = match &f {
        Failure::Failed(_) | Failure::Refused(_) => Some(None),
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
        Failure::Failed(_) => (ErrorKind::ProviderFailed, None),
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
    if !session::csrf_ok(
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
    let location = match &p.kind {
        Kind::Oidc { issuer } => match discovered(issuer, p.timeout_ms).await {
            Ok(d) => oidc::authorization_url(p, &d.authorization_endpoint, &out),
            Err(f) => return refuse(ctx, p, f).await,
        },
        Kind::GitHub { web, .. } => {
            oidc::authorization_url(p, &format!("{web}/login/oauth/authorize"), &out)
        }
        Kind::Handoff { login_url } => oidc::handoff_url(login_url, &state),
        Kind::PasswordCheck { .. } => return error_page(ctx, ErrorKind::BadForm, None),
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
        let who = match &p.kind {
            Kind::Oidc { issuer } => oidc_person(ctx, p, issuer, &pending, &q).await?,
            _ => github_person(ctx, p, &pending, &q).await?,
        };
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

fn check_pending(
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

async fn oidc_person(
    ctx: &Ctx,
    p: &Provider,
    issuer: &str,
    pending: &PendingRow,
    q: &[(String, String)],
) -> Result<Claimed, Failure> {
    let d = discovered(issuer, p.timeout_ms).await?;
    // RFC 9207: an authorization response from another issuer (a mix-up) is refused, also
    // when it is an error.
    match q.iter().find(|(k, _)| k == "iss").map(|(_, v)| v.as_str()) {
        Some(iss) if iss != issuer => {
            return Err(Failure::Failed(
                "the response's iss is another issuer (RFC 9207)".into(),
            ))
        }
        None if d.sends_iss => {
            return Err(Failure::Failed(
                "the response has no iss, which this provider sends (RFC 9207)".into(),
            ))
        }
        _ => {}
    }
    let code = returned_code(q)?;
    let client_secret = secret(ctx, p.client_secret.as_ref())?;
    let redirect_uri = callback_uri(ctx, p);
    let body = oidc::token_request(
        p,
        code,
        &redirect_uri,
        &pending.verifier,
        &client_secret,
        p.token_auth_basic.unwrap_or(d.basic_auth),
    );
    let basic = oidc::basic_auth(&p.client_id, &client_secret);
    let mut headers = vec![
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Accept", "application/json"),
    ];
    if p.token_auth_basic.unwrap_or(d.basic_auth) {
        headers.push(("Authorization", basic.as_str()));
    }
    let answer = provider_fetch(
        "POST",
        &d.token_endpoint,
        &headers,
        Some(body.as_bytes()),
        p,
    )
    .await?;
    let token =
        oidc::token_answer(answer.status, &answer.body, "id_token").map_err(Failure::Failed)?;
    let jws = id_token::split(&token).map_err(|e| Failure::Failed(e.to_string()))?;
    let key = jwks_key(&d.jwks_uri, &jws, p.timeout_ms).await?;
    if !verify_jwk(jws.alg, &key, &jws.signing_input, &jws.signature).await {
        return Err(Failure::Failed(IdTokenError::Signature.to_string()));
    }
    let expected = Expected {
        issuer,
        client_id: &p.client_id,
        nonce: &pending.nonce,
        now: now(),
    };
    let claims = id_token::check_claims(&jws.claims, &expected)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let email = claims.email.as_deref().and_then(clean_email);
    let verified = claims.email_verified || p.emails_verified;
    Ok(Claimed {
        subject: claims.sub,
        unverified_email: email.is_some() && !verified,
        verified_email: email.filter(|_| verified),
        name: claims.name.as_deref().and_then(clean_name),
        hosted_domain: claims.hd,
        login: None,
    })
}

/// A fetch to a provider: no answer, or a 5xx, is the provider being unavailable.
async fn provider_fetch(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    p: &Provider,
) -> Result<Fetched, Failure> {
    let f = outbound::fetch(method, url, headers, body, p.timeout_ms, ANSWER_LIMIT)
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

async fn fetch_json(url: &str, timeout_ms: u64, what: &str) -> Result<Value, Failure> {
    let f = outbound::fetch(
        "GET",
        url,
        &[("Accept", "application/json")],
        None,
        timeout_ms,
        ANSWER_LIMIT,
    )
    .await
    .map_err(|e| Failure::Unavailable(format!("{what}: {e}")))?;
    if f.status != 200 {
        return Err(Failure::Unavailable(format!(
            "{what} answered {}",
            f.status
        )));
    }
    crate::json::parse(&f.body).map_err(|_| Failure::Failed(format!("{what} is not JSON")))
}

/// The provider's discovery document, cached per isolate for an hour.
async fn discovered(issuer: &str, timeout_ms: u64) -> Result<Discovery, Failure> {
    let now = now();
    let hit = DISCOVERED.with(|c| {
        c.borrow()
            .iter()
            .find(|(i, _, at)| i == issuer && at + DISCOVERY_SECONDS > now)
            .map(|(_, d, _)| d.clone())
    });
    if let Some(d) = hit {
        return Ok(d);
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc = fetch_json(&url, timeout_ms, "the discovery document").await?;
    let d = oidc::discovery(issuer, &doc).map_err(Failure::Failed)?;
    DISCOVERED.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|(i, _, _)| i != issuer);
        if c.len() >= CACHED_PROVIDERS {
            c.remove(0);
        }
        c.push((issuer.to_string(), d.clone(), now));
    });
    Ok(d)
}

/// The key that must have signed `jws`, from the provider's JWKS (cached per isolate; an
/// unknown `kid` refetches it, at most once a minute).
async fn jwks_key(uri: &str, jws: &id_token::Jws, timeout_ms: u64) -> Result<Value, Failure> {
    let now = now();
    let cached = KEYSETS.with(|c| {
        c.borrow()
            .iter()
            .find(|(u, _, at)| u == uri && at + JWKS_SECONDS > now)
            .map(|(_, k, at)| (k.clone(), *at))
    });
    let no_key = || Failure::Failed(IdTokenError::NoKey.to_string());
    if let Some((jwks, at)) = &cached {
        if let Some(k) = id_token::select_key(jwks, jws.alg, jws.kid.as_deref()) {
            return Ok(k.clone());
        }
        if at + JWKS_REFETCH_SECONDS > now {
            return Err(no_key());
        }
    }
    let jwks = Rc::new(fetch_json(uri, timeout_ms, "the provider's JWKS").await?);
    KEYSETS.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|(u, _, _)| u != uri);
        if c.len() >= CACHED_PROVIDERS {
            c.remove(0);
        }
        c.push((uri.to_string(), jwks.clone(), now));
    });
    id_token::select_key(&jwks, jws.alg, jws.kid.as_deref())
        .cloned()
        .ok_or_else(no_key)
}

// --- GitHub -------------------------------------------------------------------------

async fn github_person(
    ctx: &Ctx,
    p: &Provider,
    pending: &PendingRow,
    q: &[(String, String)],
) -> Result<Claimed, Failure> {
    let Kind::GitHub { web, api, .. } = &p.kind else {
        return Err(Failure::Internal("not a GitHub provider".into()));
    };
    let code = returned_code(q)?;
    let client_secret = secret(ctx, p.client_secret.as_ref())?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &p.client_id)
        .append_pair("client_secret", &client_secret)
        .append_pair("code", code)
        .append_pair("redirect_uri", &callback_uri(ctx, p))
        .append_pair("code_verifier", &pending.verifier)
        .finish();
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Accept", "application/json"),
    ];
    let url = format!("{web}/login/oauth/access_token");
    let answer = provider_fetch("POST", &url, &headers, Some(body.as_bytes()), p).await?;
    let token =
        oidc::token_answer(answer.status, &answer.body, "access_token").map_err(Failure::Failed)?;
    // The person's GitHub token is used for these two calls and then dropped: it is never
    // stored, logged or passed on.
    let auth = format!("Bearer {token}");
    let user = github_api(p, &format!("{api}/user"), &auth).await?;
    let user = github_json(&user, "/user")?;
    let gh = oidc::github_user(&user).map_err(|e| Failure::Failed(e.to_string()))?;
    let emails = github_api(p, &format!("{api}/user/emails"), &auth).await?;
    let email = oidc::github_primary_email(&github_json(&emails, "/user/emails")?)
        .as_deref()
        .and_then(clean_email);
    Ok(Claimed {
        subject: gh.id,
        unverified_email: email.is_none(),
        verified_email: email,
        name: gh.name.as_deref().and_then(clean_name),
        hosted_domain: None,
        login: Some(gh.login),
    })
}

async fn github_api(p: &Provider, url: &str, auth: &str) -> Result<Fetched, Failure> {
    let headers = [
        ("Accept", "application/vnd.github+json"),
        ("Authorization", auth),
        ("User-Agent", "mcp-oauth-worker"),
        ("X-GitHub-Api-Version", "2022-11-28"),
    ];
    provider_fetch("GET", url, &headers, None, p).await
}

fn github_json(f: &Fetched, what: &str) -> Result<Value, Failure> {
    if f.status != 200 {
        return Err(Failure::Failed(format!(
            "GitHub's {what} answered {}",
            f.status
        )));
    }
    crate::json::parse(&f.body).map_err(|_| Failure::Failed(format!("GitHub's {what} is not JSON")))
}

/// Whether `login` is in one of the provider's GitHub orgs or teams, asked with the
/// operator's membership token (so it can be asked again at a refresh, without the person).
pub async fn github_member(ctx: &Ctx, p: &Provider, login: &str) -> Result<bool, Failure> {
    let key = format!("{}\u{1f}{login}", p.id);
    let now = now();
    if let Some(yes) = MEMBERS.with(|m| m.borrow().get(&key, now)) {
        return Ok(yes);
    }
    let yes = ask_membership(ctx, p, login).await?;
    if p.membership_cache_seconds > 0 {
        let until = now + p.membership_cache_seconds;
        MEMBERS.with(|m| m.borrow_mut().put(key, yes, until, now));
    }
    Ok(yes)
}

async fn ask_membership(ctx: &Ctx, p: &Provider, login: &str) -> Result<bool, Failure> {
    let (
        Kind::GitHub {
            api,
            membership_token: Some(token),
            ..
        },
        Some(allow),
    ) = (&p.kind, &p.allow)
    else {
        return Ok(false);
    };
    let auth = format!("Bearer {}", secret(ctx, Some(token))?);
    for org in &allow.github_orgs {
        let f = github_api(p, &format!("{api}/orgs/{org}/members/{login}"), &auth).await?;
        match f.status {
            204 => return Ok(true),
            // 302: the token's owner is not a member of the org and cannot see its members.
            302 | 404 => {}
            s => {
                return Err(Failure::Failed(format!(
                    "GitHub's org membership of {org} answered {s}"
                )))
            }
        }
    }
    for (org, team) in &allow.github_teams {
        let f = github_api(
            p,
            &format!("{api}/orgs/{org}/teams/{team}/memberships/{login}"),
            &auth,
        )
        .await?;
        match f.status {
            200 => {
                let active = crate::json::parse(&f.body)
                    .ok()
                    .and_then(|v| {
                        v.get("state")
                            .and_then(Value::as_str)
                            .map(|s| s == "active")
                    })
                    .unwrap_or(false);
                if active {
                    return Ok(true);
                }
            }
            404 => {}
            s => {
                return Err(Failure::Failed(format!(
                    "GitHub's team membership of {org}/{team} answered {s}"
                )))
            }
        }
    }
    Ok(false)
}

/// The current login of GitHub's user `id` (`None`: no such user any more), asked with the
/// membership token.
async fn github_login(ctx: &Ctx, p: &Provider, id: &str) -> Result<Option<String>, Failure> {
    let key = format!("{}\u{1f}{id}", p.id);
    let now = now();
    if let Some(login) = LOGINS.with(|m| m.borrow().get(&key, now)) {
        return Ok(login);
    }
    let login = ask_login(ctx, p, id).await?;
    if p.membership_cache_seconds > 0 {
        let until = now + p.membership_cache_seconds;
        LOGINS.with(|m| m.borrow_mut().put(key, login.clone(), until, now));
    }
    Ok(login)
}

async fn ask_login(ctx: &Ctx, p: &Provider, id: &str) -> Result<Option<String>, Failure> {
    let (
        Kind::GitHub {
            api,
            membership_token: Some(token),
            ..
        },
        true,
    ) = (&p.kind, id.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Ok(None);
    };
    let auth = format!("Bearer {}", secret(ctx, Some(token))?);
    let f = github_api(p, &format!("{api}/user/{id}"), &auth).await?;
    if f.status == 404 {
        return Ok(None);
    }
    let user = github_json(&f, "/user/<id>")?;
    let gh = oidc::github_user(&user).map_err(Failure::Failed)?;
    Ok((gh.id == id).then_some(gh.login))
}

/// At a refresh: whether a person with a GitHub identity is still in the org or team
/// their provider requires. `Ok(true)` for everyone else.
pub async fn still_member(ctx: &Ctx, db: &D1, user_id: &str) -> Result<bool, String> {
    let all = providers(ctx);
    for p in list(&all) {
        let Some(allow) = p.allow.as_ref().filter(|a| a.needs_membership()) else {
            continue;
        };
        let Some(identity) = db
            .identity_of(user_id, &p.identity_namespace())
            .await
            .map_err(|e| e.0)?
        else {
            continue;
        };
        // Rules that do not need GitHub (a listed person, a verified email's domain)
        // still admit them.
        let known = Claimed {
            subject: identity.subject.clone(),
            verified_email: identity.email.clone(),
            unverified_email: false,
            name: None,
            hosted_domain: None,
            login: None,
        };
        if admits(allow, &known) == Some(true) {
            continue;
        }
        // The login as it is now, from the numeric id: a renamed account keeps its
        // membership, and someone who took over an old login name is not this person.
        let login = match github_login(ctx, p, &identity.subject).await {
            Ok(Some(login)) => login,
            Ok(None) => return Ok(false),
            Err(f) => return Err(format!("{f:?}")),
        };
        match github_member(ctx, p, &login).await {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(f) => return Err(format!("{f:?}")),
        }
    }
    Ok(true)
}

// --- the person this makes -----------------------------------------------------------

/// The person a provider's identity is here, by the provider's rules (`signin::policy`):
/// found, linked by email, created, or refused.
pub async fn resolve(ctx: &Ctx, db: &D1, p: &Provider, who: &Claimed) -> Result<UserRow, Failure> {
    let ns = p.identity_namespace();
    let mapped = match db.identity(&ns, &who.subject).await? {
        Some(row) => db.user_by_id(&row.user_id).await?,
        None => None,
    };
    let by_email = match (&mapped, &who.verified_email) {
        (None, Some(email)) => db.user_by_email(email).await?,
        _ => None,
    };
    // Linking by email joins only people the operator added (`npm run user`, so with a
    // local password), never a person another provider created: whoever created them
    // through a provider that vouched for an address they do not own must not be joined
    // by its real owner. And a person who already has another identity at this provider
    // is not linked to a second one: one account there, one person here.
    if let Some(person) = &by_email {
        let provider_made = person.password_hash.is_empty();
        if p.link_by_email && (provider_made || db.identity_of(&person.id, &ns).await?.is_some()) {
            return Err(Failure::Denied(
                Refusal::AccountExists,
                Some(person.id.clone()),
            ));
        }
    }
    let admitted = match &p.allow {
        None => None,
        Some(a) => Some(match admits(a, who) {
            Some(yes) => yes,
            None => github_member(ctx, p, who.login.as_deref().unwrap_or_default()).await?,
        }),
    };
    let person = |u: &UserRow| Person {
        id: u.id.clone(),
        disabled: u.disabled_at.is_some(),
    };
    let decision = decide(
        p,
        who,
        mapped.as_ref().map(person).as_ref(),
        by_email.as_ref().map(person).as_ref(),
        admitted,
    );
    let now = now();
    let identity = Identity {
        provider: &ns,
        subject: &who.subject,
        login: who.login.as_deref(),
        email: who.verified_email.as_deref(),
    };
    match decision {
        Decision::SignIn(_) | Decision::Link(_) => {
            let user = mapped
                .or(by_email)
                .ok_or_else(|| Failure::Internal("no person".into()))?;
            db.use_identity(&identity, &user.id, now).await?;
            Ok(user)
        }
        Decision::Create => {
            let id = b64url(&random_bytes::<16>());
            let email = identity.email.unwrap_or_default();
            let name = who.name.as_deref();
            if !db.create_person(&id, email, name, &identity, now).await? {
                // Two first sign-ins at once (two tabs): the other one created them.
                if let Some(row) = db.identity(&ns, &who.subject).await? {
                    if let Some(user) = db.user_by_id(&row.user_id).await? {
                        if user.disabled_at.is_none() {
                            return Ok(user);
                        }
                    }
                }
                return Err(Failure::Denied(Refusal::AccountExists, None));
            }
            db.user_by_id(&id)
                .await?
                .ok_or_else(|| Failure::Internal("the new person is missing".into()))
        }
        Decision::Refuse(r) => {
            let who = mapped.or(by_email).map(|u| u.id);
            Err(Failure::Denied(r, who))
        }
    }
}

/// Signs the person in and sends them back to the page they started from.
async fn finish(ctx: &Ctx, p: &Provider, who: &Claimed, return_to: &str) -> Reply {
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    match resolve(ctx, &db, p, who).await {
        Ok(user) => {
            let detail = format!("provider {}", p.id);
            ctx.audit(Event::SignIn, Some(&user.id), None, Some(&detail))
                .await;
            match session::session_cookie(ctx, &user.id) {
                Some(cookie) => see_other(return_to).header("Set-Cookie", &cookie),
                None => error_page(ctx, ErrorKind::Unavailable, Some("no signing key")),
            }
        }
        Err(f) => refuse(ctx, p, f).await,
    }
}

// --- the operator's app: hand-off ----------------------------------------------------

/// `POST /signin/handoff`: the operator's app, server to server, says who signed in for a
/// pending hand-off. The answer is where to send that person's browser: a one-time code
/// only that browser can use, so a hand-off started by someone else cannot sign them in.
pub async fn handoff(ctx: &Ctx, req: &Incoming) -> Reply {
    let all = providers(ctx);
    let header = req.header("mcp-signature");
    let now = now();
    let mut signed_by = None;
    for p in list(&all).iter().filter(|p| p.kind.flow() == Flow::Handoff) {
        let Ok(s) = secret(ctx, p.shared_secret.as_ref()) else {
            continue;
        };
        if signature::verify(&s, signature::Purpose::Handoff, header, &req.body, now).is_ok() {
            signed_by = Some(p);
            break;
        }
    }
    let Some(p) = signed_by else {
        return http_error(
            401,
            "invalid_signature",
            "the Mcp-Signature header is missing, stale or not made with a hand-off provider's shared secret",
        );
    };
    let bad = |why: &str| http_error(400, "invalid_request", why);
    let Ok(Value::Object(doc)) = crate::json::parse(&req.body) else {
        return bad("the body must be a JSON object");
    };
    let text = |k: &str, max: usize| {
        doc.get(k)
            .and_then(|v| match v {
                Value::String(s) => Some(s.trim().to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty() && s.len() <= max)
    };
    let Some(request) = text("request", 200) else {
        return bad("request (the mcp_request it was given) is required");
    };
    let Some(user_id) = text("user_id", 255) else {
        return bad("user_id (the app's stable id for the person) is required");
    };
    let Some(email) = text("email", 254).as_deref().and_then(clean_email) else {
        return bad("email is required");
    };
    let name = text("name", 400).as_deref().and_then(clean_name);
    // The app vouches for the address only when it says so (or the provider's
    // emails_verified says it always does): many apps let people sign up unverified.
    let verified = doc.get("email_verified") == Some(&Value::Bool(true)) || p.emails_verified;
    let identity =
        json!({"sub": user_id, "email": email, "name": name, "email_verified": verified})
            .to_string();
    let code = random_token();
    let Ok(db) = ctx.db() else {
        return http_error(503, "temporarily_unavailable", "no database");
    };
    match db
        .complete_handoff(
            &secret_hash(&request),
            &p.id,
            &secret_hash(&code),
            &identity,
            now,
        )
        .await
    {
        Ok(true) => Reply::json(
            200,
            &json!({ "redirect_to": format!("{}/signin/return?code={code}", ctx.issuer) }),
        )
        .header("Cache-Control", crate::reply::NO_STORE),
        Ok(false) => http_error(
            400,
            "invalid_grant",
            "the sign-in request is unknown, already completed or expired",
        ),
        Err(e) => {
            ctx.internal(e);
            http_error(503, "temporarily_unavailable", "try again")
        }
    }
}

/// `GET /signin/return?code=`: the person, back from the operator's app.
pub async fn handoff_return(ctx: &Ctx, req: &Incoming) -> Reply {
    let q = req.query_pairs();
    let code = field(&q, "code");
    let all = providers(ctx);
    let taken = async {
        if code.is_empty() || code.len() > 100 {
            return Err(Failure::Expired("no return code".into()));
        }
        let db = ctx
            .db()
            .map_err(|_| Failure::Internal("no database".into()))?;
        db.take_completed(&secret_hash(code))
            .await?
            .ok_or_else(|| Failure::Expired("unknown or used return code".into()))
    };
    let row = match taken.await {
        Ok(row) => row,
        Err(_) => {
            return error_page(
                ctx,
                ErrorKind::SignInExpired,
                Some("unknown or used return code"),
            )
        }
    };
    let Some(p) = list(&all)
        .iter()
        .find(|p| p.id == row.provider && p.kind.flow() == Flow::Handoff)
    else {
        return error_page(
            ctx,
            ErrorKind::SignInExpired,
            Some("the hand-off's provider is gone"),
        );
    };
    let row = match check_pending(ctx, req, row, p) {
        Ok(row) => row,
        Err(f) => return refuse(ctx, p, f).await,
    };
    let identity = row
        .identity
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok());
    let Some(identity) = identity else {
        return error_page(
            ctx,
            ErrorKind::SignInExpired,
            Some("the hand-off was not completed"),
        );
    };
    let s = |k: &str| identity.get(k).and_then(Value::as_str).map(str::to_string);
    let who = Claimed {
        subject: s("sub").unwrap_or_default(),
        verified_email: s("email")
            .filter(|_| identity.get("email_verified") == Some(&Value::Bool(true))),
        unverified_email: identity.get("email_verified") != Some(&Value::Bool(true)),
        name: s("name"),
        hosted_domain: None,
        login: None,
    };
    finish(ctx, p, &who, &row.return_to).await
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

/// Asks the operator's endpoint whether `password` is `email`'s. The password goes only
/// into the signed request body: it is never stored, and never in a log line here.
pub async fn check_password(
    ctx: &Ctx,
    db: &D1,
    p: &Provider,
    email: &str,
    password: &str,
) -> Checked {
    let Kind::PasswordCheck { url } = &p.kind else {
        return Checked::Unavailable;
    };
    let Ok(s) = secret(ctx, p.shared_secret.as_ref()) else {
        console_error!(
            "[{}] password check: the shared secret is not set",
            ctx.request_id
        );
        return Checked::Unavailable;
    };
    let body = json!({ "email": email, "password": password }).to_string();
    let sig = signature::sign(
        &s,
        signature::Purpose::PasswordCheck,
        now(),
        body.as_bytes(),
    );
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
        (signature::HEADER, sig.as_str()),
    ];
    let answer = outbound::fetch(
        "POST",
        url,
        &headers,
        Some(body.as_bytes()),
        p.timeout_ms,
        16 * 1024,
    )
    .await;
    let f = match answer {
        Ok(f) => f,
        Err(why) => {
            console_error!("[{}] password check: {why}", ctx.request_id);
            return Checked::Unavailable;
        }
    };
    match f.status {
        200 => {}
        401 | 403 | 404 => return Checked::Wrong,
        s => {
            console_error!(
                "[{}] password check: the endpoint answered {s}",
                ctx.request_id
            );
            return Checked::Unavailable;
        }
    }
    let doc = crate::json::parse(&f.body).ok();
    let get = |k: &str| {
        doc.as_ref().and_then(|d| d.get(k)).and_then(|v| match v {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let (Some(user_id), Some(email)) = (
        get("user_id").filter(|u| !u.is_empty() && u.len() <= 255),
        get("email").as_deref().and_then(clean_email),
    ) else {
        console_error!(
            "[{}] password check: the answer has no user_id and email",
            ctx.request_id
        );
        return Checked::Unavailable;
    };
    let verified = doc.as_ref().and_then(|d| d.get("email_verified")) == Some(&Value::Bool(true))
        || p.emails_verified;
    let who = Claimed {
        subject: user_id,
        verified_email: Some(email).filter(|_| verified),
        unverified_email: !verified,
        name: get("name").as_deref().and_then(clean_name),
        hosted_domain: None,
        login: None,
    };
    match resolve(ctx, db, p, &who).await {
        Ok(user) => Checked::Person(user),
        Err(Failure::Denied(r, who)) => Checked::Denied(r, who),
        Err(f) => {
            console_error!("[{}] password check: {f:?}", ctx.request_id);
            Checked::Unavailable
        }
    }
}
