//! What `/mcp` answers to each method, for one authenticated caller: the lifecycle
//! (`initialize`, `ping`, `server/discover`) and the tools (`tools/list` with opaque
//! cursors, `tools/call` with scope checks and argument validation). Transport rules
//! (headers, sessions, eras) are in `transport`.

use super::error::RpcError;
use super::tools::{self, Progress, Public, ToolCtx, ToolError};
use super::version;
use crate::encoding::{b64url, b64url_decode};
use crate::store::notes::NoteStore;
use serde_json::{json, Map, Value};

/// Who is calling and with what a token granted. `user` is `None` for a request without
/// a token, which only reaches here when some tools are public.
pub struct Caller<'a> {
    pub user: Option<&'a str>,
    pub scopes: Vec<&'a str>,
}

pub struct Server<'a> {
    pub caller: Caller<'a>,
    pub notes: &'a dyn NoteStore,
    /// This server's origin (the issuer).
    pub base_url: &'a str,
    /// Named in insufficient-scope challenges.
    pub resource_metadata: &'a str,
    pub product_name: &'a str,
    pub now: u64,
    /// `tools/list` page size.
    pub page_size: usize,
    /// The tools callable without a token.
    pub public: Public,
}

pub const SERVER_NAME: &str = "mcp-oauth-worker";
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// How long a client may reuse a `tools/list` answer (2026-07-28 `ttlMs`): the list only
/// changes when this Worker is redeployed.
pub const TOOLS_TTL_MS: u64 = 3_600_000;

pub const INSTRUCTIONS: &str = "The user's personal notes. Use search to find notes by \
     words, fetch to read one in full, memory_store to save something the user asks you \
     to remember, memory_list to browse (optionally by tag) and memory_delete to remove a \
     note the user no longer wants.";

/// An error from a tool call that is not the model's to fix.
pub enum Failure {
    Rpc(RpcError),
    /// A storage failure: the edge logs it and answers -32603.
    Internal(String),
}

impl From<RpcError> for Failure {
    fn from(e: RpcError) -> Self {
        Failure::Rpc(e)
    }
}

impl Server<'_> {
    pub fn server_info(&self) -> Value {
        json!({ "name": SERVER_NAME, "title": self.product_name, "version": env!("CARGO_PKG_VERSION") })
    }

    pub fn capabilities() -> Value {
        json!({ "tools": { "listChanged": false } })
    }

    /// `initialize`'s result for the negotiated revision.
    pub fn initialize(&self, negotiated: &str) -> Value {
        json!({
            "protocolVersion": negotiated,
            "capabilities": Self::capabilities(),
            "serverInfo": self.server_info(),
            "instructions": INSTRUCTIONS,
        })
    }

    /// `server/discover` (2026-07-28): what `initialize` told a session-era client, for
    /// every revision at once. The server's identity travels in `_meta` (added to every
    /// stateless result by `request`).
    pub fn discover(&self) -> Value {
        json!({
            "supportedVersions": version::ALL,
            "capabilities": Self::capabilities(),
            "instructions": INSTRUCTIONS,
            "ttlMs": TOOLS_TTL_MS,
            "cacheScope": "public",
        })
    }

    /// Runs one request other than `initialize` at revision `version`.
    pub async fn request(
        &self,
        version: &str,
        method: &str,
        params: &Map<String, Value>,
        progress: &Progress,
    ) -> Result<Value, Failure> {
        let stateless = version == version::STATELESS;
        let mut result = match method {
            // 2026-07-28 removed `ping` along with the session.
            "ping" if !stateless => json!({}),
            "server/discover" if stateless => self.discover(),
            "tools/list" => self.list_tools(version, params)?,
            "tools/call" => self.call_tool(version, params, progress).await?,
            _ => return Err(RpcError::method_not_found(method).into()),
        };
        if stateless {
            result["resultType"] = json!("complete");
            let meta = result
                .as_object_mut()
                .map(|r| r.entry("_meta").or_insert_with(|| json!({})));
            if let Some(meta) = meta {
                meta[super::transport::META_SERVER_INFO] = self.server_info();
            }
        }
        Ok(result)
    }

    fn list_tools(&self, version: &str, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let start = match params.get("cursor") {
            None | Some(Value::Null) => 0,
            Some(Value::String(c)) => decode_cursor(c)
                .filter(|n| *n < tools::TOOLS.len())
                .ok_or_else(|| RpcError::invalid_params("unknown cursor"))?,
            Some(_) => return Err(RpcError::invalid_params("cursor must be a string")),
        };
        let end = (start + self.page_size.max(1)).min(tools::TOOLS.len());
        let structured = version::has_structured_output(version);
        let page: Vec<Value> = tools::entries(structured, self.public)[start..end].to_vec();
        let mut result = json!({ "tools": page });
        if end < tools::TOOLS.len() {
            result["nextCursor"] = json!(encode_cursor(end));
        }
        if version == version::STATELESS {
            // The same list for everyone: any cache may keep it.
            result["ttlMs"] = json!(TOOLS_TTL_MS);
            result["cacheScope"] = json!("public");
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        version: &str,
        params: &Map<String, Value>,
        progress: &Progress,
    ) -> Result<Value, Failure> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err(RpcError::invalid_params("name must be a tool's name").into());
        };
        let Some(tool) = tools::find(name) else {
            return Err(RpcError::invalid_params(format!(
                "unknown tool '{}'",
                crate::oauth::scope::truncate(name, 60)
            ))
            .into());
        };
        // Arguments that are not an object break the request's shape, not a tool's rule:
        // a protocol error, not a tool result the model would read.
        let args = match params.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(_) => return Err(RpcError::invalid_params("arguments must be an object").into()),
        };
        let public = self.public.contains(tool);
        if !public && self.caller.user.is_none() {
            return Ok(tools::sign_in_required(tool, self.resource_metadata));
        }
        if !public && !self.caller.scopes.contains(&tool.scope()) {
            return Ok(tools::insufficient_scope(
                tool,
                &self.caller.scopes,
                self.resource_metadata,
            ));
        }
        if let Err(why) = super::schema::validate(&tools::input_schema(tool), &args) {
            return Ok(tools::failure(&format!("Invalid arguments: {why}.")));
        }
        let ctx = ToolCtx {
            user: self.caller.user,
            notes: self.notes,
            product_name: self.product_name,
            public: self.public,
            base_url: self.base_url,
            now: self.now,
            progress,
        };
        match tool.call(&ctx, args).await {
            Ok(value) => Ok(tools::success(
                value,
                version::has_structured_output(version),
            )),
            Err(ToolError::Rejected(message)) => Ok(tools::failure(&message)),
            Err(ToolError::Store(e)) => Err(Failure::Internal(e.0)),
        }
    }
}

fn encode_cursor(offset: usize) -> String {
    b64url(format!("tools:{offset}").as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(b64url_decode(cursor)?).ok()?;
    text.strip_prefix("tools:")?.parse().ok()
}
