//! The gateway's MCP client: JSON-RPC to one upstream over Streamable HTTP, behind a
//! `Transport` the edge implements with `fetch` or a service binding. It speaks each
//! upstream's era: 2026-07-28 without a session when the upstream's `server/discover`
//! offers it, else 2025-06-18 with the upstream's session (per isolate and per person,
//! never shared between people, opened again when the upstream forgets it with a 404).
//! Answers are read as JSON or as an event stream. Every answer is untrusted: bounded,
//! parsed strictly, and reduced to an `UpstreamError` in our own words.

use super::config::Upstream;
pub use super::error::UpstreamError;
use super::events::sse_messages;
pub use super::events::{EventReader, MAX_ANSWER_BYTES};
use super::sessions::{cached_session, forget_session, keep_era, keep_session, known_era, Session};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

/// The session-era revision the gateway speaks to upstreams; the SDKs' servers all
/// accept it.
pub const UPSTREAM_VERSION: &str = "2025-06-18";
/// The stateless revision, spoken to an upstream whose `server/discover` lists it.
use crate::wire::version::STATELESS;

/// A request to an upstream: the headers the gateway chose (from an allow-list: nothing
/// of the client's request is ever copied) and a JSON body. The edge adds the operator's
/// credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// What the edge passes back of an upstream's answer: only these (a response allow-list).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub session_id: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    Timeout,
    TooLarge,
    Unreachable(String),
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Answer, TransportError>> + 'a>>;

/// How the gateway reaches an upstream: `fetch` to its URL or its service binding.
pub trait Transport {
    /// Sends `out` to `upstream` within its timeout; the answer's body is read up to
    /// `MAX_ANSWER_BYTES`. While an event-stream answer is read, each chunk goes to
    /// `chunk` as it arrives (so its progress can be passed on before the answer ends).
    fn send<'a>(
        &'a self,
        upstream: &'a Upstream,
        out: Outbound,
        chunk: &'a dyn Fn(&[u8]),
    ) -> SendFuture<'a>;
}

/// A request's answer: its result and the notifications the upstream sent before it.
#[derive(Debug, PartialEq)]
pub struct Reply {
    pub result: Map<String, Value>,
    pub notifications: Vec<Value>,
}

/// Sends `method` to the upstream for `user`, opening (or reopening) its session.
///
/// `notification` sees each notification of the answer as it arrives.
pub async fn request(
    transport: &dyn Transport,
    upstream: &Upstream,
    user: &str,
    assertion: &str,
    method: &str,
    params: Value,
    notification: &dyn Fn(&Value),
) -> Result<Reply, UpstreamError> {
    let reader = RefCell::new(EventReader::default());
    let chunk = |bytes: &[u8]| {
        let messages = reader.borrow_mut().push(bytes);
        for m in messages.iter().filter(|m| m.get("id").is_none()) {
            notification(m);
        }
    };
    for _ in 0..2 {
        let session = match cached_session(&upstream.name, user) {
            Some(s) => s,
            None => {
                let s = open(transport, upstream, assertion).await?;
                keep_session(&upstream.name, user, s.clone());
                s
            }
        };
        let mut body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        if session.version == STATELESS {
            stateless_meta(&mut body);
        }
        *reader.borrow_mut() = EventReader::default();
        match exchange(
            transport,
            upstream,
            Some(&session),
            assertion,
            &body,
            &chunk,
        )
        .await
        {
            Err(UpstreamError::SessionGone) => forget_session(&upstream.name, user),
            Err(e) => {
                // A session that failed in another way may be half-alive: start afresh.
                forget_session(&upstream.name, user);
                return Err(e);
            }
            Ok(answer) => return response(answer),
        }
    }
    Err(UpstreamError::SessionGone)
}

