//! `/admin/apps`: every app, however it came to be known (dynamic registration, the
//! operator, a client ID metadata document someone connected with), with where it sends
//! people, how it authenticates, and how it is used. The operator adds pre-registered
//! apps (the secret shown once), limits their scopes and token lifetimes, gives them a new
//! secret, removes any app (its connections revoked first), and says which hosts client
//! ID metadata documents may come from. Every change needs a recent sign-in and is
//! audited naming the administrator, as on the People page.

use super::console::{recent_enough, PURPOSE};
use crate::audit::Event;
use crate::encoding::{random_token, secret_hash};
use crate::http::browser::{field, CsrfCookie};
use crate::http::grants::mark_revoked;
use crate::http::pages::{self, error_page, ErrorKind};
use crate::http::{now, now_ms, Ctx, Incoming};
use crate::oauth::app_form::{self, NewApp};
use crate::oauth::client::{host_of, Client, ClientSource};
use crate::oauth::client_directory::ClientDirectory;
use crate::reply::Reply;
use crate::store::d1::{UserRow, D1};
use crate::templates::{self, display_time, escape, render};

const LISTED: u64 = 100;

/// What a change did, or why not; a new secret is shown once, here.
#[derive(Default)]
struct Outcome {
    notice: String,
    problem: String,
    secret: String,
}

fn problem(text: impl Into<String>) -> Outcome {
    Outcome {
        problem: text.into(),
        ..Outcome::default()
    }
}

fn notice(text: impl Into<String>) -> Outcome {
    Outcome {
        notice: text.into(),
        ..Outcome::default()
    }
}

fn kind(source: &ClientSource) -> &'static str {
    match source {
        ClientSource::Registered => "dynamic registration (its name is its own claim)",
        ClientSource::MetadataDocument => "a client ID metadata document its host vouches for",
        ClientSource::UnverifiedDocument => "a client ID metadata document not vouched for",
        ClientSource::Preregistered => "pre-registered by the operator",
    }
}

pub async fn show(ctx: &Ctx, req: &Incoming) -> Reply {
    page(ctx, req, &Outcome::default(), 200).await
}

pub async fn submit(ctx: &Ctx, req: &Incoming, admin: &UserRow, signed_in: u64) -> Reply {
    let form = req.form_pairs();
    if !recent_enough(signed_in, now()) {
        let o = problem(
            "For this change, sign in again first: your last sign-in was more than ten \
             minutes ago. Sign out on the overview, sign in, then come back.",
        );
        return page(ctx, req, &o, 403).await;
    }
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let by = format!("by {}", admin.email);
    let done = match field(&form, "action") {
        "create" => create(ctx, &db, &form, &by).await,
        "limit" => limit(ctx, &db, &form, &by).await,
        "rotate" => rotate(ctx, &db, &form, &by).await,
        "remove" => remove(ctx, &db, field(&form, "client_id"), &by).await,
        a @ ("host_allow" | "host_block" | "host_forget") => {
            host_rule(ctx, &db, a, field(&form, "host"), admin, &by).await
        }
        _ => return error_page(ctx, ErrorKind::BadForm, Some("unknown action")),
    };
    match done {
        Ok(o) => {
            let status = if o.problem.is_empty() { 200 } else { 400 };
            page(ctx, req, &o, status).await
        }
        Err(e) => {
            ctx.internal(e);
            error_page(ctx, ErrorKind::Unavailable, None)
        }
    }
}

type Done = Result<Outcome, crate::store::StoreError>;

/// The limits a form gives (its scope and lifetimes), or why they cannot be used.
fn limits_of(ctx: &Ctx, form: &[(String, String)]) -> Result<app_form::Limits, Outcome> {
    let catalog = crate::http::ctx::catalog(&ctx.config)
        .map_err(|e| problem(format!("SCOPES is broken: {e}")))?;
    app_form::limits(
        &catalog,
        field(form, "scope"),
        field(form, "access_ttl"),
        field(form, "refresh_ttl"),
    )
    .map_err(problem)
}

