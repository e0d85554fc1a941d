//! The official Rust MCP SDK's model types (rmcp) read what our server writes: the
//! `initialize` result, tool lists and results (success and tool error), resource lists
//! and reads, JSON-RPC success and error envelopes and progress notifications; and our
//! parser reads the requests rmcp's types write.

use crate::mcp::jsonrpc::{self, Message};
use crate::mcp::server::{Failure, Server};
use crate::mcp::tools::Progress;
use crate::store::memory::{block_on, MemoryNotes};
use crate::wire::error::RpcError;
use rmcp::model::{
    CallToolResult, ClientJsonRpcMessage, InitializeResult, ListResourcesResult, ListToolsResult,
    ReadResourceResult, ServerJsonRpcMessage,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

const VERSION: &str = "2025-06-18";

fn server(notes: &MemoryNotes) -> Server<'_> {
    crate::mcp::tools::tests::server(notes, "alice", &["mcp:read", "mcp:write"])
}

fn request(s: &Server, method: &str, params: Value) -> Value {
    let params: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
    match block_on(s.request(VERSION, method, &params, &Progress::default())) {
        Ok(v) => v,
        Err(Failure::Rpc(e)) => e.to_response(&json!(1)),
        Err(other) => panic!(
            "{method}: {}",
            match other {
                Failure::Internal(e) => e,
                Failure::Scope(s) => s.to_string(),
                Failure::SignIn(s) => s.scope,
                Failure::Rpc(_) => String::new(),
            }
        ),
    }
}

/// `value` read as rmcp's `T`, then written back: nothing rmcp knows is lost or changed.
fn reads_as<T: DeserializeOwned + serde::Serialize>(value: &Value, what: &str) -> T {
    let typed: T =
        serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{what}: {e}\n{value}"));
    let back = serde_json::to_value(&typed).unwrap();
    for key in back
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        assert_eq!(back[&key], value[&key], "{what}.{key} changed through rmcp");
    }
    typed
}

#[test]
fn rmcp_reads_our_results() {
    let notes = MemoryNotes::default();
    let s = server(&notes);
    let init: InitializeResult = reads_as(&s.initialize(VERSION), "initialize");
    assert!(init.capabilities.tools.is_some());
    let list: ListToolsResult =
        serde_json::from_value(request(&s, "tools/list", json!({}))).unwrap();
    assert!(list.tools.iter().any(|t| t.name == "memory_store"));
    let stored = request(
        &s,
        "tools/call",
        json!({"name": "memory_store", "arguments": {"text": "hello"}}),
    );
    let result: CallToolResult = reads_as(&stored, "tools/call");
    assert_eq!(result.is_error, Some(false));
    let refused = request(
        &s,
        "tools/call",
        json!({"name": "memory_store", "arguments": {"text": 5}}),
    );
    let result: CallToolResult = reads_as(&refused, "tools/call refused");
    assert_eq!(result.is_error, Some(true));
    let resources: ListResourcesResult =
        serde_json::from_value(request(&s, "resources/list", json!({}))).unwrap();
    let uri = resources.resources.first().map(|r| r.uri.clone()).unwrap();
    let read: ReadResourceResult =
        serde_json::from_value(request(&s, "resources/read", json!({ "uri": uri }))).unwrap();
    assert_eq!(read.contents.len(), 1);
}

#[test]
fn rmcp_reads_our_envelopes_and_notifications() {
    let ok = jsonrpc::success(&json!(7), json!({}));
    assert!(matches!(
        reads_as::<ServerJsonRpcMessage>(&ok, "success"),
        ServerJsonRpcMessage::Response(_)
    ));
    for e in [
        RpcError::parse_error(),
        RpcError::method_not_found("nope"),
        RpcError::invalid_params("bad"),
        RpcError::internal(),
    ] {
        let v = e.to_response(&json!("a"));
        assert!(matches!(
            reads_as::<ServerJsonRpcMessage>(&v, "error"),
            ServerJsonRpcMessage::Error(_)
        ));
    }
    let progress = Progress::for_token(Some(json!("tok")));
    progress.report(1, 3, "one of three");
    let sent = progress.take();
    let n: ServerJsonRpcMessage = serde_json::from_value(sent[0].clone()).unwrap();
    assert!(
        matches!(n, ServerJsonRpcMessage::Notification(_)),
        "{}",
        sent[0]
    );
}

#[test]
fn our_parser_reads_what_rmcp_writes() {
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "id": "x", "method": "tools/call", "params": {"name": "memory_store", "arguments": {"text": "hi"}}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"cursor": "abc"}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": "note://n1"}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ];
    for r in requests {
        let typed: ClientJsonRpcMessage =
            serde_json::from_value(r.clone()).unwrap_or_else(|e| panic!("{e}: {r}"));
        let written = serde_json::to_value(&typed).unwrap();
        let parsed =
            jsonrpc::parse_message(&written).unwrap_or_else(|e| panic!("{e:?}: {written}"));
        let method = match parsed {
            Message::Request { method, .. } | Message::Notification { method, .. } => method,
            other => panic!("{other:?}"),
        };
        assert_eq!(method, r["method"].as_str().unwrap());
    }
}
