//! `/welcome?token=`: a person sets their own password with a one-time link an
//! administrator made for them in the console (an invitation, or a reset). The link's
//! token is kept only as its hash; it works once, until it expires, and only the newest
//! link of a person works. Opening it swaps the token for a cookie and shows `/welcome`;
//! setting the password ends the person's other sessions and signs them in here.

use crate::audit::Event;
use crate::encoding::secret_hash;
use crate::http::browser::{self, field, CsrfCookie};
use crate::http::pages::{self, error_page, see_other, ErrorKind};
use crate::http::password::{self, ITERATIONS, MAX_LEN, MIN_LEN};
use crate::http::{now, now_ms, Ctx, Incoming};
use crate::reply::Reply;
use crate::store::d1_password_links::PasswordLink;
use crate::templates::{self, display_time, render};

/// What the form's CSRF token is bound to: this link (by its token's hash), so a form
/// shown for one link cannot set the password of another whose cookie arrived since (a
/// second link opened, or one another site navigated this browser to).
fn purpose(token: &str) -> String {
    format!("welcome:{}", secret_hash(token))
}

/// The link's token from the query (GET) or the form (POST).
fn token_of(pairs: &[(String, String)]) -> &str {
    pairs
        .iter()
        .find(|(k, _)| k == "token")
        .map_or("", |(_, v)| v.as_str())
}

/// The live link for `token`, or the page that says it cannot be used.
async fn live(ctx: &Ctx, token: &str) -> Result<PasswordLink, Reply> {
    if token.is_empty() || token.len() > 100 {
        return Err(error_page(ctx, ErrorKind::LinkUsed, None));
    }
    let db = ctx
        .db()
        .map_err(|_| error_page(ctx, ErrorKind::Unavailable, Some("no database")))?;
    match db.password_link(&secret_hash(token)).await {
        Ok(Some(l)) if l.used_at.is_none() && l.expires_at > now() && l.disabled_at.is_none() => {
            Ok(l)
        }
        Ok(_) => Err(error_page(ctx, ErrorKind::LinkUsed, None)),
        Err(e) => {
            ctx.internal(e);
            Err(error_page(ctx, ErrorKind::Unavailable, None))
        }
    }
}

/// The cookie that holds a link's token between its first opening and the form's post:
/// the link is swapped for it at once, so the address bar, the history and a screen
/// shared afterwards show `/welcome` without the token.
const COOKIE: &str = "welcome";

pub async fn handle(ctx: &Ctx, req: &Incoming) -> Reply {
    if !ctx.config.local_passwords {
        return error_page(ctx, ErrorKind::LinkUsed, Some("LOCAL_PASSWORDS is off"));
    }
    let held = browser::read_cookie(req, &browser::cookie_name(ctx, COOKIE)).unwrap_or_default();
    if req.method != "POST" {
        let pairs = req.query_pairs();
        let token = token_of(&pairs);
        if !token.is_empty() {
            // Checked first, so a dead link says so on the spot.
            // The cookie lives as long as the link does.
            return match live(ctx, token).await {
                Ok(link) => see_other("/welcome").header(
                    "Set-Cookie",
                    &browser::set_cookie(ctx, COOKIE, token, link.expires_at.saturating_sub(now())),
                ),
                Err(reply) => reply,
            };
        }
        return match live(ctx, &held).await {
            Ok(link) => page(ctx, req, &link, &held, "", 200),
            Err(reply) => reply,
        };
    }
    let form = req.form_pairs();
    let token = held.as_str();
    // A used, replaced or expired link says so first (reading it changes nothing).
    let link = match live(ctx, token).await {
        Ok(l) => l,
        Err(reply) => return reply,
    };
    if !browser::csrf_ok(ctx, req, &purpose(token), field(&form, "csrf_token")) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    let (pw, again) = (field(&form, "password"), field(&form, "again"));
    if let Some(problem) = password::new_password_problem(pw, again) {
        return page(ctx, req, &link, token, &problem, 400);
    }
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let (hash, salt) = match password::hash_new(pw).await {
        Ok(h) => h,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let failures = crate::store::keys::account_failures(&link.email);
    let used = db
        .use_password_link(
            &secret_hash(token),
            &link.user_id,
            &hash,
            &salt,
            ITERATIONS,
            &failures,
            now(),
            now_ms(),
        )
        .await;
    match used {
        Ok(true) => {}
        // Used by a second tab a moment ago, or replaced by a newer link.
        Ok(false) => return error_page(ctx, ErrorKind::LinkUsed, None),
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    }
    let detail = if link.purpose == "invite" {
        "through an invitation link"
    } else {
        "through a reset link"
    };
    ctx.audit(Event::PasswordSet, Some(&link.user_id), None, Some(detail))
        .await;
    let done = see_other("/account").header("Set-Cookie", &browser::set_cookie(ctx, COOKIE, "", 0));
    match browser::session_cookie(ctx, &link.user_id) {
        Some(cookie) => done.header("Set-Cookie", &cookie),
        None => done,
    }
}

fn page(
    ctx: &Ctx,
    req: &Incoming,
    link: &PasswordLink,
    token: &str,
    problem: &str,
    status: u16,
) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    let Some(csrf_token) = csrf.token(ctx, &purpose(token)) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let content = render(
        templates::WELCOME,
        &[
            ("invite", if link.purpose == "invite" { "1" } else { "" }),
            ("email", &link.email),
            ("expires", &display_time(link.expires_at).0),
            ("csrf_token", &csrf_token),
            ("problem", problem),
            ("min", &MIN_LEN.to_string()),
            ("max", &MAX_LEN.to_string()),
        ],
    );
    csrf.attach(pages::html(ctx, status, &content))
}
