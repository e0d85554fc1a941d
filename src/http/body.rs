//! Reading a body chunk by chunk up to a limit, so that a sender without (or lying about)
//! `Content-Length` cannot make the Worker buffer more than the limit.

use futures_core::Stream;
use worker::ByteStream;

pub enum BodyError {
    TooLarge,
    Read(String),
}

pub async fn read_limited(stream: ByteStream, limit: usize) -> Result<Vec<u8>, BodyError> {
    read_limited_each(stream, limit, &|_| {}).await
}

/// `read_limited`, showing each chunk to `each` as it arrives.
pub async fn read_limited_each(
    stream: ByteStream,
    limit: usize,
    each: &dyn Fn(&[u8]),
) -> Result<Vec<u8>, BodyError> {
    let mut stream = std::pin::pin!(stream);
    let mut body = Vec::new();
    while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        each(&chunk);
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
