//! The personal-access-token part of `/account`: the list, Create (the token is shown in
//! the answer to the POST, once, and stored only as its hash) and Revoke. The CSRF check
//! and the session are the account page's; every statement names the signed-in person.

use crate::audit::Event;
use crate::encoding::{b64url, random_bytes, secret_hash};
use crate::http::account_notice::Notice;
use crate::http::browser::field;
use crate::http::pages::ErrorKind;
use crate::http::session::{self, SignInError};
use crate::http::{now, Ctx, Incoming};
use crate::oauth::catalog::Catalog;
use crate::oauth::personal_token::{self, NewToken, MAX_PER_USER};
use crate::store::d1::{UserRow, D1};
use crate::store::d1_tokens::NewTokenRow;
use crate::templates::{self, display_time, render};

/// Makes a token. A token outlives the browser session it was made in, so the person's
/// password is asked again (with the sign-in page's lockouts): a session cookie alone,
/// borrowed or stolen, cannot be turned into lasting access.
pub async fn create(
    ctx: &Ctx,
    req: &Incoming,
    user: &UserRow,
    form: &[(String, String)],
) -> Notice {
    let name = field(form, "token_name");
    let scopes: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "token_scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let now = now();
    let refused = |why: String| Notice {
        token_error: why,
        token_name: name.chars().take(personal_token::MAX_NAME_CHARS).collect(),
        ..Notice::default()
    };
    let Ok(db) = ctx.db() else {
        return unavailable();
    };
    // Asked as an approval asks them: a token is a grant too.
    let roles = crate::http::signin_roles::current_roles(ctx, &db, &user.id).await;
    let (Ok(catalog), Ok(roles)) = (ctx.scopes(), roles) else {
        return unavailable();
    };
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let expires = field(form, "token_expires");
    let new = match NewToken::parse(name, &scopes, expires, now, (&catalog, &roles)) {
        Ok(n) => n,
        Err(why) => return refused(why),
    };
    let password = field(form, "token_password");
    let purpose = session::Purpose::ConfirmNewToken;
    match session::sign_in(ctx, &db, req, &user.email, password, purpose).await {
        Ok(confirmed) if confirmed.id == user.id => {}
        Ok(_) | Err(SignInError::Failed | SignInError::Refused(_)) => {
            return refused(
                "That password is not right. Enter the password you sign in with.".into(),
            )
        }
        Err(SignInError::Missing) => {
            return refused("Enter your password to create a token.".into())
        }
        Err(SignInError::Locked(minutes)) => {
            return refused(format!(
                "Too many failed attempts: try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ))
        }
        Err(SignInError::Unavailable) => return unavailable(),
    }
    let token = personal_token::generate();
    let id = format!("pt_{}", b64url(&random_bytes::<9>()));
    let row = NewTokenRow {
        id: &id,
        user_id: &user.id,
        name: &new.name,
        token_hash: &secret_hash(&token),
        scope: &new.scope.to_string(),
        expires_at: new.expires_at,
    };
    match db.create_personal_token(&row, MAX_PER_USER, now).await {
        Ok(true) => {
            ctx.audit(Event::TokenCreated, Some(&user.id), None, Some(&new.name))
                .await;
            Notice {
                created: token,
                created_name: new.name,
                ..Notice::default()
            }
        }
        Ok(false) => refused(format!(
            "You already have {MAX_PER_USER} tokens. Revoke one you no longer use first."
        )),
        Err(e) => {
            ctx.internal(e);
            unavailable()
        }
    }
}

pub async fn revoke(ctx: &Ctx, user: &UserRow, form: &[(String, String)]) -> Notice {
    let id = field(form, "token_id");
    let Ok(db) = ctx.db() else {
        return unavailable();
    };
    match db.revoke_personal_token(&user.id, id, now()).await {
        Ok(Some(name)) => {
            ctx.audit(Event::TokenRevoked, Some(&user.id), None, Some(&name))
                .await;
            Notice {
                revoked: name,
                ..Notice::default()
            }
        }
        // Already revoked (pressed twice) or not theirs: the list shows what is left.
        Ok(None) => Notice::default(),
        Err(e) => {
            ctx.internal(e);
            unavailable()
        }
    }
}

fn unavailable() -> Notice {
    Notice {
        failed: Some(ErrorKind::Unavailable),
        ..Notice::default()
    }
}

/// The scopes a person may give a token, as the form's checkboxes.
pub fn choices(catalog: &Catalog, roles: &[String]) -> String {
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let all = catalog.stored(&catalog.resource_scopes().join(" "));
    let offered = catalog.allowed_for(&all, &roles);
    templates::token_scope_choices(catalog, &offered.names())
}

/// The person's live tokens as `<li>` items.
pub async fn items(
    ctx: &Ctx,
    db: &D1,
    user: &UserRow,
    csrf: &str,
    catalog: &Catalog,
) -> Result<String, ErrorKind> {
    let tokens = db
        .personal_tokens(&user.id, MAX_PER_USER, now())
        .await
        .map_err(|e| {
            ctx.internal(e);
            ErrorKind::Unavailable
        })?;
    let mut out = String::new();
    for t in &tokens {
        let scopes: Vec<&str> = t.scope.split(' ').collect();
        let (created, created_iso) = display_time(t.created_at);
        let (expires, expires_iso) = t.expires_at.map(display_time).unwrap_or_default();
        let (last_used, last_used_iso) = t.last_used_at.map(display_time).unwrap_or_default();
        out.push_str(&render(
            templates::ACCOUNT_TOKEN,
            &[
                ("id", &t.id),
                ("name", &t.name),
                ("scopes", &templates::scope_items(catalog, &scopes)),
                ("created", &created),
                ("created_iso", &created_iso),
                ("expires", &expires),
                ("expires_iso", &expires_iso),
                ("last_used", &last_used),
                ("last_used_iso", &last_used_iso),
                ("csrf_token", csrf),
            ],
        ));
    }
    Ok(out)
}
