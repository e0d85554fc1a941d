//! What the sign-in room asks of the edge: one outbound request with a deadline and a
//! bound on the answer, a Worker secret by name, a JWK signature check (WebCrypto), and
//! the clock. The edge implements it on its request context; native tests on a double
//! that answers from a table.

use crate::signin::id_token::Alg;
use crate::util::fetched::{Fetched, Unreachable};
use serde_json::Value;

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
pub trait Reach {
    /// Sends the request, following no redirect.
    async fn fetch(&self, request: Outbound<'_>) -> Result<Fetched, Unreachable>;
    /// A Worker secret's value, if it is set.
    fn secret(&self, name: &str) -> Option<String>;
    /// Whether `signature` over `message` verifies with `jwk` as `alg`.
    async fn verify_jwk(&self, alg: Alg, jwk: &Value, message: &[u8], signature: &[u8]) -> bool;
    /// Unix seconds.
    fn now(&self) -> u64;
}
