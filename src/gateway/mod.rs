//! The gateway: this Worker as the OAuth front door of MCP servers it does not run. The
//! upstreams of `UPSTREAMS` (`config`) are listed and called (`client`) with the
//! operator's credential and a signed statement of who is calling (`assertion`), never
//! the client's token; one policy (`policy`) decides both what `tools/list` shows and what
//! `tools/call` lets through. Plain Rust: the edge (`http::gateway`) supplies the
//! transport and the signer.

pub mod assertion;
pub mod client;
pub mod config;
pub mod error;
pub mod events;
pub mod meta;
pub mod policy;
pub mod remembered;
pub mod resources;
pub mod sessions;
#[cfg(test)]
mod tests;

use crate::oauth::catalog::Catalog;
use crate::util::futures::join_all;
use crate::wire::progress::Progress;
use client::{Transport, UpstreamError};
use config::{Target, Upstream};
use policy::GatewayTool;
use remembered::{cached_list, down, drop_lists, keep_list, note_health};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// The header that carries the user assertion to every upstream.
pub const ASSERTION_HEADER: &str = "Mcp-User-Assertion";

/// Upstream fetches in flight at once: a Worker may hold six outgoing connections.
const FAN_OUT: usize = 6;
/// How long an upstream's tool list is reused when it names no `ttlMs`.
const DEFAULT_LIST_TTL_MS: u64 = 60_000;
const MAX_LIST_TTL_MS: u64 = 3_600_000;
/// Pages of an upstream's list followed, and items kept from one upstream's list.
const MAX_PAGES: usize = 10;
const MAX_ITEMS: usize = 500;

pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + 'a>>;

/// Signs the user assertion for one upstream (the edge knows the person and the key).
pub trait Signer {
    fn assertion<'a>(&'a self, audience: &'a str) -> SignFuture<'a>;
}

impl Upstream {
    /// The `aud` of this upstream's assertions: its URL, or `service:<binding><path>`.
    pub fn audience(&self) -> String {
        match &self.target {
            Target::Url(u) => u.clone(),
            Target::Service { binding, path } => format!("service:{binding}{path}"),
        }
    }
}

/// One upstream's state, for the console (`Gateway::health`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub name: String,
    /// Where it is: a URL, or `service:<binding><path>`.
    pub target: String,
    /// How many tools it exposes here, or why it could not be listed.
    pub tools: Result<usize, String>,
    /// `Some(true)`: speaks 2026-07-28; `Some(false)`: the session era only; `None`: not
    /// asked in this isolate yet.
    pub stateless: Option<bool>,
}

/// One call through the gateway, for the audit log (no arguments, no results).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    pub upstream: String,
    pub tool: String,
    pub outcome: &'static str,
}

pub struct Gateway<'a> {
    pub upstreams: &'a [Upstream],
    /// The operator's scopes: what each upstream tool needs.
    pub catalog: &'a Catalog,
    pub transport: &'a dyn Transport,
    pub signer: &'a dyn Signer,
    /// Whom lists and upstream sessions are kept for: one person through one client
    /// with one scope (a session opened with one assertion is never used with another).
    pub user: &'a str,
    pub now_ms: u64,
    /// Calls made while answering this request, for the edge to audit.
    pub calls: RefCell<Vec<CallRecord>>,
    /// Upstreams left out of a `tools/list` and why, for the edge to log.
    pub failures: RefCell<Vec<(String, String)>>,
}

