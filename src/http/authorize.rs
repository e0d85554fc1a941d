//! `GET /authorize` shows the sign-in and consent page; `POST /authorize` signs the person
//! in (or uses their session), checks the CSRF token, and approves or denies. The POST
//! re-validates the whole request: hidden fields are never trusted.

use crate::encoding::{b64url, constant_time_eq, random_token};
use crate::http::{now, password, Ctx, Incoming};
use crate::oauth::authorize::{
    validate, AuthorizeFailure, AuthorizeParams, AuthorizeRequest, Redirect,
};
use crate::oauth::client::ClientSource;
use crate::oauth::code::{self, CodeGrant};
use crate::oauth::error::OAuthError;
use crate::oauth::seal::{self, hmac_sha256};
use crate::reply::Reply;
use crate::store::d1::{UserRow, D1};
use crate::templates::{self, escape, render};
use serde::{Deserialize, Serialize};

pub(super) const SESSION_SECONDS: u64 = 12 * 3600;

pub async fn show(ctx: &Ctx, req: &Incoming) -> Reply {
    let pairs = req.query_pairs();
    let request = match validated(ctx, &pairs).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let (csrf_cookie, new_cookie) = match read_cookie(req, &cookie_name(ctx, "csrf")) {
        Some(c) if c.len() == 43 => (c, None),
        _ => {
            let c = random_token();
            (
                c.clone(),
                Some(set_cookie(ctx, "csrf", &c, SESSION_SECONDS)),
            )
        }
    };
    let user = session_user(ctx, req).await;
    let mut reply = consent_page(
        ctx,
        &request,
        &pairs,
        &csrf_cookie,
        user.as_ref(),
        None,
        200,
    );
    if let Some(c) = new_cookie {
        reply = reply.header("Set-Cookie", &c);
    }
    reply
}

pub async fn submit(ctx: &Ctx, req: &Incoming) -> Reply {
    let form = req.form_pairs();
    let request = match validated(ctx, &form).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let csrf_cookie = read_cookie(req, &cookie_name(ctx, "csrf")).unwrap_or_default();
    let Ok(keys) = ctx.oauth_keys() else {
        return error_page(
            ctx,
            500,
            "Sign-in is not available",
            "The server is not configured correctly.",
        );
    };
    let expected = csrf_token(&keys.mac_key("csrf"), &csrf_cookie, &form);
    if csrf_cookie.is_empty()
        || !constant_time_eq(expected.as_bytes(), field("csrf_token").as_bytes())
    {
        return error_page(
            ctx,
            403,
            "This page has expired",
            "For your safety the form could not be accepted: it was opened in another browser \
             session or is too old.",
        );
    }
    match field("action") {
        "deny" => {
            let e = OAuthError::AccessDenied("the person declined to authorize the app".into());
            return Reply::redirect(&Redirect::error(&request, &ctx.issuer, &e).location());
        }
        "switch" => {
            return consent_page(ctx, &request, &form, &csrf_cookie, None, None, 200)
                .header("Set-Cookie", &clear_cookie(ctx, "session"));
        }
        "approve" => {}
        _ => {
            return error_page(
                ctx,
                400,
                "Something went wrong",
                "The form was not sent correctly.",
            )
        }
    }

    let Ok(db) = ctx.db() else {
        return error_page(
            ctx,
            500,
            "Sign-in is not available",
            "The server is not configured correctly.",
        );
    };
    let mut new_session = None;
    let user = match session_user(ctx, req).await {
        Some(u) => u,
        None => match sign_in(ctx, &db, req, field("email"), field("password")).await {
            Ok(u) => {
                new_session = Some(session_cookie(ctx, &keys.mac_key("session"), &u.id));
                u
            }
            Err((status, message)) => {
                return consent_page(
                    ctx,
                    &request,
                    &form,
                    &csrf_cookie,
                    None,
                    Some(&message),
                    status,
                )
            }
        },
    };

    let grant = CodeGrant {
        client_id: request.client.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        user_id: user.id.clone(),
        scope: request.scopes.to_string(),
        resource: request.resource.clone(),
        expires_at: now() + ctx.config.code_ttl,
    };
    let (code, _) = code::mint(&keys.mac_key("code"), &grant);
    let mut reply = Reply::redirect(&Redirect::code(&request, &ctx.issuer, &code).location());
    if let Some(c) = new_session {
        reply = reply.header("Set-Cookie", &c);
    }
    reply
}