/// What 2026-07-28 carries in every request's `_meta` instead of a session.
fn stateless_meta(body: &mut Value) {
    let Some(params) = crate::json::object_at(body, "params") else {
        return;
    };
    let meta = params.entry("_meta").or_insert(Value::Null);
    if !meta.is_object() {
        *meta = json!({});
    }
    crate::json::set(meta, "io.modelcontextprotocol/protocolVersion", STATELESS);
    crate::json::set(
        meta,
        "io.modelcontextprotocol/clientCapabilities",
        capabilities(),
    );
    crate::json::set(meta, "io.modelcontextprotocol/clientInfo", client_info());
}

/// What the gateway tells an upstream it can take: MCP Apps' UI resources, which it
/// passes on (`meta`), so an upstream that offers its UI only to hosts that render it
/// offers it here. A client that renders none ignores the UI keys.
fn capabilities() -> Value {
    json!({ "extensions": { "io.modelcontextprotocol/ui": { "mimeTypes": [super::meta::UI_MIME_TYPE] } } })
}

fn client_info() -> Value {
    json!({ "name": "mcp-oauth-worker-gateway", "version": env!("CARGO_PKG_VERSION") })
}

/// How to speak to an upstream: stateless when its `server/discover` lists 2026-07-28,
/// else through a session it opens. An upstream that cannot be reached decides nothing.
async fn open(
    transport: &dyn Transport,
    upstream: &Upstream,
    assertion: &str,
) -> Result<Session, UpstreamError> {
    let stateless = Session {
        id: None,
        version: STATELESS.to_string(),
    };
    let era = match known_era(&upstream.name) {
        Some(era) => era,
        None => {
            let mut body =
                json!({ "jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {} });
            stateless_meta(&mut body);
            let answer = exchange(
                transport,
                upstream,
                Some(&stateless),
                assertion,
                &body,
                &|_| {},
            );
            // Only an answer about the protocol decides: a list of revisions, or a
            // session-era server's refusal of the method, the header or the missing
            // session (400, 404, 405, or a JSON-RPC protocol error). A refusal of this
            // person (401, 403), a rate limit or an outage says nothing of the era, so
            // it is not kept: this once, the session era is tried.
            let decided = match answer.await {
                Ok(a) => match response(a) {
                    Ok(r) => Some(
                        r.result
                            .get("supportedVersions")
                            .and_then(Value::as_array)
                            .is_some_and(|v| v.iter().any(|v| v == STATELESS)),
                    ),
                    Err(UpstreamError::Rpc(-32601 | -32600 | -32602 | -32000)) => Some(false),
                    Err(_) => None,
                },
                Err(UpstreamError::Status(400 | 404 | 405)) => Some(false),
                Err(
                    e @ (UpstreamError::Timeout(_)
                    | UpstreamError::Unreachable
                    | UpstreamError::TooLarge
                    | UpstreamError::Status(500..)),
                ) => return Err(e),
                Err(_) => None,
            };
            if let Some(era) = decided {
                keep_era(&upstream.name, era);
            }
            decided.unwrap_or(false)
        }
    };
    if era {
        Ok(stateless)
    } else {
        initialize(transport, upstream, assertion).await
    }
}

async fn initialize(
    transport: &dyn Transport,
    upstream: &Upstream,
    assertion: &str,
) -> Result<Session, UpstreamError> {
    let body = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": UPSTREAM_VERSION,
            "capabilities": capabilities(),
            "clientInfo": client_info()
        }
    });
    let answer = exchange(transport, upstream, None, assertion, &body, &|_| {}).await?;
    let session_id = answer.session_id.clone();
    let reply = response(answer)?;
    let version = reply
        .result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .filter(|v| crate::wire::version::supported(v).is_some())
        .ok_or(UpstreamError::NotMcp(
            "initialize named no revision this Worker speaks",
        ))?
        .to_string();
    let session = Session {
        id: session_id,
        version,
    };
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    exchange(
        transport,
        upstream,
        Some(&session),
        assertion,
        &note,
        &|_| {},
    )
    .await?;
    Ok(session)
}

