//! The edge: turns a `worker::Request` into a plain `Incoming`, routes it, and turns the
//! handler's `Reply` back into a `worker::Response`. Handlers never return `Err`: internal
//! failures are logged with the request id and answered generically.

pub mod account;
pub mod account_notice;
pub mod account_tokens;
pub mod admin;
pub mod admin_apps;
pub mod admin_audit;
pub mod admin_chart;
pub mod admin_doctor;
pub mod admin_health;
pub mod admin_overview;
pub mod admin_people;
pub mod admin_person;
pub mod authorize;
pub mod authorize_grant;
pub mod bearer;
pub mod body;
pub mod browser;
pub mod cimd;
pub mod client_keys;
pub mod console;
pub mod cron;
pub mod ctx;
pub mod discovery;
pub mod doctor;
pub mod gateway;
pub mod grants;
pub mod incoming;
pub mod live;
pub mod mcp;
pub mod mcp_answer;
pub mod mcp_call;
pub mod notes;
pub mod outbound;
pub mod pages;
pub mod password;
pub mod providers;
pub mod register;
pub mod route;
pub mod session;
pub mod signin;
pub mod signin_handoff;
pub mod signin_roles;
pub mod sse;
pub mod sse_session;
pub mod token;
pub mod userinfo;
pub mod webcrypto;
pub mod welcome;

use ctx::settings;
pub use ctx::{now, now_ms, Ctx};
pub use incoming::{client_network, Incoming};

use crate::audit;
use crate::config::Config;
use crate::encoding::{b64url, random_bytes};
use crate::mcp::error::RpcError;
use crate::mcp::transport::Rejection;
use crate::oauth::keys;
use crate::reply::{http_error, Reply};
use route::Route;
use webcrypto::WebCrypto;
use worker::{console_error, console_log, web_sys, Env, Headers, Response};

/// The runtime's own request, not `worker::Request`: converting to that reads the request's
/// `cf` object into Rust on every request (a measured 5% of a `tools/list`), and nothing
/// here uses it.
pub async fn handle(req: web_sys::Request, env: Env) -> web_sys::Response {
    let Ok(url) = url::Url::parse(&req.url()) else {
        return to_response(http_error(400, "invalid_request", "bad URL"));
    };
    let head = Head::read(&req, &env, url);
    let served = match head.refusal() {
        Some(reply) => Served::Reply(reply),
        None => serve(&head, &req, env).await,
    };
    match served {
        Served::Reply(reply) => head.finish(reply),
        // The legacy event stream is the session object's own response, passed through.
        Served::Stream(response) => {
            head.log(&response.status().to_string());
            response
        }
        Served::Live(first, events) => {
            head.log("200 (streamed)");
            streamed(head.cors(first), events)
        }
    }
}

/// What a request is before any handler runs: its id, method, URL, headers, the
/// deployment's settings, the issuer it is served as and the route it names.
struct Head {
    id: String,
    method: String,
    url: url::Url,
    headers: Headers,
    settings: std::rc::Rc<ctx::Settings>,
    issuer: String,
    /// `None`: no such route (or one behind a switch that is off).
    route: Option<Route>,
    /// Whether a handler wrote an audit row naming this request.
    audited: std::rc::Rc<std::cell::Cell<bool>>,
}

/// What serving a request gave.
enum Served {
    Reply(Reply),
    Stream(web_sys::Response),
    Live(Reply, live::Events),
}

impl Head {
    fn read(req: &web_sys::Request, env: &Env, url: url::Url) -> Head {
        let settings = settings(env);
        let config = &settings.config;
        let issuer = config.issuer_for(&incoming::origin_of(&url));
        // Routes behind a switch do not exist while it is off: a 404 like any unknown path.
        let route = Route::find(url.path()).filter(|r| match r {
            Route::McpPathToken => config.path_tokens,
            Route::Sse | Route::Messages => config.legacy_sse,
            _ => true,
        });
        Head {
            id: b64url(&random_bytes::<6>()),
            method: req.method(),
            url,
            headers: Headers(req.headers()),
            issuer,
            route,
            settings,
            audited: std::rc::Rc::default(),
        }
    }

    /// A path token is a secret: answers and the log line name the route, never the token.
    fn shown_path(&self) -> &str {
        match self.route {
            Some(Route::McpPathToken) => "/mcp/t/[token]",
            _ => self.url.path(),
        }
    }

