//! Answers every request with a small JSON body and nothing else: the floor that the
//! benchmark measures the real Worker against.

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    // The body is read, as any real handler does: an unread body makes workerd close the
    // connection, and the floor would then pay for a new connection on every request.
    let _ = req.bytes().await;
    let mut res = Response::from_bytes(br#"{"ok":true}"#.to_vec())?;
    res.headers_mut().set("Content-Type", "application/json")?;
    Ok(res)
}