/// Allows or blocks a host of metadata documents, or removes its rule.
async fn host_rule(ctx: &Ctx, db: &D1, action: &str, raw: &str, admin: &UserRow, by: &str) -> Done {
    let host = match app_form::document_host(raw) {
        Ok(h) => h,
        Err(e) => return Ok(problem(e)),
    };
    let (done, what) = match action {
        "host_forget" => {
            if !db.delete_host_rule(&host).await? {
                return Ok(problem(format!("{host} has no rule to remove.")));
            }
            (format!("{host} has no rule any more."), "rule removed")
        }
        _ => {
            let rule = if action == "host_allow" {
                "allow"
            } else {
                "block"
            };
            if !db.set_host_rule(&host, rule, now(), &admin.email).await? {
                return Ok(problem(format!(
                    "There are {} host rules already: remove one first.",
                    crate::store::d1_app_admin::MAX_HOST_RULES
                )));
            }
            let words = if rule == "allow" {
                "allowed"
            } else {
                "blocked"
            };
            (
                format!("Documents on {host} are {words}; every location follows within a minute."),
                words,
            )
        }
    };
    super::cimd::forget_host_rules();
    let detail = format!("{host} {what} {by}");
    ctx.audit(Event::DocumentHostChanged, None, None, Some(&detail))
        .await;
    Ok(notice(done))
}

async fn save(ctx: &Ctx, db: &D1, client: &Client) -> Result<(), crate::store::StoreError> {
    let kv = match ctx.kv() {
        Ok(kv) => kv,
        Err(_) => return Err(crate::store::StoreError("no KV binding".into())),
    };
    let directory = ClientDirectory {
        kv: &kv,
        strong: db,
    };
    directory.save(client, now()).await?;
    // The fast copy is only a speed-up; D1 answers when it is missing or stale.
    if let Err(e) = directory.cache(client).await {
        worker::console_error!("[{}] caching a client in KV: {e}", ctx.request_id);
    }
    Ok(())
}

/// Audits a change to `client` (its name and the administrator in the detail); returns
/// the name, for the notice.
async fn audited(ctx: &Ctx, client: &Client, event: Event, by: &str) -> String {
    let name = client.display_name().unwrap_or_default();
    let detail = format!("{name} {by}");
    ctx.audit(event, None, Some(&client.client_id), Some(&detail))
        .await;
    name
}

async fn create(ctx: &Ctx, db: &D1, form: &[(String, String)], by: &str) -> Done {
    let limits = match limits_of(ctx, form) {
        Ok(l) => l,
        Err(o) => return Ok(o),
    };
    let auth = field(form, "auth");
    let secret = (auth != "none").then(random_token);
    let app = NewApp {
        name: field(form, "name"),
        redirect_uris: field(form, "redirect_uris"),
        auth,
        limits,
    };
    let client = match app_form::new_client(
        &app,
        random_token(),
        secret.as_deref().map(secret_hash),
        now(),
    ) {
        Ok(c) => c,
        Err(e) => return Ok(problem(e)),
    };
    save(ctx, db, &client).await?;
    let name = audited(ctx, &client, Event::ClientRegistered, by).await;
    Ok(Outcome {
        notice: format!(
            "Added {name}. Its client ID is {}{}",
            client.client_id,
            if secret.is_some() {
                ". Copy its secret now: only its hash is kept, and it is not shown again."
            } else {
                " (a public app: PKCE, no secret)."
            }
        ),
        secret: secret.unwrap_or_default(),
        ..Outcome::default()
    })
}

