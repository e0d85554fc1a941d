//! What `/mcp` answers to each method, for one authenticated caller: the lifecycle
//! (`initialize`, `ping`, `server/discover`) and the tools (`tools/list` with opaque
//! cursors, `tools/call` with scope checks and argument validation). Transport rules
//! (headers, sessions, eras) are in `transport`.

use super::error::RpcError;
use super::tools::{self, Progress, Public, ToolCtx, ToolError};
use super::version;
use crate::encoding::{b64url, b64url_decode};
use crate::gateway::Gateway;
use crate::oauth::catalog::{Catalog, Need};
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
    /// The operator's scopes: what each tool, resource and prompt needs.
    pub catalog: &'a Catalog,
    pub now: u64,
    /// `tools/list` page size.
    pub page_size: usize,
    /// The tools callable without a token.
    pub public: Public,
    /// Whether the built-in tools are served (`BUILTIN_TOOLS`).
    pub builtin: bool,
    /// The upstreams' tools, for a signed-in caller when upstreams are configured.
    pub gateway: Option<&'a Gateway<'a>>,
    /// Upstreams are configured (so a caller without a token is asked to sign in for a
    /// tool that is not built in, rather than told it does not exist).
    pub upstreams_configured: bool,
}

pub const SERVER_NAME: &str = "mcp-oauth-worker";
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// How long a client may reuse a `tools/list` answer (2026-07-28 `ttlMs`): the list only
/// changes when this Worker is redeployed.
pub const TOOLS_TTL_MS: u64 = 3_600_000;
/// With upstreams, the list is the person's own and follows the upstreams' changes.
pub const GATEWAY_TOOLS_TTL_MS: u64 = 60_000;

pub const INSTRUCTIONS: &str = "The user's personal notes. Use search to find notes by \
     words, fetch to read one in full, memory_store to save something the user asks you \
     to remember, memory_list to browse (optionally by tag) and memory_delete to remove a \
     note the user no longer wants.";

