//! The HTML every page shares: the layout with its headers, the error page for what must
//! not redirect, and the sign-in form. The words are in `templates/`; this file only picks
//! which variant a page shows.

use crate::http::browser::{start_purpose, CsrfCookie};
use crate::http::providers;
use crate::http::session::SignInError;
use crate::http::{Ctx, Incoming};
use crate::oauth::authorize::UnsentError;
use crate::reply::Reply;
use crate::signin::policy::Refusal;
use crate::templates::{self, render};

/// A page in the shared layout, with the headers every page carries (`Reply::html`) and
/// this deployment's CSP.
pub fn html(ctx: &Ctx, status: u16, content: &str) -> Reply {
    let logo = ctx.config.product_logo.as_deref();
    let csp = templates::content_security_policy(ctx.config.logo_origin().as_deref());
    Reply::html(
        status,
        templates::page(&ctx.config.product_name, logo, content),
    )
    .set_header("Content-Security-Policy", &csp)
}

/// What went wrong, for a page that must not redirect. Each is a section of
/// `templates/error.html` with its own words and advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NoClientId,
    UnknownClient,
    UnregisteredRedirect,
    BadRequest,
    Expired,
    BadForm,
    Unavailable,
    NoSuchNote,
    /// A link longer than any real client makes (414).
    TooLong,
    /// A form posted from another site (403), refused before its CSRF token is read.
    CrossSite,
    /// A provider's return with an unknown, used or expired state, or in another browser.
    SignInExpired,
    /// The provider said no (`?error=`).
    ProviderRefused,
    /// The provider's answer could not be used or verified.
    ProviderFailed,
    /// The provider did not answer in time, or answered with a server error.
    ProviderUnavailable,
    /// Too many sign-ins started from one network (429).
    TooManySignIns,
    NoAccess,
    EmailUnverified,
    AccountExists,
    AccountDisabled,
    /// A setting has a mistake (its name is the detail shown; the message is logged).
    Misconfigured,
    /// A signed-in person without the `admin` role at `/admin` (403).
    AdminOnly,
    /// A set-password link that was used, replaced by a newer one, or expired.
    LinkUsed,
    /// A client ID metadata document that could not be fetched now (its host did not
    /// answer, or the fetch allowance is spent): try again, not "unknown" (503).
    AppUnreachable,
}

impl ErrorKind {
    fn section(self) -> &'static str {
        match self {
            ErrorKind::NoClientId => "no_client_id",
            ErrorKind::UnknownClient => "unknown_client",
            ErrorKind::UnregisteredRedirect => "unregistered_redirect",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Expired => "expired",
            ErrorKind::BadForm => "bad_form",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::NoSuchNote => "no_such_note",
            ErrorKind::TooLong => "bad_request",
            ErrorKind::CrossSite => "cross_site",
            ErrorKind::SignInExpired => "signin_expired",
            ErrorKind::ProviderRefused => "provider_refused",
            ErrorKind::ProviderFailed => "provider_failed",
            ErrorKind::ProviderUnavailable => "provider_unavailable",
            ErrorKind::TooManySignIns => "too_many_signins",
            ErrorKind::NoAccess => "no_access",
            ErrorKind::EmailUnverified => "email_unverified",
            ErrorKind::AccountExists => "account_exists",
            ErrorKind::AccountDisabled => "account_disabled",
            ErrorKind::Misconfigured => "misconfigured",
            ErrorKind::AdminOnly => "admin_only",
            ErrorKind::LinkUsed => "link_used",
            ErrorKind::AppUnreachable => "app_unreachable",
        }
    }

    fn status(self) -> u16 {
        match self {
            ErrorKind::Expired | ErrorKind::CrossSite => 403,
            // Refusals of a person the provider vouched for; a provider's own failure is
            // the sign-in's failure (400), never this server's (5xx).
            ErrorKind::NoAccess
            | ErrorKind::EmailUnverified
            | ErrorKind::AccountExists
            | ErrorKind::AccountDisabled
            | ErrorKind::AdminOnly => 403,
            ErrorKind::TooLong => 414,
            ErrorKind::TooManySignIns => 429,
            ErrorKind::Unavailable | ErrorKind::Misconfigured | ErrorKind::AppUnreachable => 503,
            ErrorKind::NoSuchNote => 404,
            _ => 400,
        }
    }
}

/// The error page, with a short reference that is also in the Worker's log line. It links
/// nowhere but this server: no URI from the request is ever rendered as a link. `detail`
/// is logged; it is shown only when it describes the person's own request (what was
/// malformed), never the server's internals.
pub fn error_page(ctx: &Ctx, kind: ErrorKind, detail: Option<&str>) -> Reply {
    // `{:?}` keeps a detail that quotes the request on one log line.
    worker::console_log!(
        "[{}] error page: {} {:?}",
        ctx.request_id,
        kind.section(),
        detail.unwrap_or("")
    );
    let shown = match kind {
        // A provider's error code is filtered to [A-Za-z0-9_] by `signin`.
        ErrorKind::BadRequest
        | ErrorKind::BadForm
        | ErrorKind::TooLong
        | ErrorKind::ProviderRefused
        | ErrorKind::Misconfigured => detail.unwrap_or(""),
        _ => "",
    };
    let contact = match kind {
        ErrorKind::NoAccess | ErrorKind::AccountExists | ErrorKind::AccountDisabled => {
            ctx.config.access_contact.as_deref().unwrap_or("")
        }
        _ => "",
    };
    let content = render(
        templates::ERROR,
        &[
            (kind.section(), "1"),
            ("kind", kind.section()),
            ("detail", shown),
            ("contact", contact),
            ("request_id", &ctx.request_id),
        ],
    );
    html(ctx, kind.status(), &content)
}

