//! The gateway's edge: the upstreams of `UPSTREAMS` checked against this Worker's
//! bindings once per isolate, the transport (`fetch` to a URL, or a service binding) with
//! its header allow-lists, timeout and size bound, and the signer of user assertions.
//! What is routed where is decided in `gateway`; this file only reaches out.

use super::bearer::Principal;
use super::body::{read_limited_each, BodyError};
use super::webcrypto::WebCrypto;
use super::{now, now_ms, Ctx};
use crate::audit::Event;
use crate::config::ConfigError;
use crate::encoding::random_token;
use crate::gateway::assertion::{self, UserAssertion};
use crate::gateway::client::MAX_ANSWER_BYTES;
use crate::gateway::client::{Answer, Outbound, SendFuture, Transport, TransportError};
use crate::gateway::config::{self, Environment, Target, Upstream};
use crate::gateway::{Gateway, SignFuture, Signer};
use crate::oauth::catalog::Catalog;
use crate::oauth::keys::KeySet;
use crate::util::futures::first_of;
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use worker::{console_error, console_log, web_sys, AbortController, Delay, Fetch, Headers};

type Upstreams = Rc<Result<Vec<Upstream>, ConfigError>>;

thread_local! {
    static UPSTREAMS: OnceCell<Upstreams> = const { OnceCell::new() };
}

/// The configured upstreams (checked once per isolate; a mistake is logged once).
pub fn upstreams(ctx: &Ctx) -> Upstreams {
    UPSTREAMS.with(|cell| {
        cell.get_or_init(|| {
            let names: Vec<&str> = crate::mcp::tools::TOOLS.iter().map(|t| t.name()).collect();
            let parsed = match crate::http::ctx::catalog(&ctx.config) {
                Ok(catalog) => {
                    let env = Environment {
                        has_secret: &|name| ctx.env.secret(name).is_ok(),
                        has_service: &|name| ctx.env.service(name).is_ok(),
                        builtin_names: &names,
                        catalog: &catalog,
                    };
                    config::parse(
                        ctx.config.upstreams.as_deref(),
                        ctx.config.builtin_tools,
                        &env,
                    )
                }
                // Logged where it was read; the upstreams wait for it.
                Err(e) => Err(e),
            };
            if let Err(e) = &parsed {
                console_error!(
                    "gateway not configured: {e}; no upstream is served until it is fixed"
                );
            }
            Rc::new(parsed)
        })
        .clone()
    })
}

/// What a request through the gateway needs, borrowed by its `Gateway`.
pub struct Parts<'a> {
    upstreams: Upstreams,
    catalog: Rc<Catalog>,
    transport: EdgeTransport<'a>,
    signer: EdgeSigner<'a>,
    /// Whom upstream sessions and lists are kept for: the person, the client (or
    /// personal token) and the scope, as the assertion that opened them says.
    caller_key: String,
}

impl<'a> Parts<'a> {
    /// The parts for a signed-in caller, when upstreams are configured and valid.
    pub fn new(ctx: &'a Ctx, caller: &'a Principal, keys: Rc<KeySet>) -> Option<Parts<'a>> {
        let upstreams = upstreams(ctx);
        if !matches!(upstreams.as_ref(), Ok(u) if !u.is_empty()) {
            return None;
        }
        Some(Parts {
            upstreams,
            catalog: ctx.scopes().ok()?,
            transport: EdgeTransport { ctx },
            signer: EdgeSigner {
                ctx,
                caller,
                keys,
                email: RefCell::new(None),
                signed: RefCell::new(Vec::new()),
            },
            caller_key: format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                caller.user,
                caller.client(),
                caller.scope,
                caller.roles.join(" ")
            ),
        })
    }

    pub fn gateway(&self) -> Gateway<'_> {
        Gateway {
            catalog: &self.catalog,
            upstreams: match self.upstreams.as_ref() {
                Ok(u) => u,
                Err(_) => &[],
            },
            transport: &self.transport,
            signer: &self.signer,
            user: &self.caller_key,
            now_ms: now_ms(),
            calls: RefCell::new(Vec::new()),
            failures: RefCell::new(Vec::new()),
        }
    }
}

/// The outcomes of a call that mean the upstream itself failed (not the tool).
const DOWN: [&str; 5] = [
    "timeout",
    "unreachable",
    "http_error",
    "not_mcp",
    "session_lost",
];

