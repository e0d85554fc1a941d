//! Resources and prompts through the gateway: every upstream's lists merged (each item
//! bounded by `policy`), a `resources/read` routed to the upstream whose list or template
//! names the URI, a `prompts/get` to the upstream whose (prefixed) name it is. Lists are
//! cached like the tools'; each read and prompt is recorded for the audit log.

use super::client::UpstreamError;
use super::config::Upstream;
use super::meta;
use super::policy::{self, GatewayPrompt};
use super::{CallRecord, Gateway};
use serde_json::{json, Value};
use std::collections::HashSet;

const RESOURCES: (&str, &str) = ("resources/list", "resources");
const TEMPLATES: (&str, &str) = ("resources/templates/list", "resourceTemplates");
const PROMPTS: (&str, &str) = ("prompts/list", "prompts");

impl Gateway<'_> {
    /// Every upstream's resources; the first upstream to list a URI owns it.
    pub async fn resources(&self) -> Vec<Value> {
        self.addressed(RESOURCES, "uri").await
    }

    pub async fn templates(&self) -> Vec<Value> {
        self.addressed(TEMPLATES, "uriTemplate").await
    }

    /// A merged list of items named by their `key` (a URI or a URI template), each
    /// bounded by the policy, the first of each name kept.
    async fn addressed(&self, (method, items): (&'static str, &str), key: &str) -> Vec<Value> {
        let all = self
            .merged(method, items, |u, list| {
                list.iter()
                    .filter_map(|r| policy::rewrite_resource(u, r, key))
                    .collect()
            })
            .await;
        first_of_each(all, key)
    }

    pub async fn prompts(&self) -> Vec<GatewayPrompt> {
        let all = self
            .merged(PROMPTS.0, PROMPTS.1, |u, list| {
                list.iter()
                    .filter_map(|p| policy::rewrite_prompt(u, p))
                    .collect()
            })
            .await;
        let mut seen = HashSet::new();
        all.into_iter()
            .filter(|p| seen.insert(p.exposed.clone()))
            .collect()
    }

    /// The upstream that owns `uri`: the first whose list names it, else the first whose
    /// template expands to it. `Err(None)`: no upstream claims it; `Err(Some(..))`: the
    /// upstream that listed it last (in this isolate), or the only upstream there is, could
    /// not be listed now, so the read reports its outage rather than "not found". (URIs
    /// carry no prefix: with several upstreams, a URI first asked for in an isolate that
    /// never saw it listed is not found while its upstream is down.)
    #[allow(clippy::type_complexity)]
    async fn owner_of(&self, uri: &str) -> Result<&Upstream, Option<(&Upstream, UpstreamError)>> {
        let mut outage = None;
        for upstream in self.upstreams {
            match self.raw_list(upstream, RESOURCES.0, RESOURCES.1).await {
                Ok(l)
                    if l.iter()
                        .any(|r| r.get("uri").and_then(Value::as_str) == Some(uri)) =>
                {
                    return Ok(upstream)
                }
                Ok(_) => {}
                Err(e) if self.upstreams.len() == 1 || last_listed(&upstream.name, uri) => {
                    outage.get_or_insert((upstream, e));
                }
                Err(_) => {}
            }
        }
        for upstream in self.upstreams {
            let Ok(templates) = self.raw_list(upstream, TEMPLATES.0, TEMPLATES.1).await else {
                continue;
            };
            let expands = templates
                .iter()
                .take(policy::MAX_ROUTED_TEMPLATES)
                .any(|t| {
                    t.get("uriTemplate")
                        .and_then(Value::as_str)
                        .is_some_and(|t| policy::template_matches(t, uri))
                });
            if expands {
                return Ok(upstream);
            }
        }
        Err(outage)
    }

    /// `resources/read` at the upstream that owns `uri`; `None` when none does. When none
    /// that answered does and an upstream is down, the read reports that outage.
    pub async fn read(&self, uri: &str) -> Option<(String, Result<Value, UpstreamError>)> {
        if policy::is_note_uri(uri) {
            return None;
        }
        if let Some(found) = self.read_ui(uri).await {
            return found;
        }
        let upstream = match self.owner_of(uri).await {
            Ok(upstream) => upstream,
            Err(None) => return None,
            Err(Some((upstream, e))) => {
                let outcome = Err(e);
                self.record(upstream, "resources/read", &outcome);
                return Some((upstream.name.clone(), outcome));
            }
        };
        let outcome = self
            .send(upstream, "resources/read", json!({ "uri": uri }))
            .await
            .and_then(|r| contents(upstream, r));
        self.record(upstream, "resources/read", &outcome);
        Some((upstream.name.clone(), outcome))
    }

    /// `resources/read` of an MCP Apps `ui://` URI: its upstream is the one its address
    /// names (`meta::upstream_ui_uri`), listed or not (UI resources need not be listed).
    /// `None`: not a `ui://` URI; `Some(None)`: no upstream's.
    #[allow(clippy::type_complexity)]
    async fn read_ui(&self, uri: &str) -> Option<Option<(String, Result<Value, UpstreamError>)>> {
        let mut addressed = self
            .upstreams
            .iter()
            .filter_map(|u| Some((u, meta::upstream_ui_uri(u, uri)?)));
        let Some((upstream, own)) = addressed.next() else {
            return meta::is_ui_uri(uri).then_some(None);
        };
        let outcome = self
            .send(upstream, "resources/read", json!({ "uri": own }))
            .await
            .and_then(|r| contents(upstream, r));
        self.record(upstream, "resources/read", &outcome);
        Some(Some((upstream.name.clone(), outcome)))
    }

    /// `prompts/get` of an exposed prompt name at the upstream it belongs to; `None` when
    /// no upstream lists it. A name whose upstream is down (by its prefix, or the only
    /// one that could have it) reports that outage, as a tool call does.
    pub async fn prompt(
        &self,
        exposed: &str,
        arguments: Value,
    ) -> Option<(String, Result<Value, UpstreamError>)> {
        let mut outage = None;
        for upstream in self.upstreams {
            if policy::upstream_name(upstream, exposed).is_none() {
                continue;
            }
            let list = match self.raw_list(upstream, PROMPTS.0, PROMPTS.1).await {
                Ok(list) => list,
                Err(e) if upstream.prefix.is_some() => {
                    outage = Some((upstream, e));
                    break;
                }
                Err(e) => {
                    outage.get_or_insert((upstream, e));
                    continue;
                }
            };
            let Some(p) = list
                .iter()
                .filter_map(|p| policy::rewrite_prompt(upstream, p))
                .find(|p| p.exposed == exposed)
            else {
                continue;
            };
            let params = json!({ "name": p.upstream_name, "arguments": arguments });
            let outcome = self
                .send(upstream, "prompts/get", params)
                .await
                .and_then(|r| match r.result.get("messages") {
                    Some(Value::Array(_)) => Ok(super::for_client(upstream, r.result)),
                    _ => Err(UpstreamError::NotMcp("prompts/get gave no messages")),
                });
            self.record(upstream, &p.exposed, &outcome);
            return Some((upstream.name.clone(), outcome));
        }
        let (upstream, e) = outage?;
        let outcome = Err(e);
        self.record(upstream, exposed, &outcome);
        Some((upstream.name.clone(), outcome))
    }

    fn record<T>(&self, upstream: &Upstream, what: &str, outcome: &Result<T, UpstreamError>) {
        self.calls.borrow_mut().push(CallRecord {
            upstream: upstream.name.clone(),
            tool: what.to_string(),
            outcome: match outcome {
                Ok(_) => "ok",
                Err(e) => e.outcome(),
            },
        });
    }
}

