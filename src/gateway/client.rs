//! The gateway's MCP client: JSON-RPC to one upstream over Streamable HTTP, behind a
//! `Transport` the edge implements with `fetch` or a service binding. It speaks each
//! upstream's era: 2026-07-28 without a session when the upstream's `server/discover`
//! offers it, else 2025-06-18 with the upstream's session (per isolate and per person,
//! never shared between people, opened again when the upstream forgets it with a 404).
//! Answers are read as JSON or as an event stream. Every answer is untrusted: bounded,
//! parsed strictly, and reduced to an `UpstreamError` in our own words.

use super::config::Upstream;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

/// The session-era revision the gateway speaks to upstreams; the SDKs' servers all
/// accept it.
pub const UPSTREAM_VERSION: &str = "2025-06-18";
/// The stateless revision, spoken to an upstream whose `server/discover` lists it.
use crate::wire::version::STATELESS;
/// The largest answer read from an upstream.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

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

/// Splits an event stream into its JSON messages as its chunks arrive (WHATWG HTML
/// §9.2.6: `data` lines, an empty line ends the event). An event that is not JSON (or
/// not UTF-8) is skipped and marks the answer unusable, which `sse_messages` reports
/// once the whole answer is in.
#[derive(Default)]
pub struct EventReader {
    line: Vec<u8>,
    data: String,
    unusable: bool,
}

/// A line longer than this is not an MCP event this reader will wait for.
const MAX_LINE: usize = MAX_ANSWER_BYTES;

impl EventReader {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Value> {
        let mut out = Vec::new();
        for &b in chunk {
            if b != b'\n' {
                if self.line.len() < MAX_LINE {
                    self.line.push(b);
                } else {
                    self.unusable = true;
                }
                continue;
            }
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.is_empty() {
                if !self.data.is_empty() {
                    match crate::json::parse(self.data.as_bytes()) {
                        Ok(v) => out.push(v),
                        Err(_) => self.unusable = true,
                    }
                    self.data.clear();
                }
            } else if let Some(d) = line.strip_prefix(b"data:") {
                let d = d.strip_prefix(b" ").unwrap_or(d);
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                match std::str::from_utf8(d) {
                    Ok(text) => self.data.push_str(text),
                    Err(_) => self.unusable = true,
                }
            }
        }
        out
    }
}

/// Why an upstream gave no usable answer, in the gateway's words (never its body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    Timeout(u64),
    Unreachable,
    TooLarge,
    Status(u16),
    NotMcp(&'static str),
    /// A JSON-RPC error answer, by code.
    Rpc(i64),
    /// The upstream forgot its session (404); handled inside this module.
    SessionGone,
}

impl UpstreamError {
    pub fn describe(&self, upstream: &str) -> String {
        match self {
            UpstreamError::Timeout(ms) => {
                format!("The upstream '{upstream}' did not answer within {ms} ms.")
            }
            UpstreamError::Unreachable => format!("The upstream '{upstream}' cannot be reached."),
            UpstreamError::TooLarge => format!(
                "The upstream '{upstream}' sent more than {} MiB.",
                MAX_ANSWER_BYTES >> 20
            ),
            UpstreamError::Status(s) => {
                format!("The upstream '{upstream}' failed: it answered HTTP {s}.")
            }
            UpstreamError::NotMcp(why) => {
                format!("The upstream '{upstream}' did not answer in MCP: {why}.")
            }
            UpstreamError::Rpc(code) => {
                format!("The upstream '{upstream}' refused the request (JSON-RPC error {code}).")
            }
            UpstreamError::SessionGone => {
                format!("The upstream '{upstream}' lost its session twice in a row.")
            }
        }
    }

    /// A short word for the audit log and the Worker's log.
    pub fn outcome(&self) -> &'static str {
        match self {
            UpstreamError::Timeout(_) => "timeout",
            UpstreamError::Unreachable => "unreachable",
            UpstreamError::TooLarge => "too_large",
            UpstreamError::Status(_) => "http_error",
            UpstreamError::NotMcp(_) => "not_mcp",
            UpstreamError::Rpc(_) => "rpc_error",
            UpstreamError::SessionGone => "session_lost",
        }
    }
}

/// An upstream session: its id (`None` for a stateless upstream) and revision.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Session {
    id: Option<String>,
    version: String,
}

/// Sessions kept per isolate, by (upstream, person); the oldest goes past the bound.
const MAX_SESSIONS: usize = 256;

