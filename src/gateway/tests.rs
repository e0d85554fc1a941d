//! The gateway under an outage, natively: a configured upstream's names keep routing to
//! it when it cannot be listed (the call reports the outage and is recorded for the audit
//! log), an upstream found down is not asked again for a while, and lists answer from the
//! upstreams that work.

use super::client::{Answer, Outbound, SendFuture, Transport, TransportError};
use super::config::{Target, Upstream, DEFAULT_TIMEOUT_MS};
use super::remembered::DOWN_FOR_MS;
use super::{Gateway, Route, SignFuture, Signer};
use crate::wire::version::STATELESS;
use serde_json::{json, Value};
use std::cell::RefCell;

fn upstream(name: &str, prefix: Option<&str>) -> Upstream {
    Upstream {
        name: name.into(),
        target: Target::Url(format!("https://{name}.example/mcp")),
        credential: None,
        timeout_ms: DEFAULT_TIMEOUT_MS,
        tools: vec!["*".into()],
        scopes: vec![],
        prefix: prefix.map(str::to_string),
    }
}

/// Upstreams that answer in the stateless era with one tool, `ping`, and one prompt,
/// `greet`; those named in `down` cannot be reached. Every request is recorded.
#[derive(Default)]
struct Fake {
    down: RefCell<Vec<String>>,
    seen: RefCell<Vec<(String, String)>>,
}

impl Fake {
    fn asked(&self, upstream: &str) -> usize {
        self.seen
            .borrow()
            .iter()
            .filter(|(u, _)| u == upstream)
            .count()
    }
}

impl Transport for Fake {
    fn send<'a>(
        &'a self,
        upstream: &'a Upstream,
        out: Outbound,
        _: &'a dyn Fn(&[u8]),
    ) -> SendFuture<'a> {
        let body: Value = serde_json::from_str(&out.body).unwrap_or_default();
        let method = body["method"].as_str().unwrap_or_default().to_string();
        self.seen
            .borrow_mut()
            .push((upstream.name.clone(), method.clone()));
        if self.down.borrow().contains(&upstream.name) {
            return Box::pin(async { Err(TransportError::Unreachable("refused".into())) });
        }
        let result = match method.as_str() {
            "server/discover" => json!({ "supportedVersions": [STATELESS] }),
            // Kept for a second: the tests move the clock past it.
            "tools/list" => json!({
                "tools": [{ "name": "ping", "inputSchema": { "type": "object" } }],
                "ttlMs": 1000
            }),
            "prompts/list" => json!({ "prompts": [{ "name": "greet" }] }),
            "resources/list" => {
                json!({ "resources": [{ "uri": format!("{}://home", upstream.name), "name": "home" }] })
            }
            "resources/templates/list" => json!({ "resourceTemplates": [] }),
            _ => json!({ "content": [{ "type": "text", "text": "pong" }] }),
        };
        let answer = json!({ "jsonrpc": "2.0", "id": body["id"], "result": result });
        Box::pin(async move {
            Ok(Answer {
                status: 200,
                content_type: "application/json".into(),
                session_id: None,
                body: answer.to_string().into_bytes(),
            })
        })
    }
}

struct NoSigner;

impl Signer for NoSigner {
    fn assertion<'a>(&'a self, _: &'a str) -> SignFuture<'a> {
        Box::pin(async { Ok("assertion".to_string()) })
    }
}

fn gateway<'a>(upstreams: &'a [Upstream], fake: &'a Fake, now_ms: u64) -> Gateway<'a> {
    Gateway {
        upstreams,
        catalog: &crate::mcp::tools::tests::DEFAULT_CATALOG,
        transport: fake,
        signer: &NoSigner,
        user: "alice",
        now_ms,
        calls: RefCell::new(Vec::new()),
        failures: RefCell::new(Vec::new()),
    }
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    crate::store::memory::block_on(f)
}

#[test]
fn a_prefixed_name_reports_its_upstreams_outage_and_is_recorded() {
    let ups = [
        upstream("flaky", Some("flaky_")),
        upstream("ok", Some("ok_")),
    ];
    let fake = Fake::default();
    fake.down.borrow_mut().push("flaky".into());
    let gw = gateway(&ups, &fake, 1_000);
    let Route::Down(u, e) = run(gw.find("flaky_ping")) else {
        panic!("a name with the prefix of an upstream that is down is that upstream's");
    };
    assert_eq!(u.name, "flaky");
    let result = gw.unreachable(u, "flaky_ping", &e);
    assert_eq!(result["isError"], true);
    assert!(result["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("'flaky' cannot be reached"));
    let calls = gw.calls.borrow();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].tool.as_str(), calls[0].outcome),
        ("flaky_ping", "unreachable")
    );
    // Names no upstream that answered has are unknown; a healthy upstream's are found.
    assert!(matches!(run(gw.find("ok_nothing")), Route::Unknown));
    assert!(matches!(run(gw.find("other")), Route::Unknown));
    assert!(matches!(run(gw.find("ok_ping")), Route::Tool(u, _) if u.name == "ok"));
}

