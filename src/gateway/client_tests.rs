//! Tests of `client`.

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

fn json_answer(status: u16, body: Value, session: Option<&str>) -> Result<Answer, TransportError> {
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
