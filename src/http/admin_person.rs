//! The console's page of one person (`/admin/people?id=`): their connected apps and
//! personal tokens, each revocable; a reset (signed out everywhere, apps and tokens
//! revoked, password cleared) with a one-time link to set a new one; and adding a person
//! from the People page, with an invitation link. The administrator never types or sees
//! the person's password: they send the link. Every change needs a recent sign-in (the
//! caller checks it) and is audited naming the administrator.

use crate::audit::Event;
use crate::encoding::{random_token, secret_hash};
use crate::http::browser::{field, CsrfCookie};
use crate::http::grants::mark_revoked;
use crate::http::pages::{self, error_page, ErrorKind};
use crate::http::{now, now_ms, Ctx, Incoming};
use crate::reply::Reply;
use crate::store::d1::{UserRow, D1};
use crate::templates::{self, display_time, escape, render};

use super::console::PURPOSE;

/// How long a link to set a password works.
pub const LINK_SECONDS: u64 = 72 * 3600;

/// What a change did, or why not; a new link is shown once, here.
#[derive(Default)]
pub struct Outcome {
    pub notice: String,
    pub problem: String,
    pub link: String,
}

fn problem(text: impl Into<String>) -> Outcome {
    Outcome {
        problem: text.into(),
        ..Outcome::default()
    }
}

fn by(admin: &UserRow) -> String {
    format!("by {}", admin.email)
}

/// An email as the command line accepts it: one `@` with text on both sides, no spaces,
/// at most 254 characters; lower-cased.
pub fn email_of(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_ascii_lowercase();
    let ok = !email.is_empty()
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('@'));
    if ok {
        Ok(email)
    } else {
        Err("Give an email address: one @ with text on both sides, no spaces.".into())
    }
}

/// A new link for the person: its URL, shown once.
async fn new_link(
    ctx: &Ctx,
    db: &D1,
    user_id: &str,
    purpose: &str,
    admin: &UserRow,
) -> Result<String, crate::store::StoreError> {
    let token = random_token();
    let t = now();
    db.new_password_link(
        &secret_hash(&token),
        user_id,
        purpose,
        t,
        t + LINK_SECONDS,
        &admin.email,
    )
    .await?;
    Ok(format!("{}/welcome?token={token}", ctx.issuer))
}

/// Adds a person (the People page's form), with an invitation link when passwords are
/// on here.
pub async fn add(
    ctx: &Ctx,
    db: &D1,
    admin: &UserRow,
    form: &[(String, String)],
) -> Result<Outcome, Reply> {
    let email = match email_of(field(form, "email")) {
        Ok(e) => e,
        Err(e) => return Ok(problem(e)),
    };
    let name = field(form, "name").trim();
    if name.chars().count() > 120 || name.chars().any(char::is_control) {
        return Ok(problem(
            "The name must be at most 120 characters, on one line.",
        ));
    }
    let id = random_token();
    let unavailable = |e: crate::store::StoreError| {
        ctx.internal(e);
        error_page(ctx, ErrorKind::Unavailable, None)
    };
    let added = db
        .add_person(&id, &email, Some(name).filter(|n| !n.is_empty()), now())
        .await
        .map_err(unavailable)?;
    if !added {
        return Ok(problem(format!(
            "Someone with the email {email} is here already."
        )));
    }
    ctx.audit(Event::UserAdded, Some(&id), None, Some(&by(admin)))
        .await;
    if !ctx.config.local_passwords {
        return Ok(Outcome {
            notice: format!(
                "Added {email}. Passwords are off here (LOCAL_PASSWORDS), so they sign in \
                 through a sign-in provider with this email, which links to this account."
            ),
            ..Outcome::default()
        });
    }
    let link = new_link(ctx, db, &id, "invite", admin)
        .await
        .map_err(unavailable)?;
    Ok(Outcome {
        notice: format!(
            "Added {email}. Send them this link: it lets them choose their password, works \
             once and for 72 hours. You will not see it again; make a new one from their page."
        ),
        link,
        ..Outcome::default()
    })
}

pub async fn show(ctx: &Ctx, req: &Incoming, id: &str) -> Reply {
    page(ctx, req, id, &Outcome::default(), 200).await
}

