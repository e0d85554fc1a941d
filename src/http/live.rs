//! An `/mcp` answer streamed while it is being worked out: a `tools/call` through the
//! gateway whose upstream sends progress before its result. The request runs in a task
//! of its own; the first notification it sends starts the event stream (the client gets
//! the headers and that event at once), later ones follow as they come, and the response
//! ends the stream. A request that sends nothing before its answer is answered as usual.
//! Only requests that could stream take this path (upstreams configured, an event stream
//! accepted, a progress token in the body), so every other request costs what it did.

use super::route::Route;
use super::{Ctx, Incoming};
use crate::mcp::transport::sse_event;
use crate::reply::{Reply, NO_STORE};
use futures_channel::{mpsc, oneshot};
use futures_core::Stream;
use serde_json::Value;
use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// What the caller of `run` answers with.
pub enum Live {
    /// Nothing was sent early: the whole answer, as any handler gives it.
    Whole(Reply),
    /// The stream's headers, and its events as the task sends them.
    Stream(Reply, Events),
}

pub struct Events(mpsc::UnboundedReceiver<Vec<u8>>);

impl Stream for Events {
    type Item = worker::Result<Vec<u8>>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx).map(|c| c.map(Ok))
    }
}

/// Whether this request may stream, judged without parsing it: the body is parsed once,
/// by the handler.
pub fn candidate(route: Route, ctx: &Ctx, req: &Incoming) -> bool {
    matches!(route, Route::Mcp | Route::McpPathToken)
        && req.method == "POST"
        && ctx.config.upstreams.is_some()
        && req
            .header("accept")
            .is_some_and(|a| a.contains("text/event-stream"))
        && req
            .body
            .windows(b"progressToken".len())
            .any(|w| w == b"progressToken")
}

struct State {
    head: RefCell<Option<oneshot::Sender<Live>>>,
    events: RefCell<Option<mpsc::UnboundedReceiver<Vec<u8>>>>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

impl State {
    /// A notification: the first one opens the stream.
    fn event(&self, notification: &Value) {
        if let Some(head) = self.head.borrow_mut().take() {
            if let Some(rx) = self.events.borrow_mut().take() {
                let _ = head.send(Live::Stream(stream_head(), Events(rx)));
            }
        }
        // A client that went away closed the receiver; the call still runs to its end.
        let _ = self.tx.unbounded_send(sse_event(notification).into_bytes());
    }

    /// The handler's answer: the whole reply if nothing went early, else the stream's
    /// last event.
    fn finish(&self, reply: Reply) {
        match self.head.borrow_mut().take() {
            Some(head) => {
                let _ = head.send(Live::Whole(reply));
            }
            None => {
                let is_stream = reply.headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("content-type") && v.starts_with("text/event-stream")
                });
                let last = if is_stream {
                    reply.body
                } else {
                    // Already streaming: a JSON answer (an error) becomes the last event.
                    let message: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
                    sse_event(&message).into_bytes()
                };
                let _ = self.tx.unbounded_send(last);
            }
        }
        self.tx.close_channel();
    }
}

fn stream_head() -> Reply {
    Reply::new(200)
        .header("Content-Type", "text/event-stream")
        .header("Cache-Control", NO_STORE)
        .header("X-Accel-Buffering", "no")
}

/// Runs the request in a task of its own and answers as soon as there is something to
/// answer: its first notification, or its whole reply.
pub async fn run(route: Route, mut ctx: Ctx, req: Incoming) -> Live {
    let (head, head_rx) = oneshot::channel();
    let (tx, rx) = mpsc::unbounded();
    let state = Rc::new(State {
        head: RefCell::new(Some(head)),
        events: RefCell::new(Some(rx)),
        tx,
    });
    let sink = state.clone();
    ctx.live = Some(Rc::new(move |n: &Value| sink.event(n)));
    let request_id = ctx.request_id.clone();
    worker::wasm_bindgen_futures::spawn_local(async move {
        let reply = super::dispatch(route, &ctx, &req).await;
        // The sink in `ctx` holds the state too: let it go with the request.
        drop(ctx);
        state.finish(reply);
    });
    head_rx.await.unwrap_or_else(|_| {
        worker::console_error!("[{request_id}] the streamed request ended without an answer");
        Live::Whole(super::mcp_call::internal(&Value::Null))
    })
}
