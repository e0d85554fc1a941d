//! The edge: turns a `worker::Request` into a plain `Incoming`, routes it, and turns the
//! handler's `Reply` back into a `worker::Response`. Handlers never return `Err`: internal
//! failures are logged with the request id and answered generically.

pub mod account;
pub mod account_notice;
pub mod account_tokens;
pub mod authorize;
pub mod bearer;
pub mod body;
pub mod browser;
pub mod cimd;
pub mod cron;
pub mod ctx;
pub mod discovery;
pub mod gateway;
pub mod grants;
pub mod live;
pub mod mcp;
pub mod notes;
pub mod outbound;
pub mod pages;
pub mod password;
pub mod providers;
pub mod register;
pub mod route;
pub mod session;
pub mod signin;
pub mod sse;
pub mod sse_session;
pub mod token;
pub mod userinfo;
pub mod webcrypto;

use ctx::settings;
pub use ctx::{now, now_ms, Ctx};

use crate::audit;
use crate::config::Config;
use crate::encoding::{b64url, random_bytes};
use crate::mcp::error::RpcError;
use crate::mcp::transport::Rejection;
use crate::oauth::keys;
use crate::reply::{http_error, Reply};
use route::Route;
use webcrypto::WebCrypto;
use worker::{console_error, console_log, web_sys, Env, Headers, Request, Response};

/// A request as plain data: what handlers read.
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was longer than the route allows, so it was not read (`body` is empty).
    /// The MCP routes answer 413 only after the caller is authenticated; every other route
    /// is answered 413 by the edge before its handler runs.
    pub body_too_large: bool,
    /// `CF-Connecting-IP`, or "unknown" locally.
    pub client_ip: String,
    /// The request URL's own origin (`scheme://host[:port]`): what a same-origin form
    /// post's `Origin` header says.
    pub origin: String,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn form_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

