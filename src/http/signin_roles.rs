//! Roles from sign-in providers at the edge: kept in D1 when a provider's sign-in names
//! them (replacing those it gave before, audited when they change), and GitHub's asked
//! again at refresh. What the provider's values mean is `signin::roles`.

use super::providers::{list, providers};
use super::{now, Ctx};
use crate::audit::Event;
use crate::signin::config::Provider;
use crate::signin::policy::Claimed;
use crate::signin::providers;
use crate::store::d1::D1;

/// At a refresh: the roles GitHub gives the person now, stored in place of those it gave
/// before, and the person's roles as they now are.
pub async fn roles_now(ctx: &Ctx, db: &D1, user_id: &str) -> Result<Vec<String>, String> {
    let all = providers(ctx);
    let configured = list(&all);
    let asked = providers::github_roles_now(configured, db, ctx, user_id).await?;
    for (provider_id, roles) in asked {
        let max_age = configured
            .iter()
            .find(|p| p.id == provider_id)
            .and_then(|p| p.roles.as_ref())
            .map_or(crate::signin::roles::DEFAULT_MAX_AGE, |m| m.max_age);
        keep_roles(ctx, db, &provider_id, user_id, roles, Some(now() + max_age))
            .await
            .map_err(|e| e.0)?;
    }
    db.roles_of(user_id).await.map_err(|e| e.0)
}

/// Replaces the roles a provider gives the person with `roles` (until `expires_at`),
/// recording a change in the audit log.
async fn keep_roles(
    ctx: &Ctx,
    db: &D1,
    provider_id: &str,
    user_id: &str,
    roles: Vec<String>,
    expires_at: Option<u64>,
) -> Result<(), crate::store::StoreError> {
    let source = crate::store::d1_roles::provider_source(provider_id);
    let before = db.roles_from(user_id, &source).await?;
    db.replace_roles(user_id, &source, &roles, now(), expires_at)
        .await?;
    if before != roles {
        let detail = format!(
            "provider {provider_id}: {} (was {})",
            shown(&roles),
            shown(&before)
        );
        ctx.audit(Event::RolesChanged, Some(user_id), None, Some(&detail))
            .await;
    }
    Ok(())
}

fn shown(roles: &[String]) -> String {
    match roles.is_empty() {
        true => "none".into(),
        false => roles.join(" "),
    }
}

/// The roles this sign-in's provider gives, kept before the session starts: a role the
/// provider took away must not outlive the sign-in that said so. GitHub's are asked again
/// at every refresh; the others hold for the provider's `roles.max_age_seconds`.
pub(super) async fn keep_signin_roles(
    ctx: &Ctx,
    db: &D1,
    p: &Provider,
    user_id: &str,
    who: &Claimed,
) -> Result<(), crate::store::StoreError> {
    // A provider without `roles` (or whose `roles` the operator removed) gives none: any
    // it gave before end with this sign-in.
    let (Some(map), Some(roles)) = (&p.roles, &who.roles) else {
        return keep_roles(ctx, db, &p.id, user_id, Vec::new(), None).await;
    };
    // Every provider's roles lapse: GitHub's are asked again at refresh and approval,
    // which renews them; the others' only at the next sign-in.
    let expires_at = Some(now() + map.max_age);
    keep_roles(ctx, db, &p.id, user_id, roles.clone(), expires_at).await
}

/// The person's roles now: GitHub's asked again where a provider maps them (a removed
/// team member loses the role here, not only at a refresh), everyone else's as stored.
pub async fn current_roles(ctx: &Ctx, db: &D1, user_id: &str) -> Result<Vec<String>, String> {
    use crate::oauth::grant::Surroundings;
    match ctx.roles_now(user_id).await? {
        Some(roles) => Ok(roles),
        None => db.roles_of(user_id).await.map_err(|e| e.0),
    }
}

/// `current_roles` for a page: the roles, or the page that says they cannot be known now
/// (a provider not answering, most likely; the cause is logged).
pub async fn current_roles_or_page(
    ctx: &Ctx,
    user_id: &str,
) -> Result<Vec<String>, crate::reply::Reply> {
    use super::pages::{error_page, ErrorKind};
    let db = ctx
        .db()
        .map_err(|_| error_page(ctx, ErrorKind::Unavailable, Some("no database")))?;
    current_roles(ctx, &db, user_id).await.map_err(|e| {
        worker::console_log!("[{}] roles: {e}", ctx.request_id);
        error_page(ctx, ErrorKind::ProviderUnavailable, None)
    })
}
