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

/// The iterations of every password hash made here (Cloudflare's PBKDF2 allows no more).
pub const ITERATIONS: u32 = 100_000;
/// A new password's length, in characters (the command line's rule).
pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 200;

/// Why a new password cannot be used, or `None`: long enough, not too long, typed the
/// same twice.
pub fn new_password_problem(password: &str, again: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Some(format!(
            "The password must be at least {MIN_LEN} characters."
        ));
    }
    if n > MAX_LEN {
        return Some(format!(
            "The password must be at most {MAX_LEN} characters."
        ));
    }
    if password != again {
        return Some("The two passwords are not the same.".into());
    }
    None
}

/// A hash of a new password with a fresh salt: (hash, salt), base64url.
pub async fn hash_new(password: &str) -> Result<(String, String), String> {
    let salt = crate::encoding::random_bytes::<16>();
    let derived = pbkdf2(password, &salt, ITERATIONS)
        .await
        .map_err(|e| format!("PBKDF2 failed: {e:?}"))?;
    Ok((
        crate::encoding::b64url(&derived),
        crate::encoding::b64url(&salt),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_is_long_enough_and_typed_twice() {
        assert!(new_password_problem("short", "short").is_some_and(|p| p.contains("at least")));
        let long = "x".repeat(201);
        assert!(new_password_problem(&long, &long).is_some_and(|p| p.contains("at most")));
        assert!(new_password_problem("correct horse", "correct horsf")
            .is_some_and(|p| p.contains("not the same")));
        assert_eq!(new_password_problem("correct horse", "correct horse"), None);
        // Characters, not bytes.
        assert_eq!(new_password_problem("ééééééééééé", "ééééééééééé"), None);
    }
}
