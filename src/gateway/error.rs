//! Why an upstream gave no usable answer, in the gateway's own words: what a client sees
//! as a tool error or a JSON-RPC error, and what the audit log records.

/// The largest answer read from an upstream; a larger one is `UpstreamError::TooLarge`.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

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
