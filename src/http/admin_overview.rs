//! The console's overview: each setting's effective value or its validation message
//! (`SCOPES`, `UPSTREAMS`, `SIGNIN_PROVIDERS` and the switches), the signing keys and
//! whether a previous one is still published, how many people, apps and live connections
//! there are, and the audit log's activity per hour over the last week.

use super::admin_chart::{self, HOURS, SERIES};
use crate::http::browser::CsrfCookie;
use crate::http::pages::{self, error_page, ErrorKind};
use crate::http::{now, Ctx};
use crate::reply::Reply;
use crate::signin::config::Kind;
use crate::store::d1::UserRow;
use crate::templates::{self, escape, render};

/// One line of a list: a setting and what it is, or what is wrong with it.
fn item(name: &str, value: &str, problem: bool) -> String {
    let class = if problem { " class=\"problem\"" } else { "" };
    format!(
        "<li{class}><strong>{}</strong>: {}</li>",
        escape(name),
        escape(value)
    )
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn settings(ctx: &Ctx) -> String {
    let c = &ctx.config;
    let mut out = String::new();
    out.push_str(&match crate::http::ctx::catalog(c) {
        Ok(_) if c.scopes.is_none() => item("SCOPES", "not set: mcp:read and mcp:write", false),
        Ok(cat) => item(
            "SCOPES",
            &format!(
                "{} scopes: {}",
                cat.resource_scopes().len(),
                cat.resource_scopes().join(", ")
            ),
            false,
        ),
        Err(e) => item("SCOPES", &e.to_string(), true),
    });
    let scopes_broken = crate::http::ctx::catalog(c).is_err();
    out.push_str(&match super::gateway::upstreams(ctx).as_ref() {
        // Upstreams are read against the scopes, so they wait for SCOPES to be fixed.
        Err(_) if scopes_broken => item("UPSTREAMS", "not read until SCOPES is fixed", true),
        Ok(list) if list.is_empty() => item("UPSTREAMS", "none", false),
        Ok(list) => {
            let names: Vec<&str> = list.iter().map(|u| u.name.as_str()).collect();
            item("UPSTREAMS", &names.join(", "), false)
        }
        Err(e) => item("UPSTREAMS", &e.to_string(), true),
    });
    out.push_str(&match super::providers::providers(ctx).as_ref() {
        Ok(list) if list.is_empty() => item("SIGNIN_PROVIDERS", "none", false),
        Ok(list) => {
            let shown: Vec<String> = list
                .iter()
                .map(|p| {
                    let kind = match p.kind {
                        Kind::Oidc { .. } => "OpenID Connect",
                        Kind::GitHub { .. } => "GitHub",
                        Kind::Handoff { .. } => "hand-off",
                        Kind::PasswordCheck { .. } => "password check",
                    };
                    format!("{} ({kind})", p.id)
                })
                .collect();
            item("SIGNIN_PROVIDERS", &shown.join(", "), false)
        }
        Err(e) => item("SIGNIN_PROVIDERS", &e.to_string(), true),
    });
    for (name, value) in [
        ("LOCAL_PASSWORDS", on_off(c.local_passwords).to_string()),
        (
            "DYNAMIC_REGISTRATION",
            on_off(c.dynamic_registration).to_string(),
        ),
        (
            "CLIENT_METADATA_DOCUMENTS",
            on_off(c.metadata_documents).to_string(),
        ),
        ("PUBLIC_TOOLS", shown_list(&c.public_tools)),
        ("ACCESS_TOKEN_TTL", format!("{} s", c.access_token_ttl)),
        ("REFRESH_TOKEN_TTL", format!("{} s", c.refresh_token_ttl)),
    ] {
        out.push_str(&item(name, &value, false));
    }
    out
}

fn shown_list(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

fn keys(ctx: &Ctx, ages: &[(String, String)]) -> String {
    let age = |kid: &str| {
        ages.iter()
            .find(|(k, _)| k == kid)
            .map(|(_, a)| format!(" ({a})"))
            .unwrap_or_default()
    };
    let mut out = match &ctx.keys {
        Ok(k) => {
            let mut words = format!("Ed25519, key {}{}", k.kid, age(&k.kid));
            if let Some(prev) = k.verifying.get(1) {
                words.push_str(&format!(
                    "; the previous key {}{} is still published (finish the rotation with \
                     npm run key:rotate -- --finish once its tokens have expired)",
                    prev.kid,
                    age(&prev.kid)
                ));
            }
            item("Access tokens", &words, false)
        }
        Err(e) => item("Access tokens", &e.describe(), true),
    };
    out.push_str(&match &ctx.rsa {
        Some(rsa) => {
            let mut words = format!("RS256, key {}{}", rsa.kid, age(&rsa.kid));
            if rsa.published.len() > 1 {
                words.push_str("; the previous key is still published");
            }
            item("ID tokens", &words, false)
        }
        None => item(
            "ID tokens",
            "OIDC_SIGNING_KEY is not set: ID tokens are EdDSA only (run npm run setup:cloudflare)",
            true,
        ),
    });
    out
}

pub async fn show(
    ctx: &Ctx,
    csrf: &CsrfCookie,
    user: &UserRow,
    roles: &[String],
    purpose: &str,
) -> Reply {
    let Some(token) = csrf.token(ctx, purpose) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let Ok(db) = ctx.db() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no database"));
    };
    let now = now();
    let since = (now / 3600).saturating_sub(HOURS - 1) * 3600;
    let counts = match db.console_counts(now).await {
        Ok(c) => c,
        Err(e) => {
            ctx.internal(e);
            return error_page(ctx, ErrorKind::Unavailable, None);
        }
    };
    // A week of the audit log may be much to read: without it the page still shows.
    let hours = db.hourly_events(since).await.map_err(|e| ctx.internal(e));
    let mut charts = String::new();
    if hours.is_err() {
        charts.push_str("<p class=\"problem\">The activity could not be read just now.</p>");
    }
    let hours = hours.unwrap_or_default();
    for (i, series) in SERIES.iter().enumerate() {
        let counts = admin_chart::per_hour(&hours, series, now);
        charts.push_str(&format!("<h3 class=\"hint\">{}</h3>", escape(series.label)));
        charts.push_str(&admin_chart::svg(
            &format!("chart-{i}"),
            series.label,
            &counts,
        ));
    }
    let ages = super::admin_health::key_ages(ctx, &db).await;
    let upstreams = super::admin_health::upstreams(ctx, user, roles).await;
    let number = |n: u64| n.to_string();
    let disabled = if counts.disabled > 0 {
        number(counts.disabled)
    } else {
        String::new()
    };
    let content = render(
        templates::ADMIN,
        &[
            ("email", &user.email),
            ("nav", &super::console::nav("/admin")),
            ("settings", &settings(ctx)),
            ("keys", &keys(ctx, &ages)),
            ("upstreams", &upstreams),
            ("people", &number(counts.people)),
            ("disabled", &disabled),
            ("apps", &number(counts.apps)),
            ("grants", &number(counts.live_grants)),
            ("charts", &charts),
            ("csrf_token", &token),
        ],
    );
    csrf.attach(pages::html(ctx, 200, &content))
}
