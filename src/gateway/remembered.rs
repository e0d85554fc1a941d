//! What the gateway remembers per isolate across callers: each caller's raw lists from
//! each upstream (bounded in count and bytes, until they expire) and the upstreams found
//! down (see `crate::isolate`).

use super::error::UpstreamError;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

/// An upstream's raw lists (tools, resources, templates, prompts), per isolate, by
/// (upstream, caller, method), until they expire; with their size, to bound the whole.
type ListEntry = ((String, String, &'static str), (u64, usize, Rc<Vec<Value>>));

thread_local! {
    static LISTS: RefCell<Vec<ListEntry>> = const { RefCell::new(Vec::new()) };
}

/// How long an upstream whose list got no answer (unreachable, a timeout) is not asked
/// for a list again in this isolate: meanwhile lists answer at once from the upstreams
/// that work, instead of every `tools/list` waiting out the same timeout.
pub(super) const DOWN_FOR_MS: u64 = 30_000;

thread_local! {
    /// Upstreams found down, by name: until when, and how they failed (at most one entry
    /// per configured upstream, so at most 20).
    static DOWN: RefCell<Vec<(String, u64, UpstreamError)>> = const { RefCell::new(Vec::new()) };
}

/// How `upstream` failed if it was found down within `DOWN_FOR_MS` of `now_ms`.
pub(super) fn down(upstream: &str, now_ms: u64) -> Option<UpstreamError> {
    DOWN.with(|d| {
        d.borrow()
            .iter()
            .find(|(u, until, _)| u == upstream && *until > now_ms)
            .map(|(_, _, e)| e.clone())
    })
}

/// Remembers an outage found by a list fetch (and forgets one when a list comes back).
/// Only no answer at all counts: a connection refused or a list slower than the timeout.
/// An error answer may be this person's (a 5xx for their assertion), and a tool call is
/// slow or failing for its arguments: neither may take the upstream from everyone else.
pub(super) fn note_health(upstream: &str, outcome: Option<&UpstreamError>, now_ms: u64) {
    let outage =
        outcome.filter(|e| matches!(e, UpstreamError::Timeout(_) | UpstreamError::Unreachable));
    DOWN.with(|d| {
        let mut d = d.borrow_mut();
        d.retain(|(u, _, _)| u != upstream);
        if let Some(e) = outage {
            d.push((upstream.to_string(), now_ms + DOWN_FOR_MS, e.clone()));
        }
    });
}

const MAX_LISTS: usize = 512;
/// A list larger than this (as JSON) is used but not kept; all kept lists together stay
/// under `MAX_CACHED_BYTES`, the oldest going first. An isolate has 128 MB.
const MAX_LIST_BYTES: usize = 1 << 20;
const MAX_CACHED_BYTES: usize = 8 << 20;

pub(super) fn cached_list(
    upstream: &str,
    user: &str,
    method: &str,
    now_ms: u64,
) -> Option<Rc<Vec<Value>>> {
    LISTS.with(|l| {
        l.borrow()
            .iter()
            .find(|((u, p, m), (until, _, _))| {
                u == upstream && p == user && *m == method && *until > now_ms
            })
            .map(|(_, (_, _, items))| items.clone())
    })
}

pub(super) fn keep_list(
    upstream: &str,
    user: &str,
    method: &'static str,
    until: u64,
    items: Rc<Vec<Value>>,
) {
    let bytes: usize = items.iter().map(|i| i.to_string().len()).sum();
    LISTS.with(|l| {
        let mut l = l.borrow_mut();
        l.retain(|((u, p, m), _)| !(u == upstream && p == user && *m == method));
        if bytes > MAX_LIST_BYTES {
            return;
        }
        let mut total: usize = l.iter().map(|(_, (_, b, _))| b).sum();
        while !l.is_empty() && (l.len() >= MAX_LISTS || total + bytes > MAX_CACHED_BYTES) {
            total -= l.remove(0).1 .1;
        }
        l.push((
            (upstream.to_string(), user.to_string(), method),
            (until, bytes, items),
        ));
    });
}

/// An upstream's `notifications/*/list_changed`: that list is stale for everyone.
pub(super) fn drop_lists(upstream: &str, method: &str) {
    LISTS.with(|l| {
        l.borrow_mut()
            .retain(|((u, _, m), _)| !(u == upstream && *m == method))
    });
}
