//! `/admin/audit`: the audit log in the console, filtered by person, app, kind of event
//! and days, a page at a time, and downloaded as CSV or JSON lines with the same filter.
//! Reading only: what it reads and escapes is `audit_export`, natively tested.

use crate::audit_export::{self, Filter, DOWNLOAD, PAGE};
use crate::http::browser::CsrfCookie;
use crate::http::pages::{self, error_page, ErrorKind};
use crate::http::{now, Ctx, Incoming};
use crate::reply::{Reply, NO_STORE};
use crate::templates::{self, display_time, escape, render};

/// A download's format (`format=` in the query).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

pub async fn show(ctx: &Ctx, req: &Incoming) -> Reply {
    let pairs = req.query_pairs();
    let format = match pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
    {
        None | Some("") => None,
        Some("csv") => Some(Format::Csv),
        Some("jsonl") => Some(Format::JsonLines),
        Some(_) => return error_page(ctx, ErrorKind::BadForm, Some("format is csv or jsonl")),
    };
    let filter = match Filter::from_query(&pairs) {
        Ok(f) => f,
        Err(e) => return page(ctx, req, &Filter::default(), &[], &e.0),
    };
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let limit = if format.is_some() { DOWNLOAD } else { PAGE + 1 };
    let rows = match db.browse_audit(&filter, limit).await {
        Ok(r) => r,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    match format {
        Some(f) => download(f, &rows),
        None => page(ctx, req, &filter, &rows, ""),
    }
}

fn download(format: Format, rows: &[audit_export::Row]) -> Reply {
    let (body, kind, ext) = match format {
        Format::Csv => (audit_export::csv(rows), "text/csv; charset=utf-8", "csv"),
        Format::JsonLines => (
            audit_export::json_lines(rows),
            "application/jsonl; charset=utf-8",
            "jsonl",
        ),
    };
    let day = crate::util::time::timestamp(now());
    let day = day.get(..10).unwrap_or("log");
    Reply::new(200)
        .header("Content-Type", kind)
        .header(
            "Content-Disposition",
            &format!("attachment; filename=\"audit-{day}.{ext}\""),
        )
        .header("Cache-Control", NO_STORE)
        .header("X-Content-Type-Options", "nosniff")
        .header("Content-Security-Policy", "default-src 'none'; sandbox")
        .body(body.into_bytes())
}

fn events_options(selected: &str) -> String {
    let mut out = format!(
        "<option value=\"\"{}>Every kind</option>",
        if selected.is_empty() { " selected" } else { "" }
    );
    for name in crate::audit::NAMES {
        out.push_str(&format!(
            "<option value=\"{name}\"{}>{} ({name})</option>",
            if *name == selected { " selected" } else { "" },
            escape(crate::audit::describe(name))
        ));
    }
    out
}

fn page(
    ctx: &Ctx,
    req: &Incoming,
    filter: &Filter,
    rows: &[audit_export::Row],
    problem: &str,
) -> Reply {
    let csrf = CsrfCookie::for_page(ctx, req);
    let shown = rows.get(..rows.len().min(PAGE as usize)).unwrap_or(rows);
    // One row more than a page was read: there are older ones.
    let older = if rows.len() > shown.len() {
        shown.last().map(|r| r.id.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let mut items = String::new();
    for r in shown {
        let (at, at_iso) = display_time(r.at);
        items.push_str(&render(
            templates::ADMIN_AUDIT_ROW,
            &[
                ("at", &at),
                ("at_iso", &at_iso),
                ("what", crate::audit::describe(&r.event)),
                ("event", &r.event),
                ("failed", if r.outcome == "failed" { "1" } else { "" }),
                (
                    "email",
                    r.email.as_deref().or(r.user_id.as_deref()).unwrap_or(""),
                ),
                ("app", r.client_id.as_deref().unwrap_or("")),
                ("detail", r.detail.as_deref().unwrap_or("")),
                ("ip", r.ip.as_deref().unwrap_or("")),
                ("request", &r.request_id),
            ],
        ));
    }
    let query = filter.query();
    let query_amp = if query.is_empty() {
        String::new()
    } else {
        format!("{query}&")
    };
    let content = render(
        templates::ADMIN_AUDIT,
        &[
            ("nav", &super::console::nav("/admin/audit")),
            ("problem", problem),
            ("person", &filter.person),
            ("app", &filter.app),
            ("events", &events_options(&filter.event)),
            ("from", &filter.from),
            ("to", &filter.to),
            ("download_max", &DOWNLOAD.to_string()),
            ("query", &query),
            ("query_amp", &query_amp),
            ("rows", &items),
            ("older", &older),
            ("paged", if filter.before > 0 { "1" } else { "" }),
            ("retention", &ctx.config.audit_retention_days.to_string()),
        ],
    );
    let status = if problem.is_empty() { 200 } else { 400 };
    csrf.attach(pages::html(ctx, status, &content))
}