/// A `resources/read` answer as the client gets it: its contents, their `_meta` and
/// `ui://` addresses in this gateway's form.
fn contents(upstream: &Upstream, r: super::client::Reply) -> Result<Value, UpstreamError> {
    match r.result.get("contents") {
        Some(Value::Array(_)) => Ok(super::for_client(upstream, r.result)),
        _ => Err(UpstreamError::NotMcp("resources/read gave no contents")),
    }
}

/// Resource URIs at most this long are remembered as last listed by their upstream.
const MAX_REMEMBERED_URI: usize = 1024;

thread_local! {
    /// The URIs each upstream listed last (per isolate; at most `MAX_ITEMS` URIs of at
    /// most `MAX_REMEMBERED_URI` bytes per configured upstream): a read of one of them
    /// while its upstream is down reports the outage.
    static LISTED: std::cell::RefCell<Vec<(String, HashSet<String>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Remembers the URIs `upstream` listed, replacing what it listed before.
pub(super) fn remember_listed(upstream: &str, items: &[Value]) {
    let uris: HashSet<String> = items
        .iter()
        .filter_map(|r| r.get("uri").and_then(Value::as_str))
        .filter(|u| u.len() <= MAX_REMEMBERED_URI)
        .map(str::to_string)
        .collect();
    LISTED.with(|l| {
        let mut l = l.borrow_mut();
        l.retain(|(u, _)| u != upstream);
        l.push((upstream.to_string(), uris));
    });
}

fn last_listed(upstream: &str, uri: &str) -> bool {
    LISTED.with(|l| {
        l.borrow()
            .iter()
            .any(|(u, uris)| u == upstream && uris.contains(uri))
    })
}

/// The first item for each value of `key`, in order.
fn first_of_each(items: Vec<Value>, key: &str) -> Vec<Value> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i[key].as_str().unwrap_or_default().to_string()))
        .collect()
}
