//! The legacy HTTP+SSE transport (MCP 2024-11-05) for older clients: `GET /sse` opens a
//! session's event stream on its Durable Object (`sse_session`), `POST /messages?sessionId=`
//! runs JSON-RPC and sends the answers down that stream. Both take the same bearer tokens
//! as `/mcp` (OAuth access tokens or personal access tokens), and a session answers only
//! the person who opened it: anyone else gets 404, as for an unknown session.

use super::bearer::{authenticate, Credential, Principal};
use super::bearer::{unavailable, BearerError};
use super::mcp_answer::run_one;
use super::mcp_call::{
    catalog_or_refusal, failed, forbidden_scope, gateway_parts, internal, public_tools, rejection,
    server,
};
use super::mcp_call::{unauthorized, Call};
use super::sse_session::{ENDPOINT, IDLE, KEEPALIVE, USER, VERSION};
use super::{Ctx, Incoming};
use crate::mcp::error::RpcError;
use crate::mcp::jsonrpc::{self, Body, Message};
use crate::mcp::legacy;
use crate::mcp::transport::Rejection;
use crate::mcp::version;
use crate::oauth::metadata::resource_metadata_url;
use crate::reply::{Reply, NO_STORE};
use serde_json::Value;
use worker::{web_sys, Headers, Request, Response, Stub};

/// The revision a session speaks before `initialize` says otherwise: this transport's own.
const LEGACY: &str = "2024-11-05";
/// Messages in one posted batch, as at `/mcp`.
const MAX_BATCH: usize = 20;

/// The caller, who must hold a token with one of the MCP scopes.
async fn caller(ctx: &Ctx, req: &Incoming) -> Result<Principal, Reply> {
    if let Some(origin) = req.header("origin") {
        if !crate::mcp::transport::origin_allowed(origin, &ctx.issuer, &ctx.config.extra_origins) {
            return Err(rejection(Rejection::new(
                403,
                RpcError::invalid_request("this Origin may not call the MCP endpoint"),
            )));
        }
    }
    let principal = match authenticate(ctx, req, None).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(unauthorized(ctx, None)),
        Err(BearerError::Invalid(why)) => return Err(unauthorized(ctx, Some(why))),
        Err(BearerError::Unavailable) => return Err(unavailable()),
    };
    let catalog = catalog_or_refusal(ctx)?;
    if !principal.has_mcp_scope(&catalog) {
        return Err(forbidden_scope(ctx));
    }
    Ok(principal)
}

/// Whose session it is: the person and the credential that opened it, so another of the
/// person's tokens (another app) cannot post into it either.
fn owner(p: &Principal) -> String {
    match &p.credential {
        Credential::Access { grant_id, .. } => format!("{} grant:{grant_id}", p.user),
        Credential::Personal { token_id } => format!("{} token:{token_id}", p.user),
        Credential::Console => format!("{} console", p.user),
    }
}

fn stub(ctx: &Ctx, session_id: &str) -> Result<Stub, Reply> {
    let found = ctx
        .env
        .durable_object("SSE_SESSIONS")
        .and_then(|ns| ns.id_from_name(session_id).and_then(|id| id.get_stub()));
    found.map_err(|e| failed(ctx, format!("SSE_SESSIONS binding: {e}")))
}

/// A request from this Worker to a session's object.
async fn call(
    ctx: &Ctx,
    stub: &Stub,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Response, Reply> {
    let failed = |e: String| failed(ctx, format!("SSE session {path}: {e}"));
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v).map_err(|e| failed(e.to_string()))?;
    }
    // web_sys's RequestInit, as in cimd.rs: worker's links serde code for `cf` options.
    let init = web_sys::RequestInit::new();
    init.set_method(if body.is_some() { "POST" } else { "GET" });
    init.set_headers(h.as_ref());
    if let Some(b) = body {
        init.set_body(&worker::wasm_bindgen::JsValue::from_str(b));
    }
    let request: Request =
        web_sys::Request::new_with_str_and_init(&format!("https://sse-session{path}"), &init)
            .map_err(|e| failed(format!("{e:?}")))?
            .into();
    stub.fetch_with_request(request)
        .await
        .map_err(|e| failed(e.to_string()))
}

