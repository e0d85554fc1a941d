//! `/admin/apps`: every app, however it came to be known (dynamic registration, the
//! operator's `npm run client -- add`, a client ID metadata document someone connected
//! with), with where it sends people, how it authenticates, and how it is used. Read only
//! in this slice: creating, limiting and removing apps is the command line's for now.

use crate::http::browser::CsrfCookie;
use crate::http::pages::{self, error_page, ErrorKind};
use crate::http::{Ctx, Incoming};
use crate::oauth::client::{host_of, Client, ClientSource};
use crate::reply::Reply;
use crate::templates::{self, display_time, render};

const LISTED: u64 = 100;

fn kind(source: &ClientSource) -> &'static str {
    match source {
        ClientSource::Registered => "dynamic registration (its name is its own claim)",
        ClientSource::MetadataDocument => "a client ID metadata document its host vouches for",
        ClientSource::UnverifiedDocument => "a client ID metadata document not vouched for",
        ClientSource::Preregistered => "pre-registered by the operator",
    }
}

pub async fn show(ctx: &Ctx, req: &Incoming) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let rows = match db.apps(LISTED).await {
        Ok(r) => r,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let mut items = String::new();
    for row in &rows {
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
        items.push_str(&render(
            templates::ADMIN_APP,
            &[
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
            ],
        ));
    }
    let on = |b: bool| if b { "on" } else { "off" };
    let content = render(
        templates::ADMIN_APPS,
        &[
            ("apps", &items),
            ("nav", &super::admin::nav("/admin/apps")),
            ("registration", on(ctx.config.dynamic_registration)),
            ("documents", on(ctx.config.metadata_documents)),
        ],
    );
    csrf.attach(pages::html(ctx, 200, &content))
}
