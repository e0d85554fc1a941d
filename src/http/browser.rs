//! What the pages know about a person's browser: cookies, the sealed session cookie and
//! CSRF tokens bound to the browser's CSRF cookie and to what the form does. A leaf: the
//! pages, the sign-in forms and the provider sign-ins all use it.

use crate::encoding::{b64url, constant_time_eq, random_token};
use crate::http::{now, now_ms, Ctx, Incoming};
use crate::oauth::seal::{self, hmac_sha256};
use crate::store::d1::UserRow;
use serde::{Deserialize, Serialize};

pub const SESSION_SECONDS: u64 = 12 * 3600;

/// The CSRF purpose of the "Continue with" form on a page at `return_to`.
pub fn start_purpose(return_to: &str) -> String {
    format!("signin\n{return_to}")
}

#[derive(Serialize, Deserialize)]
struct Session {
    u: String,
    e: u64,
    /// Issued at, in milliseconds (0 in cookies from before it was written).
    #[serde(default)]
    i: u64,
}

impl Session {
    /// Whether this cookie still signs `user` in at `now` (seconds): unexpired, issued
    /// after the person's "sessions valid after" time (moved by a password reset, by
    /// enabling the account again and by "sign out everywhere"), the account enabled.
    fn stands_for(&self, user: &UserRow, now: u64) -> bool {
        self.u == user.id
            && self.e >= now
            && self.i >= user.sessions_after
            && user.disabled_at.is_none()
    }
}

/// The `Set-Cookie` value of a new session for `user_id`.
pub fn session_cookie(ctx: &Ctx, user_id: &str) -> Option<String> {
    let keys = ctx.oauth_keys().ok()?;
    let value = serde_json::to_vec(&Session {
        u: user_id.to_string(),
        e: now() + SESSION_SECONDS,
        i: now_ms(),
    })
    .ok()?;
    let sealed = seal::seal(&keys.mac_key("session"), &value);
    Some(set_cookie(ctx, "session", &sealed, SESSION_SECONDS))
}

/// The signed-in person, if the session cookie is valid and the account still active.
pub async fn session_user(ctx: &Ctx, req: &Incoming) -> Option<UserRow> {
    session(ctx, req).await.map(|(user, _)| user)
}

/// The signed-in person and when they signed in (Unix seconds; 0 for a cookie from before
/// that was written), OpenID Connect's `auth_time`.
pub async fn session(ctx: &Ctx, req: &Incoming) -> Option<(UserRow, u64)> {
    let cookie = read_cookie(req, &cookie_name(ctx, "session"))?;
    let keys = ctx.oauth_keys().ok()?;
    let session: Session =
        serde_json::from_slice(&seal::open(&keys.mac_key("session"), &cookie)?).ok()?;
    if session.e < now() {
        return None;
    }
    let user = ctx.db().ok()?.user_by_id(&session.u).await.ok()??;
    let signed_in = session.i / 1000;
    session
        .stands_for(&user, now())
        .then_some((user, signed_in))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn person(sessions_after: u64, disabled_at: Option<u64>) -> UserRow {
        UserRow {
            id: "u1".into(),
            email: "a@example.com".into(),
            name: None,
            password_hash: String::new(),
            password_salt: String::new(),
            iterations: 1,
            disabled_at,
            sessions_after,
            operator_added: 0,
        }
    }

    fn session(issued_ms: u64, expires: u64) -> Session {
        Session {
            u: "u1".into(),
            e: expires,
            i: issued_ms,
        }
    }

    #[test]
    fn a_session_stands_until_it_expires_or_recovery_moves_the_line() {
        let now = 1_000;
        assert!(session(900_000, now + 10).stands_for(&person(0, None), now));
        assert!(!session(900_000, now - 1).stands_for(&person(0, None), now));
        // A reset, an enable or "sign out everywhere" after it was issued ends it...
        assert!(!session(900_000, now + 10).stands_for(&person(900_001, None), now));
        // ...but not one issued after it (in the same millisecond included).
        assert!(session(900_001, now + 10).stands_for(&person(900_001, None), now));
        // A cookie from before sessions carried their time stands only until the first
        // recovery.
        assert!(session(0, now + 10).stands_for(&person(0, None), now));
        assert!(!session(0, now + 10).stands_for(&person(1, None), now));
        assert!(!session(900_000, now + 10).stands_for(&person(0, Some(5)), now));
        let mut other = session(900_000, now + 10);
        other.u = "u2".into();
        assert!(!other.stands_for(&person(0, None), now));
    }
}