/// The request's origin (`scheme://host[:port]`), used as the issuer when `ISSUER` is unset.
fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// The runtime's own request, not `worker::Request`: converting to that reads the request's
/// `cf` object into Rust on every request (a measured 5% of a `tools/list`), and nothing
/// here uses it.
pub async fn handle(req: web_sys::Request, env: Env) -> web_sys::Response {
    let request_id = b64url(&random_bytes::<6>());
    let method = req.method();
    let url = match url::Url::parse(&req.url()) {
        Ok(u) => u,
        Err(_) => return to_response(http_error(400, "invalid_request", "bad URL")),
    };
    let req_headers = Headers(req.headers());
    let settings = settings(&env);
    let config = settings.config.clone();
    let issuer = config.issuer_for(&origin_of(&url));
    // Routes behind a switch do not exist while it is off: a 404 like any unknown path.
    let route = Route::find(url.path()).filter(|r| match r {
        Route::McpPathToken => config.path_tokens,
        Route::Sse | Route::Messages => config.legacy_sse,
        _ => true,
    });
    // A path token is a secret: answers and the log line name the route, never the token.
    let shown_path = match route {
        Some(Route::McpPathToken) => "/mcp/t/[token]",
        _ => url.path(),
    };
    let (config_for_cors, issuer_for_cors) = (config.clone(), issuer.clone());
    let audited = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut reply = match route {
        None => http_error(404, "not_found", "no such endpoint"),
        Some(r) if !r.accepts(&method) => {
            let why = format!("{shown_path} does not accept {method}");
            // Each protocol's own error: JSON-RPC on the MCP routes, OAuth elsewhere
            // (RFC 6749 has no method error; a wrong method is an invalid request).
            let refusal = if r.is_mcp() {
                mcp::rejection(Rejection::new(405, RpcError::invalid_request(why)))
            } else {
                http_error(405, "invalid_request", &why)
            };
            refusal.header("Allow", &r.allow_header())
        }
        Some(r)
            if r.is_mcp()
                && method == "OPTIONS"
                && !mcp_origin_ok(&req_headers, &config, &issuer) =>
        {
            mcp::rejection(Rejection::new(
                403,
                RpcError::invalid_request("this Origin may not call the MCP endpoint"),
            ))
        }
        Some(r) if method == "OPTIONS" => preflight(r),
        Some(r) => match read_incoming(&req, &req_headers, &method, &url, r.body_limit()).await {
            incoming if incoming.body_too_large && !r.is_mcp() => too_large(r.body_limit()),
            incoming => {
                let keys = keys::cached(
                    &WebCrypto,
                    settings.signing_key.as_deref(),
                    settings.previous_key.as_deref(),
                )
                .await;
                let ctx = Ctx {
                    config,
                    issuer,
                    env,
                    request_id: request_id.clone(),
                    keys,
                    audit_ip: audit::truncate_ip(
                        incoming.header("cf-connecting-ip").unwrap_or_default(),
                    ),
                    client_network: incoming.client_ip.clone(),
                    live: None,
                    audited: audited.clone(),
                };
                if r == Route::Sse {
                    // The event stream is the session object's own response, streamed
                    // through as it is.
                    match sse::open(&ctx, &incoming).await {
                        Ok(stream) => {
                            console_log!(
                                "[{}] {} {} {}",
                                request_id,
                                method,
                                shown_path,
                                stream.status_code()
                            );
                            return stream.into();
                        }
                        Err(reply) => reply,
                    }
                } else if live::candidate(r, &ctx, &incoming) {
                    match live::run(r, ctx, incoming).await {
                        live::Live::Whole(reply) => reply,
                        live::Live::Stream(head, events) => {
                            let head = with_cors(
                                head,
                                route,
                                &req_headers,
                                &config_for_cors,
                                &issuer_for_cors,
                            );
                            console_log!(
                                "[{}] {} {} 200 (streamed)",
                                request_id,
                                method,
                                shown_path
                            );
                            return streamed(head, events);
                        }
                    }
                } else {
                    dispatch(r, &ctx, &incoming).await
                }
            }
        },
    };
    reply = with_cors(
        reply,
        route,
        &req_headers,
        &config_for_cors,
        &issuer_for_cors,
    );
    if method == "HEAD" {
        reply.body.clear();
    }
    // One line per request, except the successful answers of the paths clients call most
    // (MCP, discovery, the token grants) that wrote no audit row: the line costs about as
    // much as the rest of a `tools/list`, and Cloudflare's own request logs already hold
    // those. Failures are always logged, with the id their error bodies and pages show,
    // and so is every request an audit row names by its id.
    if reply.status >= 400 || audited.get() || !route.is_some_and(Route::quietly_logged) {
        console_log!(
            "[{}] {} {} {}",
            request_id,
            method,
            shown_path,
            reply.status
        );
    }
    to_response(reply)
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
        Route::SignInHandoff => signin::handoff(ctx, req).await,
        Route::SignInReturn => signin::handoff_return(ctx, req).await,
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

/// Reads the request: headers, and the body up to `limit` bytes (a longer body is not
/// read on, and is flagged as `body_too_large`).
async fn read_incoming(
    req: &web_sys::Request,
    req_headers: &Headers,
    method: &str,
    url: &url::Url,
    limit: usize,
) -> Incoming {
    let headers: Vec<(String, String)> = req_headers
        .entries()
        .map(|(n, v)| (n.to_ascii_lowercase(), v))
        .collect();
    let declared = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body_too_large = declared.is_some_and(|n| n > limit);
    let wants_body = !body_too_large && matches!(method, "POST" | "PUT" | "PATCH" | "DELETE");
    let body = match declared {
        _ if !wants_body => Vec::new(),
        // The runtime frames a request by its Content-Length, so a declared length within
        // the limit is what arrives: read in one piece, which costs a fraction of reading
        // the stream chunk by chunk (a measured 16% of a `tools/list`).
        Some(_) => match req.array_buffer() {
            Ok(promise) => match worker::wasm_bindgen_futures::JsFuture::from(promise).await {
                Ok(buffer) => worker::js_sys::Uint8Array::new(&buffer).to_vec(),
                Err(_) => Vec::new(),
            },
            Err(_) => Vec::new(),
        },
        // No Content-Length (a chunked upload): chunk by chunk, stopping at the limit.
        // (`Clone::clone` copies the handle; the inherent `clone` would tee the body.)
        None => match Request::from(Clone::clone(req)).stream() {
            Ok(stream) => match body::read_limited(stream, limit).await {
                Ok(b) => b,
                Err(body::BodyError::TooLarge) => {
                    body_too_large = true;
                    Vec::new()
                }
                Err(body::BodyError::Read(_)) => Vec::new(),
            },
            Err(_) => Vec::new(),
        },
    };
    if body.len() > limit {
        body_too_large = true;
    }
    let body = if body_too_large { Vec::new() } else { body };
    let client_ip = headers
        .iter()
        .find(|(n, _)| n == "cf-connecting-ip")
        .map(|(_, v)| client_network(v))
        .unwrap_or_else(|| "unknown".to_string());
    Incoming {
        method: method.to_string(),
        path: url.path().to_string(),
        query: url.query().unwrap_or("").to_string(),
        headers,
        body,
        body_too_large,
        client_ip,
        origin: origin_of(url),
    }
}

/// The key that rate limits and lockouts count by: an IPv4 address as is, an IPv6
/// address cut to its /64, because one subscriber usually holds a whole /64 and could
/// otherwise step around a limit by changing the low bits.
pub fn client_network(ip: &str) -> String {
    match ip.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => "unknown".to_string(),
    }
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