/// `GET /sse`: a new session and its event stream, whose first event names the endpoint.
pub async fn open(ctx: &Ctx, req: &Incoming) -> Result<Response, Reply> {
    if req.method != "GET" {
        return Err(rejection(Rejection::new(
            405,
            RpcError::invalid_request("open the event stream with GET"),
        ))
        .header("Allow", "GET, OPTIONS"));
    }
    let principal = caller(ctx, req).await?;
    let accepts = req
        .header("accept")
        .is_none_or(|a| a.contains("text/event-stream") || a.contains("*/*"));
    if !accepts {
        return Err(rejection(Rejection::new(
            406,
            RpcError::invalid_request("Accept must allow text/event-stream"),
        )));
    }
    // Each open stream keeps a Durable Object running: a person opens a bounded number.
    let now = super::now();
    let window_end = (now / 3600 + 1) * 3600;
    let key = crate::store::keys::sse_streams(&principal.user, now / 3600);
    let opened = ctx
        .db()
        .map_err(|_| internal(&Value::Null))?
        .count_hit(&key, window_end, now)
        .await
        .map_err(|e| failed(ctx, e))?;
    if opened > ctx.config.sse_sessions_per_hour {
        return Err(rejection(Rejection::new(
            429,
            RpcError::invalid_request(
                "too many event streams opened this hour; reuse the one you have",
            ),
        ))
        .header("Retry-After", &(window_end - now).to_string()));
    }
    let session_id = legacy::new_session_id();
    let owner = owner(&principal);
    let endpoint = legacy::endpoint_path(&req.path, &session_id);
    let keepalive = ctx.config.sse_keepalive_seconds.to_string();
    let idle = ctx.config.sse_idle_seconds.to_string();
    let stub = stub(ctx, &session_id)?;
    call(
        ctx,
        &stub,
        "/open",
        &[
            (USER, &owner),
            (ENDPOINT, &endpoint),
            (KEEPALIVE, &keepalive),
            (IDLE, &idle),
        ],
        None,
    )
    .await
}

/// `POST /messages?sessionId=...`: runs the messages, sends the answers down the stream,
/// and answers 202.
pub async fn message(ctx: &Ctx, req: &Incoming) -> Reply {
    match post(ctx, req).await {
        Ok(r) | Err(r) => r,
    }
}

async fn post(ctx: &Ctx, req: &Incoming) -> Result<Reply, Reply> {
    let principal = caller(ctx, req).await?;
    super::mcp::transport_checks(req).map_err(rejection)?;
    let session_id = req
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "sessionId")
        .map(|(_, v)| v)
        .ok_or_else(|| {
            rejection(Rejection::new(
                400,
                RpcError::invalid_request("the sessionId query parameter is required"),
            ))
        })?;
    let unknown = || {
        rejection(Rejection::new(
            404,
            RpcError::invalid_request("unknown or closed session; open a new one with GET /sse"),
        ))
    };
    if !legacy::is_session_id(&session_id) {
        return Err(unknown());
    }
    let stub = stub(ctx, &session_id)?;
    let owner = owner(&principal);
    let user = owner.as_str();
    // Two round trips to the object, on purpose: the session is checked before any tool
    // runs, so nothing is done for a caller whose session it is not.
    let mut checked = call(ctx, &stub, "/check", &[(USER, user)], None).await?;
    if checked.status_code() != 200 {
        return Err(unknown());
    }
    let known = checked.text().await.unwrap_or_default();
    let mut session_version = version::supported(&known).unwrap_or(LEGACY);

    let (items, batch) = match jsonrpc::parse_body(&req.body) {
        Ok(Body::Single(v)) => (vec![v], false),
        Ok(Body::Batch(items)) if items.len() <= MAX_BATCH => (items, true),
        Ok(Body::Batch(_)) => {
            return Err(rejection(Rejection::new(
                400,
                RpcError::invalid_request(format!("a batch may hold at most {MAX_BATCH} messages")),
            )))
        }
        Err(e) => return Err(rejection(Rejection::new(e.http_status(), e))),
    };
    let db = ctx.db().map_err(|_| internal(&Value::Null))?;
    let rm = resource_metadata_url(&ctx.issuer);
    let catalog = catalog_or_refusal(ctx)?;
    let call_of = Call {
        caller: Some(&principal),
        public: public_tools(ctx),
        catalog: &catalog,
        user_agent: None,
    };
    let parts = gateway_parts(ctx, Some(&principal));
    let gw = parts.as_ref().map(super::gateway::Parts::gateway);
    let srv = server(ctx, &call_of, &db, &rm, gw.as_ref());
    let mut negotiated = None;
    let mut answers = Vec::new();
    for item in &items {
        let id = jsonrpc::id_of(item);
        match jsonrpc::parse_message(item) {
            Err(e) => answers.push(e.to_response(&id)),
            Ok(Message::Request { id, params, method }) if method == "initialize" => {
                let requested = params.get("protocolVersion").and_then(Value::as_str);
                let v = version::negotiate(requested);
                negotiated = Some(v);
                session_version = v;
                answers.push(jsonrpc::success(&id, srv.initialize(v)));
            }
            Ok(Message::Request { id, method, params }) => {
                answers.push(run_one(ctx, &srv, session_version, &id, &method, &params).await)
            }
            Ok(_) => {}
        }
    }
    if let Some(g) = &gw {
        super::gateway::finish(ctx, &principal, g).await;
    }
    let body = if batch && !answers.is_empty() {
        Value::Array(answers).to_string()
    } else {
        answers
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut headers = vec![(USER, user)];
    if let Some(v) = negotiated {
        headers.push((VERSION, v));
    }
    let sent = call(ctx, &stub, "/send", &headers, Some(&body)).await?;
    if sent.status_code() != 202 {
        return Err(unknown());
    }
    Ok(Reply::new(202)
        .header("Content-Type", "text/plain")
        .header("Cache-Control", NO_STORE)
        .body(b"Accepted".to_vec()))
}
