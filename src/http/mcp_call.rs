//! What the `/mcp` handlers share, a leaf of them: who is calling (`Call`), the MCP
//! server built for a request, and the answers every path gives: 401 and 403 challenges
//! (RFC 6750 §3, RFC 9728), transport rejections and internal errors as JSON-RPC.

use super::bearer::{unauthorized_with, Credential, Principal};
use super::{now, Ctx};
use crate::gateway::Gateway;
use crate::mcp::challenges::{self, Shape};
use crate::mcp::error::RpcError;
use crate::mcp::server::{Caller, Server, DEFAULT_PAGE_SIZE};
use crate::mcp::tools::{Public, SignIn};
use crate::mcp::transport::{self, Rejection};
use crate::oauth::catalog::Catalog;
use crate::oauth::client::host_of;
use crate::oauth::metadata::resource_metadata_url;
use crate::reply::{Reply, NO_STORE};
use serde_json::{json, Value};
use worker::console_log;

/// Who is calling (`None`: no token, only with public tools) and which tools are public.
pub struct Call<'a> {
    pub caller: Option<&'a Principal>,
    pub public: Public,
    /// The operator's scopes (`SCOPES`).
    pub catalog: &'a Catalog,
    /// The request's `User-Agent`: part of how a tool's sign-in challenge is shaped.
    pub user_agent: Option<&'a str>,
}

impl Call<'_> {
    /// What sessions are bound to: the person and their grant or personal token, or ""
    /// for requests without a token (no holder is empty), so a session begun anonymously
    /// is not one of the person's.
    pub(super) fn session_holder(&self) -> String {
        self.caller.map(|p| p.session_holder()).unwrap_or_default()
    }
}