/// The pre-registered client a form names, or why not.
async fn preregistered(
    db: &D1,
    form: &[(String, String)],
) -> Result<Result<Client, Outcome>, crate::store::StoreError> {
    use crate::store::ClientRecords;
    let id = field(form, "client_id");
    let client: Option<Client> = db
        .load_client(id)
        .await?
        .and_then(|r| serde_json::from_str(&r).ok());
    Ok(match client {
        Some(c) if c.source == ClientSource::Preregistered => Ok(c),
        Some(_) => Err(problem(
            "Only the operator's own (pre-registered) apps have limits and secrets set here.",
        )),
        None => Err(problem("That app is not registered here any more.")),
    })
}

async fn limit(ctx: &Ctx, db: &D1, form: &[(String, String)], by: &str) -> Done {
    let mut client = match preregistered(db, form).await? {
        Ok(c) => c,
        Err(o) => return Ok(o),
    };
    let limits = match limits_of(ctx, form) {
        Ok(l) => l,
        Err(o) => return Ok(o),
    };
    client.scope = limits.scope;
    client.access_token_ttl = limits.access_token_ttl;
    client.refresh_token_ttl = limits.refresh_token_ttl;
    save(ctx, db, &client).await?;
    let name = client.display_name().unwrap_or_default();
    let detail = format!(
        "limits: scope {}, access {}, refresh {} {by}",
        client.scope.as_deref().unwrap_or("any"),
        client
            .access_token_ttl
            .map_or("default".into(), |t| format!("{t}s")),
        client
            .refresh_token_ttl
            .map_or("default".into(), |t| format!("{t}s")),
    );
    ctx.audit(
        Event::ClientChanged,
        None,
        Some(&client.client_id),
        Some(&detail),
    )
    .await;
    Ok(notice(format!(
        "{name}'s limits are saved: new authorizations and the next refresh follow them."
    )))
}

async fn rotate(ctx: &Ctx, db: &D1, form: &[(String, String)], by: &str) -> Done {
    let mut client = match preregistered(db, form).await? {
        Ok(c) => c,
        Err(o) => return Ok(o),
    };
    if client.secret_hash.is_none() {
        return Ok(problem("A public app has no secret to replace."));
    }
    let secret = random_token();
    client.secret_hash = Some(secret_hash(&secret));
    save(ctx, db, &client).await?;
    let name = audited(ctx, &client, Event::ClientSecretRotated, by).await;
    Ok(Outcome {
        notice: format!(
            "{name} has a new secret; the old one is refused at /token from now on. Copy it \
             now: it is not shown again."
        ),
        secret,
        ..Outcome::default()
    })
}

async fn remove(ctx: &Ctx, db: &D1, client_id: &str, by: &str) -> Done {
    if client_id.is_empty() {
        return Ok(problem("No app was named."));
    }
    if !db.app_known(client_id).await? {
        return Ok(problem("That app is not known here (removed already?)."));
    }
    // Revocation first, in D1 where it happens, then the marks and the fast copy.
    let revoked = db.remove_app(client_id, now(), now_ms()).await?;
    for grant in &revoked {
        mark_revoked(ctx, db, grant).await;
    }
    if let Ok(kv) = ctx.kv() {
        for key in [
            crate::store::keys::client(client_id),
            crate::store::keys::metadata_document(client_id),
        ] {
            if let Err(e) = kv.delete(&key).await {
                worker::console_error!("[{}] removing a client's KV copy: {e}", ctx.request_id);
            }
        }
    }
    ctx.audit(Event::ClientRemoved, None, Some(client_id), Some(by))
        .await;
    let document = client_id.starts_with("https://");
    Ok(notice(format!(
        "Removed the app and revoked its {} connection(s): refresh tokens stop at once, \
         access tokens within a minute.{}",
        revoked.len(),
        if document {
            " An app known by its metadata document can connect again unless its host is blocked below."
        } else {
            ""
        }
    )))
}

