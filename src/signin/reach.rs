//! What the sign-in room asks of the edge: one outbound request with a deadline and a
//! bound on the answer, a Worker secret by name, a JWK signature check (WebCrypto, the
//! `jws::VerifyJwk` the grants use too), and the clock. The edge implements it on its request context; native tests on a double
//! that answers from a table.

use crate::oauth::jws::VerifyJwk;
use crate::util::fetched::{Fetched, Unreachable};

/// One outbound request.
pub struct Outbound<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a [u8]>,
    pub timeout_ms: u64,
    /// The largest answer read; a larger one is `Unreachable`.
    pub limit: usize,
}

#[allow(async_fn_in_trait)]
pub trait Reach: VerifyJwk {
    /// Sends the request, following no redirect.
    async fn fetch(&self, request: Outbound<'_>) -> Result<Fetched, Unreachable>;
    /// A Worker secret's value, if it is set.
    fn secret(&self, name: &str) -> Option<String>;
    /// Unix seconds.
    fn now(&self) -> u64;
}