/// One POST: the headers the gateway sets, and the answer's status checked.
async fn exchange(
    transport: &dyn Transport,
    upstream: &Upstream,
    session: Option<&Session>,
    assertion: &str,
    body: &Value,
    chunk: &dyn Fn(&[u8]),
) -> Result<Answer, UpstreamError> {
    let mut headers = vec![
        ("Content-Type", "application/json".to_string()),
        ("Accept", "application/json, text/event-stream".to_string()),
        (super::ASSERTION_HEADER, assertion.to_string()),
    ];
    if let Some(s) = session {
        headers.push(("MCP-Protocol-Version", s.version.clone()));
        if let Some(id) = &s.id {
            headers.push(("Mcp-Session-Id", id.clone()));
        }
        if s.version == STATELESS {
            // 2026-07-28 repeats the method and its name in headers, from the body this
            // Worker wrote (so a renamed tool's header names the upstream's own name).
            if let Some(method) = body["method"].as_str() {
                headers.push((
                    "Mcp-Method",
                    crate::wire::headers::encode_header_value(method),
                ));
                let name = match method {
                    "tools/call" | "prompts/get" => body.pointer("/params/name"),
                    "resources/read" => body.pointer("/params/uri"),
                    _ => None,
                }
                .and_then(Value::as_str);
                if let Some(name) = name {
                    headers.push(("Mcp-Name", crate::wire::headers::encode_header_value(name)));
                }
            }
        }
    }
    let out = Outbound {
        headers,
        body: body.to_string(),
    };
    let answer = transport
        .send(upstream, out, chunk)
        .await
        .map_err(|e| match e {
            TransportError::Timeout => UpstreamError::Timeout(upstream.timeout_ms),
            TransportError::TooLarge => UpstreamError::TooLarge,
            TransportError::Unreachable(_) => UpstreamError::Unreachable,
        })?;
    match answer.status {
        200..=299 => Ok(answer),
        404 if session.is_some_and(|s| s.id.is_some()) => Err(UpstreamError::SessionGone),
        s => Err(UpstreamError::Status(s)),
    }
}

/// The response to request 1 (or 0, for initialize) in a JSON or event-stream answer.
fn response(answer: Answer) -> Result<Reply, UpstreamError> {
    let messages = if answer.content_type.starts_with("text/event-stream") {
        sse_messages(&answer.body)?
    } else if answer.content_type.starts_with("application/json") {
        vec![crate::json::parse(&answer.body)
            .map_err(|_| UpstreamError::NotMcp("its answer is not JSON"))?]
    } else {
        return Err(UpstreamError::NotMcp(
            "its answer is neither JSON nor an event stream",
        ));
    };
    let mut notifications = Vec::new();
    for m in messages {
        if m.get("method").is_some() && m.get("id").is_none() {
            notifications.push(m);
            continue;
        }
        if let Some(e) = m.get("error") {
            let code = e.get("code").and_then(Value::as_i64).unwrap_or(0);
            return Err(UpstreamError::Rpc(code));
        }
        if let Some(Value::Object(result)) = m.get("result") {
            let mut result = result.clone();
            // 2026-07-28's envelope is the upstream's, not the client's: this Worker
            // writes its own. A result that asks for more input cannot be relayed.
            match result.remove("resultType") {
                None => {}
                Some(t) if t == "complete" => {}
                Some(_) => {
                    return Err(UpstreamError::NotMcp(
                        "it asked for input the gateway cannot relay",
                    ))
                }
            }
            // A `_meta` that is not an object is not one.
            match result.get_mut("_meta") {
                Some(Value::Object(meta)) => {
                    meta.remove("io.modelcontextprotocol/serverInfo");
                    if meta.is_empty() {
                        result.remove("_meta");
                    }
                }
                Some(_) => {
                    result.remove("_meta");
                }
                None => {}
            }
            return Ok(Reply {
                result,
                notifications,
            });
        }
    }
    Err(UpstreamError::NotMcp("it sent no response"))
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