async fn page(ctx: &Ctx, req: &Incoming, outcome: &Outcome, status: u16) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    let Some(token) = csrf.token(ctx, PURPOSE) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let q = req
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let (rows, rules) = match (db.apps_matching(&q, LISTED).await, db.host_rules().await) {
        (Ok(r), Ok(h)) => (r, h),
        (Err(e), _) | (_, Err(e)) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let mut items = String::new();
    for (n, row) in rows.iter().enumerate() {
        // A record that no longer reads as a client is listed by its id alone.
        let client: Option<Client> = serde_json::from_str(&row.record).ok();
        let name = client
            .as_ref()
            .and_then(Client::display_name)
            .unwrap_or_else(|| "An unnamed app".into());
        let mut hosts: Vec<String> = client
            .as_ref()
            .map(|c| c.redirect_uris.iter().map(|u| host_of(u)).collect())
            .unwrap_or_default();
        hosts.dedup();
        let shown = |t: Option<u64>| t.map(|t| display_time(t).0).unwrap_or_default();
        let people = match row.people {
            1 => "1 person".to_string(),
            n => format!("{n} people"),
        };
        let own = client
            .as_ref()
            .is_some_and(|c| c.source == ClientSource::Preregistered);
        let document_host = if row.client_id.starts_with("https://") {
            host_of(&row.client_id)
        } else {
            String::new()
        };
        let ttl = |t: Option<u64>| t.map(|t| t.to_string()).unwrap_or_default();
        items.push_str(&render(
            templates::ADMIN_APP,
            &[
                ("n", &n.to_string()),
                ("name", &name),
                (
                    "kind",
                    client
                        .as_ref()
                        .map_or("unreadable record", |c| kind(&c.source)),
                ),
                ("hosts", &hosts.join(", ")),
                (
                    "auth",
                    client
                        .as_ref()
                        .map_or("", |c| c.token_endpoint_auth_method.as_str()),
                ),
                ("people", &people),
                ("first", &shown(row.first_used)),
                ("last", &shown(row.last_used)),
                ("client_id", &row.client_id),
                ("own", if own { "1" } else { "" }),
                (
                    "confidential",
                    if client.as_ref().is_some_and(|c| c.secret_hash.is_some()) {
                        "1"
                    } else {
                        ""
                    },
                ),
                (
                    "scope",
                    client
                        .as_ref()
                        .and_then(|c| c.scope.as_deref())
                        .unwrap_or(""),
                ),
                (
                    "access_ttl",
                    &ttl(client.as_ref().and_then(|c| c.access_token_ttl)),
                ),
                (
                    "refresh_ttl",
                    &ttl(client.as_ref().and_then(|c| c.refresh_token_ttl)),
                ),
                ("document_host", &document_host),
                ("csrf_token", &token),
            ],
        ));
    }
    let mut host_items = String::new();
    for r in &rules {
        host_items.push_str(&format!(
            "<li><strong>{}</strong> {} <span class=\"meta\">since {} by {}</span>\
             <form method=\"post\" action=\"/admin/apps\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{}\">\
             <input type=\"hidden\" name=\"host\" value=\"{}\">\
             <button type=\"submit\" name=\"action\" value=\"host_forget\" class=\"link\">Remove the rule for {}</button></form></li>",
            if r.rule == "allow" { "Allowed" } else { "Blocked" },
            escape(&r.host),
            display_time(r.created_at).0,
            escape(&r.created_by),
            escape(&token),
            escape(&r.host),
            escape(&r.host),
        ));
    }
    let on = |b: bool| if b { "on" } else { "off" };
    let content = render(
        templates::ADMIN_APPS,
        &[
            ("nav", &super::console::nav("/admin/apps")),
            ("apps", &items),
            ("registration", on(ctx.config.dynamic_registration)),
            ("documents", on(ctx.config.metadata_documents)),
            ("notice", &outcome.notice),
            ("problem", &outcome.problem),
            ("secret", &outcome.secret),
            ("hosts", &host_items),
            ("q", &q),
            ("listed", &LISTED.to_string()),
            ("csrf_token", &token),
        ],
    );
    csrf.attach(pages::html(ctx, status, &content))
}
