//! The legacy HTTP+SSE transport (MCP 2024-11-05, "Transports: HTTP with SSE"): the client
//! opens an event stream with `GET /sse`, whose first event, `endpoint`, names the URL to
//! POST its messages to; every answer then arrives on the stream as a `message` event.
//! This file holds the wire format and the session ids; the edge (`http::sse`) and the
//! Durable Object (`http::sse_session`) do the rest.

use crate::encoding::{b64url, random_bytes};

/// A comment line: ignored by clients, it keeps proxies from closing a quiet stream.
pub const KEEPALIVE: &str = ": keep-alive\n\n";
/// The last line of a stream closed for being idle; the client may reconnect.
pub const IDLE_CLOSE: &str = ": idle, closing\n\n";

/// A new session id: 128 random bits, base64url (22 characters).
pub fn new_session_id() -> String {
    b64url(&random_bytes::<16>())
}

/// Whether `id` has the shape `new_session_id` makes (checked before any lookup).
pub fn is_session_id(id: &str) -> bool {
    id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where the client posts its messages: a path on this server, which the client resolves
/// against the stream's URL; beside the stream (`/sse` → `/messages`, `/mcp/sse` →
/// `/mcp/messages`).
pub fn endpoint_path(stream_path: &str, session_id: &str) -> String {
    let base = stream_path.strip_suffix("/sse").unwrap_or("");
    format!("{base}/messages?sessionId={session_id}")
}

pub fn endpoint_event(endpoint: &str) -> String {
    format!("event: endpoint\ndata: {endpoint}\n\n")
}

/// One JSON-RPC message (serialized on one line) as a `message` event.
pub fn message_event(json: &str) -> String {
    format!("event: message\ndata: {json}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_random_and_checked_by_shape() {
        let a = new_session_id();
        assert!(is_session_id(&a), "{a}");
        assert_ne!(a, new_session_id());
        assert!(!is_session_id("short"));
        assert!(!is_session_id(&"a".repeat(23)));
        assert!(!is_session_id("aaaaaaaaaaaaaaaaaaaa/a"));
        assert_eq!(endpoint_path("/sse", "abc"), "/messages?sessionId=abc");
        assert_eq!(
            endpoint_path("/mcp/sse", "abc"),
            "/mcp/messages?sessionId=abc"
        );
    }

    #[test]
    fn events_are_what_eventsource_reads() {
        assert_eq!(
            endpoint_event("/messages?sessionId=x"),
            "event: endpoint\ndata: /messages?sessionId=x\n\n"
        );
        assert_eq!(
            message_event(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
        );
        assert!(KEEPALIVE.starts_with(':') && IDLE_CLOSE.starts_with(':'));
    }
}