    /// The answer of a request no handler takes: an unknown route, a method the route
    /// does not accept (each protocol's own error: JSON-RPC on the MCP routes, OAuth
    /// elsewhere, where RFC 6749 has no method error), a preflight.
    fn refusal(&self) -> Option<Reply> {
        let Some(r) = self.route else {
            return Some(http_error(404, "not_found", "no such endpoint"));
        };
        let method = self.method.as_str();
        // A GET of /mcp without a token is answered with the sign-in challenge, as a POST
        // is (`mcp::handle`): clients that probe with GET first (mcp-remote, the AI SDK)
        // learn where to sign in instead of guessing the well-known URLs.
        let probe = r == Route::Mcp
            && matches!(method, "GET" | "HEAD")
            && self.headers.get("authorization").ok().flatten().is_none();
        if !r.accepts(method) && !probe {
            let why = format!("{} does not accept {method}", self.shown_path());
            let refusal = if r.is_mcp() {
                mcp_call::rejection(Rejection::new(405, RpcError::invalid_request(why)))
            } else {
                http_error(405, "invalid_request", &why)
            };
            return Some(refusal.header("Allow", &r.allow_header()));
        }
        if method != "OPTIONS" {
            return None;
        }
        if r.is_mcp() && !mcp_origin_ok(&self.headers, &self.settings.config, &self.issuer) {
            let why = RpcError::invalid_request("this Origin may not call the MCP endpoint");
            return Some(mcp_call::rejection(Rejection::new(403, why)));
        }
        Some(preflight(r))
    }

    fn cors(&self, reply: Reply) -> Reply {
        with_cors(
            reply,
            self.route,
            &self.headers,
            &self.settings.config,
            &self.issuer,
        )
    }

    fn log(&self, status: &str) {
        console_log!(
            "[{}] {} {} {}",
            self.id,
            self.method,
            self.shown_path(),
            status
        );
    }

    /// CORS, `HEAD`'s empty body, the log line, and the runtime's response. One line per
    /// request, except the successful answers of the paths clients call most (MCP,
    /// discovery, the token grants) that wrote no audit row: the line costs about as much
    /// as the rest of a `tools/list`, and Cloudflare's own request logs already hold
    /// those. Failures are always logged, with the id their error bodies and pages show,
    /// and so is every request an audit row names by its id.
    fn finish(&self, reply: Reply) -> web_sys::Response {
        let mut reply = self.cors(reply);
        if self.method == "HEAD" {
            reply.body.clear();
        }
        let quiet = self.route.is_some_and(Route::quietly_logged);
        if reply.status >= 400 || self.audited.get() || !quiet {
            self.log(&reply.status.to_string());
        }
        to_response(reply)
    }
}

/// Reads the request into an `Incoming`, builds its context and runs its handler.
async fn serve(head: &Head, req: &web_sys::Request, env: Env) -> Served {
    let Some(r) = head.route else {
        return Served::Reply(http_error(404, "not_found", "no such endpoint"));
    };
    let incoming =
        incoming::read_incoming(req, &head.headers, &head.method, &head.url, r.body_limit()).await;
    if incoming.body_too_large && !r.is_mcp() {
        return Served::Reply(too_large(r.body_limit()));
    }
    let s = &head.settings;
    let keys = keys::cached(
        &WebCrypto,
        s.signing_key.as_deref(),
        s.previous_key.as_deref(),
    )
    .await;
    let ctx = Ctx {
        config: s.config.clone(),
        issuer: head.issuer.clone(),
        env,
        request_id: head.id.clone(),
        keys,
        audit_ip: audit::truncate_ip(incoming.header("cf-connecting-ip").unwrap_or_default()),
        client_network: incoming.client_ip.clone(),
        live: None,
        audited: head.audited.clone(),
        rsa: s.rsa.clone(),
    };
    if r == Route::Sse {
        return match sse::open(&ctx, &incoming).await {
            Ok(stream) => Served::Stream(stream.into()),
            Err(reply) => Served::Reply(reply),
        };
    }
    if live::candidate(r, &ctx, &incoming) {
        return match live::run(r, ctx, incoming).await {
            live::Live::Whole(reply) => Served::Reply(reply),
            live::Live::Stream(first, events) => Served::Live(first, events),
        };
    }
    Served::Reply(dispatch(r, &ctx, &incoming).await)
}

async fn dispatch(route: Route, ctx: &Ctx, req: &Incoming) -> Reply {
    // A login-CSRF defence that does not rest on SameSite cookies alone: a page's form
    // posted from another site is refused before its CSRF token is even read.
    if route.takes_page_forms() && req.method == "POST" && pages::from_another_site(req) {
        return pages::error_page(ctx, pages::ErrorKind::CrossSite, None);
    }
    match route {
        Route::AuthorizationServerMetadata => discovery::authorization_server(ctx),
        Route::OpenIdConfiguration => discovery::openid_configuration(ctx),
        Route::ProtectedResourceMetadata => discovery::protected_resource(ctx),
        Route::Jwks => discovery::jwks(ctx),
        Route::Register => register::register(ctx, req).await,
        Route::Authorize if req.method == "POST" => authorize::submit(ctx, req).await,
        Route::Authorize => authorize::show(ctx, req).await,
        Route::Token => token::token(ctx, req).await,
        Route::Revoke => token::revoke(ctx, req).await,
        Route::Introspect => token::introspect(ctx, req).await,
        Route::UserInfo => userinfo::userinfo(ctx, req).await,
        Route::Account => account::handle(ctx, req).await,
        Route::Admin => admin::handle(ctx, req).await,
        Route::AdminPeople => admin::people(ctx, req).await,
        Route::AdminApps => admin::apps(ctx, req).await,
        Route::AdminAudit => admin::audit(ctx, req).await,
        Route::AdminDoctor => admin::doctor(ctx, req).await,
        Route::Welcome => welcome::handle(ctx, req).await,
        // A person who opens the bare domain lands on their connected apps.
        Route::Home => Reply::redirect("/account"),
        Route::Mcp => mcp::handle(ctx, req, None).await,
        Route::Messages => sse::message(ctx, req).await,
        // Opened in `handle`, which streams the object's response.
        Route::Sse => http_error(404, "not_found", "no such endpoint"),
        Route::McpPathToken => match route::path_token(&req.path) {
            Some(token) => mcp::handle(ctx, req, Some(token)).await,
            None => http_error(404, "not_found", "no such endpoint"),
        },
        Route::Note => notes::handle(ctx, req).await,
        Route::SignInStart => signin::start(ctx, req).await,
        Route::SignInCallback => signin::callback(ctx, req).await,
        Route::SignInHandoff => signin_handoff::handoff(ctx, req).await,
        Route::SignInReturn => signin_handoff::handoff_return(ctx, req).await,
    }
}

