//! `prompts/list` and `prompts/get`: the upstreams' prompts through the gateway (this
//! Worker has none of its own), named like their tools and routed the same way.

use super::error::RpcError;
use super::resources::upstream_failure;
use super::server::{cache_hints, Failure, Server, GATEWAY_TOOLS_TTL_MS, TOOLS_TTL_MS};
use serde_json::{json, Map, Value};

/// Prompt arguments are strings (MCP's `GetPromptRequest`); a few, and short.
const MAX_ARGUMENTS: usize = 32;
const MAX_ARGUMENT_BYTES: usize = 16 * 1024;

impl Server<'_> {
    pub(super) async fn list_prompts(&self, version: &str) -> Result<Value, Failure> {
        self.person_with(&self.catalog.listing_need(true))?;
        let Some(gw) = self.gateway else {
            let mut result = json!({ "prompts": [] });
            cache_hints(&mut result, version, TOOLS_TTL_MS, "public");
            return Ok(result);
        };
        // Only the prompts this token may get.
        let prompts: Vec<Value> = gw
            .prompts()
            .await
            .into_iter()
            .filter(|p| {
                self.catalog
                    .satisfies(&self.caller.scopes, &self.catalog.prompt_need(&p.exposed))
            })
            .map(|p| p.entry)
            .collect();
        let mut result = json!({ "prompts": prompts });
        cache_hints(&mut result, version, GATEWAY_TOOLS_TTL_MS, "private");
        Ok(result)
    }

    pub(super) async fn get_prompt(&self, params: &Map<String, Value>) -> Result<Value, Failure> {
        let name = params.get("name").and_then(Value::as_str);
        // Bounded before it is matched against the operator's globs.
        if name.is_some_and(|n| n.len() > 256) {
            return Err(RpcError::invalid_params("name is longer than 256 bytes").into());
        }
        self.person_with(&self.catalog.prompt_need(name.unwrap_or("")))?;
        let Some(name) = name else {
            return Err(RpcError::invalid_params("name must be a prompt's name").into());
        };
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::Object(args)) => {
                let strings = args.values().all(Value::is_string);
                let size: usize = args
                    .iter()
                    .map(|(k, v)| k.len() + v.to_string().len())
                    .sum();
                if !strings || args.len() > MAX_ARGUMENTS || size > MAX_ARGUMENT_BYTES {
                    return Err(RpcError::invalid_params(format!(
                        "arguments must be at most {MAX_ARGUMENTS} strings, {} KiB in all",
                        MAX_ARGUMENT_BYTES >> 10
                    ))
                    .into());
                }
                Value::Object(args.clone())
            }
            Some(_) => return Err(RpcError::invalid_params("arguments must be an object").into()),
        };
        let unknown = || {
            RpcError::invalid_params(format!(
                "unknown prompt '{}'",
                crate::util::text::truncate(name, 60)
            ))
        };
        let Some(gw) = self.gateway else {
            return Err(unknown().into());
        };
        match gw.prompt(name, arguments).await {
            None => Err(unknown().into()),
            Some((_, Ok(result))) => Ok(result),
            Some((upstream, Err(e))) => Err(upstream_failure(&upstream, &e).into()),
        }
    }
}
