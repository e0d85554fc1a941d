//! MCP's wire vocabulary, which the server (`mcp`) and the gateway (a client of upstream
//! MCP servers) both speak: protocol revisions, JSON-RPC error codes, header encoding,
//! progress notifications and tool-error results. A leaf, so neither room depends on the
//! other for it.

pub mod error;
pub mod headers;
pub mod progress;
pub mod version;

use serde_json::{json, Value};

pub fn tool_failure(message: &str) -> Value {
    json!({ "content": [{ "type": "text", "text": message }], "isError": true })
}
