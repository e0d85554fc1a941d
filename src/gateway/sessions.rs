//! What the gateway remembers per isolate about each upstream: its protocol era, and the
//! session opened for each person (see `crate::isolate` for the bounds).

use std::cell::RefCell;

/// An upstream session: its id (`None` for a stateless upstream) and revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Session {
    pub id: Option<String>,
    pub version: String,
}

/// Sessions kept per isolate, by (upstream, person); the oldest goes past the bound.
const MAX_SESSIONS: usize = 256;

thread_local! {
    static SESSIONS: RefCell<Vec<((String, String), Session)>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// Upstreams known to speak 2026-07-28 (`true`) or only the session era (`false`),
    /// so `server/discover` is asked once per upstream and isolate.
    static ERAS: RefCell<Vec<(String, bool)>> = const { RefCell::new(Vec::new()) };
}

pub(super) fn known_era(upstream: &str) -> Option<bool> {
    ERAS.with(|e| {
        e.borrow()
            .iter()
            .find(|(u, _)| u == upstream)
            .map(|(_, s)| *s)
    })
}

pub(super) fn keep_era(upstream: &str, stateless: bool) {
    ERAS.with(|e| {
        let mut e = e.borrow_mut();
        e.retain(|(u, _)| u != upstream);
        e.push((upstream.to_string(), stateless));
    });
}

pub(super) fn cached_session(upstream: &str, user: &str) -> Option<Session> {
    SESSIONS.with(|s| {
        s.borrow()
            .iter()
            .find(|((u, p), _)| u == upstream && p == user)
            .map(|(_, v)| v.clone())
    })
}

pub(super) fn keep_session(upstream: &str, user: &str, session: Session) {
    SESSIONS.with(|s| {
        let mut s = s.borrow_mut();
        s.retain(|((u, p), _)| !(u == upstream && p == user));
        if s.len() >= MAX_SESSIONS {
            s.remove(0);
        }
        s.push(((upstream.to_string(), user.to_string()), session));
    });
}

pub(super) fn forget_session(upstream: &str, user: &str) {
    SESSIONS.with(|s| {
        s.borrow_mut()
            .retain(|((u, p), _)| !(u == upstream && p == user))
    });
}