/// After a request through the gateway: its calls in the audit log (upstream, tool,
/// outcome; never arguments or results) and the upstreams left out of a list in the log.
pub async fn finish(ctx: &Ctx, caller: &Principal, gw: &Gateway<'_>) {
    for (name, why) in gw.failures.borrow().iter() {
        console_log!(
            "[{}] gateway: upstream {name} left out: {why}",
            ctx.request_id
        );
    }
    let left_out: Vec<String> = gw
        .failures
        .borrow()
        .iter()
        .map(|(name, why)| format!("The upstream '{name}' was left out of a list: {why}"))
        .collect();
    for cause in &left_out {
        caller.tell_doctor(ctx, Some(cause)).await;
    }
    let calls = gw.calls.take();
    if calls.is_empty() {
        return;
    }
    for c in calls.iter().filter(|c| DOWN.contains(&c.outcome)) {
        // Which tool is in the audit log (gateway_call); one cause per upstream and way
        // of failing keeps the doctor's rows few.
        let cause = format!(
            "The upstream '{}' was down when one of its tools was called ({}): see the \
             overview's upstreams, and the audit log's gateway_call rows for which tool",
            c.upstream, c.outcome
        );
        caller.tell_doctor(ctx, Some(&cause)).await;
    }
    let details: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {} {}", c.upstream, c.tool, c.outcome))
        .collect();
    let events: Vec<(Event, Option<&str>)> = details
        .iter()
        .map(|d| (Event::GatewayCall, Some(d.as_str())))
        .collect();
    let client = caller.client();
    ctx.audit_all(&events, Some(&caller.user), Some(&client))
        .await;
}

/// The configuration's mistake, if any, for the JSON-RPC error that names the setting.
pub fn config_error(ctx: &Ctx) -> Option<ConfigError> {
    upstreams(ctx).as_ref().as_ref().err().cloned()
}

struct EdgeSigner<'a> {
    ctx: &'a Ctx,
    caller: &'a Principal,
    keys: Rc<KeySet>,
    /// The person's email, read at most once per request (and only with `email`).
    email: RefCell<Option<Option<String>>>,
    /// Assertions already signed in this request: audience, when, the JWT.
    signed: RefCell<Vec<(String, u64, String)>>,
}

/// An assertion is reused within one client request for at most this long, so none is
/// sent with less than half its lifetime left.
const REUSE_SECONDS: u64 = assertion::LIFETIME_SECONDS / 2;

impl EdgeSigner<'_> {
    async fn email(&self) -> Option<String> {
        if let Some(known) = self.email.borrow().clone() {
            return known;
        }
        let granted = self.caller.scope.split(' ').any(|s| s == "email");
        let found = if granted {
            match self.ctx.db() {
                Ok(db) => db
                    .user_by_id(&self.caller.user)
                    .await
                    .ok()
                    .flatten()
                    .map(|u| u.email),
                Err(_) => None,
            }
        } else {
            None
        };
        *self.email.borrow_mut() = Some(found.clone());
        found
    }

    async fn sign(&self, audience: &str) -> Result<String, String> {
        let now = now();
        let reusable = self
            .signed
            .borrow()
            .iter()
            .find(|(aud, iat, _)| aud == audience && now < iat + REUSE_SECONDS)
            .map(|(_, _, a)| a.clone());
        if let Some(a) = reusable {
            return Ok(a);
        }
        let claims = UserAssertion {
            iss: self.ctx.issuer.clone(),
            aud: audience.to_string(),
            sub: self.caller.user.clone(),
            email: self.email().await,
            client_id: self.caller.client(),
            scope: self.caller.scope.clone(),
            roles: self.caller.roles.clone(),
            iat: now,
            exp: now + assertion::LIFETIME_SECONDS,
            jti: random_token(),
        };
        let signed = assertion::sign(&WebCrypto, &self.keys, &claims).await?;
        let mut kept = self.signed.borrow_mut();
        kept.retain(|(aud, _, _)| aud != audience);
        kept.push((audience.to_string(), now, signed.clone()));
        Ok(signed)
    }
}

impl Signer for EdgeSigner<'_> {
    fn assertion<'a>(&'a self, audience: &'a str) -> SignFuture<'a> {
        Box::pin(self.sign(audience))
    }
}

