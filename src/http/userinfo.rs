//! `GET|POST /userinfo` (OpenID Connect Core §5.3): the claims of the person an access
//! token stands for, as far as its scope allows.

use crate::http::bearer::{unauthorized_with, unavailable, verify_bearer, BearerError};
use crate::http::{Ctx, Incoming};
use crate::reply::{Reply, NO_STORE};
use serde_json::json;

/// RFC 6750 §3: a 401 whose challenge points at the resource metadata; no scope is named,
/// since `/userinfo`'s (profile, email) are not the MCP resource's.
fn bearer_error(ctx: &Ctx, why: Option<&str>) -> Reply {
    let mut challenge = format!(
        "Bearer resource_metadata=\"{}\"",
        crate::oauth::metadata::resource_metadata_url(&ctx.issuer)
    );
    if let Some(w) = why {
        challenge.push_str(&format!(
            ", error=\"invalid_token\", error_description=\"{w}\""
        ));
    }
    unauthorized_with(&challenge, why)
}

pub async fn userinfo(ctx: &Ctx, req: &Incoming) -> Reply {
    let verified = match verify_bearer(ctx, req).await {
        Ok(Some(v)) => v,
        Ok(None) => return bearer_error(ctx, None),
        Err(BearerError::Invalid(why)) => return bearer_error(ctx, Some(why)),
        Err(BearerError::Unavailable) => return unavailable(),
    };
    let user = match ctx.db() {
        Ok(db) => db.user_by_id(&verified.claims.sub).await,
        Err(e) => return e.to_reply(),
    };
    let user = match user {
        Ok(Some(u)) if u.disabled_at.is_none() => u,
        Ok(_) => return bearer_error(ctx, Some("the account no longer exists")),
        Err(e) => return ctx.internal(e).to_reply(),
    };
    let granted = |scope: &str| verified.claims.scope.split(' ').any(|s| s == scope);
    let mut body = json!({ "sub": user.id });
    if granted(crate::oauth::scope::EMAIL) {
        crate::json::set(&mut body, "email", user.email);
        // Every address here was verified: the operator typed it, or a provider vouched.
        crate::json::set(&mut body, "email_verified", true);
    }
    // A claim without a value is left out (Core §5.3.2), never null.
    if let Some(name) = user.name.filter(|_| granted(crate::oauth::scope::PROFILE)) {
        crate::json::set(&mut body, "name", name);
    }
    Reply::json(200, &body).header("Cache-Control", NO_STORE)
}