/// A change on a person's page.
pub async fn submit(
    ctx: &Ctx,
    req: &Incoming,
    admin: &UserRow,
    form: &[(String, String)],
) -> Reply {
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let target = match db.user_by_id(field(form, "user_id")).await {
        Ok(Some(u)) => u,
        Ok(None) => return error_page(ctx, ErrorKind::BadForm, Some("no such person")),
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let done = match field(form, "action") {
        "reset" => reset(ctx, &db, admin, &target).await,
        "link" => link(ctx, &db, admin, &target).await,
        "disconnect" => disconnect(ctx, &db, admin, &target, field(form, "client_id")).await,
        "revoke_token" => revoke_token(ctx, &db, admin, &target, field(form, "token_id")).await,
        _ => return error_page(ctx, ErrorKind::BadForm, Some("unknown action")),
    };
    match done {
        Ok(o) => {
            let status = if o.problem.is_empty() { 200 } else { 400 };
            page(ctx, req, &target.id, &o, status).await
        }
        Err(e) => {
            ctx.internal(e);
            error_page(ctx, ErrorKind::Unavailable, None)
        }
    }
}

type Done = Result<Outcome, crate::store::StoreError>;

async fn reset(ctx: &Ctx, db: &D1, admin: &UserRow, t: &UserRow) -> Done {
    if t.id == admin.id {
        return Ok(problem(
            "You cannot reset yourself here: use Sign out everywhere on your account page.",
        ));
    }
    let failures = crate::store::keys::account_failures(&t.email);
    let revoked = db.reset_person(&t.id, &failures, now(), now_ms()).await?;
    for grant in &revoked {
        mark_revoked(ctx, db, grant).await;
    }
    ctx.audit(Event::PasswordReset, Some(&t.id), None, Some(&by(admin)))
        .await;
    let ended = format!(
        "{} is reset: signed out everywhere, {} app connection(s) ended, personal tokens \
         revoked, password cleared.",
        t.email,
        revoked.len()
    );
    if !ctx.config.local_passwords {
        return Ok(Outcome {
            notice: format!("{ended} Passwords are off here: they sign in through a provider."),
            ..Outcome::default()
        });
    }
    let link = new_link(ctx, db, &t.id, "reset", admin).await?;
    Ok(Outcome {
        notice: format!(
            "{ended} Send them this link to choose a new password (once, within 72 hours)."
        ),
        link,
        ..Outcome::default()
    })
}

async fn link(ctx: &Ctx, db: &D1, admin: &UserRow, t: &UserRow) -> Done {
    if !ctx.config.local_passwords {
        return Ok(problem("Passwords are off here (LOCAL_PASSWORDS)."));
    }
    // Only for someone the operator added who has no password yet: for anyone else a
    // link would let whoever holds it take the account over without the reset's
    // sign-outs (and a person a provider made would become linkable by email).
    if !t.password_hash.is_empty() || t.operator_added == 0 {
        return Ok(problem(if t.password_hash.is_empty() {
            format!(
                "{} signs in through a sign-in provider. To give them a password, reset them: \
                 that also signs them out everywhere.",
                t.email
            )
        } else {
            format!(
                "{} has a password. To give them a new one, reset them: that also signs them \
                 out everywhere.",
                t.email
            )
        }));
    }
    // Someone who signs in through a provider uses their account already: a password for
    // it goes through Reset, which also signs them out everywhere.
    if db.has_identity(&t.id).await? {
        return Ok(problem(format!(
            "{} signs in through a sign-in provider. To give them a password, reset them: \
             that also signs them out everywhere.",
            t.email
        )));
    }
    let link = new_link(ctx, db, &t.id, "invite", admin).await?;
    ctx.audit(Event::PasswordLinkMade, Some(&t.id), None, Some(&by(admin)))
        .await;
    Ok(Outcome {
        notice: format!(
            "A new link for {}: it works once, within 72 hours; older links no longer work.",
            t.email
        ),
        link,
        ..Outcome::default()
    })
}

async fn disconnect(ctx: &Ctx, db: &D1, admin: &UserRow, t: &UserRow, client_id: &str) -> Done {
    let revoked = db.disconnect(&t.id, client_id, now_ms()).await?;
    for grant in &revoked {
        mark_revoked(ctx, db, grant).await;
    }
    if !revoked.is_empty() {
        ctx.audit(
            Event::Disconnect,
            Some(&t.id),
            Some(client_id),
            Some(&by(admin)),
        )
        .await;
    }
    Ok(Outcome {
        notice: format!(
            "Disconnected the app for {}: its refresh tokens stop at once, its access tokens within a minute.",
            t.email
        ),
        ..Outcome::default()
    })
}

async fn revoke_token(ctx: &Ctx, db: &D1, admin: &UserRow, t: &UserRow, id: &str) -> Done {
    let name = db.revoke_personal_token(&t.id, id, now()).await?;
    let Some(name) = name else {
        return Ok(problem("That token was revoked already."));
    };
    let detail = format!("{name} {}", by(admin));
    ctx.audit(Event::TokenRevoked, Some(&t.id), None, Some(&detail))
        .await;
    Ok(Outcome {
        notice: format!("Revoked the personal token {name} of {}.", t.email),
        ..Outcome::default()
    })
}

async fn page(ctx: &Ctx, req: &Incoming, id: &str, outcome: &Outcome, status: u16) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    let Some(token) = csrf.token(ctx, PURPOSE) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let person = match db.user_by_id(id).await {
        Ok(Some(u)) => u,
        Ok(None) => return error_page(ctx, ErrorKind::BadForm, Some("no such person")),
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let (apps, tokens) = match (
        db.connected_apps(&person.id, now(), ctx.config.longest_access_ttl())
            .await,
        db.personal_tokens(&person.id, 100, now()).await,
    ) {
        (Ok(a), Ok(t)) => (a, t),
        (Err(e), _) | (_, Err(e)) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let provider_user = match db.has_identity(&person.id).await {
        Ok(b) => b,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let hidden = format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
         <input type=\"hidden\" name=\"user_id\" value=\"{}\">",
        escape(&token),
        escape(&person.id)
    );
    let mut app_items = String::new();
    for a in &apps {
        let name = crate::http::account::app_name(ctx, &a.client_id).await.0;
        app_items.push_str(&format!(
            "<li><strong>{}</strong> <span class=\"meta\">{} · since {} · last used {}</span>\
             <form method=\"post\" action=\"/admin/people\" class=\"inline\">{hidden}\
             <input type=\"hidden\" name=\"client_id\" value=\"{}\">\
             <button type=\"submit\" name=\"action\" value=\"disconnect\" class=\"danger\">Disconnect {}</button></form></li>",
            escape(&name),
            escape(&a.scopes),
            display_time(a.first_at).0,
            display_time(a.last_at).0,
            escape(&a.client_id),
            escape(&name),
        ));
    }
    let mut token_items = String::new();
    for t in &tokens {
        token_items.push_str(&format!(
            "<li><strong>{}</strong> <span class=\"meta\">{} · made {}{}</span>\
             <form method=\"post\" action=\"/admin/people\" class=\"inline\">{hidden}\
             <input type=\"hidden\" name=\"token_id\" value=\"{}\">\
             <button type=\"submit\" name=\"action\" value=\"revoke_token\" class=\"danger\">Revoke {}</button></form></li>",
            escape(&t.name),
            escape(&t.scope),
            display_time(t.created_at).0,
            t.last_used_at
                .map(|u| format!(" · last used {}", display_time(u).0))
                .unwrap_or_default(),
            escape(&t.id),
            escape(&t.name),
        ));
    }
    let content = render(
        templates::ADMIN_PERSON_PAGE,
        &[
            ("nav", &super::console::nav("/admin/people")),
            ("email", &person.email),
            ("name", person.name.as_deref().unwrap_or("")),
            (
                "disabled",
                if person.disabled_at.is_some() {
                    "1"
                } else {
                    ""
                },
            ),
            (
                "password",
                if person.password_hash.is_empty() {
                    ""
                } else {
                    "1"
                },
            ),
            (
                "passwords_on",
                if ctx.config.local_passwords { "1" } else { "" },
            ),
            (
                "invited",
                if person.password_hash.is_empty() && person.operator_added == 1 && !provider_user {
                    "1"
                } else {
                    ""
                },
            ),
            ("apps", &app_items),
            ("tokens", &token_items),
            ("hidden", &hidden),
            ("notice", &outcome.notice),
            ("problem", &outcome.problem),
            ("link", &outcome.link),
        ],
    );
    csrf.attach(pages::html(ctx, status, &content))
}