thread_local! {
    static SESSIONS: RefCell<Vec<((String, String), Session)>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// Upstreams known to speak 2026-07-28 (`true`) or only the session era (`false`),
    /// so `server/discover` is asked once per upstream and isolate.
    static ERAS: RefCell<Vec<(String, bool)>> = const { RefCell::new(Vec::new()) };
}

fn known_era(upstream: &str) -> Option<bool> {
    ERAS.with(|e| {
        e.borrow()
            .iter()
            .find(|(u, _)| u == upstream)
            .map(|(_, s)| *s)
    })
}

fn keep_era(upstream: &str, stateless: bool) {
    ERAS.with(|e| {
        let mut e = e.borrow_mut();
        e.retain(|(u, _)| u != upstream);
        e.push((upstream.to_string(), stateless));
    });
}

fn cached_session(upstream: &str, user: &str) -> Option<Session> {
    SESSIONS.with(|s| {
        s.borrow()
            .iter()
            .find(|((u, p), _)| u == upstream && p == user)
            .map(|(_, v)| v.clone())
    })
}

fn keep_session(upstream: &str, user: &str, session: Session) {
    SESSIONS.with(|s| {
        let mut s = s.borrow_mut();
        s.retain(|((u, p), _)| !(u == upstream && p == user));
        if s.len() >= MAX_SESSIONS {
            s.remove(0);
        }
        s.push(((upstream.to_string(), user.to_string()), session));
    });
}

fn forget_session(upstream: &str, user: &str) {
    SESSIONS.with(|s| {
        s.borrow_mut()
            .retain(|((u, p), _)| !(u == upstream && p == user))
    });
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
        json!({}),
    );
    crate::json::set(meta, "io.modelcontextprotocol/clientInfo", client_info());
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
            "capabilities": {},
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