/// Where an exposed tool name leads.
pub enum Route<'u> {
    Tool(&'u Upstream, GatewayTool),
    /// The upstream this name belongs to (its prefix says so, or it is the only upstream
    /// that could have it) cannot be listed: the call reports that, in our words.
    Down(&'u Upstream, UpstreamError),
    Unknown,
}

/// The list method each `list_changed` notification makes stale.
const CHANGES: [(&str, &str); 3] = [
    ("notifications/tools/list_changed", "tools/list"),
    ("notifications/resources/list_changed", "resources/list"),
    ("notifications/prompts/list_changed", "prompts/list"),
];

impl Gateway<'_> {
    async fn assertion(&self, upstream: &Upstream) -> Result<String, UpstreamError> {
        self.signer
            .assertion(&upstream.audience())
            .await
            .map_err(|_| UpstreamError::Unreachable)
    }

    async fn send(
        &self,
        upstream: &Upstream,
        method: &str,
        params: Value,
    ) -> Result<client::Reply, UpstreamError> {
        self.send_live(upstream, method, params, &|_| {}).await
    }

    /// `send`, with each notification of the answer passed to `notification` as it
    /// arrives.
    async fn send_live(
        &self,
        upstream: &Upstream,
        method: &str,
        params: Value,
        notification: &dyn Fn(&Value),
    ) -> Result<client::Reply, UpstreamError> {
        let assertion = self.assertion(upstream).await?;
        let reply = client::request(
            self.transport,
            upstream,
            self.user,
            &assertion,
            method,
            params,
            notification,
        )
        .await?;
        for n in &reply.notifications {
            for (notification, list) in CHANGES {
                if n["method"] == notification {
                    drop_lists(&upstream.name, list);
                }
            }
        }
        Ok(reply)
    }

    /// An upstream's list (`tools/list`, `resources/list`, ...) as it gives it (cached),
    /// following its cursors; `key` holds the items in each page. An upstream without
    /// the capability (-32601) has an empty list, not a failure.
    async fn raw_list(
        &self,
        upstream: &Upstream,
        method: &'static str,
        key: &str,
    ) -> Result<Rc<Vec<Value>>, UpstreamError> {
        if let Some(hit) = cached_list(&upstream.name, self.user, method, self.now_ms) {
            return Ok(hit);
        }
        if let Some(e) = down(&upstream.name, self.now_ms) {
            return Err(e);
        }
        let fetched = self.fetch_list(upstream, method, key).await;
        note_health(&upstream.name, fetched.as_ref().err(), self.now_ms);
        if let (Ok(items), "resources/list") = (&fetched, method) {
            resources::remember_listed(&upstream.name, items);
        }
        fetched
    }

    async fn fetch_list(
        &self,
        upstream: &Upstream,
        method: &'static str,
        key: &str,
    ) -> Result<Rc<Vec<Value>>, UpstreamError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut ttl = DEFAULT_LIST_TTL_MS;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let reply = match self.send(upstream, method, params).await {
                Err(UpstreamError::Rpc(crate::wire::error::METHOD_NOT_FOUND)) => break,
                other => other?,
            };
            let Some(Value::Array(page)) = reply.result.get(key) else {
                return Err(UpstreamError::NotMcp("a list answer held no list"));
            };
            items.extend(page.iter().cloned());
            if let Some(t) = reply.result.get("ttlMs").and_then(Value::as_u64) {
                ttl = t.min(MAX_LIST_TTL_MS);
            }
            cursor = reply
                .result
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_string);
            if cursor.is_none() || items.len() >= MAX_ITEMS {
                break;
            }
        }
        items.truncate(MAX_ITEMS);
        let items = Rc::new(items);
        keep_list(
            &upstream.name,
            self.user,
            method,
            self.now_ms + ttl,
            items.clone(),
        );
        Ok(items)
    }

    async fn raw_tools(&self, upstream: &Upstream) -> Result<Rc<Vec<Value>>, UpstreamError> {
        self.raw_list(upstream, "tools/list", "tools").await
    }

    /// Every upstream's list `method`, fetched at most `FAN_OUT` at a time and each list
    /// passed through `keep`; an upstream that fails is left out (and logged).
    async fn merged<T>(
        &self,
        method: &'static str,
        key: &str,
        keep: impl Fn(&Upstream, &[Value]) -> Vec<T>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for batch in self.upstreams.chunks(FAN_OUT) {
            let lists = join_all(batch.iter().map(|u| self.raw_list(u, method, key))).await;
            for (upstream, list) in batch.iter().zip(lists) {
                match list {
                    Ok(items) => out.extend(keep(upstream, &items)),
                    Err(e) => self
                        .failures
                        .borrow_mut()
                        .push((upstream.name.clone(), e.describe(&upstream.name))),
                }
            }
        }
        out
    }

    /// Each upstream's state for the console's overview: its exposed tools (from this
    /// caller's cached list when one is fresh, else asked now), or why not, and the era
    /// it speaks as this isolate learnt it.
    pub async fn health(&self) -> Vec<Health> {
        let mut out = Vec::new();
        for batch in self.upstreams.chunks(FAN_OUT) {
            let lists = join_all(batch.iter().map(|u| self.raw_tools(u))).await;
            for (upstream, list) in batch.iter().zip(lists) {
                let tools = list
                    .map(|items| {
                        items
                            .iter()
                            .filter(|t| {
                                policy::rewrite(upstream, self.catalog, t, true, true).is_some()
                            })
                            .count()
                    })
                    .map_err(|e| e.describe(&upstream.name));
                out.push(Health {
                    name: upstream.name.clone(),
                    target: upstream.audience(),
                    tools,
                    stateless: sessions::known_era(&upstream.name),
                });
            }
        }
        out
    }

    /// Every upstream's exposed tools, fetched at most `FAN_OUT` at a time. An upstream
    /// that fails is left out (and logged through `failures`) until it answers again.
    pub async fn tools(&self, structured: bool) -> Vec<GatewayTool> {
        let all = self
            .merged("tools/list", "tools", |u, list| {
                let offers_ui = meta::offers_ui(list);
                list.iter()
                    .filter_map(|t| policy::rewrite(u, self.catalog, t, structured, offers_ui))
                    .collect()
            })
            .await;
        let mut seen = std::collections::HashSet::new();
        all.into_iter()
            .filter(|t| seen.insert(t.exposed.clone()))
            .collect()
    }

    /// The upstream and tool an exposed name stands for, as the policy sees it. A name
    /// whose upstream cannot be listed leads to that upstream's outage, not to "unknown
    /// tool": its prefix names it, or (unprefixed, so the only upstream) it is the one
    /// that could have it. A name is unknown only when every upstream it could belong to
    /// answered without it.
    pub async fn find(&self, exposed: &str) -> Route<'_> {
        let mut outage = None;
        for upstream in self.upstreams {
            let Some(name) = policy::upstream_name(upstream, exposed) else {
                continue;
            };
            if !policy::is_exposed(upstream, name) {
                continue;
            }
            match self.raw_tools(upstream).await {
                Ok(tools) => {
                    let found = tools
                        .iter()
                        .filter(|t| t.get("name").and_then(Value::as_str) == Some(name))
                        .find_map(|t| policy::rewrite(upstream, self.catalog, t, true, true));
                    if let Some(t) = found {
                        return Route::Tool(upstream, t);
                    }
                }
                Err(e) if upstream.prefix.is_some() => return Route::Down(upstream, e),
                Err(e) => {
                    outage.get_or_insert((upstream, e));
                }
            }
        }
        match outage {
            Some((upstream, e)) => Route::Down(upstream, e),
            None => Route::Unknown,
        }
    }

    /// The answer to a call of `exposed` at an upstream that is down: a tool error in our
    /// words, recorded for the audit log like any call.
    pub fn unreachable(&self, upstream: &Upstream, exposed: &str, e: &UpstreamError) -> Value {
        self.calls.borrow_mut().push(CallRecord {
            upstream: upstream.name.clone(),
            tool: exposed.to_string(),
            outcome: e.outcome(),
        });
        crate::wire::tool_failure(&e.describe(&upstream.name))
    }

    /// Calls the upstream's tool; the result is the upstream's tool result, or a tool
    /// error in our words. Its progress goes to `progress` as it arrives (re-addressed to
    /// the client's own token), so a client reading an event stream sees it at once.
    pub async fn call(
        &self,
        upstream: &Upstream,
        tool: &GatewayTool,
        arguments: Value,
        progress: &Progress,
    ) -> Value {
        let mut params = json!({ "name": tool.upstream_name, "arguments": arguments });
        if let Some(t) = progress.token() {
            crate::json::set(&mut params, "_meta", json!({ "progressToken": t }));
        }
        let pass_on = |n: &Value| {
            if n["method"] != "notifications/progress" {
                return;
            }
            if let Some(forwarded) = progress.token().and_then(|t| forwarded_progress(n, t)) {
                progress.forward(forwarded);
            }
        };
        let outcome = self
            .send_live(upstream, "tools/call", params, &pass_on)
            .await;
        let (result, word) = match outcome {
            Ok(reply) => {
                let is_error = reply.result.get("isError").and_then(Value::as_bool) == Some(true);
                let word = if is_error { "tool_error" } else { "ok" };
                (for_client(upstream, reply.result), word)
            }
            Err(e) => (
                crate::wire::tool_failure(&e.describe(&upstream.name)),
                e.outcome(),
            ),
        };
        self.calls.borrow_mut().push(CallRecord {
            upstream: upstream.name.clone(),
            tool: tool.exposed.clone(),
            outcome: word,
        });
        result
    }
}

/// An upstream's result as the client gets it: the caching hints are this Worker's to
/// give (a person's result must not come back `public`), and only the `_meta` that
/// `meta` lets through comes with it.
pub(crate) fn for_client(upstream: &Upstream, mut result: serde_json::Map<String, Value>) -> Value {
    result.remove("ttlMs");
    result.remove("cacheScope");
    meta::filter_result(upstream, &mut result);
    Value::Object(result)
}

/// An upstream's progress notification as the client receives it: the client's own
/// token, and only the fields progress has.
fn forwarded_progress(n: &Value, token: &Value) -> Option<Value> {
    let p = n.get("params")?;
    let mut params = json!({ "progressToken": token, "progress": p.get("progress")?.as_f64()? });
    if let Some(total) = p.get("total").and_then(Value::as_f64) {
        crate::json::set(&mut params, "total", json!(total));
    }
    if let Some(message) = p.get("message").and_then(Value::as_str) {
        crate::json::set(
            &mut params,
            "message",
            json!(crate::util::text::truncate(message, 500)),
        );
    }
    Some(json!({ "jsonrpc": "2.0", "method": "notifications/progress", "params": params }))
}
