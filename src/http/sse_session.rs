//! `SseSession`, the Durable Object where one legacy HTTP+SSE session (MCP 2024-11-05)
//! lives: the event stream `GET /sse` opened, and the messages `POST /messages` sends to
//! it meet here, wherever in the world the two requests arrived. It is a relay: the Worker
//! authenticates both requests and runs the MCP methods; this object remembers whose
//! session it is and which revision it speaks, writes answers to the stream, sends a
//! keep-alive comment on every alarm, and ends the stream when the session has been idle
//! too long. Only the Worker can reach it (through the `SSE_SESSIONS` binding), so the
//! `x-mcp-*` headers it reads are the Worker's own.

use futures_channel::mpsc::{channel, Receiver, Sender};
use futures_core::Stream;
use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
// The durable_object macro expands to wasm-bindgen code that names `wasm_bindgen` by path.
use worker::wasm_bindgen;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// Events waiting for a client that is not reading: past this many the session ends, so
/// a stalled client cannot grow the object's memory without bound.
const QUEUE: usize = 32;

/// Headers the Worker sets on its requests to the object. `USER` names the person and the
/// credential (grant or personal token) that opened the session.
pub const USER: &str = "x-mcp-user";
pub const VERSION: &str = "x-mcp-version";
pub const ENDPOINT: &str = "x-mcp-endpoint";
pub const KEEPALIVE: &str = "x-mcp-keepalive";
pub const IDLE: &str = "x-mcp-idle";

struct Open {
    user: String,
    /// The revision `initialize` settled on; `None` before it.
    version: Option<String>,
    sender: Sender<Vec<u8>>,
    /// When a message last arrived (ms); keep-alives do not count.
    last_activity: u64,
    keepalive_ms: u64,
    idle_ms: u64,
}

#[durable_object(alarm)]
pub struct SseSession {
    state: State,
    open: RefCell<Option<Open>>,
}

fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

fn header_u64(req: &Request, name: &str, default: u64) -> u64 {
    req.headers()
        .get(name)
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The stream's bytes as the `TryStream` a `Response` body wants.
struct Body(Receiver<Vec<u8>>);

impl Stream for Body {
    type Item = Result<Vec<u8>>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx).map(|c| c.map(Ok))
    }
}

impl SseSession {
    async fn open(&self, req: &Request, user: String) -> Result<Response> {
        if self.open.borrow().is_some() {
            return Response::error("session already open", 409);
        }
        let endpoint = req.headers().get(ENDPOINT)?.unwrap_or_default();
        let keepalive_ms = header_u64(req, KEEPALIVE, 15) * 1000;
        let idle_ms = header_u64(req, IDLE, 600) * 1000;
        let (mut sender, receiver) = channel(QUEUE);
        // The transport's first event: where to POST messages (MCP 2024-11-05, "HTTP with
        // SSE"). A fresh channel always takes the message.
        let _ = sender.try_send(crate::mcp::legacy::endpoint_event(&endpoint).into_bytes());
        *self.open.borrow_mut() = Some(Open {
            user,
            version: None,
            sender,
            last_activity: now_ms(),
            keepalive_ms,
            idle_ms,
        });
        self.state
            .storage()
            .set_alarm(Duration::from_millis(keepalive_ms))
            .await?;
        let headers = worker::Headers::new();
        headers.set("Content-Type", "text/event-stream")?;
        headers.set("Cache-Control", "no-store")?;
        headers.set("X-Accel-Buffering", "no")?;
        Ok(Response::from_stream(Body(receiver))?.with_headers(headers))
    }

    /// The session's revision ("" before `initialize`), if it is `user`'s and still open.
    fn check(&self, user: &str) -> Result<Response> {
        match self.open.borrow().as_ref() {
            Some(o) if o.user == user && !o.sender.is_closed() => {
                Response::ok(o.version.clone().unwrap_or_default())
            }
            _ => Response::error("unknown session", 404),
        }
    }

    async fn send(&self, mut req: Request, user: &str) -> Result<Response> {
        let version = req.headers().get(VERSION)?;
        let body = req.text().await?;
        let mut slot = self.open.borrow_mut();
        let Some(o) = slot.as_mut().filter(|o| o.user == user) else {
            return Response::error("unknown session", 404);
        };
        if let Some(v) = version {
            o.version = Some(v);
        }
        o.last_activity = now_ms();
        for message in body.lines().filter(|l| !l.is_empty()) {
            let event = crate::mcp::legacy::message_event(message);
            if o.sender.try_send(event.into_bytes()).is_err() {
                // The client went away, or stopped reading: the session is over.
                o.sender.close_channel();
                *slot = None;
                return Response::error("the event stream is closed", 404);
            }
        }
        Ok(Response::empty()?.with_status(202))
    }
}

impl DurableObject for SseSession {
    fn new(state: State, _env: Env) -> Self {
        SseSession {
            state,
            open: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let user = req.headers().get(USER)?.unwrap_or_default();
        if user.is_empty() {
            return Response::error("no user", 400);
        }
        match req.path().as_str() {
            "/open" => self.open(&req, user).await,
            "/check" => self.check(&user),
            "/send" => self.send(req, &user).await,
            _ => Response::error("not found", 404),
        }
    }

    /// Every `keepalive` seconds: a comment line keeps proxies from closing a quiet stream;
    /// after `idle` seconds without a message the stream ends and the client reconnects.
    async fn alarm(&self) -> Result<Response> {
        let next = {
            let mut slot = self.open.borrow_mut();
            let Some(o) = slot.as_mut() else {
                return Response::ok("");
            };
            if o.sender.is_closed() {
                *slot = None;
                return Response::ok("");
            }
            if now_ms().saturating_sub(o.last_activity) >= o.idle_ms {
                let _ = o
                    .sender
                    .try_send(crate::mcp::legacy::IDLE_CLOSE.as_bytes().to_vec());
                o.sender.close_channel();
                *slot = None;
                return Response::ok("");
            }
            // A full queue means the client is not reading; the next send ends it.
            let _ = o
                .sender
                .try_send(crate::mcp::legacy::KEEPALIVE.as_bytes().to_vec());
            o.keepalive_ms
        };
        self.state
            .storage()
            .set_alarm(Duration::from_millis(next))
            .await?;
        Response::ok("")
    }
}
