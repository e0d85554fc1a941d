//! `/admin/doctor`: the connector doctor in the console. The list of apps that tried to
//! connect in the last day, and for one app each attempt's steps: reached, where it
//! stopped and why (`crate::doctor`). Reading only.

use crate::doctor::{self, Seen, Step, Summary};
use crate::http::browser::CsrfCookie;
use crate::http::pages::{self, error_page, ErrorKind};
use crate::http::{now, Ctx, Incoming};
use crate::oauth::client::Client;
use crate::reply::Reply;
use crate::templates::{self, display_time, escape, render};
use std::collections::HashMap;

/// How the requests that named no known app are listed.
const UNKNOWN: &str = "Requests that named no app known here";

pub async fn show(ctx: &Ctx, req: &Incoming) -> Reply {
    let app = req
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "app")
        .map(|(_, v)| v);
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let since = now().saturating_sub(doctor::WINDOW_SECONDS);
    // App names, from every app however it is known.
    let names: HashMap<String, String> = match db.apps(500).await {
        Ok(rows) => rows
            .into_iter()
            .map(|r| {
                let name = serde_json::from_str::<Client>(&r.record)
                    .ok()
                    .and_then(|c| c.display_name())
                    .unwrap_or_else(|| "An unnamed app".into());
                (r.client_id, name)
            })
            .collect(),
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    let name_of = |id: &str| match id {
        "" => UNKNOWN.to_string(),
        id => names
            .get(id)
            .cloned()
            .unwrap_or_else(|| "An app no longer known".into()),
    };
    let content = match app {
        Some(id) => match db.doctor_marks(&id, since).await {
            Ok(rows) => one_app(&id, &name_of(&id), &rows),
            Err(e) => {
                ctx.internal(e);
                return error_page(ctx, ErrorKind::Unavailable, None);
            }
        },
        None => match db.doctor_apps(since).await {
            Ok(apps) => {
                let mut items = String::new();
                for a in &apps {
                    let (last, last_iso) = display_time(a.last);
                    let href = format!(
                        "/admin/doctor?{}",
                        url::form_urlencoded::Serializer::new(String::new())
                            .append_pair("app", &a.client_id)
                            .finish()
                    );
                    items.push_str(&render(
                        templates::ADMIN_DOCTOR_APP,
                        &[
                            ("href", &href),
                            ("name", &name_of(&a.client_id)),
                            ("attempts", &a.attempts.to_string()),
                            ("stopped", &nonzero(a.stopped)),
                            ("last", &last),
                            ("last_iso", &last_iso),
                            ("client_id_shown", &a.client_id),
                        ],
                    ));
                }
                render(
                    templates::ADMIN_DOCTOR,
                    &[
                        ("nav", &super::console::nav("/admin/doctor")),
                        ("apps", &items),
                        ("per_app", &doctor::ATTEMPTS_PER_APP.to_string()),
                    ],
                )
            }
            Err(e) => {
                ctx.internal(e);
                return error_page(ctx, ErrorKind::Unavailable, None);
            }
        },
    };
    let csrf = CsrfCookie::for_page(ctx, req);
    csrf.attach(pages::html(ctx, 200, &content))
}

fn nonzero(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        n.to_string()
    }
}

fn one_app(client_id: &str, name: &str, rows: &[doctor::Row]) -> String {
    // The app's own steps: its registration or document, latest first.
    let mut app_steps = String::new();
    for r in rows.iter().rev().filter(|r| r.attempt == doctor::APP) {
        let step = Step::from_name(&r.step).map_or("A step", Step::words);
        let (at, _) = display_time(r.at);
        let line = match &r.cause {
            Some(c) => format!(
                "<li class=\"problem\"><strong>{}</strong>: stopped at {at}: {}</li>",
                escape(step),
                escape(c)
            ),
            None => format!("<li><strong>{}</strong>: {at}</li>", escape(step)),
        };
        app_steps.push_str(&line);
    }
    let mut attempts = String::new();
    for a in doctor::summarise(rows) {
        attempts.push_str(&attempt(&a));
    }
    render(
        templates::ADMIN_DOCTOR,
        &[
            ("nav", &super::console::nav("/admin/doctor")),
            ("app_name", name),
            (
                "client_id",
                if client_id.is_empty() {
                    "none"
                } else {
                    client_id
                },
            ),
            ("app_steps", &app_steps),
            ("attempts", &attempts),
        ],
    )
}

fn attempt(a: &Summary) -> String {
    let mut steps = String::new();
    for (step, seen) in &a.steps {
        let line = match seen {
            Seen::Reached(t) => format!(
                "<li>{}: reached at {}</li>",
                escape(step.words()),
                display_time(*t).0
            ),
            // The cause is said once, above the steps, when this is where it stopped; a
            // stop that a later step got past keeps its cause here.
            Seen::Stopped(t, cause) if a.stop.as_ref().is_some_and(|(s, _)| s == step) => {
                format!(
                    "<li class=\"stop\">{}: stopped here at {}</li>",
                    escape(step.words()),
                    display_time(*t).0
                )
            }
            Seen::Stopped(t, cause) => format!(
                "<li class=\"stop\">{}: stopped at {}: {}</li>",
                escape(step.words()),
                display_time(*t).0,
                escape(cause)
            ),
            Seen::Passed => format!(
                "<li>{}: passed (a later step needed it; not recorded)</li>",
                escape(step.words())
            ),
            Seen::NotReached => format!(
                "<li class=\"not\">{}: not reached</li>",
                escape(step.words())
            ),
        };
        steps.push_str(&line);
    }
    let furthest = a
        .steps
        .iter()
        .rev()
        .find(|(_, s)| matches!(s, Seen::Reached(_)))
        .map(|(s, _)| *s);
    let outcome = match furthest {
        Some(Step::Mcp | Step::Refresh) => "Connected".to_string(),
        Some(s) => format!("Last reached: {}", s.words()),
        None => "Nothing reached".to_string(),
    };
    let (first, first_iso) = display_time(a.first);
    let (last, last_iso) = display_time(a.last);
    let (stopped, cause) = match &a.stop {
        Some((s, c)) => (s.words(), c.as_str()),
        None => ("", ""),
    };
    render(
        templates::ADMIN_DOCTOR_ATTEMPT,
        &[
            ("stopped", stopped),
            ("outcome", &outcome),
            ("cause", cause),
            ("first", &first),
            ("first_iso", &first_iso),
            ("last", &last),
            ("last_iso", &last_iso),
            ("person", a.user_id.as_deref().unwrap_or("")),
            ("steps", &steps),
        ],
    )
}
