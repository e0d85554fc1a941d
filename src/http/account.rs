//! `/account`: a person's connected apps, each with a Disconnect button, their personal
//! access tokens (`account_tokens`), and Sign out.
//! Without a session it is the sign-in form. Every change is a POST with a CSRF token bound
//! to the browser; Disconnect revokes every grant of that app for this person, which stops
//! its refresh tokens at once and its access tokens at `/mcp` within a minute.

use crate::audit::Event;
use crate::http::account_notice::Notice;
use crate::http::account_tokens;
use crate::http::browser::{self, field, session_user, CsrfCookie};
use crate::http::grants::mark_revoked;
use crate::http::pages::{self, error_page, see_other, ErrorKind, SignInFor};
use crate::http::session;
use crate::http::{now, now_ms, Ctx, Incoming};
use crate::oauth::client::host_of;
use crate::reply::Reply;
use crate::store::d1::{UserRow, D1};
use crate::templates::{self, display_time, render};

const PURPOSE: &str = "account";

pub async fn handle(ctx: &Ctx, req: &Incoming) -> Reply {
    if req.method == "POST" {
        return submit(ctx, req).await;
    }
    match session_user(ctx, req).await {
        Some(user) => show(ctx, req, &user, &Notice::default()).await,
        None => sign_in_page(ctx, req, "", None),
    }
}

async fn submit(ctx: &Ctx, req: &Incoming) -> Reply {
    let form = req.form_pairs();
    if !browser::csrf_ok(ctx, req, PURPOSE, field(&form, "csrf_token")) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    match field(&form, "action") {
        "signin" => match session::sign_in_then_see(ctx, req, &form, "/account").await {
            Ok(reply) => reply,
            Err(e) => sign_in_page(ctx, req, field(&form, "email"), Some(e)),
        },
        "signout" => see_other("/account").header("Set-Cookie", &browser::end_session(ctx)),
        // Every session of this person, in every browser: what to press after signing in
        // on a computer that is not yours, or when a session cookie may have been taken.
        // Connected apps keep working (Disconnect is theirs).
        "signout_everywhere" => {
            let Some(user) = session_user(ctx, req).await else {
                return sign_in_page(ctx, req, "", None);
            };
            let ended = match ctx.db() {
                Ok(db) => db
                    .end_sessions(&user.id, now_ms())
                    .await
                    .map_err(|e| ctx.internal(e)),
                Err(e) => Err(e),
            };
            if ended.is_err() {
                return error_page(ctx, ErrorKind::Unavailable, None);
            }
            ctx.audit(Event::SignedOutEverywhere, Some(&user.id), None, None)
                .await;
            see_other("/account").header("Set-Cookie", &browser::end_session(ctx))
        }
        action @ ("disconnect" | "create_token" | "revoke_token") => {
            let Some(user) = session_user(ctx, req).await else {
                return sign_in_page(ctx, req, "", None);
            };
            match action {
                "disconnect" => disconnect(ctx, req, &user, field(&form, "client_id")).await,
                "create_token" => {
                    let notice = account_tokens::create(ctx, req, &user, &form).await;
                    show(ctx, req, &user, &notice).await
                }
                _ => {
                    let notice = account_tokens::revoke(ctx, &user, &form).await;
                    show(ctx, req, &user, &notice).await
                }
            }
        }
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
    // D1 first, where revocation happens: the refresh tokens stop at once, and the access
    // tokens at /mcp through the KV marks written next, or through D1 when KV refuses
    // them (its write quota spent), so a KV failure can never undo a Disconnect.
    let revoked = match db.disconnect(&user.id, client_id, now_ms()).await {
        Ok(ids) => ids,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    for grant_id in &revoked {
        mark_revoked(ctx, &db, grant_id).await;
    }
    if !revoked.is_empty() {
        ctx.audit(Event::Disconnect, Some(&user.id), Some(client_id), None)
            .await;
    }
    let name = app_name(ctx, client_id).await.0;
    // Rendered in answer to the POST rather than redirected, so the notice names the app
    // without putting anything the page shows into a URL.
    let notice = Notice {
        disconnected: name,
        ..Notice::default()
    };
    show(ctx, req, user, &notice).await
}

/// App names looked up for one page, so an app in both the connected-apps list and the
/// recent activity is looked up once.
#[derive(Default)]
struct AppNames(Vec<(String, (String, String))>);

impl AppNames {
    async fn get(&mut self, ctx: &Ctx, client_id: &str) -> (String, String) {
        if let Some((_, hit)) = self.0.iter().find(|(k, _)| k == client_id) {
            return hit.clone();
        }
        let found = app_name(ctx, client_id).await;
        self.0.push((client_id.to_string(), found.clone()));
        found
    }

    fn known(&self, client_id: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == client_id)
            .map(|(_, (name, _))| name.clone())
    }
}

/// An app's name and the host that vouches for it, as the consent page showed them; the
/// client id when the client is gone or cannot be looked up.
pub(crate) async fn app_name(ctx: &Ctx, client_id: &str) -> (String, String) {
    match ctx.find_client(client_id).await {
        Ok(Some(c)) => (
            c.display_name().unwrap_or_else(|| client_id.to_string()),
            c.vouched_by().unwrap_or_default(),
        ),
        _ => (client_id.to_string(), String::new()),
    }
}

async fn show(ctx: &Ctx, req: &Incoming, user: &UserRow, notice: &Notice) -> Reply {
    if let Some(kind) = notice.failed {
        return error_page(ctx, kind, None);
    }
    let csrf = CsrfCookie::for_page(ctx, req);
    let Some(token) = csrf.token(ctx, PURPOSE) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let apps = match db
        .connected_apps(&user.id, now(), ctx.config.longest_access_ttl())
        .await
    {
        Ok(apps) => apps,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let (Ok(catalog), Ok(roles)) = (ctx.scopes(), ctx.roles_of(&db, &user.id).await) else {
        return error_page(ctx, ErrorKind::Unavailable, None);
    };
    let mut names = AppNames::default();
    let mut items = String::new();
    for app in &apps {
        let (name, verified_by) = names.get(ctx, &app.client_id).await;
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
                ("scopes", &templates::scope_items(&catalog, &scopes)),
                ("first", &first),
                ("first_iso", &first_iso),
                ("last", &last),
                ("last_iso", &last_iso),
                ("csrf_token", &token),
            ],
        ));
    }
    let tokens = match account_tokens::items(ctx, &db, user, &token, &catalog).await {
        Ok(t) => t,
        Err(kind) => return error_page(ctx, kind, None),
    };
    // The activity list is a convenience: if it cannot be read, the page (and Disconnect)
    // still works, with the failure in the log.
    let events = recent_events(ctx, &db, user, &mut names)
        .await
        .unwrap_or_default();
    let retention = ctx.config.audit_retention_days.to_string();
    let mcp_url = ctx.resource();
    let content = render(
        templates::ACCOUNT,
        &[
            ("email", &user.email),
            ("apps", &items),
            ("disconnected", &notice.disconnected),
            ("tokens", &tokens),
            ("token_scopes", &account_tokens::choices(&catalog, &roles)),
            ("created", &notice.created),
            ("created_name", &notice.created_name),
            ("revoked", &notice.revoked),
            ("token_error", &notice.token_error),
            ("token_name", &notice.token_name),
            ("mcp_url", &mcp_url),
            ("events", &events),
            ("retention", &retention),
            ("csrf_token", &token),
        ],
    );
    let status = if notice.token_error.is_empty() {
        200
    } else {
        400
    };
    csrf.attach(pages::html(ctx, status, &content))
}

