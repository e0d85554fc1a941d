//! What the pages share about a person's browser: cookies, the signed session, CSRF
//! tokens, and signing in with a password (with lockouts). The pages are `/authorize`,
//! `/account` and `/notes/<id>`.

use crate::audit::Event;
use crate::encoding::{b64url, constant_time_eq, random_token};
use crate::http::{now, password, Ctx, Incoming};
use crate::oauth::seal::{self, hmac_sha256};
use crate::store::d1::{UserRow, D1};
use serde::{Deserialize, Serialize};

pub const SESSION_SECONDS: u64 = 12 * 3600;

/// Why a sign-in failed; each is one message in `templates/signin.html`. None of them says
/// whether the account exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInError {
    Missing,
    Failed,
    /// Locked for this many more minutes.
    Locked(u64),
    Unavailable,
}

impl SignInError {
    pub fn status(self) -> u16 {
        match self {
            SignInError::Missing => 400,
            SignInError::Failed => 401,
            SignInError::Locked(_) => 429,
            SignInError::Unavailable => 503,
        }
    }
}

/// Why a password is checked: to sign in, or to confirm making a personal token (which is
/// not a sign-in, and is not recorded as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    ConfirmNewToken,
}

/// Checks a password, with lockouts per account and per network. Attempts are reserved
/// before the password is checked, so parallel guesses cannot exceed the limit.
pub async fn sign_in(
    ctx: &Ctx,
    db: &D1,
    req: &Incoming,
    email: &str,
    pw: &str,
    purpose: Purpose,
) -> Result<UserRow, SignInError> {
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() || pw.is_empty() {
        return Err(SignInError::Missing);
    }
    let user_key = format!("user:{email}");
    let ip_key = format!("ip:{}", req.client_ip);
    let now = now();
    let internal = |e| {
        ctx.internal(e);
        SignInError::Unavailable
    };
    let locked = |until: u64| SignInError::Locked(until.saturating_sub(now).div_ceil(60).max(1));
    let (max, lock) = (ctx.config.login_max_failures, ctx.config.lockout_seconds);
    if let Some(until) = db
        .reserve_attempt(&[&user_key, &ip_key], now, max, lock)
        .await
        .map_err(internal)?
    {
        // Not recorded: the lockout itself was, once, and attempts while it lasts cost
        // nothing but could fill the log.
        return Err(locked(until));
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
            if purpose == Purpose::SignIn {
                ctx.audit(Event::SignIn, Some(&u.id), None, None).await;
            }
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
            // The account's own id when the email is one: its owner sees the attempt.
            let who = user.as_ref().map(|u| u.id.as_str());
            let why = match (&user, purpose) {
                (None, _) => "no such account",
                (Some(u), _) if u.disabled_at.is_some() => "account disabled",
                (Some(_), Purpose::SignIn) => "wrong password",
                (Some(_), Purpose::ConfirmNewToken) => "wrong password for a new token",
            };
            match a.or(b) {
                Some(until) => {
                    ctx.audit(Event::Lockout, who, None, Some(why)).await;
                    Err(locked(until))
                }
                None => {
                    ctx.audit(Event::SignInFailed, who, None, Some(why)).await;
                    Err(SignInError::Failed)
                }
            }
        }
    }
}

/// A page's `signin` action: checks the form's email and password and answers a 303 to
/// `location` (a path of this server) with the new session, so a reload does not post the
/// password again. On failure the page shows its form again with the error.
pub async fn sign_in_then_see(
    ctx: &Ctx,
    req: &Incoming,
    form: &[(String, String)],
    location: &str,
) -> Result<crate::reply::Reply, SignInError> {
    let db = ctx.db().map_err(|_| SignInError::Unavailable)?;
    let user = sign_in(
        ctx,
        &db,
        req,
        field(form, "email"),
        field(form, "password"),
        Purpose::SignIn,
    )
    .await?;
    let cookie = session_cookie(ctx, &user.id).ok_or(SignInError::Unavailable)?;
    Ok(crate::http::pages::see_other(location).header("Set-Cookie", &cookie))
}

#[derive(Serialize, Deserialize)]
struct Session {
    u: String,
    e: u64,
}

/// The `Set-Cookie` value of a new session for `user_id`.
pub fn session_cookie(ctx: &Ctx, user_id: &str) -> Option<String> {
    let keys = ctx.oauth_keys().ok()?;
    let value = serde_json::to_vec(&Session {
        u: user_id.to_string(),
        e: now() + SESSION_SECONDS,
    })
    .ok()?;
    let sealed = seal::seal(&keys.mac_key("session"), &value);
    Some(set_cookie(ctx, "session", &sealed, SESSION_SECONDS))
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

pub fn end_session(ctx: &Ctx) -> String {
    set_cookie(ctx, "session", "", 0)
}

/// The browser's CSRF cookie: every form's token is bound to it. `set` is the
/// `Set-Cookie` value when the browser had none yet.
pub struct CsrfCookie {
    pub value: String,
    pub set: Option<String>,
}

impl CsrfCookie {
    /// The browser's cookie, or a new one for a page that shows a form.
    pub fn for_page(ctx: &Ctx, req: &Incoming) -> CsrfCookie {
        match read_cookie(req, &cookie_name(ctx, "csrf")) {
            Some(value) if value.len() == 43 => CsrfCookie { value, set: None },
            _ => {
                let value = random_token();
                let set = Some(set_cookie(ctx, "csrf", &value, SESSION_SECONDS));
                CsrfCookie { value, set }
            }
        }
    }

    /// `reply` with the cookie set, when this page had to create it.
    pub fn attach(&self, reply: crate::reply::Reply) -> crate::reply::Reply {
        match &self.set {
            Some(set) => reply.header("Set-Cookie", set),
            None => reply,
        }
    }

    /// The token for a form whose submission means `purpose` (the page, and for
    /// `/authorize` the exact request), or `None` when the server has no key.
    pub fn token(&self, ctx: &Ctx, purpose: &str) -> Option<String> {
        csrf_token(ctx, &self.value, purpose)
    }
}

fn csrf_token(ctx: &Ctx, cookie: &str, purpose: &str) -> Option<String> {
    let keys = ctx.oauth_keys().ok()?;
    let mac = hmac_sha256(
        &keys.mac_key("csrf"),
        format!("{cookie}\n{purpose}").as_bytes(),
    );
    Some(b64url(&mac))
}

/// Whether a submitted form carries the token for `purpose` bound to this browser.
pub fn csrf_ok(ctx: &Ctx, req: &Incoming, purpose: &str, submitted: &str) -> bool {
    let Some(cookie) = read_cookie(req, &cookie_name(ctx, "csrf")).filter(|c| c.len() == 43) else {
        return false;
    };
    match csrf_token(ctx, &cookie, purpose) {
        Some(expected) => constant_time_eq(expected.as_bytes(), submitted.as_bytes()),
        None => false,
    }
}

pub fn cookie_name(ctx: &Ctx, base: &str) -> String {
    if ctx.secure() {
        format!("__Host-mcp-{base}")
    } else {
        format!("mcp-{base}")
    }
}

pub fn set_cookie(ctx: &Ctx, base: &str, value: &str, max_age: u64) -> String {
    format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        cookie_name(ctx, base),
        if ctx.secure() { "; Secure" } else { "" }
    )
}

pub fn read_cookie(req: &Incoming, name: &str) -> Option<String> {
    req.header("cookie")?.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// A form's field; the first value when repeated.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}
