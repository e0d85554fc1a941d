//! `/account`: a person's connected apps, each with a Disconnect button, and Sign out.
//! Without a session it is the sign-in form. Every change is a POST with a CSRF token bound
//! to the browser; Disconnect revokes every grant of that app for this person, which stops
//! its refresh tokens at once and its access tokens at `/mcp` within a minute.

use crate::http::pages::{self, error_page, see_other, ErrorKind, SignInFor};
use crate::http::session::{self, field, session_user, CsrfCookie};
use crate::http::token::mark_revoked;
use crate::http::{now, Ctx, Incoming};
use crate::oauth::client::host_of;
use crate::reply::Reply;
use crate::store::d1::UserRow;
use crate::templates::{self, display_time, render};

const PURPOSE: &str = "account";

pub async fn handle(ctx: &Ctx, req: &Incoming) -> Reply {
    if req.method == "POST" {
        return submit(ctx, req).await;
    }
    match session_user(ctx, req).await {
        Some(user) => show(ctx, req, &user, None).await,
        None => sign_in_page(ctx, req, "", None),
    }
}

async fn submit(ctx: &Ctx, req: &Incoming) -> Reply {
    let form = req.form_pairs();
    if !session::csrf_ok(ctx, req, PURPOSE, field(&form, "csrf_token")) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    match field(&form, "action") {
        "signin" => match session::sign_in_then_see(ctx, req, &form, "/account").await {
            Ok(reply) => reply,
            Err(e) => sign_in_page(ctx, req, field(&form, "email"), Some(e)),
        },
        "signout" => see_other("/account").header("Set-Cookie", &session::end_session(ctx)),
        "disconnect" => match session_user(ctx, req).await {
            Some(user) => disconnect(ctx, req, &user, field(&form, "client_id")).await,
            None => sign_in_page(ctx, req, "", None),
        },
        _ => error_page(ctx, ErrorKind::BadForm, Some("unknown action")),
    }
}

async fn disconnect(ctx: &Ctx, req: &Incoming, user: &UserRow, client_id: &str) -> Reply {
    if client_id.is_empty() {
        return error_page(ctx, ErrorKind::BadForm, Some("no client_id"));
    }
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    // The KV marks go first, so a failure leaves everything as it was and Disconnect can
    // simply be pressed again; grants created meanwhile get theirs after the revocation.
    let live = match db.live_grants(&user.id, client_id).await {
        Ok(ids) => ids,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    for grant_id in &live {
        if mark_revoked(ctx, grant_id).await.is_err() {
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    }
    let revoked = match db.disconnect(&user.id, client_id, now()).await {
        Ok(ids) => ids,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    for grant_id in revoked.iter().filter(|id| !live.contains(id)) {
        if mark_revoked(ctx, grant_id).await.is_err() {
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    }
    let name = app_name(ctx, client_id).await.0;
    // Rendered in answer to the POST rather than redirected, so the notice names the app
    // without putting anything the page shows into a URL.
    show(ctx, req, user, Some(&name)).await
}

/// An app's name and the host that vouches for it, as the consent page showed them; the
/// client id when the client is gone or cannot be looked up.
async fn app_name(ctx: &Ctx, client_id: &str) -> (String, String) {
    match ctx.find_client(client_id).await {
        Ok(Some(c)) => (
            c.display_name().unwrap_or_else(|| client_id.to_string()),
            c.vouched_by().unwrap_or_default(),
        ),
        _ => (client_id.to_string(), String::new()),
    }
}

async fn show(ctx: &Ctx, req: &Incoming, user: &UserRow, disconnected: Option<&str>) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    let Some(token) = csrf.token(ctx, PURPOSE) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let apps = match db
        .connected_apps(&user.id, now(), ctx.config.access_token_ttl)
        .await
    {
        Ok(apps) => apps,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let mut items = String::new();
    for app in &apps {
        let (name, verified_by) = app_name(ctx, &app.client_id).await;
        let scopes: Vec<&str> = app.scopes.split(' ').collect();
        let (first, first_iso) = display_time(app.first_at);
        let (last, last_iso) = display_time(app.last_at);
        items.push_str(&render(
            templates::ACCOUNT_APP,
            &[
                ("client_name", &name),
                ("verified_by", &verified_by),
                ("client_id", &app.client_id),
                ("redirect_host", &host_of(&app.redirect_uri)),
                ("scopes", &templates::scope_items(&scopes)),
                ("first", &first),
                ("first_iso", &first_iso),
                ("last", &last),
                ("last_iso", &last_iso),
                ("csrf_token", &token),
            ],
        ));
    }
    let content = render(
        templates::ACCOUNT,
        &[
            ("email", &user.email),
            ("apps", &items),
            ("disconnected", disconnected.unwrap_or("")),
            ("csrf_token", &token),
        ],
    );
    csrf.attach(pages::html(ctx, 200, &content))
}

fn sign_in_page(
    ctx: &Ctx,
    req: &Incoming,
    email: &str,
    error: Option<session::SignInError>,
) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    pages::sign_in_page(
        ctx,
        &csrf,
        PURPOSE,
        "/account",
        SignInFor::Account,
        email,
        error,
    )
}