/// Parses and validates; failures become the page or the redirect the spec requires.
async fn validated(ctx: &Ctx, pairs: &[(String, String)]) -> Result<AuthorizeRequest, Reply> {
    let params = AuthorizeParams::from_pairs(pairs)
        .map_err(|e| error_page(ctx, 400, "This sign-in link is not valid", &e))?;
    let client = match params.client_id.as_deref() {
        Some(id) if !id.is_empty() => ctx.find_client(id).await.map_err(|_| {
            error_page(
                ctx,
                500,
                "Sign-in is not available",
                "The server could not look up the app.",
            )
        })?,
        _ => None,
    };
    validate(&params, client, &ctx.issuer, &ctx.resource()).map_err(|f| match f {
        AuthorizeFailure::Page { title, detail } => error_page(ctx, 400, &title, &detail),
        AuthorizeFailure::Redirect(r) => Reply::redirect(&r.location()),
    })
}

/// Checks a password, with lockouts per account and per IP. The error is the status and
/// the one message a person sees; it never says whether the account exists.
pub(super) async fn sign_in(
    ctx: &Ctx,
    db: &D1,
    req: &Incoming,
    email: &str,
    pw: &str,
) -> Result<UserRow, (u16, String)> {
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() || pw.is_empty() {
        return Err((400, "Enter your email and password.".into()));
    }
    let user_key = format!("user:{email}");
    let ip_key = format!("ip:{}", req.client_ip);
    let now = now();
    let internal = |e| {
        ctx.internal(e);
        (
            500,
            "Sign-in is not available right now. Try again later.".to_string(),
        )
    };
    let (max, lock) = (ctx.config.login_max_failures, ctx.config.lockout_seconds);
    if let Some(until) = db
        .reserve_attempt(&[&user_key, &ip_key], now, max, lock)
        .await
        .map_err(internal)?
    {
        return Err((429, lockout_message(until, now)));
    }
    let user = db.user_by_email(&email).await.map_err(internal)?;
    let ok = match &user {
        Some(u) => password::verify(pw, &u.password_salt, &u.password_hash, u.iterations).await,
        None => {
            password::verify(pw, password::DUMMY_SALT, password::DUMMY_HASH, 100_000).await;
            false
        }
    };
    match user {
        Some(u) if ok && u.disabled_at.is_none() => {
            db.clear_failures(&user_key).await.map_err(internal)?;
            db.release_attempt(&ip_key).await.map_err(internal)?;
            Ok(u)
        }
        _ => {
            let a = db
                .lock_if_spent(&user_key, now, max, lock)
                .await
                .map_err(internal)?;
            let b = db
                .lock_if_spent(&ip_key, now, max, lock)
                .await
                .map_err(internal)?;
            match a.or(b) {
                Some(until) => Err((429, lockout_message(until, now))),
                None => Err((
                    401,
                    "That email and password do not match an account.".into(),
                )),
            }
        }
    }
}

