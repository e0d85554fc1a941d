//! `/mcp`, the MCP Streamable HTTP endpoint: authenticates the bearer token, applies the
//! transport rules of `mcp::transport`, keeps session-era sessions (signed ids, ended by a
//! KV mark), and runs each request through `mcp::server` on the caller's notes in D1.

use super::bearer::authenticate;
use super::bearer::{unavailable, BearerError};
use super::mcp_answer::{answer, run_batch};
use super::mcp_call::{
    catalog_or_refusal, failed, forbidden_scope, internal, public_tools, rejection, rejection_for,
    server, unauthorized, Call,
};
use super::{now, Ctx, Incoming};
use crate::mcp::error::RpcError;
use crate::mcp::jsonrpc::{self, Body, Message};
use crate::mcp::session;
use crate::mcp::transport::{self, Accepts, Era, McpHeaders, Rejection};
use crate::mcp::version;
use crate::oauth::metadata::resource_metadata_url;
use crate::reply::{Reply, NO_STORE};
use crate::store::KeyValue;
use serde_json::{Map, Value};

/// Messages in one 2025-03-26 batch: each may be a tool call that reaches D1.
const MAX_BATCH: usize = 20;

use crate::store::keys;
/// `path_token`: the token of `/mcp/t/<token>` (the edge only routes it when allowed).
pub async fn handle(ctx: &Ctx, req: &Incoming, path_token: Option<&str>) -> Reply {
    if let Some(origin) = req.header("origin") {
        if !transport::origin_allowed(origin, &ctx.issuer, &ctx.config.extra_origins) {
            // An access token that verifies names the app the doctor files this under (a
            // personal token is not looked up: that would count as its use).
            if let Ok(Some(v)) = super::bearer::verify_bearer(ctx, req).await {
                let cause = format!(
                    "The request came from a web page at {}, which may not call /mcp: add \
                     that origin to MCP_ALLOWED_ORIGINS if the app is yours to trust",
                    crate::util::text::truncate(origin, 120)
                );
                let c = &v.claims;
                let step = crate::doctor::Step::Mcp;
                super::doctor::grant_step(ctx, &c.client_id, &c.gid, &c.sub, step, Some(&cause))
                    .await;
            }
            return rejection(Rejection::new(
                403,
                RpcError::invalid_request("this Origin may not call the MCP endpoint"),
            ));
        }
    }
    let catalog = match catalog_or_refusal(ctx) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    // The credential first: without one, nothing about the endpoint (its media types,
    // its limits) is learnt, only the challenge that starts sign-in.
    let public = public_tools(ctx);
    // A GET without a token (the edge lets only that one through): the same challenge as
    // a POST's. With public tools a request needs no token, and there is no stream to GET.
    if matches!(req.method.as_str(), "GET" | "HEAD") {
        return if public.any() {
            rejection(Rejection::new(
                405,
                RpcError::invalid_request(
                    "/mcp does not accept GET: no server-to-client stream is offered",
                ),
            ))
            .header("Allow", &super::route::Route::Mcp.allow_header())
        } else {
            unauthorized(ctx, None)
        };
    }
    let caller = match authenticate(ctx, req, path_token).await {
        Ok(Some(p)) => Some(p),
        // With public tools, a request without a token may initialize, list and call
        // them; otherwise the 401 is what starts a client's sign-in.
        Ok(None) if public.any() => None,
        Ok(None) => return unauthorized(ctx, None),
        Err(BearerError::Invalid(why)) => return unauthorized(ctx, Some(why)),
        Err(BearerError::Unavailable) => return unavailable(),
    };
    if let Some(p) = caller.as_ref() {
        if !p.has_mcp_scope(&catalog) {
            let cause = "The token holds none of this server's MCP scopes (403 insufficient_scope)";
            p.tell_doctor(ctx, Some(cause)).await;
            return forbidden_scope(ctx);
        }
        p.tell_doctor(ctx, None).await;
    }
    if let Err(refused) = transport_checks(req) {
        return rejection(refused);
    }
    let Some(accepts) = transport::accepts(req.header("accept")) else {
        return rejection(Rejection::new(
            406,
            RpcError::invalid_request("Accept must allow application/json or text/event-stream"),
        ));
    };
    let call = Call {
        caller: caller.as_ref(),
        public,
        catalog: &catalog,
        user_agent: req.header("user-agent"),
    };
    let headers = McpHeaders {
        protocol_version: req.header("mcp-protocol-version"),
        session_id: req.header("mcp-session-id"),
        method: req.header("mcp-method"),
        name: req.header("mcp-name"),
    };
    if req.method == "DELETE" {
        return end_session(ctx, &call, &headers).await;
    }
    post(ctx, req, &call, &headers, accepts).await
}

/// What the transport requires of a request's body, checked once the caller is known:
/// its size (the edge stopped reading at the limit), then its media type.
pub(crate) fn transport_checks(req: &Incoming) -> Result<(), Rejection> {
    if req.body_too_large {
        return Err(Rejection::new(
            413,
            RpcError::invalid_request(format!(
                "the body is larger than {} bytes",
                super::route::MCP_BODY_LIMIT
            )),
        ));
    }
    if req.method == "POST" && !transport::is_json_content_type(req.header("content-type")) {
        return Err(Rejection::new(
            415,
            RpcError::invalid_request("Content-Type must be application/json"),
        ));
    }
    Ok(())
}

