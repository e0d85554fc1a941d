//! One outbound request with the limits every call to someone else's server needs: one
//! deadline for the headers and the body (a slow drip cannot hold the request), a bound on
//! the body (a sender without, or lying about, `Content-Length` cannot make the Worker
//! buffer more), and redirects not followed (every URL fetched is one this Worker chose).

use super::body::{read_limited, BodyError};
use crate::util::futures::first_of;
use worker::{web_sys, AbortController, Delay, Fetch, Headers, Request};

pub use crate::util::fetched::{Fetched, Unreachable, TOO_LARGE};

pub async fn fetch(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout_ms: u64,
    limit: usize,
) -> Result<Fetched, Unreachable> {
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = std::pin::pin!(send(method, url, headers, body, &signal, limit));
    let timeout = std::pin::pin!(Delay::from(std::time::Duration::from_millis(timeout_ms)));
    match first_of(work, timeout).await {
        Some(result) => result,
        None => {
            controller.abort();
            Err(format!("no answer within {timeout_ms} ms"))
        }
    }
}

async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    signal: &worker::AbortSignal,
    limit: usize,
) -> Result<Fetched, Unreachable> {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v).map_err(|e| e.to_string())?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_headers(h.as_ref());
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if let Some(b) = body {
        init.set_body(&worker::js_sys::Uint8Array::from(b).into());
    }
    let request: Request = web_sys::Request::new_with_str_and_init(url, &init)
        .map_err(|_| "the URL cannot be fetched".to_string())?
        .into();
    let mut response = Fetch::Request(request)
        .send_with_signal(signal)
        .await
        .map_err(|e| format!("unreachable: {e}"))?;
    let status = response.status_code();
    let cache_control = response.headers().get("cache-control").ok().flatten();
    let content_type = response.headers().get("content-type").ok().flatten();
    if let Ok(Some(len)) = response.headers().get("content-length") {
        if len.parse::<usize>().map_or(true, |n| n > limit) {
            return Err(format!("{TOO_LARGE} {limit} bytes"));
        }
    }
    let body = match response.stream() {
        Ok(stream) => match read_limited(stream, limit).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => return Err(format!("{TOO_LARGE} {limit} bytes")),
            Err(BodyError::Read(e)) => return Err(format!("the answer broke off: {e}")),
        },
        Err(_) => Vec::new(),
    };
    Ok(Fetched {
        status,
        body,
        cache_control,
        content_type,
    })
}