/// An authorization error found before the person signed in (RFC 9700 §4.11.2): shown
/// here, naming the app and the host it wanted to send the person to, never redirected.
pub fn unsent_error_page(ctx: &Ctx, unsent: &UnsentError) -> Reply {
    worker::console_log!(
        "[{}] error page: app_request {:?}",
        ctx.request_id,
        unsent.description
    );
    let content = render(
        templates::ERROR,
        &[
            ("app_request", "1"),
            ("kind", "app_request"),
            ("app", &unsent.app),
            ("redirect_host", &unsent.redirect_host),
            ("detail", &unsent.description),
            ("request_id", &ctx.request_id),
        ],
    );
    html(ctx, 400, &content)
}

/// Where a sign-in form is shown, which decides its heading and what else it shows.
pub enum SignInFor<'a> {
    /// `/authorize`: the app asking, and its request as hidden fields.
    App {
        client_name: &'a str,
        verified_by: &'a str,
        redirect_host: &'a str,
        hidden: &'a str,
    },
    Account,
    Note,
    /// `/admin`, the operator console.
    Admin,
}

/// The sign-in page: a "Continue with" button per provider (a form to `/signin/start`
/// that brings the person back to `return_to`), and the password form posting to `action`
/// with a token for `purpose` where passwords are on.
#[allow(clippy::too_many_arguments)]
pub fn sign_in_page(
    ctx: &Ctx,
    csrf: &CsrfCookie,
    purpose: &str,
    action: &str,
    return_to: &str,
    shown_for: SignInFor,
    email: &str,
    error: Option<SignInError>,
) -> Reply {
    let (Some(token), Some(start_token)) = (
        csrf.token(ctx, purpose),
        csrf.token(ctx, &start_purpose(return_to)),
    ) else {
        return error_page(ctx, ErrorKind::Unavailable, Some("no signing key"));
    };
    let all = providers::providers(ctx);
    let providers = providers::list(&all);
    let buttons: String = providers
        .iter()
        .filter(|p| p.is_redirect())
        .map(|p| {
            render(
                templates::SIGNIN_PROVIDER,
                &[("id", &p.id), ("name", &p.name)],
            )
        })
        .collect();
    let passwords = ctx.config.local_passwords || providers.iter().any(|p| !p.is_redirect());
    let app = matches!(shown_for, SignInFor::App { .. });
    let flag = |on: bool| if on { "1" } else { "" };
    let locked_minutes;
    let refusal_contact = ctx.config.access_contact.as_deref().unwrap_or("");
    let mut values: Vec<(&str, &str)> = vec![
        ("action", action),
        ("csrf_token", &token),
        ("email", email),
        ("providers", &buttons),
        ("start_token", &start_token),
        ("return_to", return_to),
        ("passwords", flag(passwords)),
        ("form", flag(passwords || app)),
        ("no_sign_in", flag(!passwords && buttons.is_empty())),
        ("contact", refusal_contact),
    ];
    match &shown_for {
        SignInFor::App {
            client_name,
            verified_by,
            redirect_host,
            hidden,
        } => values.extend([
            ("app", "1"),
            ("client_name", *client_name),
            ("verified_by", *verified_by),
            ("redirect_host", *redirect_host),
            ("hidden", *hidden),
        ]),
        SignInFor::Account => values.push(("account", "1")),
        SignInFor::Note => values.push(("note", "1")),
        SignInFor::Admin => values.push(("admin", "1")),
    }
    if let Some(e) = error {
        values.push(("error", "1"));
        match e {
            SignInError::Missing => values.push(("missing", "1")),
            SignInError::Failed => values.push(("failed", "1")),
            SignInError::Unavailable => values.push(("unavailable", "1")),
            SignInError::Refused(r) => values.push(match r {
                Refusal::AccountExists => ("account_exists", "1"),
                Refusal::EmailUnverified => ("email_unverified", "1"),
                _ => ("no_access", "1"),
            }),
            SignInError::Locked(minutes) => {
                locked_minutes = minutes.to_string();
                values.push(("locked", &locked_minutes));
                if minutes != 1 {
                    values.push(("plural", "1"));
                }
            }
        }
    }
    let status = error.map(SignInError::status).unwrap_or(200);
    csrf.attach(html(ctx, status, &render(templates::SIGNIN, &values)))
}

/// Whether a form post was sent from another site: the browser's Fetch Metadata says
/// `cross-site` or `same-site` (a sibling subdomain is not this server either), or its
/// `Origin` is another origin, or `null` (a sandboxed frame, a data: page) without Fetch
/// Metadata vouching for it. Our own pages carry `Referrer-Policy: no-referrer`, under
/// which Chromium sends `Origin: null` even for a same-origin post, with
/// `Sec-Fetch-Site: same-origin`; a page cannot forge that header, so it settles the case.
/// A post with neither header (older browsers, some privacy settings) is left to the CSRF
/// token and the SameSite cookie.
pub fn from_another_site(req: &Incoming) -> bool {
    let fetch_site = req.header("sec-fetch-site");
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return true;
    }
    match req.header("origin") {
        None => false,
        Some("null") => fetch_site != Some("same-origin"),
        Some(origin) => origin != req.origin,
    }
}

pub use crate::reply::see_other;
