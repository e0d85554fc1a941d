//! JSON-RPC 2.0 messages as MCP uses them: a body is one message or (at revision
//! 2025-03-26 only) a batch; ids are strings or integers, never null; params are objects.

use super::error::RpcError;
use crate::json::JsonError;
use serde_json::{json, Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Request {
        id: Value,
        method: String,
        params: Map<String, Value>,
    },
    Notification {
        method: String,
    },
    /// A client's answer to a server request; this server sends none, so it is ignored.
    Response,
}

impl Message {
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request { method, .. } | Message::Notification { method } => Some(method),
            Message::Response => None,
        }
    }
}

/// What a POST body held.
#[derive(Debug, PartialEq)]
pub enum Body {
    Single(Value),
    Batch(Vec<Value>),
}

/// Parses the bytes of a POST body: not JSON is a parse error; an object that repeats a
/// key (two `method`s, two `id`s), an empty array, or a value that is neither an object
/// nor an array is an invalid request.
pub fn parse_body(bytes: &[u8]) -> Result<Body, RpcError> {
    let value = crate::json::parse(bytes).map_err(|e| match e {
        JsonError::Syntax => RpcError::parse_error(),
        e @ JsonError::DuplicateKey(_) => RpcError::invalid_request(e.to_string()),
    })?;
    match value {
        Value::Array(items) if items.is_empty() => Err(RpcError::invalid_request("an empty batch")),
        Value::Array(items) => Ok(Body::Batch(items)),
        Value::Object(_) => Ok(Body::Single(value)),
        _ => Err(RpcError::invalid_request("the body must be a JSON object")),
    }
}

/// The id of a message, if it has a usable one, for answering an invalid message.
pub fn id_of(value: &Value) -> Value {
    match value.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    }
}

/// Classifies one message, checking what JSON-RPC and MCP require of it.
pub fn parse_message(value: &Value) -> Result<Message, RpcError> {
    let Some(obj) = value.as_object() else {
        return Err(RpcError::invalid_request("a message must be a JSON object"));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::invalid_request("\"jsonrpc\" must be \"2.0\""));
    }
    let Some(method) = obj.get("method") else {
        return match (obj.get("id"), obj.get("result").or(obj.get("error"))) {
            (Some(_), Some(_)) => Ok(Message::Response),
            _ => Err(RpcError::invalid_request("\"method\" is missing")),
        };
    };
    let Some(method) = method.as_str() else {
        return Err(RpcError::invalid_request("\"method\" must be a string"));
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        // A well-formed request whose parameters are not MCP's by-name object: JSON-RPC's
        // invalid params (§5.1), answered with the request's id.
        Some(_) => return Err(RpcError::invalid_params("\"params\" must be an object")),
    };
    match obj.get("id") {
        None => Ok(Message::Notification {
            method: method.to_string(),
        }),
        Some(id @ Value::String(_)) => Ok(Message::Request {
            id: id.clone(),
            method: method.to_string(),
            params,
        }),
        Some(id @ Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Message::Request {
            id: id.clone(),
            method: method.to_string(),
            params,
        }),
        Some(_) => Err(RpcError::invalid_request(
            "\"id\" must be a string or an integer",
        )),
    }
}

pub fn success(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Message, RpcError> {
        parse_message(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_body(b"{").unwrap_err().code, -32700);
        assert_eq!(parse_body(b"[]").unwrap_err().code, -32600);
        assert_eq!(parse_body(b"3").unwrap_err().code, -32600);
        assert!(matches!(parse_body(b"[{}]"), Ok(Body::Batch(v)) if v.len() == 1));
        assert!(matches!(parse_body(b"{}"), Ok(Body::Single(_))));
        let twice = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}"#;
        assert_eq!(parse_body(twice).unwrap_err().code, -32600);
        let nested = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"a":1,"a":2}}}"#;
        assert_eq!(parse_body(nested).unwrap_err().code, -32600);
    }

    #[test]
    fn requests_notifications_and_responses() {
        let m = parse(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).unwrap();
        assert!(matches!(m, Message::Request { ref method, .. } if method == "ping"));
        let m = parse(r#"{"jsonrpc":"2.0","id":"a","method":"x","params":{"k":1}}"#).unwrap();
        assert!(matches!(m, Message::Request { ref params, .. } if params["k"] == 1));
        let m = parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(m.method(), Some("notifications/initialized"));
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#).unwrap(),
            Message::Response
        );
    }

    #[test]
    fn invalid_messages() {
        for bad in [
            r#"{"id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":3}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
        ] {
            assert_eq!(parse(bad).unwrap_err().code, -32600, "{bad}");
        }
        for params in ["[1]", "\"x\"", "3", "true"] {
            let text =
                format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{params}}}"#);
            assert_eq!(parse(&text).unwrap_err().code, -32602, "{params}");
        }
        let v: Value = serde_json::from_str(r#"{"jsonrpc":"1","id":"q"}"#).unwrap();
        assert_eq!(id_of(&v), json!("q"));
    }
}
