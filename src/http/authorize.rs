//! `/authorize` (OAuth 2.1 §4.1.1), as two pages: sign-in, then consent. `GET` shows the
//! consent page to a signed-in person and the sign-in page to anyone else; `POST` carries
//! one action (`signin`, `approve`, `deny`, `switch`) with a CSRF token bound to the
//! browser and to the exact request. Every POST re-validates the whole request: hidden
//! fields are never trusted. Approving needs a session, so the consent page (which has no
//! text field) is always seen, and Enter in a password field can only sign in.

use super::authorize_grant::{approve, offer_for, silent};
use crate::audit::Event;
use crate::doctor::{Mark, Step};
use crate::http::browser::{self, field, session_user, CsrfCookie};
use crate::http::doctor;
use crate::http::pages::{self, error_page, see_other, ErrorKind, SignInFor};
use crate::http::session;
use crate::http::{now, Ctx, Incoming};
use crate::oauth::authorize::{
    after_sign_in, validate, AuthorizeFailure, AuthorizeParams, AuthorizeRequest, Delivery,
    Redirect, Refusal, MAX_QUERY_LEN,
};
use crate::oauth::client::{host_of, Client};
use crate::oauth::error::OAuthError;
use crate::reply::Reply;
use crate::store::d1::UserRow;
use crate::templates::{self, escape, render};

pub async fn show(ctx: &Ctx, req: &Incoming) -> Reply {
    if req.query.len() > MAX_QUERY_LEN {
        return error_page(
            ctx,
            ErrorKind::TooLong,
            Some(&format!("the link is longer than {MAX_QUERY_LEN} bytes")),
        );
    }
    let pairs = req.query_pairs();
    let (request, params) = match validated(ctx, req, &pairs, true).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let csrf = CsrfCookie::for_page(ctx, req);
    let session = browser::session(ctx, req).await;
    let signed_in = session.is_some();
    let fresh = session.filter(|(_, at)| request.accepts_sign_in_at(*at, now()));
    if request.prompt.none {
        return silent(ctx, &request, signed_in, fresh).await;
    }
    match fresh {
        Some((user, _)) => {
            // However the person signed in (a password, a provider's return), they are
            // signed in for this attempt now.
            doctor::authorize_step(ctx, &request, Step::SignIn, Some(&user.id), None).await;
            consent_page(ctx, &request, &params, &csrf, &user).await
        }
        None => {
            let hint = request.login_hint.as_deref().unwrap_or("");
            sign_in_page(ctx, &request, &params, &csrf, hint, None)
        }
    }
}

