//! `/mcp`, the MCP Streamable HTTP endpoint: authenticates the bearer token, applies the
//! transport rules of `mcp::transport`, keeps session-era sessions (signed ids, ended by a
//! KV mark), and runs each request through `mcp::server` on the caller's notes in D1.

use super::bearer::{authenticate, unauthorized_with, Principal};
use super::bearer::{unavailable, BearerError};
use super::{now, Ctx, Incoming};
use crate::gateway::Gateway;
use crate::mcp::error::{RpcError, METHOD_NOT_FOUND};
use crate::mcp::jsonrpc::{self, Body, Message};
use crate::mcp::server::{Caller, Failure, Server, DEFAULT_PAGE_SIZE};
use crate::mcp::session;
use crate::mcp::tools::{Progress, Public};
use crate::mcp::transport::{self, Accepts, Era, McpHeaders, Rejection};
use crate::mcp::version;
use crate::oauth::metadata::resource_metadata_url;
use crate::reply::{Reply, NO_STORE};
use crate::store::KeyValue;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::rc::Rc;
use worker::console_log;

/// Messages in one 2025-03-26 batch: each may be a tool call that reaches D1.
const MAX_BATCH: usize = 20;

use crate::store::keys;

/// `path_token`: the token of `/mcp/t/<token>` (the edge only routes it when allowed).
pub async fn handle(ctx: &Ctx, req: &Incoming, path_token: Option<&str>) -> Reply {
    if let Some(origin) = req.header("origin") {
        if !transport::origin_allowed(origin, &ctx.issuer, &ctx.config.extra_origins) {
            return rejection(Rejection::new(
                403,
                RpcError::invalid_request("this Origin may not call the MCP endpoint"),
            ));
        }
    }
    // The credential first: without one, nothing about the endpoint (its media types,
    // its limits) is learnt, only the challenge that starts sign-in.
    let public = public_tools(ctx);
    let caller = match authenticate(ctx, req, path_token).await {
        Ok(Some(p)) => Some(p),
        // With public tools, a request without a token may initialize, list and call
        // them; otherwise the 401 is what starts a client's sign-in.
        Ok(None) if public.any() => None,
        Ok(None) => return unauthorized(ctx, None),
        Err(BearerError::Invalid(why)) => return unauthorized(ctx, Some(why)),
        Err(BearerError::Unavailable) => return unavailable(),
    };
    if caller.as_ref().is_some_and(|p| !p.has_mcp_scope()) {
        return forbidden_scope(ctx);
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

/// Who is calling (`None`: no token, only with public tools) and which tools are public.
pub struct Call<'a> {
    pub caller: Option<&'a Principal>,
    pub public: Public,
}

impl Call<'_> {
    /// What sessions are bound to: the person and their grant or personal token, or ""
    /// for requests without a token (no holder is empty), so a session begun anonymously
    /// is not one of the person's.
    fn session_holder(&self) -> String {
        self.caller.map(|p| p.session_holder()).unwrap_or_default()
    }
}

