//! `/admin/people`: search people, disable or enable them, give or take the roles the
//! operator gives. Every change needs a sign-in within the last ten minutes (a session
//! left open on a desk must not be enough to lock someone out or make an administrator),
//! is audited naming the administrator, and does what the command line does.

use super::console::{recent_enough, PURPOSE};
use crate::audit::Event;
use crate::http::browser::{field, CsrfCookie};
use crate::http::grants::mark_revoked;
use crate::http::pages::{self, error_page, ErrorKind};
use crate::http::{now, now_ms, Ctx, Incoming};
use crate::oauth::catalog::{is_role_name, ADMIN};
use crate::reply::Reply;
use crate::store::d1::{UserRow, D1};
use crate::templates::{self, display_time, render};

const LISTED: u64 = 50;

/// What a change did, or why it was not done.
#[derive(Default)]
struct Outcome {
    notice: String,
    problem: String,
    /// A one-time link to set a password, shown once.
    link: String,
}

pub async fn show(ctx: &Ctx, req: &Incoming) -> Reply {
    let pairs = req.query_pairs();
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let id = get("id");
    if !id.is_empty() {
        return super::admin_person::show(ctx, req, &id).await;
    }
    page(ctx, req, &get("q"), &Outcome::default(), 200).await
}

pub async fn submit(ctx: &Ctx, req: &Incoming, admin: &UserRow, signed_in: u64) -> Reply {
    let form = req.form_pairs();
    let q = field(&form, "q").to_string();
    if !recent_enough(signed_in, now()) {
        let o = Outcome {
            problem: "For this change, sign in again first: your last sign-in was more than \
                      ten minutes ago. Sign out below the overview, sign in, then come back."
                .into(),
            ..Outcome::default()
        };
        return page(ctx, req, &q, &o, 403).await;
    }
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    match field(&form, "action") {
        "add" => {
            return match super::admin_person::add(ctx, &db, admin, &form).await {
                Ok(o) => {
                    let status = if o.problem.is_empty() { 200 } else { 400 };
                    let o = Outcome {
                        notice: o.notice,
                        problem: o.problem,
                        link: o.link,
                    };
                    page(ctx, req, &q, &o, status).await
                }
                Err(reply) => reply,
            }
        }
        "reset" | "link" | "disconnect" | "revoke_token" => {
            return super::admin_person::submit(ctx, req, admin, &form).await
        }
        _ => {}
    }
    let target = match db.user_by_id(field(&form, "user_id")).await {
        Ok(Some(u)) => u,
        Ok(None) => return error_page(ctx, ErrorKind::BadForm, Some("no such person")),
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let done = match field(&form, "action") {
        "disable" => disable(ctx, &db, admin, &target).await,
        "enable" => enable(ctx, &db, admin, &target).await,
        a @ ("role_add" | "role_remove") => {
            role(
                ctx,
                &db,
                admin,
                &target,
                field(&form, "role"),
                a == "role_add",
            )
            .await
        }
        _ => return error_page(ctx, ErrorKind::BadForm, Some("unknown action")),
    };
    match done {
        Ok(o) => page(ctx, req, &q, &o, 200).await,
        Err(reply) => reply,
    }
}

/// The refusal of a change that would leave no one else holding `admin` (`t` being the
/// person changed); `None` when someone else does.
async fn last_admin(ctx: &Ctx, db: &D1, t: &UserRow) -> Result<Option<Outcome>, Reply> {
    let others = db.other_admins(&t.id).await.map_err(|e| {
        ctx.internal(e);
        error_page(ctx, ErrorKind::Unavailable, None)
    })?;
    Ok((others == 0).then(|| Outcome {
        problem: format!(
            "{} would leave no one else with the admin role; give it to someone else first.",
            t.email
        ),
        ..Outcome::default()
    }))
}

fn by(admin: &UserRow) -> String {
    format!("by {}", admin.email)
}

async fn disable(ctx: &Ctx, db: &D1, admin: &UserRow, t: &UserRow) -> Result<Outcome, Reply> {
    if t.id == admin.id {
        return Ok(Outcome {
            problem: "You cannot disable yourself here.".into(),
            ..Outcome::default()
        });
    }
    if let Some(refused) = last_admin(ctx, db, t).await? {
        return Ok(refused);
    }
    let revoked = db
        .disable_person(&t.id, now(), now_ms())
        .await
        .map_err(|e| {
            ctx.internal(e);
            error_page(ctx, ErrorKind::Unavailable, None)
        })?;
    for grant in &revoked {
        mark_revoked(ctx, db, grant).await;
    }
    ctx.audit(Event::UserDisabled, Some(&t.id), None, Some(&by(admin)))
        .await;
    Ok(Outcome {
        notice: format!(
            "{} is disabled: signed out everywhere, {} app connection(s) ended, personal tokens revoked.",
            t.email,
            revoked.len()
        ),
        ..Outcome::default()
    })
}

async fn enable(ctx: &Ctx, db: &D1, admin: &UserRow, t: &UserRow) -> Result<Outcome, Reply> {
    // Only a disabled person: enabling also ends sessions, which a stale page must not do
    // to someone active.
    if t.disabled_at.is_none() {
        return Ok(Outcome {
            notice: format!("{} is not disabled; nothing was changed.", t.email),
            ..Outcome::default()
        });
    }
    db.enable_person(&t.id, now_ms()).await.map_err(|e| {
        ctx.internal(e);
        error_page(ctx, ErrorKind::Unavailable, None)
    })?;
    ctx.audit(Event::UserEnabled, Some(&t.id), None, Some(&by(admin)))
        .await;
    Ok(Outcome {
        notice: format!("{} can sign in again.", t.email),
        ..Outcome::default()
    })
}

async fn role(
    ctx: &Ctx,
    db: &D1,
    admin: &UserRow,
    t: &UserRow,
    role: &str,
    give: bool,
) -> Result<Outcome, Reply> {
    let role = role.trim();
    // Giving needs a role SCOPES knows; taking any well-formed one is always allowed (a
    // role dropped from SCOPES since must not stay, ready to count again).
    let known = crate::http::ctx::catalog(&ctx.config).is_ok_and(|c| c.is_role(role));
    if !is_role_name(role) || (give && !known) {
        return Ok(Outcome {
            problem: format!(
                "'{}' is not a role this server knows: SCOPES names its roles (admin always).",
                crate::util::text::truncate(role, 64)
            ),
            ..Outcome::default()
        });
    }
    if !give && role == ADMIN && t.id == admin.id {
        return Ok(Outcome {
            problem: "You cannot take your own administrator role here.".into(),
            ..Outcome::default()
        });
    }
    if !give && role == ADMIN {
        if let Some(refused) = last_admin(ctx, db, t).await? {
            return Ok(refused);
        }
    }
    let changed = db
        .set_operator_role(&t.id, role, give, now())
        .await
        .map_err(|e| {
            ctx.internal(e);
            error_page(ctx, ErrorKind::Unavailable, None)
        })?;
    if changed {
        let sign = if give { '+' } else { '-' };
        let detail = format!("{sign}{role} {}", by(admin));
        ctx.audit(Event::RolesChanged, Some(&t.id), None, Some(&detail))
            .await;
    }
    let notice = match (give, changed) {
        (true, true) => format!("{} has the role {role}.", t.email),
        (true, false) => format!("{} already had the role {role}.", t.email),
        (false, true) => format!(
            "{} no longer has the role {role} from the operator; their apps narrow at their next refresh.",
            t.email
        ),
        (false, false) => format!(
            "{} had no role {role} given by the operator (a sign-in provider's roles follow the provider).",
            t.email
        ),
    };
    Ok(Outcome {
        notice,
        ..Outcome::default()
    })
}

async fn page(ctx: &Ctx, req: &Incoming, q: &str, outcome: &Outcome, status: u16) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    let Some(token) = csrf.token(ctx, PURPOSE) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let people = match db.people(q, LISTED).await {
        Ok(p) => p,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let mut items = String::new();
    for (n, p) in people.iter().enumerate() {
        let roles: Vec<String> = p
            .roles
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|r| !r.is_empty())
            .map(|r| match r.split_once('@') {
                Some((role, "operator")) => role.to_string(),
                Some((role, source)) => {
                    format!("{role} ({})", source.trim_start_matches("provider:"))
                }
                None => r.to_string(),
            })
            .collect();
        let (created, created_iso) = display_time(p.created_at);
        items.push_str(&render(
            templates::ADMIN_PERSON,
            &[
                ("id", &p.id),
                ("n", &n.to_string()),
                ("email", &p.email),
                ("name", p.name.as_deref().unwrap_or("")),
                ("created", &created),
                ("created_iso", &created_iso),
                ("disabled", if p.disabled_at.is_some() { "1" } else { "" }),
                ("roles", &roles.join(", ")),
                ("q", q),
                ("csrf_token", &token),
            ],
        ));
    }
    let content = render(
        templates::ADMIN_PEOPLE,
        &[
            ("people", &items),
            ("nav", &super::console::nav("/admin/people")),
            ("q", q),
            ("notice", &outcome.notice),
            ("problem", &outcome.problem),
            ("link", &outcome.link),
            ("csrf_token", &token),
            (
                "passwords_on",
                if ctx.config.local_passwords { "1" } else { "" },
            ),
        ],
    );
    csrf.attach(pages::html(ctx, status, &content))
}
