//! The Streamable HTTP transport's rules that need no I/O: which era a POST belongs to,
//! the 2026-07-28 header and `_meta` checks (in the order the specification's
//! conformance suite expects), `Accept` and `Content-Type`, the `Origin` allow-list, the
//! 401 challenge, and Server-Sent Events framing.

use super::error::RpcError;
use super::version;
pub use crate::wire::headers::{decode_header_value, encode_header_value};
use serde_json::{Map, Value};

pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// The transport headers of a request, as sent.
#[derive(Default, Clone, Copy)]
pub struct McpHeaders<'a> {
    pub protocol_version: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub method: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// An HTTP answer that ends the request before any method runs.
#[derive(Debug, PartialEq)]
pub struct Rejection {
    pub status: u16,
    pub error: RpcError,
}

impl Rejection {
    pub fn new(status: u16, error: RpcError) -> Self {
        Rejection { status, error }
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Era {
    /// `initialize` and `Mcp-Session-Id` (2024-11-05 to 2025-11-25).
    Session,
    /// Every request names its revision (2026-07-28).
    Stateless,
}

/// Which era a single message belongs to. A request that carries the 2026 `_meta`
/// version, or the 2026 header, is served statelessly; anything else is a session-era
/// request. A header naming a revision we do not speak is refused here, in either era.
pub fn era(headers: &McpHeaders, params: Option<&Map<String, Value>>) -> Result<Era, Rejection> {
    let body_version = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(META_PROTOCOL_VERSION));
    if body_version.is_some() || headers.protocol_version == Some(version::STATELESS) {
        return Ok(Era::Stateless);
    }
    match headers.protocol_version {
        Some(v) if version::supported(v).is_none() => Err(Rejection::new(
            400,
            RpcError::unsupported_version(v, &version::ALL),
        )),
        _ => Ok(Era::Session),
    }
}

/// The 2026-07-28 checks of one request, in order: the per-request `_meta` fields
/// (-32602), the header's version against the body's (-32020), the version itself
/// (-32022), then `Mcp-Method` and `Mcp-Name` against the body (-32020).
pub fn check_stateless(
    headers: &McpHeaders,
    method: &str,
    params: &Map<String, Value>,
) -> Result<(), Rejection> {
    let meta = params.get("_meta").and_then(Value::as_object);
    let body_version = meta
        .and_then(|m| m.get(META_PROTOCOL_VERSION))
        .and_then(Value::as_str);
    let Some(body_version) = body_version else {
        return Err(Rejection::new(
            400,
            RpcError::invalid_params(format!("_meta[\"{META_PROTOCOL_VERSION}\"] is required")),
        ));
    };
    if !meta.is_some_and(|m| {
        m.get(META_CLIENT_CAPABILITIES)
            .is_some_and(Value::is_object)
    }) {
        return Err(Rejection::new(
            400,
            RpcError::invalid_params(format!(
                "_meta[\"{META_CLIENT_CAPABILITIES}\"] is required (an object)"
            )),
        ));
    }
    match headers.protocol_version {
        None => return Err(mismatch("the MCP-Protocol-Version header is required")),
        Some(h) if h != body_version => {
            return Err(mismatch(
                "MCP-Protocol-Version does not match _meta's protocolVersion",
            ))
        }
        Some(_) => {}
    }
    if body_version != version::STATELESS {
        // Session-era revisions are spoken through `initialize`, not per request.
        return Err(Rejection::new(
            400,
            RpcError::unsupported_version(body_version, &[version::STATELESS]),
        ));
    }
    match headers.method.map(decode_header_value) {
        None => return Err(mismatch("the Mcp-Method header is required")),
        Some(h) if h.as_deref() != Some(method) => {
            return Err(mismatch("Mcp-Method does not match the request's method"))
        }
        Some(_) => {}
    }
    let named = match method {
        "tools/call" | "prompts/get" => params.get("name"),
        "resources/read" => params.get("uri"),
        _ => None,
    };
    if let Some(named) = named {
        let expected = named.as_str().unwrap_or_default();
        match headers.name.map(decode_header_value) {
            None => return Err(mismatch("the Mcp-Name header is required for this method")),
            Some(h) if h.as_deref() != Some(expected) => {
                return Err(mismatch("Mcp-Name does not match the request's name"))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn mismatch(why: &str) -> Rejection {
    Rejection::new(400, RpcError::header_mismatch(why))
}

/// What the client's `Accept` allows: `None` when it allows neither JSON nor an event
/// stream (406). An absent header allows both.
pub fn accepts(accept: Option<&str>) -> Option<Accepts> {
    let Some(accept) = accept else {
        return Some(Accepts { sse: true });
    };
    let mut json = false;
    let mut sse = false;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        // `q=0` means "not acceptable".
        if parts.any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case("q=0") || p.eq_ignore_ascii_case("q=0.0")
        }) {
            continue;
        }
        match kind.as_str() {
            "application/json" | "application/*" => json = true,
            "text/event-stream" | "text/*" => sse = true,
            "*/*" => {
                json = true;
                sse = true
            }
            _ => {}
        }
    }
    (json || sse).then_some(Accepts { sse })
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Accepts {
    /// Progress may be streamed.
    pub sse: bool,
}

/// A POST body must be JSON.
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// Origins a browser may call `/mcp` from: this server, the hosted chat clients, the
/// configured extras, and MCP Inspector's local address while the server itself is local.
pub fn origin_allowed(origin: &str, issuer: &str, extra: &[String]) -> bool {
    const CLIENTS: [&str; 3] = [
        "https://chatgpt.com",
        "https://chat.openai.com",
        "https://claude.ai",
    ];
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(issuer) || CLIENTS.contains(&origin) {
        return true;
    }
    if extra.iter().any(|e| e.trim_end_matches('/') == origin) {
        return true;
    }
    // A local server (`npm run dev`) is its own origin under any loopback name, and MCP
    // Inspector's page (port 6274) may call it.
    let Some(port) = loopback_port(issuer) else {
        return false;
    };
    match loopback_port(origin) {
        Some(p) => p == port || p == ":6274",
        None => false,
    }
}

/// For an `http` origin on a loopback name, its port part (`":8787"`, or `""`).
fn loopback_port(origin: &str) -> Option<&str> {
    ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .find_map(|l| origin.strip_prefix(l))
        .filter(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix(':')
                    .is_some_and(|port| port.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The `WWW-Authenticate` challenge of a 401 at `/mcp` (RFC 6750 §3, RFC 9728 §5.1, MCP
/// authorization "Scope selection"): where the metadata is, which scopes to ask for, and,
/// when a token was sent, why it was refused.
/// `scope` is what a new token should hold: the catalog's default resource scopes.
pub fn challenge(resource_metadata: &str, scope: &str, invalid: Option<&str>) -> String {
    let mut c = format!("Bearer resource_metadata=\"{resource_metadata}\", scope=\"{scope}\"");
    if let Some(why) = invalid {
        c.push_str(&format!(
            ", error=\"invalid_token\", error_description=\"{why}\""
        ));
    }
    c
}

/// One Server-Sent Event carrying a JSON-RPC message.
pub fn sse_event(message: &Value) -> String {
    format!("event: message\ndata: {message}\n\n")
}

#[cfg(test)]
mod tests;