pub async fn submit(ctx: &Ctx, req: &Incoming) -> Reply {
    let form = req.form_pairs();
    let (request, params) = match validated(ctx, req, &form, false).await {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let submitted = field(&form, "csrf_token");
    let session = browser::session(ctx, req).await;
    let signed_in = session.as_ref().map_or(0, |(_, at)| *at);
    let user = session.map(|(user, _)| user);
    // The consent page's token also names the person it was shown to, so Approve in a tab
    // opened before someone else signed in elsewhere cannot approve as them.
    let for_user = user
        .as_ref()
        .is_some_and(|u| browser::csrf_ok(ctx, req, &consent_purpose(&params, u), submitted));
    if !for_user && !browser::csrf_ok(ctx, req, &purpose(&params), submitted) {
        return error_page(ctx, ErrorKind::Expired, None);
    }
    // After a sign-in, back to this request without its prompt=login: it was answered.
    let back_here = || format!("/authorize?{}", query(&after_sign_in(&params)));
    match field(&form, "action") {
        "deny" => {
            // Recorded for a signed-in person only: Cancel on the sign-in page is no one's
            // decision, and anyone could post it to fill the log.
            if let Some(u) = user.as_ref().filter(|_| for_user) {
                // "Return to the app" on the page that said the roles allow nothing.
                let detail = match offer_for(ctx, &request, u).await {
                    Ok((offer, _, _)) if !offer.usable() => Some(format!(
                        "not allowed by the person's roles: {}",
                        offer.refused
                    )),
                    _ => None,
                };
                ctx.audit(
                    Event::ConsentDenied,
                    Some(&u.id),
                    Some(&request.client.client_id),
                    detail.as_deref(),
                )
                .await;
                let cause = match &detail {
                    Some(d) => format!("The person could not allow the app: {d}"),
                    None => "The person chose Cancel: they did not allow the app".to_string(),
                };
                doctor::authorize_step(ctx, &request, Step::Consent, Some(&u.id), Some(&cause))
                    .await;
            }
            let e = OAuthError::AccessDenied("the person declined to authorize the app".into());
            Reply::redirect(&Redirect::error(&request, &ctx.issuer, &e).location())
        }
        "switch" => see_other(&back_here()).header("Set-Cookie", &browser::end_session(ctx)),
        "signin" => match session::sign_in_then_see(ctx, req, &form, &back_here()).await {
            Ok(reply) => reply,
            Err(e) => {
                let cause = doctor::sign_in_failed(e);
                doctor::authorize_step(ctx, &request, Step::SignIn, None, Some(cause)).await;
                let csrf = CsrfCookie::for_page(ctx, req);
                sign_in_page(
                    ctx,
                    &request,
                    &params,
                    &csrf,
                    field(&form, "email"),
                    Some(e),
                )
            }
        },
        "approve" => match user {
            // A consent page left open past max_age asks for a new sign-in first.
            Some(_) if for_user && !request.accepts_sign_in_at(signed_in, now()) => {
                let csrf = CsrfCookie::for_page(ctx, req);
                sign_in_page(ctx, &request, &params, &csrf, "", None)
            }
            Some(user) if for_user => approve(ctx, &request, &user, signed_in).await,
            // A token from the sign-in page, not the consent page: consent is shown first.
            Some(user) => {
                let csrf = CsrfCookie::for_page(ctx, req);
                consent_page(ctx, &request, &params, &csrf, &user).await
            }
            // The session ended between the pages: sign in again, then see consent again.
            None => {
                let csrf = CsrfCookie::for_page(ctx, req);
                sign_in_page(ctx, &request, &params, &csrf, "", None)
            }
        },
        other => error_page(
            ctx,
            ErrorKind::BadForm,
            Some(&format!(
                "unknown action '{}'",
                crate::util::text::truncate(other, 20)
            )),
        ),
    }
}

/// Parses and validates; failures become the page or the redirect the spec requires.
/// `first`: the request as the app sent it (not a form posted on our pages), which the
/// connector doctor marks as reached.
async fn validated(
    ctx: &Ctx,
    req: &Incoming,
    pairs: &[(String, String)],
    first: bool,
) -> Result<(AuthorizeRequest, AuthorizeParams), Reply> {
    let params = AuthorizeParams::from_pairs(pairs)
        .map_err(|e| error_page(ctx, ErrorKind::BadRequest, Some(&e)))?;
    let client = match params.client_id.as_deref() {
        Some(id) if !id.is_empty() => ctx.find_client(id).await.map_err(|e| match e {
            // A metadata document that did not answer: "could not be reached, try again",
            // never "not known here".
            OAuthError::RateLimited(_) => error_page(ctx, ErrorKind::AppUnreachable, None),
            _ => error_page(ctx, ErrorKind::Unavailable, Some("client lookup failed")),
        })?,
        _ => None,
    };
    let catalog = crate::http::ctx::catalog(&ctx.config)
        .map_err(|e| error_page(ctx, ErrorKind::Misconfigured, Some(&e.setting)))?;
    let known = client.clone();
    let id = params.client_id.as_deref().unwrap_or("");
    match validate(&params, client, &ctx.issuer, &ctx.resource(), &catalog) {
        Ok(request) => {
            if first {
                doctor::authorize_step(ctx, &request, Step::Authorize, None, None).await;
            }
            Ok((request, params))
        }
        Err(AuthorizeFailure::Page(refusal)) => {
            let mark = match (refusal, &known) {
                (Refusal::UnregisteredRedirect, Some(c)) => Mark::stopped(
                    id,
                    doctor::of_params(id, &params),
                    Step::Authorize,
                    &doctor::unregistered_redirect(c, params.redirect_uri.as_deref()),
                ),
                // No app to file it under: the unknown apps' attempts, by what it named.
                _ => Mark::stopped(
                    "",
                    doctor::of_params(id, &params),
                    Step::Authorize,
                    &match refusal {
                        Refusal::NoClientId => "/authorize was opened without a client_id".into(),
                        _ => doctor::unknown_client(id),
                    },
                ),
            };
            ctx.doctor(mark).await;
            Err(refused_page(ctx, refusal))
        }
        Err(AuthorizeFailure::Redirect(failure)) => {
            let cause = crate::doctor::authorize_cause(failure.code(), failure.description());
            let attempt = doctor::of_params(id, &params);
            ctx.doctor(Mark::stopped(id, attempt, Step::Authorize, &cause))
                .await;
            let signed_in = session_user(ctx, req).await.is_some();
            Err(match failure.deliver(signed_in) {
                Delivery::Redirect(r) => Reply::redirect(&r.location()),
                Delivery::Page(unsent) => pages::unsent_error_page(ctx, &unsent),
            })
        }
    }
}

fn refused_page(ctx: &Ctx, refusal: Refusal) -> Reply {
    error_page(
        ctx,
        match refusal {
            Refusal::NoClientId => ErrorKind::NoClientId,
            Refusal::UnknownClient => ErrorKind::UnknownClient,
            Refusal::UnregisteredRedirect => ErrorKind::UnregisteredRedirect,
        },
        None,
    )
}

/// What a CSRF token on these pages is bound to: this exact authorization request
/// (form-encoded, so no value can forge a separator).
fn purpose(params: &AuthorizeParams) -> String {
    format!("authorize?{}", query(params))
}

/// The consent page's token: the request and the person it was shown to.
fn consent_purpose(params: &AuthorizeParams, user: &UserRow) -> String {
    format!("{}\nuser={}", purpose(params), user.id)
}

fn query(params: &AuthorizeParams) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.pairs() {
        q.append_pair(k, v);
    }
    q.finish()
}

