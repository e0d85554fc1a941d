//! `/notes/<id>`: the page a note's `url` (from `search`, `fetch`, `memory_list`) opens.
//! It shows the note only to its owner, signed in with the same session cookie as
//! `/authorize`; anyone else sees the same "not found" whether or not the note exists.
//! Without a session the page is a sign-in form that posts back to itself.

use super::authorize::{self, error_page, session_user};
use super::{Ctx, Incoming};
use crate::encoding::{b64url, constant_time_eq, random_token};
use crate::mcp::tools::timestamp;
use crate::oauth::seal::hmac_sha256;
use crate::reply::Reply;
use crate::store::d1::UserRow;
use crate::store::notes::NoteStore;
use crate::templates::{self, escape, render};

pub async fn handle(ctx: &Ctx, req: &Incoming) -> Reply {
    let id = req.path.trim_start_matches("/notes/");
    if req.method == "POST" {
        return sign_in(ctx, req, id).await;
    }
    match session_user(ctx, req).await {
        Some(user) => show(ctx, &user, id).await,
        None => sign_in_page(ctx, req, id, None, 401),
    }
}

async fn show(ctx: &Ctx, user: &UserRow, id: &str) -> Reply {
    let Ok(db) = ctx.db() else {
        return error_page(
            ctx,
            500,
            "Notes are not available",
            "The server is not configured correctly.",
        );
    };
    let note = match db.get(&user.id, id).await {
        Ok(Some(n)) => n,
        Ok(None) => {
            return error_page(
                ctx,
                404,
                "No such note",
                "There is no note at this address in your account. It may have been deleted.",
            )
        }
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, 500, "Notes are not available", "Try again later.");
        }
    };
    let tags = if note.tags.is_empty() {
        String::new()
    } else {
        format!(" · tags: {}", note.tags.join(", "))
    };
    let content = render(
        templates::NOTE,
        &[
            ("title", &note.title),
            ("created", &timestamp(note.created_at)),
            ("tags", &tags),
            ("email", &user.email),
            ("text", &note.text),
        ],
    );
    Reply::html(
        200,
        templates::page(&note.title, &ctx.config.product_name, &content),
    )
}

/// The sign-in form's CSRF token: bound to the browser's csrf cookie and to this page.
fn csrf_for(ctx: &Ctx, cookie: &str, id: &str) -> Option<String> {
    let keys = ctx.oauth_keys().ok()?;
    let mac = hmac_sha256(
        &keys.mac_key("csrf"),
        format!("{cookie}\nnote={id}").as_bytes(),
    );
    Some(b64url(&mac))
}

fn sign_in_page(ctx: &Ctx, req: &Incoming, id: &str, error: Option<&str>, status: u16) -> Reply {
    let (cookie, new_cookie) =
        match authorize::read_cookie(req, &authorize::cookie_name(ctx, "csrf")) {
            Some(c) if c.len() == 43 => (c, None),
            _ => {
                let c = random_token();
                let set = authorize::set_cookie(ctx, "csrf", &c, authorize::SESSION_SECONDS);
                (c, Some(set))
            }
        };
    let Some(csrf) = csrf_for(ctx, &cookie, id) else {
        return error_page(
            ctx,
            500,
            "Sign-in is not available",
            "The server is not configured correctly.",
        );
    };
    let error_html = match error {
        Some(e) => format!(
            "<p id=\"form-error\" class=\"error\" role=\"alert\">{}</p>",
            escape(e)
        ),
        None => String::new(),
    };
    let action = format!(
        "/notes/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );
    let content = render(
        templates::SIGNIN,
        &[
            ("heading", "Sign in to see this note"),
            (
                "intro",
                "Notes are shown only to the person who saved them.",
            ),
            ("action", &action),
            ("csrf_token", &csrf),
            ("error", &error_html),
        ],
    );
    let mut reply = Reply::html(
        status,
        templates::page("Sign in", &ctx.config.product_name, &content),
    );
    if let Some(c) = new_cookie {
        reply = reply.header("Set-Cookie", &c);
    }
    reply
}

async fn sign_in(ctx: &Ctx, req: &Incoming, id: &str) -> Reply {
    let form = req.form_pairs();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let cookie =
        authorize::read_cookie(req, &authorize::cookie_name(ctx, "csrf")).unwrap_or_default();
    let expected = csrf_for(ctx, &cookie, id).unwrap_or_default();
    if cookie.is_empty() || !constant_time_eq(expected.as_bytes(), field("csrf_token").as_bytes()) {
        return error_page(
            ctx,
            403,
            "This page has expired",
            "For your safety the form could not be accepted. Open the note's link again.",
        );
    }
    let (Ok(db), Ok(keys)) = (ctx.db(), ctx.oauth_keys()) else {
        return error_page(
            ctx,
            500,
            "Sign-in is not available",
            "The server is not configured correctly.",
        );
    };
    match authorize::sign_in(ctx, &db, req, field("email"), field("password")).await {
        Ok(user) => {
            let session = authorize::session_cookie(ctx, &keys.mac_key("session"), &user.id);
            // Back to the page with a GET, so a reload does not post the password again.
            let location = format!(
                "/notes/{}",
                url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
            );
            Reply::new(303)
                .header("Location", &location)
                .header("Cache-Control", crate::reply::NO_STORE)
                .header("Set-Cookie", &session)
        }
        Err((status, message)) => sign_in_page(ctx, req, id, Some(&message), status),
    }
}
