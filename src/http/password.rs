//! Password verification with WebCrypto's PBKDF2-SHA256 (native code, so 100,000
//! iterations fit in a request's CPU budget; Cloudflare refuses more).

use crate::encoding::{b64url_decode, constant_time_eq};
use crate::http::webcrypto::pbkdf2;

/// A hash of a random password with the same cost, checked when the account does not
/// exist, so that "no such user" and "wrong password" take the same time.
pub const DUMMY_SALT: &str = "AAAAAAAAAAAAAAAAAAAAAA";
pub const DUMMY_HASH: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Whether `password` matches the stored hash. A malformed stored record never matches.
pub async fn verify(password: &str, salt_b64: &str, hash_b64: &str, iterations: u32) -> bool {
    let (Some(salt), Some(expected)) = (b64url_decode(salt_b64), b64url_decode(hash_b64)) else {
        return false;
    };
    // Cloudflare rejects more than 100,000 iterations; fewer would be a weak hash.
    if iterations != 100_000 {
        return false;
    }
    match pbkdf2(password, &salt, iterations).await {
        Ok(derived) => constant_time_eq(&derived, &expected),
        Err(e) => {
            worker::console_error!("PBKDF2 failed: {:?}", e);
            false
        }
    }
}
