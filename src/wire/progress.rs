//! Progress notifications (MCP "Progress"): what a built-in tool reports, and what the
//! gateway forwards from an upstream, for a request that carried a progress token.

use serde_json::{json, Value};
use std::cell::RefCell;

/// `notifications/progress` a tool sends while it runs, for a request that carried
/// `_meta.progressToken`; without one, reports are dropped. Kept for the answer's event
/// stream, or, with a `live` sink (the edge's open stream), sent on as they come.
/// Where notifications go as they come (the edge's open event stream).
pub type LiveSink = std::rc::Rc<dyn Fn(&Value)>;

#[derive(Default)]
pub struct Progress {
    token: Option<Value>,
    sent: RefCell<Vec<Value>>,
    live: Option<LiveSink>,
    streamed: std::cell::Cell<bool>,
}

impl Progress {
    pub fn for_token(token: Option<Value>) -> Self {
        Progress {
            token: token.filter(|t| t.is_string() || t.is_i64() || t.is_u64()),
            ..Progress::default()
        }
    }

    /// Notifications go to `sink` as they come instead of waiting for the answer.
    pub fn live(mut self, sink: Option<LiveSink>) -> Self {
        self.live = sink;
        self
    }

    pub fn report(&self, progress: u64, total: u64, message: &str) {
        if let Some(token) = &self.token {
            self.emit(json!({
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": { "progressToken": token, "progress": progress, "total": total, "message": message }
            }));
        }
    }

    /// The client's progress token, if it sent one and accepts a stream.
    pub fn token(&self) -> Option<&Value> {
        self.token.as_ref()
    }

    /// A notification already addressed to this request's token (from an upstream).
    pub fn forward(&self, notification: Value) {
        if self.token.is_some() {
            self.emit(notification);
        }
    }

    fn emit(&self, notification: Value) {
        match &self.live {
            Some(sink) => {
                sink(&notification);
                self.streamed.set(true);
            }
            None => self.sent.borrow_mut().push(notification),
        }
    }

    /// Whether notifications were already sent on the live stream.
    pub fn streamed(&self) -> bool {
        self.streamed.get()
    }

    pub fn take(&self) -> Vec<Value> {
        self.sent.take()
    }
}
