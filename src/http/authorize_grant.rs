//! Issuing the code at `/authorize`: what a signed-in person may grant (`Offer`, from the
//! operator's catalog and their roles), the approval itself, and `prompt=none`'s answer
//! without a page (OpenID Connect Core §3.1.2.1).

use crate::audit::Event;
use crate::doctor::Step;
use crate::http::doctor;
use crate::http::pages::{self, error_page, ErrorKind};
use crate::http::{now, now_ms, Ctx};
use crate::oauth::authorize::{AuthorizeRequest, Delivery, ErrorRedirect, Redirect};
use crate::oauth::catalog::Catalog;
use crate::oauth::code::{self, CodeGrant};
use crate::oauth::error::OAuthError;
use crate::oauth::offer::Offer;
use crate::reply::Reply;
use crate::store::d1::UserRow;
use std::rc::Rc;
use worker::console_log;

/// `prompt=none`: a code without any page for an app this person already approved for
/// at least these scopes, else `login_required` or `consent_required`. With nobody signed
/// in the error is shown here, like every other (RFC 9700 §4.11.2), not redirected; a
/// session too old for `max_age` is someone signed in, so that one is redirected.
pub(super) async fn silent(
    ctx: &Ctx,
    request: &AuthorizeRequest,
    has_session: bool,
    fresh: Option<(UserRow, u64)>,
) -> Reply {
    let Some((user, signed_in)) = fresh else {
        let e = OAuthError::LoginRequired("the person must sign in".into());
        return match ErrorRedirect::for_request(request, &ctx.issuer, &e).deliver(has_session) {
            Delivery::Page(unsent) => pages::unsent_error_page(ctx, &unsent),
            Delivery::Redirect(r) => Reply::redirect(&r.location()),
        };
    };
    let (offer, _, catalog) = match offer_for(ctx, request, &user).await {
        Ok(o) => o,
        Err(reply) => return reply,
    };
    let approved = match ctx.db() {
        Ok(db) => db
            .live_grant_scopes(
                &user.id,
                &request.client.client_id,
                &request.redirect_uri,
                now(),
            )
            .await
            .map_err(|e| ctx.internal(e)),
        Err(e) => Err(e),
    };
    let Ok(approved) = approved else {
        return error_page(ctx, ErrorKind::Unavailable, None);
    };
    let covered = offer.usable()
        && approved
            .iter()
            .any(|s| offer.granted.is_subset_of(&catalog.stored(s)));
    if covered {
        return approve(ctx, request, &user, signed_in).await;
    }
    let e = OAuthError::ConsentRequired("the person must approve this app".into());
    Reply::redirect(&Redirect::error(request, &ctx.issuer, &e).location())
}

/// Issues the code. `signed_in`: when the person signed in (the ID token's `auth_time`).
pub(super) async fn approve(
    ctx: &Ctx,
    request: &AuthorizeRequest,
    user: &UserRow,
    signed_in: u64,
) -> Reply {
    let Ok(keys) = ctx.oauth_keys() else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    // A session outlives a GitHub org membership: the org or team that admitted the
    // person is asked again before any new code (nothing is asked without such a rule).
    if let Ok(db) = ctx.db() {
        match crate::http::signin::still_member(ctx, &db, &user.id).await {
            Ok(true) => {}
            Ok(false) => {
                let cause = "The person is no longer in the GitHub organisation or team \
                             this server requires";
                doctor::authorize_step(ctx, request, Step::Consent, Some(&user.id), Some(cause))
                    .await;
                return error_page(
                    ctx,
                    ErrorKind::NoAccess,
                    Some("no longer in the GitHub org or team"),
                );
            }
            Err(e) => {
                console_log!("[{}] membership check: {e}", ctx.request_id);
                return error_page(ctx, ErrorKind::ProviderUnavailable, None);
            }
        }
    }
    let (offer, roles, _) = match offer_for(ctx, request, user).await {
        Ok(o) => o,
        Err(reply) => return reply,
    };
    let client = Some(request.client.client_id.as_str());
    if !offer.usable() {
        // The page offered no Approve; a post of one anyway is the same refusal.
        let detail = format!("not allowed by the person's roles: {}", offer.refused);
        ctx.audit(Event::ConsentDenied, Some(&user.id), client, Some(&detail))
            .await;
        let cause = format!("The person's roles allow none of the scopes asked for: {detail}");
        doctor::authorize_step(ctx, request, Step::Consent, Some(&user.id), Some(&cause)).await;
        let e = OAuthError::AccessDenied(
            "the person's roles allow none of the requested scopes".into(),
        );
        return Reply::redirect(&Redirect::error(request, &ctx.issuer, &e).location());
    }
    let grant = CodeGrant {
        client_id: request.client.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        user_id: user.id.clone(),
        scope: offer.granted.to_string(),
        resource: request.resource.clone(),
        expires_at: now() + ctx.config.code_ttl,
        issued_ms: now_ms(),
        roles: roles.join(" "),
        nonce: request.nonce.clone(),
        auth_time: (signed_in > 0).then_some(signed_in),
    };
    let (code, _) = code::mint(&keys.mac_key("code"), &grant);
    // What was granted, and what the person's roles left out of the request.
    let given = match offer.refused.is_empty() {
        true => grant.scope.clone(),
        false => format!("{} (not allowed: {})", grant.scope, offer.refused),
    };
    let events = [
        (Event::ConsentGiven, Some(given.as_str())),
        (Event::CodeIssued, None),
    ];
    ctx.audit_all(&events, Some(&user.id), client).await;
    doctor::authorize_step(ctx, request, Step::Consent, Some(&user.id), None).await;
    Reply::redirect(&Redirect::code(request, &ctx.issuer, &code).location())
}

/// The person's roles and what they may grant of this request (`Offer`), or the page
/// that says why it cannot be known now.
pub(super) async fn offer_for(
    ctx: &Ctx,
    request: &AuthorizeRequest,
    user: &UserRow,
) -> Result<(Offer, Vec<String>, Rc<Catalog>), Reply> {
    let catalog = crate::http::ctx::catalog(&ctx.config)
        .map_err(|e| error_page(ctx, ErrorKind::Misconfigured, Some(&e.setting)))?;
    let roles = crate::http::signin_roles::current_roles_or_page(ctx, &user.id).await?;
    let held: Vec<&str> = roles.iter().map(String::as_str).collect();
    let offer = Offer::of(&catalog, &request.scopes, &held);
    Ok((offer, roles, catalog))
}
