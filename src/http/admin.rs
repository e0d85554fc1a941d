//! `/admin`, the operator console, for people with the `admin` role: signed in as
//! everywhere (passwords, any sign-in provider), the same headers, CSRF tokens and
//! cross-site refusal as every other page. Without a session it is the sign-in form; a
//! signed-in person without the role gets a 403 page. The overview is `admin_overview`.

use crate::http::browser::{self, field, session_user, CsrfCookie};
use crate::http::pages::{self, error_page, see_other, ErrorKind, SignInFor};
use crate::http::session;
use crate::http::{Ctx, Incoming};
use crate::oauth::catalog::ADMIN;
use crate::reply::Reply;
use crate::store::d1::UserRow;

use super::console::PURPOSE;

pub async fn handle(ctx: &Ctx, req: &Incoming) -> Reply {
    if req.method == "POST" {
        return submit(ctx, req).await;
    }
    match session_user(ctx, req).await {
        Some(user) => match administrator(ctx, &user).await {
            Ok(roles) => {
                let csrf = CsrfCookie::for_page(ctx, req);
                super::admin_overview::show(ctx, &csrf, &user, &roles, PURPOSE).await
            }
            Err(reply) => reply,
        },
        None => sign_in_page(ctx, req, "", None),
    }
}

/// `/admin/people`: the same gate, then the People page (`admin_people`).
pub async fn people(ctx: &Ctx, req: &Incoming) -> Reply {
    let Some((user, signed_in)) = browser::session(ctx, req).await else {
        return sign_in_page(ctx, req, "", None);
    };
    if let Err(reply) = administrator(ctx, &user).await {
        return reply;
    }
    if req.method != "POST" {
        return super::admin_people::show(ctx, req).await;
    }
    if !super::console::csrf_ok(ctx, req, &req.form_pairs()) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    super::admin_people::submit(ctx, req, &user, signed_in).await
}

/// `/admin/apps`: the same gate, then the Apps page (`admin_apps`).
pub async fn apps(ctx: &Ctx, req: &Incoming) -> Reply {
    let Some((user, signed_in)) = browser::session(ctx, req).await else {
        return sign_in_page(ctx, req, "", None);
    };
    if let Err(reply) = administrator(ctx, &user).await {
        return reply;
    }
    if req.method != "POST" {
        return super::admin_apps::show(ctx, req).await;
    }
    if !super::console::csrf_ok(ctx, req, &req.form_pairs()) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    super::admin_apps::submit(ctx, req, &user, signed_in).await
}

/// `/admin/audit`: the same gate, then the audit log (`admin_audit`), read only.
pub async fn audit(ctx: &Ctx, req: &Incoming) -> Reply {
    let Some(user) = session_user(ctx, req).await else {
        return sign_in_page(ctx, req, "", None);
    };
    if let Err(reply) = administrator(ctx, &user).await {
        return reply;
    }
    super::admin_audit::show(ctx, req).await
}

/// `/admin/doctor`: the same gate, then the connector doctor (`admin_doctor`), read only.
pub async fn doctor(ctx: &Ctx, req: &Incoming) -> Reply {
    let Some(user) = session_user(ctx, req).await else {
        return sign_in_page(ctx, req, "", None);
    };
    if let Err(reply) = administrator(ctx, &user).await {
        return reply;
    }
    super::admin_doctor::show(ctx, req).await
}

/// The person holds `admin` now (GitHub's roles asked again, like an approval), with
/// their roles, or the page that says why not.
async fn administrator(ctx: &Ctx, user: &UserRow) -> Result<Vec<String>, Reply> {
    let roles = crate::http::signin_roles::current_roles_or_page(ctx, &user.id).await?;
    if roles.iter().any(|r| r == ADMIN) {
        Ok(roles)
    } else {
        Err(error_page(ctx, ErrorKind::AdminOnly, None))
    }
}

async fn submit(ctx: &Ctx, req: &Incoming) -> Reply {
    let form = req.form_pairs();
    if !browser::csrf_ok(ctx, req, PURPOSE, field(&form, "csrf_token")) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    match field(&form, "action") {
        "signin" => match session::sign_in_then_see(ctx, req, &form, "/admin").await {
            Ok(reply) => reply,
            Err(e) => sign_in_page(ctx, req, field(&form, "email"), Some(e)),
        },
        "signout" => see_other("/admin").header("Set-Cookie", &browser::end_session(ctx)),
        _ => error_page(ctx, ErrorKind::BadForm, Some("unknown action")),
    }
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
        "/admin",
        "/admin",
        SignInFor::Admin,
        email,
        error,
    )
}