/// The person's recent audit events as `<li>` items, each app named as the consent page
/// named it (looked up once per page).
async fn recent_events(
    ctx: &Ctx,
    db: &D1,
    user: &UserRow,
    names: &mut AppNames,
) -> Result<String, ErrorKind> {
    let entries = db.recent_audit(&user.id).await.map_err(|e| {
        ctx.internal(e);
        ErrorKind::Unavailable
    })?;
    let mut out = String::new();
    for e in &entries {
        let app = match e.client_id.as_deref() {
            None => String::new(),
            Some(id) => match names.known(id) {
                Some(name) => name,
                // A metadata-document client not in the apps list is named by its host,
                // without fetching its document again.
                None if id.starts_with("https://") => host_of(id),
                None => names.get(ctx, id).await.0,
            },
        };
        let (at, at_iso) = display_time(e.at);
        let failed = if e.outcome == "failed" { "1" } else { "" };
        out.push_str(&render(
            templates::ACCOUNT_EVENT,
            &[
                ("at", &at),
                ("at_iso", &at_iso),
                ("what", crate::audit::describe(&e.event)),
                ("failed", failed),
                ("app", &app),
                ("detail", e.detail.as_deref().unwrap_or("")),
                ("ip", e.ip.as_deref().unwrap_or("")),
            ],
        ));
    }
    Ok(out)
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
        "/account",
        SignInFor::Account,
        email,
        error,
    )
}