fn lockout_message(until: u64, now: u64) -> String {
    let minutes = until.saturating_sub(now).div_ceil(60).max(1);
    format!(
        "Too many failed sign-in attempts. For your security, sign-in is paused: try again in \
         {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

#[derive(Serialize, Deserialize)]
struct Session {
    u: String,
    e: u64,
}

pub(super) fn session_cookie(ctx: &Ctx, key: &[u8; 32], user_id: &str) -> String {
    let value = serde_json::to_vec(&Session {
        u: user_id.to_string(),
        e: now() + SESSION_SECONDS,
    })
    .unwrap_or_default();
    set_cookie(ctx, "session", &seal::seal(key, &value), SESSION_SECONDS)
}

/// The signed-in person, if the session cookie is valid and the account still active.
pub async fn session_user(ctx: &Ctx, req: &Incoming) -> Option<UserRow> {
    let cookie = read_cookie(req, &cookie_name(ctx, "session"))?;
    let keys = ctx.oauth_keys().ok()?;
    let session: Session =
        serde_json::from_slice(&seal::open(&keys.mac_key("session"), &cookie)?).ok()?;
    if session.e < now() {
        return None;
    }
    let user = ctx.db().ok()?.user_by_id(&session.u).await.ok()??;
    user.disabled_at.is_none().then_some(user)
}

/// A CSRF token bound to this browser (its csrf cookie) and to this exact request.
fn csrf_token(key: &[u8; 32], cookie: &str, pairs: &[(String, String)]) -> String {
    let params = AuthorizeParams::from_pairs(pairs).unwrap_or_default();
    let mut message = cookie.to_string();
    for (k, v) in params.pairs() {
        message.push('\n');
        message.push_str(k);
        message.push('=');
        message.push_str(v);
    }
    b64url(&hmac_sha256(key, message.as_bytes()))
}

pub(super) fn cookie_name(ctx: &Ctx, base: &str) -> String {
    if ctx.secure() {
        format!("__Host-mcp-{base}")
    } else {
        format!("mcp-{base}")
    }
}

pub(super) fn set_cookie(ctx: &Ctx, base: &str, value: &str, max_age: u64) -> String {
    format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        cookie_name(ctx, base),
        if ctx.secure() { "; Secure" } else { "" }
    )
}

fn clear_cookie(ctx: &Ctx, base: &str) -> String {
    set_cookie(ctx, base, "", 0)
}

pub(super) fn read_cookie(req: &Incoming, name: &str) -> Option<String> {
    req.header("cookie")?.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

pub fn error_page(ctx: &Ctx, status: u16, title: &str, detail: &str) -> Reply {
    worker::console_log!("[{}] error page: {}", ctx.request_id, title);
    let content = render(
        templates::ERROR,
        &[
            ("title", title),
            ("detail", detail),
            ("request_id", &ctx.request_id),
        ],
    );
    Reply::html(
        status,
        templates::page(title, &ctx.config.product_name, &content),
    )
}

fn consent_page(
    ctx: &Ctx,
    request: &AuthorizeRequest,
    pairs: &[(String, String)],
    csrf_cookie: &str,
    user: Option<&UserRow>,
    error: Option<&str>,
    status: u16,
) -> Reply {
    let keys = match ctx.oauth_keys() {
        Ok(k) => k,
        Err(_) => {
            return error_page(
                ctx,
                500,
                "Sign-in is not available",
                "The server is not configured correctly.",
            )
        }
    };
    let client = &request.client;
    let client_name = client
        .client_name
        .clone()
        .unwrap_or_else(|| "An unnamed app".to_string());
    let trust = match client.source {
        ClientSource::Registered => "(name chosen by the app itself)".to_string(),
        ClientSource::MetadataDocument => format!(
            "(verified by {})",
            url::Url::parse(&client.client_id)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default()
        ),
    };
    let redirect_host = url::Url::parse(&request.redirect_uri)
        .ok()
        .map(|u| match u.host_str() {
            Some(h) => h.to_string(),
            None => format!("{}:", u.scheme()),
        })
        .unwrap_or_default();
    let warnings = if client.loopback_only() {
        "<p class=\"warning\">This app runs on your own computer: any program on it could \
         claim this name. Approve only if you just started it.</p>"
            .to_string()
    } else {
        String::new()
    };
    let params = AuthorizeParams::from_pairs(pairs).unwrap_or_default();
    let hidden: String = params
        .pairs()
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(v)
            )
        })
        .collect();
    let scopes: String = request
        .scopes
        .descriptions()
        .iter()
        .map(|(_, words)| format!("<li>{}</li>", escape(words)))
        .collect();
    let identity = match user {
        Some(u) => format!(
            "<p>Signed in as <strong>{}</strong>. \
             <button type=\"submit\" name=\"action\" value=\"switch\" class=\"link\" formnovalidate>Not you?</button></p>",
            escape(&u.email)
        ),
        None => "<label for=\"email\">Email</label>\
             <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required aria-describedby=\"form-error\">\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required aria-describedby=\"form-error\">"
            .to_string(),
    };
    let error = error
        .map(|e| {
            format!(
                "<p id=\"form-error\" class=\"error\" role=\"alert\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_else(|| "<p id=\"form-error\" class=\"error\" aria-live=\"polite\"></p>".into());
    let csrf = csrf_token(&keys.mac_key("csrf"), csrf_cookie, pairs);
    let content = render(
        templates::AUTHORIZE,
        &[
            ("client_name", &client_name),
            ("client_trust", &trust),
            ("redirect_host", &redirect_host),
            ("warnings", &warnings),
            ("hidden", &hidden),
            ("csrf_token", &csrf),
            ("error", &error),
            ("identity", &identity),
            ("scopes", &scopes),
            ("resource", &request.resource),
        ],
    );
    let title = format!("Sign in to continue to {client_name}");
    Reply::html(
        status,
        templates::page(&title, &ctx.config.product_name, &content),
    )
}
