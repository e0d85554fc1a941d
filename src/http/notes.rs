//! `/notes/<id>`: the page a note's `url` (from `search`, `fetch`, `memory_list`) opens.
//! It shows the note only to its owner, signed in with the same session cookie as
//! `/authorize`; anyone else sees the same "not found" whether or not the note exists.
//! Without a session the page is a sign-in form that posts back to itself.

use super::browser::{self, field, session_user, CsrfCookie};
use super::pages::{self, error_page, ErrorKind, SignInFor};
use super::session;
use super::{Ctx, Incoming};
use crate::reply::Reply;
use crate::store::d1::UserRow;
use crate::store::notes::NoteStore;
use crate::templates::{self, display_time, render};

pub async fn handle(ctx: &Ctx, req: &Incoming) -> Reply {
    let id = req.path.trim_start_matches("/notes/");
    if req.method == "POST" {
        return sign_in(ctx, req, id).await;
    }
    match session_user(ctx, req).await {
        Some(user) => show(ctx, &user, id).await,
        None => sign_in_page(ctx, req, id, "", None),
    }
}

async fn show(ctx: &Ctx, user: &UserRow, id: &str) -> Reply {
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let note = match db.get(&user.id, id).await {
        Ok(Some(n)) => n,
        Ok(None) => return error_page(ctx, ErrorKind::NoSuchNote, None),
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let (created, created_iso) = display_time(note.created_at);
    let content = render(
        templates::NOTE,
        &[
            ("title", &note.title),
            ("created", &created),
            ("created_iso", &created_iso),
            ("tags", &note.tags.join(", ")),
            ("email", &user.email),
            ("text", &note.text),
        ],
    );
    pages::html(ctx, 200, &content)
}

fn action(id: &str) -> String {
    format!(
        "/notes/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

fn sign_in_page(
    ctx: &Ctx,
    req: &Incoming,
    id: &str,
    email: &str,
    error: Option<session::SignInError>,
) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    let purpose = format!("note={id}");
    let mut reply = pages::sign_in_page(
        ctx,
        &csrf,
        &purpose,
        &action(id),
        &action(id),
        SignInFor::Note,
        email,
        error,
    );
    if error.is_none() {
        reply.status = 401;
    }
    reply
}

async fn sign_in(ctx: &Ctx, req: &Incoming, id: &str) -> Reply {
    let form = req.form_pairs();
    if !browser::csrf_ok(ctx, req, &format!("note={id}"), field(&form, "csrf_token")) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    match session::sign_in_then_see(ctx, req, &form, &action(id)).await {
        Ok(reply) => reply,
        Err(e) => sign_in_page(ctx, req, id, field(&form, "email"), Some(e)),
    }
}