async fn post(
    ctx: &Ctx,
    req: &Incoming,
    call: &Call<'_>,
    headers: &McpHeaders<'_>,
    accepts: Accepts,
) -> Reply {
    let body = match jsonrpc::parse_body(&req.body) {
        Ok(b) => b,
        Err(e) => return rejection(Rejection::new(e.http_status(), e)),
    };
    let value = match body {
        Body::Single(v) => v,
        Body::Batch(items) => {
            // Batches exist only in 2025-03-26, and only inside a session.
            let version = match session_version(ctx, call, headers).await {
                Ok(v) => v,
                Err(reply) => return reply,
            };
            if items.len() > MAX_BATCH {
                return rejection(Rejection::new(
                    400,
                    RpcError::invalid_request(format!(
                        "a batch may hold at most {MAX_BATCH} messages"
                    )),
                ));
            }
            if !version::allows_batches(version) {
                return rejection(Rejection::new(
                    400,
                    RpcError::invalid_request(format!("batches are not part of MCP {version}")),
                ));
            }
            return run_batch(ctx, call, version, items).await;
        }
    };
    let value = &value;
    let id = jsonrpc::id_of(value);
    let message = match jsonrpc::parse_message(value) {
        Ok(m) => m,
        Err(e) => return rejection_for(Rejection::new(e.http_status(), e), &id),
    };
    let params = match &message {
        Message::Request { params, .. } => Some(params),
        _ => None,
    };
    let era = match transport::era(headers, params) {
        Ok(e) => e,
        Err(r) => return rejection_for(r, &id),
    };
    match (era, message) {
        (Era::Stateless, Message::Request { id, method, params }) => {
            if let Err(r) = transport::check_stateless(headers, &method, &params) {
                return rejection_for(r, &id);
            }
            answer(
                ctx,
                call,
                version::STATELESS,
                &id,
                &method,
                &params,
                accepts,
            )
            .await
        }
        // No client notification is defined for 2026-07-28; accepting them is harmless.
        (Era::Stateless, _) => Reply::new(202),
        (Era::Session, Message::Request { id, method, params }) if method == "initialize" => {
            initialize(ctx, call, &id, &params)
        }
        (Era::Session, message) => {
            let version = match session_version(ctx, call, headers).await {
                Ok(v) => v,
                Err(reply) => return reply,
            };
            match message {
                Message::Request { id, method, params } => {
                    answer(ctx, call, version, &id, &method, &params, accepts).await
                }
                // notifications/initialized, cancellations, responses: nothing to send back.
                _ => Reply::new(202),
            }
        }
    }
}

fn initialize(ctx: &Ctx, call: &Call<'_>, id: &Value, params: &Map<String, Value>) -> Reply {
    let requested = params.get("protocolVersion").and_then(Value::as_str);
    let negotiated = version::negotiate(requested);
    let Ok(keys) = ctx.keys() else {
        return internal(id);
    };
    let session_id = session::issue(
        &keys.mac_key("mcp-session"),
        &call.session_holder(),
        negotiated,
        now(),
    );
    let rm = resource_metadata_url(&ctx.issuer);
    let Ok(db) = ctx.db() else {
        return internal(id);
    };
    let result = server(ctx, call, &db, &rm, None).initialize(negotiated);
    Reply::json(200, &jsonrpc::success(id, result))
        .header("Mcp-Session-Id", &session_id)
        .header("Cache-Control", NO_STORE)
}

/// The revision of the request's session: 400 without an id, 404 for an id that is not
/// this user's, has expired, or was ended.
async fn session_version(
    ctx: &Ctx,
    call: &Call<'_>,
    headers: &McpHeaders<'_>,
) -> Result<&'static str, Reply> {
    let Some(id) = headers.session_id else {
        return Err(rejection(Rejection::new(
            400,
            RpcError::invalid_request(
                "the Mcp-Session-Id header is required; send initialize first",
            ),
        )));
    };
    let keys = ctx.keys().map_err(|_| internal(&Value::Null))?;
    let not_found = || {
        rejection(Rejection::new(
            404,
            RpcError::invalid_request("unknown or expired session; send initialize again"),
        ))
    };
    let Some(found) = session::check(
        &keys.mac_key("mcp-session"),
        id,
        &call.session_holder(),
        now(),
    ) else {
        return Err(not_found());
    };
    let kv = ctx.kv().map_err(|_| internal(&Value::Null))?;
    match kv.get_cached(&keys::mcp_session_ended(id), 60).await {
        Ok(None) => {}
        Ok(Some(_)) => return Err(not_found()),
        Err(e) => return Err(failed(ctx, e)),
    }
    match headers.protocol_version {
        None => Ok(found.version),
        Some(v) if v == found.version => Ok(found.version),
        Some(_) => Err(rejection(Rejection::new(
            400,
            RpcError::invalid_request(format!(
                "MCP-Protocol-Version must be the session's version, {}",
                found.version
            )),
        ))),
    }
}

async fn end_session(ctx: &Ctx, call: &Call<'_>, headers: &McpHeaders<'_>) -> Reply {
    if let Err(reply) = session_version(ctx, call, headers).await {
        return reply;
    }
    let Some(id) = headers.session_id else {
        return internal(&Value::Null);
    };
    // A session begun without a token (public tools) holds nobody's data, and anyone can
    // begin one: ending it writes nothing, so nobody can spend KV's writes this way.
    if call.caller.is_none() {
        return Reply::new(204);
    }
    let kv = match ctx.kv() {
        Ok(kv) => kv,
        Err(_) => return internal(&Value::Null),
    };
    match kv
        .put(
            &keys::mcp_session_ended(id),
            "1",
            Some(session::MAX_AGE_SECONDS),
        )
        .await
    {
        Ok(()) => Reply::new(204),
        Err(e) => failed(ctx, e),
    }
}
