//! Resources and prompts through the gateway: every upstream's lists merged (each item
//! bounded by `policy`), a `resources/read` routed to the upstream whose list or template
//! names the URI, a `prompts/get` to the upstream whose (prefixed) name it is. Lists are
//! cached like the tools'; each read and prompt is recorded for the audit log.

use super::client::UpstreamError;
use super::config::Upstream;
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
            .merged(method, items, |_, r| policy::rewrite_resource(r, key))
            .await;
        first_of_each(all, key)
    }

    pub async fn prompts(&self) -> Vec<GatewayPrompt> {
        let all = self
            .merged(PROMPTS.0, PROMPTS.1, policy::rewrite_prompt)
            .await;
        let mut seen = HashSet::new();
        all.into_iter()
            .filter(|p| seen.insert(p.exposed.clone()))
            .collect()
    }

    /// The upstream that owns `uri`: the first whose list names it, else the first whose
    /// template expands to it. `None`: no upstream claims it.
    async fn owner_of(&self, uri: &str) -> Option<&Upstream> {
        for upstream in self.upstreams {
            let listed = self.raw_list(upstream, RESOURCES.0, RESOURCES.1).await;
            if listed.is_ok_and(|l| l.iter().any(|r| r["uri"] == uri)) {
                return Some(upstream);
            }
        }
        for upstream in self.upstreams {
            let templates = self.raw_list(upstream, TEMPLATES.0, TEMPLATES.1).await;
            let expands = templates.is_ok_and(|l| {
                l.iter().take(policy::MAX_ROUTED_TEMPLATES).any(|t| {
                    t["uriTemplate"]
                        .as_str()
                        .is_some_and(|t| policy::template_matches(t, uri))
                })
            });
            if expands {
                return Some(upstream);
            }
        }
        None
    }

    /// `resources/read` at the upstream that owns `uri`; `None` when none does.
    pub async fn read(&self, uri: &str) -> Option<(String, Result<Value, UpstreamError>)> {
        if policy::is_note_uri(uri) {
            return None;
        }
        let upstream = self.owner_of(uri).await?;
        let outcome = self
            .send(upstream, "resources/read", json!({ "uri": uri }))
            .await
            .and_then(|r| match r.result.get("contents") {
                Some(Value::Array(_)) => Ok(super::for_client(r.result)),
                _ => Err(UpstreamError::NotMcp("resources/read gave no contents")),
            });
        self.record(upstream, "resources/read", &outcome);
        Some((upstream.name.clone(), outcome))
    }

    /// `prompts/get` of an exposed prompt name at the upstream it belongs to; `None` when
    /// no upstream lists it.
    pub async fn prompt(
        &self,
        exposed: &str,
        arguments: Value,
    ) -> Option<(String, Result<Value, UpstreamError>)> {
        for upstream in self.upstreams {
            if policy::upstream_name(upstream, exposed).is_none() {
                continue;
            }
            let Ok(list) = self.raw_list(upstream, PROMPTS.0, PROMPTS.1).await else {
                continue;
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
                    Some(Value::Array(_)) => Ok(super::for_client(r.result)),
                    _ => Err(UpstreamError::NotMcp("prompts/get gave no messages")),
                });
            self.record(upstream, &p.exposed, &outcome);
            return Some((upstream.name.clone(), outcome));
        }
        None
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

/// The first item for each value of `key`, in order.
fn first_of_each(items: Vec<Value>, key: &str) -> Vec<Value> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i[key].as_str().unwrap_or_default().to_string()))
        .collect()
}
