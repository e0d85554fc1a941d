//! JSON-RPC 2.0 errors (§5.1) with the codes MCP uses, each rendered in one place. Tool
//! failures are not protocol errors: they are `isError: true` results (see `tools`).

use serde_json::{json, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP's code for a resource that does not exist (or is not the caller's).
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// MCP 2026-07-28: an HTTP header (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) is
/// missing or disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// MCP 2026-07-28: the request names a protocol version this server does not speak.
pub const UNSUPPORTED_VERSION: i64 = -32022;

#[derive(Clone, Debug, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn parse_error() -> Self {
        Self::new(PARSE_ERROR, "Parse error: the body is not valid JSON")
    }

    pub fn invalid_request(why: impl Into<String>) -> Self {
        Self::new(INVALID_REQUEST, format!("Invalid request: {}", why.into()))
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            METHOD_NOT_FOUND,
            format!("Method not found: {}", clip(method)),
        )
    }

    pub fn invalid_params(why: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, format!("Invalid params: {}", why.into()))
    }

    /// The operator's configuration cannot be used; the message names the setting, so
    /// whoever reads the client's error knows what to tell the operator.
    pub fn misconfigured(setting: &str) -> Self {
        Self::new(
            INTERNAL_ERROR,
            format!("Internal error: this server's configuration is not valid ({setting})"),
        )
    }

    /// An upstream behind the gateway failed; `message` says which and how, in this
    /// server's words. Its "not found" and "invalid params" answers keep their codes, so
    /// a client can tell them from an outage; anything else is -32603.
    pub fn upstream(code: Option<i64>, message: String) -> Self {
        let code = match code {
            Some(c @ (INVALID_PARAMS | RESOURCE_NOT_FOUND)) => c,
            _ => INTERNAL_ERROR,
        };
        Self::new(code, message)
    }

    /// A method the caller's token does not cover, where no HTTP status can say so (in a
    /// batch, on the legacy stream).
    pub fn scope_needed(scope: &str) -> Self {
        Self::new(
            INVALID_REQUEST,
            format!("Invalid request: this method needs a token with the scope {scope}"),
        )
    }

    /// The cause is logged by the edge, never sent.
    pub fn internal() -> Self {
        Self::new(INTERNAL_ERROR, "Internal error")
    }

    pub fn header_mismatch(why: impl Into<String>) -> Self {
        Self::new(HEADER_MISMATCH, format!("Header mismatch: {}", why.into()))
    }

    pub fn unsupported_version(requested: &str, supported: &[&str]) -> Self {
        RpcError {
            code: UNSUPPORTED_VERSION,
            message: format!("Unsupported protocol version: {}", clip(requested)),
            data: Some(json!({ "supported": supported, "requested": clip(requested) })),
        }
    }

    /// The HTTP status the transport answers this error with: the request itself was
    /// unusable (400), or it was understood and the error is its answer (200).
    pub fn http_status(&self) -> u16 {
        match self.code {
            PARSE_ERROR | INVALID_REQUEST | HEADER_MISMATCH | UNSUPPORTED_VERSION => 400,
            _ => 200,
        }
    }

    /// The error response object for request `id` (`null` when it is unknown).
    pub fn to_response(&self, id: &Value) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            crate::json::set(&mut error, "data", data.clone());
        }
        json!({ "jsonrpc": "2.0", "id": id, "error": error })
    }
}

/// Names echoed from a request are cut short: an error message must not carry a megabyte.
fn clip(text: &str) -> String {
    crate::util::text::truncate(text, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_render_with_their_code_and_status() {
        let e = RpcError::parse_error().to_response(&Value::Null);
        assert_eq!(e["error"]["code"], -32700);
        assert_eq!(e["id"], Value::Null);
        assert_eq!(RpcError::parse_error().http_status(), 400);
        assert_eq!(RpcError::method_not_found("x").http_status(), 200);
        let v = RpcError::unsupported_version("1999-01-01", &["2025-11-25"]);
        assert_eq!(
            v.to_response(&json!(1))["error"]["data"]["supported"][0],
            "2025-11-25"
        );
        assert_eq!(v.http_status(), 400);
        assert!(
            RpcError::method_not_found(&"m".repeat(10_000))
                .message
                .len()
                < 200
        );
    }
}