/// The JSON messages of a whole event-stream answer; an event that is not JSON makes
/// the whole answer unusable.
fn sse_messages(body: &[u8]) -> Result<Vec<Value>, UpstreamError> {
    let mut reader = EventReader::default();
    let mut out = reader.push(body);
    // The last event may end with the stream rather than with its blank line.
    out.extend(reader.push(b"\n\n"));
    if reader.unusable {
        return Err(UpstreamError::NotMcp("an event is not JSON"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::config::{Target, DEFAULT_TIMEOUT_MS};

    fn upstream(name: &str) -> Upstream {
        Upstream {
            name: name.into(),
            target: Target::Url("https://a.example/mcp".into()),
            credential: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            tools: vec!["*".into()],
            scopes: vec![],
            prefix: None,
        }
    }

    /// A scripted upstream: answers in order, and records every request.
    struct Script {
        answers: RefCell<Vec<Result<Answer, TransportError>>>,
        seen: RefCell<Vec<Outbound>>,
    }

    impl Transport for Script {
        fn send<'a>(
            &'a self,
            _: &'a Upstream,
            out: Outbound,
            chunk: &'a dyn Fn(&[u8]),
        ) -> SendFuture<'a> {
            self.seen.borrow_mut().push(out);
            let next = self.answers.borrow_mut().remove(0);
            // As the edge does: an event stream's bytes go by as they are read.
            if let Ok(a) = &next {
                if a.content_type.starts_with("text/event-stream") {
                    for piece in a.body.chunks(7) {
                        chunk(piece);
                    }
                }
            }
            Box::pin(async move { next })
        }
    }

    fn json_answer(
        status: u16,
        body: Value,
        session: Option<&str>,
    ) -> Result<Answer, TransportError> {
        Ok(Answer {
            status,
            content_type: "application/json".into(),
            session_id: session.map(str::to_string),
            body: body.to_string().into_bytes(),
        })
    }

    fn init_ok(session: &str) -> Result<Answer, TransportError> {
        json_answer(
            200,
            json!({"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18","capabilities":{}}}),
            Some(session),
        )
    }

    /// A session-era server's answer to `server/discover` without a session.
    fn no_discover() -> Result<Answer, TransportError> {
        json_answer(
            400,
            json!({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: Server not initialized"}}),
            None,
        )
    }

    fn accepted() -> Result<Answer, TransportError> {
        Ok(Answer {
            status: 202,
            ..Answer::default()
        })
    }

    fn run<T>(f: impl Future<Output = T>) -> T {
        crate::store::memory::block_on(f)
    }

    /// A `tools/list` through the scripted upstream for `user`.
    fn list(script: &Script, u: &Upstream, user: &str) -> Result<Reply, UpstreamError> {
        run(request(
            script,
            u,
            user,
            "A",
            "tools/list",
            json!({}),
            &|_| {},
        ))
    }

    #[test]
    fn opens_a_session_then_reopens_it_when_the_upstream_forgets_it() {
        let u = upstream("forgetful");
        let script = Script {
            answers: RefCell::new(vec![
                no_discover(),
                init_ok("s1"),
                accepted(),
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":1,"result":{"tools":[]}}),
                    None,
                ),
                json_answer(404, json!({}), None),
                init_ok("s2"),
                accepted(),
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":1,"result":{"tools":[1]}}),
                    None,
                ),
            ]),
            seen: RefCell::default(),
        };
        assert_eq!(
            list(&script, &u, "alice").unwrap().result["tools"],
            json!([])
        );
        assert_eq!(
            list(&script, &u, "alice").unwrap().result["tools"],
            json!([1])
        );
        let seen = script.seen.borrow();
        let header = |i: usize, name: &str| {
            seen[i]
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header(0, "Mcp-Method").as_deref(), Some("server/discover"));
        assert_eq!(header(3, "Mcp-Session-Id").as_deref(), Some("s1"));
        assert_eq!(header(7, "Mcp-Session-Id").as_deref(), Some("s2"));
        assert_eq!(header(1, "Mcp-Session-Id"), None);
        assert_eq!(
            header(3, "Mcp-Method"),
            None,
            "session-era requests have none"
        );
        assert_eq!(
            header(3, super::super::ASSERTION_HEADER).as_deref(),
            Some("A")
        );
        assert_eq!(seen.len(), 8, "server/discover is asked once per upstream");
        // Only the headers the gateway chose.
        assert!(seen.iter().all(|o| o.headers.iter().all(|(n, _)| [
            "Content-Type",
            "Accept",
            "MCP-Protocol-Version",
            "Mcp-Session-Id",
            "Mcp-Method",
            super::super::ASSERTION_HEADER
        ]
        .contains(n))));
    }

    #[test]
    fn speaks_2026_07_28_without_a_session_to_an_upstream_that_offers_it() {
        let u = upstream("modern");
        let script = Script {
            answers: RefCell::new(vec![
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":0,"result":{"supportedVersions":["2025-11-25","2026-07-28"],"capabilities":{},"resultType":"complete"}}),
                    None,
                ),
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":1,"result":{"content":[],"resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"x"}}}}),
                    None,
                ),
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","inputRequests":{}}}),
                    None,
                ),
            ]),
            seen: RefCell::default(),
        };
        let params = json!({"name": "café", "arguments": {}, "_meta": {"progressToken": 3}});
        let r = run(request(
            &script,
            &u,
            "alice",
            "A",
            "tools/call",
            params.clone(),
            &|_| {},
        ))
        .unwrap();
        assert_eq!(
            Value::Object(r.result),
            json!({"content": []}),
            "the upstream's envelope is not passed on"
        );
        let e = run(request(
            &script,
            &u,
            "alice",
            "A",
            "tools/call",
            params,
            &|_| {},
        ))
        .unwrap_err();
        assert!(matches!(e, UpstreamError::NotMcp(_)));
        let seen = script.seen.borrow();
        assert_eq!(seen.len(), 3, "no initialize, no session");
        let header = |i: usize, name: &str| {
            seen[i]
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header(1, "MCP-Protocol-Version").as_deref(),
            Some("2026-07-28")
        );
        assert_eq!(header(1, "Mcp-Method").as_deref(), Some("tools/call"));
        assert_eq!(
            header(1, "Mcp-Name")
                .as_deref()
                .and_then(crate::wire::headers::decode_header_value)
                .as_deref(),
            Some("café")
        );
        assert_eq!(header(1, "Mcp-Session-Id"), None);
        let body: Value = serde_json::from_str(&seen[1].body).unwrap();
        assert_eq!(
            body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert_eq!(
            body["params"]["_meta"]["progressToken"], 3,
            "the request's own _meta is kept"
        );
    }

    #[test]
    fn an_upstream_envelope_is_not_passed_on_whatever_its_shape() {
        for meta in [
            json!("x"),
            json!(1),
            json!([]),
            json!({"io.modelcontextprotocol/serverInfo": {}}),
        ] {
            let answer = json_answer(
                200,
                json!({"jsonrpc":"2.0","id":1,"result":{"content":[],"_meta":meta}}),
                None,
            );
            let reply = response(answer.unwrap()).unwrap();
            assert!(!reply.result.contains_key("_meta"), "{meta}");
        }
        let kept = json_answer(
            200,
            json!({"jsonrpc":"2.0","id":1,"result":{"content":[],"_meta":{"a":1}}}),
            None,
        );
        assert_eq!(
            response(kept.unwrap()).unwrap().result["_meta"],
            json!({"a": 1})
        );
    }

    #[test]
    fn only_a_protocol_answer_decides_the_era() {
        let u = upstream("picky");
        // A refusal of this caller (403) decides nothing: the session era is tried this
        // once, and the next caller's first request asks again.
        let script = Script {
            answers: RefCell::new(vec![
                json_answer(403, json!({}), None),
                init_ok("s"),
                accepted(),
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":1,"result":{"tools":[]}}),
                    None,
                ),
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":0,"result":{"supportedVersions":["2026-07-28"]}}),
                    None,
                ),
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":1,"result":{"tools":[2]}}),
                    None,
                ),
            ]),
            seen: RefCell::default(),
        };
        list(&script, &u, "alice").unwrap();
        assert_eq!(known_era("picky"), None);
        let r = list(&script, &u, "bob").unwrap();
        assert_eq!(r.result["tools"], json!([2]));
        assert_eq!(known_era("picky"), Some(true));
    }

    #[test]
    fn the_event_reader_splits_events_across_chunks() {
        let text = "event: message\r\ndata: {\"a\":\n: a comment\ndata: 1}\r\n\r\ndata: not json\n\ndata: {\"b\":2}\n\n";
        for size in [1, 2, 5, 64] {
            let mut reader = EventReader::default();
            let got: Vec<Value> = text
                .as_bytes()
                .chunks(size)
                .flat_map(|c| reader.push(c))
                .collect();
            assert_eq!(
                got,
                vec![json!({"a": 1}), json!({"b": 2})],
                "chunks of {size}"
            );
        }
        // A whole answer: its last event may end with the stream; a bad event spoils it.
        assert_eq!(
            sse_messages(b"data: {\"c\":3}").unwrap(),
            vec![json!({"c": 3})]
        );
        assert!(sse_messages(b"data: {\"c\":3}\n\ndata: nope\n\n").is_err());
        assert!(sse_messages(b"data: {\"c\":\"\xff\"}\n\n").is_err());
    }

    #[test]
    fn event_streams_and_failures() {
        let u = upstream("streamer");
        let stream = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n\
                      data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}\n\n";
        let script = Script {
            answers: RefCell::new(vec![
                no_discover(),
                init_ok("s"),
                accepted(),
                Ok(Answer {
                    status: 200,
                    content_type: "text/event-stream".into(),
                    session_id: None,
                    body: stream.as_bytes().to_vec(),
                }),
                json_answer(500, json!({"secret":"stack trace"}), None),
                init_ok("s"),
                accepted(),
                Err(TransportError::Timeout),
                init_ok("s"),
                accepted(),
                Ok(Answer {
                    status: 200,
                    content_type: "text/html".into(),
                    session_id: None,
                    body: b"<html>".to_vec(),
                }),
                json_answer(
                    200,
                    json!({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"m"}}),
                    None,
                ),
            ]),
            seen: RefCell::default(),
        };
        let live = RefCell::new(Vec::new());
        let call = || {
            run(request(
                &script,
                &u,
                "bob",
                "A",
                "tools/call",
                json!({}),
                &|n| live.borrow_mut().push(n.clone()),
            ))
        };
        let r = call().unwrap();
        assert_eq!(r.notifications.len(), 1);
        assert_eq!(
            live.borrow().len(),
            1,
            "the progress went by as it was read"
        );
        assert_eq!(live.borrow()[0]["params"]["progress"], 1);
        assert_eq!(call().unwrap_err(), UpstreamError::Status(500));
        assert_eq!(
            call().unwrap_err(),
            UpstreamError::Timeout(DEFAULT_TIMEOUT_MS)
        );
        assert!(matches!(call().unwrap_err(), UpstreamError::NotMcp(_)));
        let e = call().unwrap_err();
        assert_eq!(e, UpstreamError::Rpc(-32602));
        assert!(!e.describe("streamer").contains("m\""));
        assert!(!UpstreamError::Status(500).describe("x").contains("stack"));
    }
}