fn hidden_fields(params: &AuthorizeParams) -> String {
    params
        .pairs()
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(v)
            )
        })
        .collect()
}

/// How the app is named on the pages: its name, the host that vouches for it (empty: the
/// name is self-declared), and the host the person will be sent back to.
fn app_identity(request: &AuthorizeRequest) -> (String, String, String) {
    let client = &request.client;
    let name = client
        .display_name()
        .unwrap_or_else(|| "An unnamed app".to_string());
    let verified_by = client.vouched_by().unwrap_or_default();
    (name, verified_by, host_of(&request.redirect_uri))
}

fn sign_in_page(
    ctx: &Ctx,
    request: &AuthorizeRequest,
    params: &AuthorizeParams,
    csrf: &CsrfCookie,
    email: &str,
    error: Option<session::SignInError>,
) -> Reply {
    let (name, verified_by, redirect_host) = app_identity(request);
    let hidden = hidden_fields(params);
    let shown_for = SignInFor::App {
        client_name: &name,
        verified_by: &verified_by,
        redirect_host: &redirect_host,
        hidden: &hidden,
    };
    pages::sign_in_page(
        ctx,
        csrf,
        &purpose(params),
        "/authorize",
        &format!("/authorize?{}", query(&after_sign_in(params))),
        shown_for,
        email,
        error,
    )
}

async fn consent_page(
    ctx: &Ctx,
    request: &AuthorizeRequest,
    params: &AuthorizeParams,
    csrf: &CsrfCookie,
    user: &UserRow,
) -> Reply {
    let Some(token) = csrf.token(ctx, &consent_purpose(params, user)) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let first_time = match ctx.db() {
        Ok(db) => match db.has_approved(&user.id, &request.client.client_id).await {
            Ok(approved) => !approved,
            Err(e) => {
                ctx.internal(e);
                return error_page(ctx, ErrorKind::Unavailable, None);
            }
        },
        Err(_) => return error_page(ctx, ErrorKind::Unavailable, Some("no database")),
    };
    let (offer, _, catalog) = match offer_for(ctx, request, user).await {
        Ok(o) => o,
        Err(reply) => return reply,
    };
    let (name, verified_by, redirect_host) = app_identity(request);
    let flag = |on: bool| if on { "1" } else { "" };
    let contact = ctx.config.access_contact.as_deref().unwrap_or("");
    let content = render(
        templates::CONSENT,
        &[
            ("client_name", &name),
            ("verified_by", &verified_by),
            ("redirect_host", &redirect_host),
            ("first_time", flag(first_time)),
            (
                "loopback_only",
                flag(
                    request.client.loopback_only()
                        || Client::is_loopback_uri(&request.redirect_uri),
                ),
            ),
            (
                "scopes",
                &templates::scope_items(&catalog, &offer.granted.names()),
            ),
            (
                "refused",
                &templates::scope_items(&catalog, &offer.refused.names()),
            ),
            ("nothing_usable", flag(!offer.usable())),
            ("contact", contact),
            ("resource", &request.resource),
            ("email", &user.email),
            ("hidden", &hidden_fields(params)),
            ("csrf_token", &token),
        ],
    );
    csrf.attach(pages::html(ctx, 200, &content))
}