struct EdgeTransport<'a> {
    ctx: &'a Ctx,
}

impl Transport for EdgeTransport<'_> {
    fn send<'a>(
        &'a self,
        upstream: &'a Upstream,
        out: Outbound,
        chunk: &'a dyn Fn(&[u8]),
    ) -> SendFuture<'a> {
        Box::pin(send(self.ctx, upstream, out, chunk))
    }
}

async fn send(
    ctx: &Ctx,
    upstream: &Upstream,
    out: Outbound,
    chunk: &dyn Fn(&[u8]),
) -> Result<Answer, TransportError> {
    let controller = AbortController::default();
    let signal = controller.signal();
    // One deadline for the headers and the whole body.
    let work = std::pin::pin!(send_and_read(ctx, upstream, out, &signal, chunk));
    let timeout = std::pin::pin!(Delay::from(std::time::Duration::from_millis(
        upstream.timeout_ms
    )));
    match first_of(work, timeout).await {
        Some(result) => result,
        None => {
            controller.abort();
            Err(TransportError::Timeout)
        }
    }
}

async fn send_and_read(
    ctx: &Ctx,
    upstream: &Upstream,
    out: Outbound,
    signal: &worker::AbortSignal,
    chunk: &dyn Fn(&[u8]),
) -> Result<Answer, TransportError> {
    let failed = |e: String| TransportError::Unreachable(e);
    // An allow-list: the gateway's own headers and the operator's credential, nothing
    // from the client's request.
    let headers = Headers::new();
    for (name, value) in &out.headers {
        headers
            .set(name, value)
            .map_err(|e| failed(e.to_string()))?;
    }
    if let Some(c) = &upstream.credential {
        let secret = ctx
            .env
            .secret(&c.secret)
            .map_err(|_| failed(format!("secret {} is not set", c.secret)))?
            .to_string();
        let value = if c.header.eq_ignore_ascii_case("authorization") {
            format!("Bearer {secret}")
        } else {
            secret
        };
        headers
            .set(&c.header, &value)
            .map_err(|e| failed(e.to_string()))?;
    }
    let url = match &upstream.target {
        Target::Url(u) => u.clone(),
        // A service binding ignores the host; the path is the upstream's endpoint.
        Target::Service { binding, path } => {
            format!("https://{}.service{path}", binding.to_ascii_lowercase())
        }
    };
    // web_sys's RequestInit, as in cimd.rs (worker's links serde code for `cf` options).
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(headers.as_ref());
    init.set_body(&worker::wasm_bindgen::JsValue::from_str(&out.body));
    // An upstream's redirect is not followed: no URL but the configured one is reached.
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_signal(Some(signal.as_ref()));
    let request: worker::Request = web_sys::Request::new_with_str_and_init(&url, &init)
        .map_err(|e| failed(format!("{e:?}")))?
        .into();
    let mut response = match &upstream.target {
        Target::Url(_) => Fetch::Request(request).send_with_signal(signal).await,
        Target::Service { binding, .. } => match ctx.env.service(binding) {
            Ok(fetcher) => fetcher.fetch_request(request).await,
            Err(e) => Err(e),
        },
    }
    .map_err(|e| failed(e.to_string()))?;
    let header = |name: &str| response.headers().get(name).ok().flatten();
    if header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_ANSWER_BYTES)
    {
        return Err(TransportError::TooLarge);
    }
    let status = response.status_code();
    let content_type = header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let session_id = header("mcp-session-id").filter(|s| {
        // The transport's rule: visible ASCII; anything else is not kept or sent back.
        s.len() <= 256 && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
    });
    // An event stream's chunks are shown as they come (progress before the result);
    // only a success is an answer worth reading early.
    let live: &dyn Fn(&[u8]) =
        if (200..300).contains(&status) && content_type.starts_with("text/event-stream") {
            chunk
        } else {
            &|_| {}
        };
    let body = match response.stream() {
        Ok(stream) => match read_limited_each(stream, MAX_ANSWER_BYTES, live).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => return Err(TransportError::TooLarge),
            Err(BodyError::Read(e)) => return Err(failed(e)),
        },
        Err(_) => Vec::new(),
    };
    Ok(Answer {
        status,
        content_type,
        session_id,
        body,
    })
}