fn mcp_origin_ok(headers: &Headers, config: &Config, issuer: &str) -> bool {
    match headers.get("origin").ok().flatten() {
        None => true,
        Some(origin) => {
            crate::mcp::transport::origin_allowed(&origin, issuer, &config.extra_origins)
        }
    }
}

fn preflight(route: Route) -> Reply {
    let methods = route.allow_header();
    Reply::new(204)
        .header("Access-Control-Allow-Methods", &methods)
        .header(
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, \
             Mcp-Method, Mcp-Name, Last-Event-ID",
        )
        .header("Access-Control-Max-Age", "86400")
}

/// The 413 of a route outside MCP (whose 413 is a JSON-RPC error, after authentication).
fn too_large(limit: usize) -> Reply {
    http_error(
        413,
        "invalid_request",
        &format!("request body larger than {limit} bytes"),
    )
}

/// The CORS headers of an answer: on the MCP routes only for allowed origins (so a page
/// elsewhere cannot read /mcp's answers), on the public routes for any.
fn with_cors(
    mut reply: Reply,
    route: Option<Route>,
    headers: &Headers,
    config: &Config,
    issuer: &str,
) -> Reply {
    if route.is_some_and(Route::is_mcp) {
        // Only allowed origins are named, so a page elsewhere cannot read /mcp's answers.
        if let Some(origin) = headers.get("origin").ok().flatten() {
            if mcp_origin_ok(headers, config, issuer) {
                reply = reply
                    .set_header("Access-Control-Allow-Origin", &origin)
                    .set_header("Vary", "Origin")
                    .set_header(
                        "Access-Control-Expose-Headers",
                        "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version",
                    );
            }
        }
    } else if route.is_some_and(Route::cors) {
        reply = reply
            .set_header("Access-Control-Allow-Origin", "*")
            .set_header(
                "Access-Control-Expose-Headers",
                "WWW-Authenticate, Retry-After, Mcp-Session-Id",
            );
    }
    reply
}

/// A streamed answer (`live`): its headers now, its events as they come.
fn streamed(head: Reply, events: live::Events) -> web_sys::Response {
    let headers = Headers::new();
    for (name, value) in &head.headers {
        if headers.append(name, value).is_err() {
            console_error!("dropped invalid header {name}");
        }
    }
    match Response::from_stream(events) {
        Ok(r) => r.with_status(head.status).with_headers(headers).into(),
        Err(_) => unreachable_response(),
    }
}

/// The runtime's response, built directly: `worker::Response`'s conversion also carries
/// options (`cf`, WebSocket, encoding) that no answer here sets.
fn to_response(mut reply: Reply) -> web_sys::Response {
    let headers = Headers::new();
    for (name, value) in &reply.headers {
        // Header values come from this crate; an invalid one is a bug worth a log line,
        // not a failed request.
        if headers.append(name, value).is_err() {
            console_error!("dropped invalid header {name}");
        }
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(headers.as_ref());
    let body = (!reply.body.is_empty()).then_some(&mut reply.body[..]);
    match web_sys::Response::new_with_opt_u8_array_and_init(body, &init) {
        Ok(r) => r,
        Err(_) => {
            let init = web_sys::ResponseInit::new();
            init.set_status(500);
            web_sys::Response::new_with_opt_str_and_init(None, &init)
                .unwrap_or_else(|_| unreachable_response())
        }
    }
}

/// `Response.error()`, which cannot fail: the runtime could not build an answer at all,
/// and the client sees a network error rather than the isolate aborting.
#[cold]
fn unreachable_response() -> web_sys::Response {
    web_sys::Response::error()
}

#[cfg(test)]
mod tests {
    use super::client_network;

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            client_network("2001:db8:1:2:aaaa::1"),
            client_network("2001:db8:1:2:ffff:1:2:3")
        );
        assert_eq!(client_network("2001:db8:1:2::9"), "2001:db8:1:2::/64");
        assert_ne!(
            client_network("2001:db8:1:2::1"),
            client_network("2001:db8:1:3::1")
        );
        assert_eq!(client_network("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_network("not an ip"), "unknown");
    }
}
