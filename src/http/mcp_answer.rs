//! Answering `/mcp` requests once the caller and the revision are known: one message
//! (the first page of `tools/list` served from a per-isolate copy, the gateway's methods
//! refused while `UPSTREAMS` cannot be used) or a 2025-03-26 batch.

use super::mcp_call::{
    challenge_shape, gateway_parts, internal, scope_needed, server, sign_in_needed, Call,
};
use super::Ctx;
use crate::mcp::challenges::Shape;
use crate::mcp::error::{RpcError, METHOD_NOT_FOUND};
use crate::mcp::jsonrpc::{self, Message};
use crate::mcp::server::{Failure, Server};
use crate::mcp::tools::{Progress, Public};
use crate::mcp::transport::{self, Accepts};
use crate::mcp::version;
use crate::oauth::metadata::resource_metadata_url;
use crate::reply::{Reply, NO_STORE};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::rc::Rc;

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
        Err(Failure::Scope(scope)) => RpcError::scope_needed(&scope).to_response(id),
        Err(Failure::SignIn(s)) => jsonrpc::success(id, s.result),
    }
}

/// Runs one request and answers it: JSON, or an event stream of its progress and then
/// its response when the client accepts one and the tool reported progress.
pub(super) async fn answer(
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
        Err(Failure::Scope(scope)) => return scope_needed(ctx, call, &scope),
        Err(Failure::SignIn(s)) => match challenge_shape(ctx, call).await {
            Shape::ToolResult => (200, jsonrpc::success(id, s.result)),
            Shape::Http => return sign_in_needed(ctx, call, &s),
        },
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
pub(super) async fn run_batch(
    ctx: &Ctx,
    call: &Call<'_>,
    version: &'static str,
    items: Vec<Value>,
) -> Reply {
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