thread_local! {
    static WARNED_PUBLIC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `PUBLIC_TOOLS` as a set; names that cannot be public are logged once per isolate.
pub(crate) fn public_tools(ctx: &Ctx) -> Public {
    let (public, ignored) = Public::from_names(&ctx.config.public_tools);
    if !ignored.is_empty() && !WARNED_PUBLIC.with(|w| w.replace(true)) {
        console_log!(
            "PUBLIC_TOOLS: ignored {} (not a tool, or a tool that works on a person's data)",
            ignored.join(", ")
        );
    }
    public
}

pub(crate) fn unauthorized(ctx: &Ctx, why: Option<&str>) -> Reply {
    let challenge = transport::challenge(&resource_metadata_url(&ctx.issuer), why);
    unauthorized_with(&challenge, why)
}

pub(crate) fn forbidden_scope(ctx: &Ctx) -> Reply {
    forbidden(
        ctx,
        &crate::oauth::scope::RESOURCE_SCOPES.join(" "),
        "the token grants none of this server's scopes",
    )
}

/// A 403 that names the scope to ask for (RFC 6750 §3.1), which is what lets a client
/// step up its authorization.
fn forbidden(ctx: &Ctx, scope: &str, description: &str) -> Reply {
    let challenge = format!(
        "Bearer resource_metadata=\"{}\", error=\"insufficient_scope\", scope=\"{scope}\", \
         error_description=\"{description}\"",
        resource_metadata_url(&ctx.issuer),
    );
    Reply::json(
        403,
        &json!({ "error": "insufficient_scope", "error_description": description }),
    )
    .header("WWW-Authenticate", &challenge)
    .header("Cache-Control", NO_STORE)
}

/// What a request for a method its token does not cover gets: sign-in without a token,
/// step-up with one.
fn scope_needed(ctx: &Ctx, call: &Call<'_>, scope: &str) -> Reply {
    match call.caller {
        None => unauthorized(ctx, None),
        Some(_) => forbidden(
            ctx,
            scope,
            "this method needs a scope the token does not grant",
        ),
    }
}

pub(crate) fn rejection(r: Rejection) -> Reply {
    rejection_for(r, &Value::Null)
}

fn rejection_for(r: Rejection, id: &Value) -> Reply {
    Reply::json(r.status, &r.error.to_response(id)).header("Cache-Control", NO_STORE)
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

pub(crate) fn server<'a>(
    ctx: &'a Ctx,
    call: &'a Call<'a>,
    db: &'a crate::store::d1::D1,
    rm: &'a str,
    gateway: Option<&'a Gateway<'a>>,
) -> Server<'a> {
    Server {
        caller: Caller {
            user: call.caller.map(|p| p.user.as_str()),
            scopes: call
                .caller
                .map(|p| p.scope.split(' ').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        },
        notes: db,
        base_url: &ctx.issuer,
        resource_metadata: rm,
        product_name: &ctx.config.product_name,
        now: now(),
        page_size: DEFAULT_PAGE_SIZE,
        public: call.public,
        builtin: ctx.config.builtin_tools,
        gateway,
        upstreams_configured: ctx.config.upstreams.is_some(),
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

/// A `tools/list` result's JSON text, per revision and public set.
type ToolsPage = ((&'static str, Public), Rc<str>);

thread_local! {
    static TOOLS_PAGES: RefCell<Vec<ToolsPage>> = const { RefCell::new(Vec::new()) };
}

/// The first page of `tools/list` as JSON text. It is the same for every caller of this
/// isolate at a revision (the list names every tool, whatever the token's scopes, and the
/// server's identity comes from settings), so it is built and serialized once: cloning
/// and serializing the 4 KB list was most of a `tools/list` request's own cost.
async fn first_tools_page(
    ctx: &Ctx,
    call: &Call<'_>,
    db: &crate::store::d1::D1,
    rm: &str,
    version: &'static str,
) -> Option<Rc<str>> {
    let key = (version, call.public);
    let hit = TOOLS_PAGES.with(|c| {
        c.borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    });
    if hit.is_some() {
        return hit;
    }
    let result = server(ctx, call, db, rm, None)
        .request(version, "tools/list", &Map::new(), &Progress::default())
        .await
        .ok()?;
    let text: Rc<str> = Rc::from(result.to_string());
    TOOLS_PAGES.with(|c| c.borrow_mut().push((key, text.clone())));
    Some(text)
}

/// The methods the gateway's upstreams take part in.
fn through_gateway(method: &str) -> bool {
    matches!(
        method,
        "tools/list"
            | "tools/call"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "prompts/list"
            | "prompts/get"
    )
}

/// The error for a gateway method while `UPSTREAMS` cannot be used: it names the setting.
fn misconfigured(ctx: &Ctx, method: &str) -> Option<RpcError> {
    if !through_gateway(method) {
        return None;
    }
    super::gateway::config_error(ctx).map(|e| RpcError::misconfigured(&e.to_string()))
}

/// What the gateway needs for a signed-in caller, when upstreams are configured.
pub(crate) fn gateway_parts<'a>(
    ctx: &'a Ctx,
    caller: Option<&'a Principal>,
) -> Option<super::gateway::Parts<'a>> {
    let caller = caller.filter(|_| ctx.config.upstreams.is_some())?;
    let keys = ctx.keys().ok()?;
    super::gateway::Parts::new(ctx, caller, keys)
}

/// One request's response message, without progress: what a batch and the legacy SSE
/// transport send back.
pub(crate) async fn run_one(
    ctx: &Ctx,
    srv: &Server<'_>,
    version: &str,
    id: &Value,
    method: &str,
    params: &Map<String, Value>,
) -> Value {
    if let Some(e) = misconfigured(ctx, method) {
        return e.to_response(id);
    }
    match srv
        .request(version, method, params, &Progress::default())
        .await
    {
        Ok(result) => jsonrpc::success(id, result),
        Err(Failure::Rpc(e)) => e.to_response(id),
        Err(Failure::Internal(cause)) => {
            ctx.internal(cause);
            RpcError::internal().to_response(id)
        }
        // Inside a batch or the legacy stream there is no status to answer with.
        Err(Failure::Scope(scope)) => RpcError::scope_needed(scope).to_response(id),
    }
}

/// A failure of this server (storage, a binding): logged, answered as JSON-RPC's
/// internal error.
pub(crate) fn failed(ctx: &Ctx, cause: impl std::fmt::Display) -> Reply {
    ctx.internal(cause);
    internal(&Value::Null)
}

pub(crate) fn internal(id: &Value) -> Reply {
    Reply::json(500, &RpcError::internal().to_response(id)).header("Cache-Control", NO_STORE)
}

/// Runs one request and answers it: JSON, or an event stream of its progress and then
/// its response when the client accepts one and the tool reported progress.
async fn answer(
    ctx: &Ctx,
    call: &Call<'_>,
    version: &'static str,
    id: &Value,
    method: &str,
    params: &Map<String, Value>,
    accepts: Accepts,
) -> Reply {
    let db = match ctx.db() {
        Ok(db) => db,
        Err(_) => return internal(id),
    };
    let rm = resource_metadata_url(&ctx.issuer);
    let through_gateway = through_gateway(method);
    if let Some(e) = misconfigured(ctx, method) {
        return Reply::json(200, &e.to_response(id)).header("Cache-Control", NO_STORE);
    }
    let plain_list = ctx.config.builtin_tools && ctx.config.upstreams.is_none();
    if plain_list && method == "tools/list" && !params.contains_key("cursor") {
        if let Some(text) = first_tools_page(ctx, call, &db, &rm, version).await {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{text}}}"#);
            return Reply::new(200)
                .header("Content-Type", "application/json")
                .header("Cache-Control", NO_STORE)
                .body(body.into_bytes());
        }
    }
    let token = params
        .get("_meta")
        .and_then(|m| m.get("progressToken"))
        .cloned();
    let progress = Progress::for_token(token.filter(|_| accepts.sse)).live(ctx.live.clone());
    // Only a signed-in request for tools, resources or prompts with upstreams configured
    // reaches out.
    let parts = gateway_parts(ctx, call.caller.filter(|_| through_gateway));
    let gw = parts.as_ref().map(super::gateway::Parts::gateway);
    let outcome = server(ctx, call, &db, &rm, gw.as_ref())
        .request(version, method, params, &progress)
        .await;
    if let (Some(g), Some(p)) = (&gw, call.caller) {
        super::gateway::finish(ctx, p, g).await;
    }
    let (status, response) = match outcome {
        Ok(result) => (200, jsonrpc::success(id, result)),
        Err(Failure::Rpc(e)) => {
            // 2026-07-28 answers an unknown method with 404, telling it from a bad path.
            let status = if e.code == METHOD_NOT_FOUND && version == version::STATELESS {
                404
            } else {
                e.http_status()
            };
            (status, e.to_response(id))
        }
        Err(Failure::Internal(cause)) => {
            ctx.internal(cause);
            (500, RpcError::internal().to_response(id))
        }
        Err(Failure::Scope(scope)) => return scope_needed(ctx, call, scope),
    };
    let notifications = progress.take();
    // With progress already streamed (`live`), the response is the stream's last event.
    if status == 200 && (!notifications.is_empty() || progress.streamed()) {
        let mut stream = String::new();
        for n in notifications.iter().chain(std::iter::once(&response)) {
            stream.push_str(&transport::sse_event(n));
        }
        return Reply::new(200)
            .header("Content-Type", "text/event-stream")
            .header("Cache-Control", "no-store")
            .header("X-Accel-Buffering", "no")
            .body(stream.into_bytes());
    }
    Reply::json(status, &response).header("Cache-Control", NO_STORE)
}

/// A 2025-03-26 batch: each request answered in order, in one JSON array; a batch of
/// only notifications and responses gets 202.
async fn run_batch(ctx: &Ctx, call: &Call<'_>, version: &'static str, items: Vec<Value>) -> Reply {
    let db = match ctx.db() {
        Ok(db) => db,
        Err(_) => return internal(&Value::Null),
    };
    let rm = resource_metadata_url(&ctx.issuer);
    let parts = gateway_parts(ctx, call.caller);
    let gw = parts.as_ref().map(super::gateway::Parts::gateway);
    let srv = server(ctx, call, &db, &rm, gw.as_ref());
    let mut answers = Vec::new();
    for item in &items {
        let id = jsonrpc::id_of(item);
        match jsonrpc::parse_message(item) {
            Err(e) => answers.push(e.to_response(&id)),
            Ok(Message::Request { method, .. }) if method == "initialize" => answers.push(
                RpcError::invalid_request("initialize must not be part of a batch")
                    .to_response(&id),
            ),
            Ok(Message::Request { id, method, params }) => {
                answers.push(run_one(ctx, &srv, version, &id, &method, &params).await)
            }
            Ok(_) => {}
        }
    }
    if let (Some(g), Some(p)) = (&gw, call.caller) {
        super::gateway::finish(ctx, p, g).await;
    }
    if answers.is_empty() {
        return Reply::new(202);
    }
    Reply::json(200, &Value::Array(answers)).header("Cache-Control", NO_STORE)
}
