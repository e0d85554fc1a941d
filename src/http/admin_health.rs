//! The overview's live state: each upstream asked for its tools as the administrator
//! (its tool count, the era it speaks, or why it cannot be listed), and how old each
//! signing key is, counted from when the console first saw it.

use crate::http::bearer::{Credential, Principal};
use crate::http::{now, Ctx};
use crate::store::d1::{UserRow, D1};
use crate::templates::{display_time, escape};

/// One line of a list, red when it is a problem.
fn item(name: &str, value: &str, problem: bool) -> String {
    let class = if problem { " class=\"problem\"" } else { "" };
    format!(
        "<li{class}><strong>{}</strong>: {}</li>",
        escape(name),
        escape(value)
    )
}

/// The upstreams' lines: asked now through the gateway as `admin` (with the scopes their
/// roles allow, client `console`), or from this isolate's lists when they are fresh.
pub async fn upstreams(ctx: &Ctx, admin: &UserRow, roles: &[String]) -> String {
    let configured = super::gateway::upstreams(ctx);
    let Ok(list) = configured.as_ref() else {
        return String::new();
    };
    if list.is_empty() {
        return item("Upstreams", "none configured", false);
    }
    let (Ok(keys), Ok(catalog)) = (ctx.keys(), ctx.scopes()) else {
        return item(
            "Upstreams",
            "cannot be asked: the signing key or SCOPES is unusable",
            true,
        );
    };
    let held: Vec<&str> = roles.iter().map(String::as_str).collect();
    let all = catalog.stored(&catalog.resource_scopes().join(" "));
    let caller = Principal {
        user: admin.id.clone(),
        scope: catalog.allowed_for(&all, &held).to_string(),
        roles: roles.to_vec(),
        credential: Credential::Console,
    };
    let Some(parts) = super::gateway::Parts::new(ctx, &caller, keys) else {
        return String::new();
    };
    let gw = parts.gateway();
    let asked_at = display_time(now()).0;
    let mut out = String::new();
    for h in gw.health().await {
        let era = match h.stateless {
            Some(true) => "MCP 2026-07-28",
            Some(false) => "MCP 2025 (sessions)",
            None => "era not known yet",
        };
        let (words, problem) = match &h.tools {
            Ok(n) => (
                format!("{n} tool(s), {era}, answered at {asked_at} ({})", h.target),
                false,
            ),
            Err(why) => (format!("{why} Asked at {asked_at} ({}).", h.target), true),
        };
        out.push_str(&item(&h.name, &words, problem));
    }
    out
}

/// The age of a key first seen at `first`, in words.
fn age(first: u64, now: u64) -> String {
    let days = now.saturating_sub(first) / 86_400;
    let since = display_time(first).0;
    match days {
        0 => format!("first seen {since}, today"),
        1 => format!("first seen {since}, 1 day ago"),
        n => format!("first seen {since}, {n} days ago"),
    }
}

/// Records the keys in use now and returns, per kid, its age in words.
pub async fn key_ages(ctx: &Ctx, db: &D1) -> Vec<(String, String)> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    if let Ok(k) = &ctx.keys {
        for v in &k.verifying {
            seen.push((v.kid.as_str(), "access"));
        }
    }
    if let Some(rsa) = &ctx.rsa {
        seen.push((rsa.kid.as_str(), "id"));
    }
    let now = now();
    match db.see_keys(&seen, now).await {
        Ok(rows) => rows
            .into_iter()
            .map(|r| (r.kid, age(r.first_seen, now)))
            .collect(),
        Err(e) => {
            ctx.internal(e);
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_in_days() {
        assert!(super::age(0, 100).ends_with("today"));
        assert!(super::age(0, 86_400 * 3 + 5).ends_with("3 days ago"));
        assert!(super::age(0, 86_400).ends_with("1 day ago"));
    }
}