/// An error from a request that is not the model's to fix.
pub enum Failure {
    Rpc(RpcError),
    /// A storage failure: the edge logs it and answers -32603.
    Internal(String),
    /// The method needs a scope the caller's token (or the lack of one) does not grant:
    /// the edge answers 401 to a caller without a token, 403 to the others, with the
    /// challenge that names these scopes (what the token holds and what is missing).
    Scope(String),
    /// A tool call that needs sign-in, or a scope the token lacks: the edge answers in the
    /// shape the client acts on (`tools::SignIn`).
    SignIn(Box<tools::SignIn>),
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
        json!({
            "tools": { "listChanged": false },
            "resources": { "listChanged": false },
            "prompts": { "listChanged": false },
        })
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
            "tools/list" => match self.gateway {
                Some(gw) => self.list_with_gateway(gw, version, params).await?,
                None => self.list_tools(version, params)?,
            },
            "tools/call" => self.call_tool(version, params, progress).await?,
            "resources/list" => self.list_resources(version, params).await?,
            "resources/templates/list" => self.list_templates(version).await?,
            "resources/read" => self.read_resource(version, params).await?,
            "prompts/list" => self.list_prompts(version).await?,
            "prompts/get" => self.get_prompt(params).await?,
            _ => return Err(RpcError::method_not_found(method).into()),
        };
        if stateless {
            crate::json::set(&mut result, "resultType", json!("complete"));
            if let Some(r) = result.as_object_mut() {
                let meta = r.entry("_meta").or_insert_with(|| json!({}));
                // An upstream's result may carry any `_meta`; only an object is one.
                if !meta.is_object() {
                    *meta = json!({});
                }
                meta[super::transport::META_SERVER_INFO] = self.server_info();
            }
        }
        Ok(result)
    }

    /// Built-in and upstream tools in one page: the upstreams' lists are per person and
    /// may change, so offsets into them would not be stable cursors.
    async fn list_with_gateway(
        &self,
        gw: &Gateway<'_>,
        version: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, RpcError> {
        if !matches!(params.get("cursor"), None | Some(Value::Null)) {
            return Err(RpcError::invalid_params("unknown cursor"));
        }
        let structured = version::has_structured_output(version);
        let mut page: Vec<Value> = if self.builtin {
            tools::entries(structured, self.public, self.catalog).to_vec()
        } else {
            Vec::new()
        };
        let builtin_names: Vec<&str> = tools::TOOLS.iter().map(|t| t.name()).collect();
        let upstream_tools = gw.tools(structured).await;
        page.extend(
            upstream_tools
                .into_iter()
                .filter(|t| !self.builtin || !builtin_names.contains(&t.exposed.as_str()))
                .map(|t| t.entry),
        );
        let mut result = json!({ "tools": page });
        if version == version::STATELESS {
            crate::json::set(&mut result, "ttlMs", json!(GATEWAY_TOOLS_TTL_MS));
            crate::json::set(&mut result, "cacheScope", json!("private"));
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
        let page: Vec<Value> = tools::entries(structured, self.public, self.catalog)
            .get(start..end)
            .unwrap_or_default()
            .to_vec();
        let mut result = json!({ "tools": page });
        if end < tools::TOOLS.len() {
            crate::json::set(&mut result, "nextCursor", json!(encode_cursor(end)));
        }
        if version == version::STATELESS {
            // The same list for everyone: any cache may keep it.
            crate::json::set(&mut result, "ttlMs", json!(TOOLS_TTL_MS));
            crate::json::set(&mut result, "cacheScope", json!("public"));
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
        // Arguments that are not an object break the request's shape, not a tool's rule:
        // a protocol error, not a tool result the model would read.
        let args = match params.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(a @ Value::Object(_)) => a.clone(),
            Some(_) => return Err(RpcError::invalid_params("arguments must be an object").into()),
        };
        let unknown = || {
            RpcError::invalid_params(format!(
                "unknown tool '{}'",
                crate::util::text::truncate(name, 60)
            ))
        };
        let Some(tool) = tools::find(name).filter(|_| self.builtin) else {
            return match self.gateway {
                Some(gw) => self.call_upstream(gw, name, args, progress).await,
                // Without a person there is no assertion to send: the upstreams' tools
                // are never public, and asking for sign-in reveals none of their names.
                None if self.caller.user.is_none() && self.upstreams_configured => {
                    Err(Failure::SignIn(Box::new(tools::sign_in_required(
                        &crate::util::text::truncate(name, 60),
                        None,
                        self.catalog,
                        self.resource_metadata,
                    ))))
                }
                None => Err(unknown().into()),
            };
        };
        let public = self.public.contains(tool);
        let need = tools::need(tool, self.catalog);
        if !public && self.caller.user.is_none() {
            return Err(Failure::SignIn(Box::new(tools::sign_in_required(
                tool.name(),
                Some(&need),
                self.catalog,
                self.resource_metadata,
            ))));
        }
        if !public && !self.catalog.satisfies(&self.caller.scopes, &need) {
            return Err(Failure::SignIn(Box::new(tools::insufficient_scope(
                tool.name(),
                &need,
                &self.caller.scopes,
                self.catalog,
                self.resource_metadata,
            ))));
        }
        if let Err(why) = super::schema::validate(&tools::input_schema(tool), &args) {
            return Ok(tools::failure(&format!("Invalid arguments: {why}.")));
        }
        let ctx = ToolCtx {
            user: self.caller.user,
            notes: self.notes,
            product_name: self.product_name,
            catalog: self.catalog,
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

impl Server<'_> {
    /// The person calling, when their token satisfies `need`: resources and prompts are
    /// never public.
    pub(super) fn person_with(&self, need: &Need) -> Result<&str, Failure> {
        match self.caller.user {
            Some(user) if self.catalog.satisfies(&self.caller.scopes, need) => Ok(user),
            _ => Err(Failure::Scope(
                self.catalog.challenge_scope(&self.caller.scopes, need),
            )),
        }
    }

    /// A call routed to the upstream that owns `name`, with the same scope rule and the
    /// same insufficient-scope answer as a built-in tool; a refused call never leaves.
    async fn call_upstream(
        &self,
        gw: &Gateway<'_>,
        name: &str,
        args: Value,
        progress: &Progress,
    ) -> Result<Value, Failure> {
        let (upstream, tool) = match gw.find(name).await {
            crate::gateway::Route::Tool(upstream, tool) => (upstream, tool),
            crate::gateway::Route::Down(upstream, e) => {
                return Ok(gw.unreachable(upstream, name, &e));
            }
            crate::gateway::Route::Unknown => {
                return Err(RpcError::invalid_params(format!(
                    "unknown tool '{}'",
                    crate::util::text::truncate(name, 60)
                ))
                .into())
            }
        };
        if !self.catalog.satisfies(&self.caller.scopes, &tool.need) {
            return Err(Failure::SignIn(Box::new(tools::insufficient_scope(
                &tool.exposed,
                &tool.need,
                &self.caller.scopes,
                self.catalog,
                self.resource_metadata,
            ))));
        }
        Ok(gw.call(upstream, &tool, args, progress).await)
    }
}

/// The 2026-07-28 caching hints (`ttlMs`, `cacheScope`) of a list or read result;
/// earlier revisions have none.
pub(super) fn cache_hints(result: &mut Value, version: &str, ttl_ms: u64, scope: &str) {
    if version == version::STATELESS {
        crate::json::set(result, "ttlMs", ttl_ms);
        crate::json::set(result, "cacheScope", scope);
    }
}

fn encode_cursor(offset: usize) -> String {
    b64url(format!("tools:{offset}").as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(b64url_decode(cursor)?).ok()?;
    text.strip_prefix("tools:")?.parse().ok()
}