thread_local! {
    static WARNED_PUBLIC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `PUBLIC_TOOLS` as a set; names that cannot be public are logged once per isolate.
pub(crate) fn public_tools(ctx: &Ctx) -> Public {
    let (public, ignored) = Public::from_names(&ctx.config.public_tools);
    if !ignored.is_empty() && !WARNED_PUBLIC.with(|w| w.replace(true)) {
        console_log!(
            "PUBLIC_TOOLS: ignored {} (not a tool, or a tool that works on a person's data)",
            ignored.join(", ")
        );
    }
    public
}

pub(crate) fn unauthorized(ctx: &Ctx, why: Option<&str>) -> Reply {
    let challenge = transport::challenge(
        &resource_metadata_url(&ctx.issuer),
        &default_resource_scopes(ctx),
        why,
    );
    unauthorized_with(&challenge, why)
}

/// What a client without a token should ask for: the default resource scopes.
fn default_resource_scopes(ctx: &Ctx) -> String {
    match ctx.scopes() {
        Ok(c) => {
            let defaults = c.defaults();
            let names: Vec<&str> = defaults.iter().filter(|s| c.is_resource_scope(s)).collect();
            names.join(" ")
        }
        Err(_) => String::new(),
    }
}

pub(crate) fn forbidden_scope(ctx: &Ctx) -> Reply {
    forbidden(
        ctx,
        &default_resource_scopes(ctx),
        "the token grants none of this server's scopes",
    )
}

/// A 403 that names the scope to ask for (RFC 6750 §3.1), which is what lets a client
/// step up its authorization.
fn forbidden(ctx: &Ctx, scope: &str, description: &str) -> Reply {
    let challenge = format!(
        "Bearer resource_metadata=\"{}\", error=\"insufficient_scope\", scope=\"{scope}\", \
         error_description=\"{description}\"",
        resource_metadata_url(&ctx.issuer),
    );
    Reply::json(
        403,
        &json!({ "error": "insufficient_scope", "error_description": description }),
    )
    .header("WWW-Authenticate", &challenge)
    .header("Cache-Control", NO_STORE)
}

/// What a request for a method its token does not cover gets: sign-in without a token,
/// step-up with one.
pub(super) fn scope_needed(ctx: &Ctx, call: &Call<'_>, scope: &str) -> Reply {
    let scope = scope.trim();
    match call.caller {
        None => unauthorized(ctx, None),
        Some(_) => forbidden(
            ctx,
            scope,
            "this method needs a scope the token does not grant",
        ),
    }
}

/// A tool call that needs sign-in or more scope, in the HTTP shape: 401 naming the scopes
/// to ask for (the defaults and the tool's) without a token, 403 `insufficient_scope`
/// with one. Claude's connector and the MCP SDKs start sign-in or step-up from these.
pub(super) fn sign_in_needed(ctx: &Ctx, call: &Call<'_>, s: &SignIn) -> Reply {
    match call.caller {
        None => {
            let challenge =
                transport::challenge(&resource_metadata_url(&ctx.issuer), &s.scope, None);
            unauthorized_with(&challenge, None)
        }
        Some(_) => forbidden(ctx, &s.scope, &s.description),
    }
}

/// Which shape of challenge this caller acts on (`mcp::challenges`): its `User-Agent`
/// first; then a personal access token, which no sign-in can widen, gets the tool result
/// the person reads; then the app behind an access token, by its metadata document's
/// host, or (read only now, when a challenge is due) its redirect URIs' hosts; else HTTP.
pub(super) async fn challenge_shape(ctx: &Ctx, call: &Call<'_>) -> Shape {
    if let Some(shape) = challenges::by_user_agent(call.user_agent) {
        return shape;
    }
    let client_id = match call.caller.map(|p| &p.credential) {
        Some(Credential::Access { client_id, .. }) => client_id,
        Some(Credential::Personal { .. }) => return Shape::ToolResult,
        Some(Credential::Console) | None => return Shape::Http,
    };
    if client_id.starts_with("https://")
        && challenges::by_app_hosts(std::iter::once(host_of(client_id).as_str()))
            == Shape::ToolResult
    {
        return Shape::ToolResult;
    }
    let now = super::now();
    if let Some(shape) = SHAPES.with(|s| s.borrow().get(client_id, now)) {
        return shape;
    }
    let shape = match ctx.find_client(client_id).await {
        Ok(Some(client)) => {
            let hosts: Vec<String> = client.redirect_uris.iter().map(|u| host_of(u)).collect();
            challenges::by_app_hosts(hosts.iter().map(String::as_str))
        }
        // Not known now: not remembered either.
        _ => return Shape::Http,
    };
    SHAPES.with(|s| {
        s.borrow_mut()
            .put(client_id.clone(), shape, now + SHAPE_SECONDS, now)
    });
    shape
}

/// How long an app's challenge shape is remembered: its redirect URIs rarely change.
const SHAPE_SECONDS: u64 = 300;

thread_local! {
    /// The challenge shape of apps known by their redirect URIs, so a caller refused again
    /// and again costs one client read per app every few minutes, not one per call.
    static SHAPES: std::cell::RefCell<crate::store::memo::Memo<String, Shape>> =
        std::cell::RefCell::new(crate::store::memo::Memo::new(1024));
}

/// The scope catalog, or the JSON-RPC error naming the broken setting (logged once where
/// it was read): nothing at `/mcp` is granted or checked without it.
pub(crate) fn catalog_or_refusal(ctx: &Ctx) -> Result<std::rc::Rc<Catalog>, Reply> {
    crate::http::ctx::catalog(&ctx.config).map_err(|e| {
        Reply::json(
            503,
            &RpcError::misconfigured(&e.setting).to_response(&Value::Null),
        )
        .header("Cache-Control", NO_STORE)
    })
}

pub(crate) fn rejection(r: Rejection) -> Reply {
    rejection_for(r, &Value::Null)
}

pub(super) fn rejection_for(r: Rejection, id: &Value) -> Reply {
    Reply::json(r.status, &r.error.to_response(id)).header("Cache-Control", NO_STORE)
}

pub(crate) fn server<'a>(
    ctx: &'a Ctx,
    call: &'a Call<'a>,
    db: &'a crate::store::d1::D1,
    rm: &'a str,
    gateway: Option<&'a Gateway<'a>>,
) -> Server<'a> {
    Server {
        caller: Caller {
            user: call.caller.map(|p| p.user.as_str()),
            scopes: call
                .caller
                .map(|p| p.scope.split(' ').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
        },
        notes: db,
        base_url: &ctx.issuer,
        resource_metadata: rm,
        product_name: &ctx.config.product_name,
        catalog: call.catalog,
        now: now(),
        page_size: DEFAULT_PAGE_SIZE,
        public: call.public,
        builtin: ctx.config.builtin_tools,
        gateway,
        upstreams_configured: ctx.config.upstreams.is_some(),
    }
}

/// A failure of this server (storage, a binding): logged, answered as JSON-RPC's
/// internal error.
pub(crate) fn failed(ctx: &Ctx, cause: impl std::fmt::Display) -> Reply {
    ctx.internal(cause);
    internal(&Value::Null)
}

pub(crate) fn internal(id: &Value) -> Reply {
    Reply::json(500, &RpcError::internal().to_response(id)).header("Cache-Control", NO_STORE)
}

/// What the gateway needs for a signed-in caller, when upstreams are configured.
pub(crate) fn gateway_parts<'a>(
    ctx: &'a Ctx,
    caller: Option<&'a Principal>,
) -> Option<super::gateway::Parts<'a>> {
    let caller = caller.filter(|_| ctx.config.upstreams.is_some())?;
    let keys = ctx.keys().ok()?;
    super::gateway::Parts::new(ctx, caller, keys)
}