#[test]
fn the_only_upstream_owns_every_name_while_it_is_down() {
    let ups = [upstream("solo", None)];
    let fake = Fake::default();
    fake.down.borrow_mut().push("solo".into());
    let gw = gateway(&ups, &fake, 1_000);
    assert!(matches!(run(gw.find("ping")), Route::Down(u, _) if u.name == "solo"));
    let prompt = run(gw.prompt("greet", json!({})));
    assert!(matches!(prompt, Some((name, Err(_))) if name == "solo"));
    let read = run(gw.read("file:///a.txt"));
    assert!(matches!(read, Some((name, Err(_))) if name == "solo"));
    // Each is recorded for the audit log.
    assert_eq!(gw.calls.borrow().len(), 2);
}

#[test]
fn an_upstream_found_down_is_not_asked_again_for_a_while() {
    let ups = [
        upstream("flaky", Some("flaky_")),
        upstream("ok", Some("ok_")),
    ];
    let fake = Fake::default();
    fake.down.borrow_mut().push("flaky".into());
    let first = gateway(&ups, &fake, 1_000);
    let tools = run(first.tools(true));
    assert_eq!(
        tools.iter().map(|t| t.exposed.as_str()).collect::<Vec<_>>(),
        ["ok_ping"]
    );
    let asked = fake.asked("flaky");
    assert!(asked >= 1);
    // Within DOWN_FOR_MS: the list answers at once from the healthy upstream, and the
    // one that is down is not asked (not even for its prompts or a call).
    let later = gateway(&ups, &fake, 1_000 + DOWN_FOR_MS - 1);
    assert_eq!(run(later.tools(true)).len(), 1);
    assert!(run(later.prompts())
        .iter()
        .all(|p| p.exposed.starts_with("ok_")));
    assert!(matches!(run(later.find("flaky_ping")), Route::Down(..)));
    assert_eq!(fake.asked("flaky"), asked);
    // After it, the upstream is asked again, and once it answers its tools are back.
    fake.down.borrow_mut().clear();
    let after = gateway(&ups, &fake, 1_000 + DOWN_FOR_MS + 1);
    assert_eq!(run(after.tools(true)).len(), 2);
    assert!(fake.asked("flaky") > asked);
}

#[test]
fn a_resource_last_listed_by_an_upstream_that_is_down_reports_the_outage() {
    let ups = [
        upstream("flaky", Some("flaky_")),
        upstream("ok", Some("ok_")),
    ];
    let fake = Fake::default();
    let first = gateway(&ups, &fake, 1_000);
    assert_eq!(run(first.resources()).len(), 2);
    // Past the lists' minute, with the upstream down: its URI reports the outage (and is
    // recorded), a URI no upstream listed is not found, the other upstream's still reads.
    fake.down.borrow_mut().push("flaky".into());
    let later = gateway(&ups, &fake, 1_000 + 120_000);
    let read = run(later.read("flaky://home"));
    assert!(matches!(read, Some((name, Err(_))) if name == "flaky"));
    assert!(run(later.read("unknown://thing")).is_none());
    assert!(matches!(run(later.read("ok://home")), Some((name, Err(_))) if name == "ok"));
    assert_eq!(later.calls.borrow().len(), 2);
}

#[test]
fn a_failing_tool_call_does_not_take_the_upstream_from_everyone() {
    use crate::wire::progress::Progress;
    let ups = [
        upstream("flaky", Some("flaky_")),
        upstream("ok", Some("ok_")),
    ];
    let fake = Fake::default();
    let gw = gateway(&ups, &fake, 1_000);
    let Route::Tool(u, tool) = run(gw.find("flaky_ping")) else {
        panic!("flaky_ping is listed");
    };
    // The call fails (say, for its arguments): the upstream stays in everyone's lists.
    fake.down.borrow_mut().push("flaky".into());
    let result = run(gw.call(u, &tool, json!({}), &Progress::default()));
    assert_eq!(result["isError"], true);
    fake.down.borrow_mut().clear();
    let asked = fake.asked("flaky");
    // Past the list's second, well within DOWN_FOR_MS: asked again all the same.
    let later = gateway(&ups, &fake, 1_000 + 2_000);
    assert_eq!(run(later.tools(true)).len(), 2);
    assert!(fake.asked("flaky") > asked, "the list was asked for again");
}
