//! mcp-oauth-worker: an OAuth 2.1 authorization server and an MCP Streamable HTTP server in
//! one Cloudflare Worker. This file is the Worker's entry point and nothing else.

// No request may panic: with `panic = "abort"` a panic aborts the whole isolate (its
// caches, and every request in flight in it). Outside tests, the ways indexing, slicing and
// unwrapping panic are refused by clippy (`npm test` runs it with `-D warnings`); the few
// places that index fixed-size arrays by constants say so where they allow it.
#![cfg_attr(
    not(test),
    warn(
        clippy::string_slice,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod audit;
pub mod audit_export;
pub mod config;
pub mod doctor;
pub mod encoding;
pub mod gateway;
pub mod http;
pub mod isolate;
pub mod json;
pub mod mcp;
pub mod oauth;
pub mod reply;
pub mod signin;
pub mod store;
pub mod templates;
pub mod util;
pub mod wire;

#[cfg(all(test, feature = "differential"))]
mod differential;

use worker::{event, Context, Env, Result, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(
    req: worker::web_sys::Request,
    env: Env,
    _ctx: Context,
) -> Result<worker::web_sys::Response> {
    Ok(http::handle(req, env).await)
}

/// The cron trigger of `wrangler.toml`: daily upkeep.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    http::cron::daily(&env).await;
}
