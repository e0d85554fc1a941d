//! `private_key_jwt` (OpenID Connect Core §9, RFC 7523 §2.2 and §3): an app whose client ID
//! metadata document publishes its keys proves who it is at `/token`, `/revoke` and
//! `/introspect` with a JWT it signed: issued by and about itself, for this server, short
//! lived, and used once. The rules are here, free of `worker` types; the grants' client
//! authentication (`grant::client_auth`) asks the edge for the app's keys, a signature
//! check and the record that the assertion's `jti` was used.

use super::jws::{self, Alg, Jws};
use serde_json::Value;

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The algorithms an assertion may be signed with (advertised as
/// `token_endpoint_auth_signing_alg_values_supported`).
pub const ALGS: [Alg; 3] = [Alg::Rs256, Alg::Es256, Alg::EdDsa];

/// The longest an assertion may still be valid when it arrives: assertions are made for
/// one request (RFC 7523 §3 asks for a short expiry), and each `jti` is kept until its
/// `exp`, so this bounds what the replay record holds.
pub const MAX_LIFETIME: u64 = 600;

/// Clocks apart by this much still agree (the same leeway as access tokens).
pub const LEEWAY: u64 = 30;

const MAX_JTI: usize = 256;

/// Whether a `private_key_jwt` client's assertion is refused, and why (for the doctor and
/// the log; the client is told only `invalid_client`).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Malformed(String),
    /// No key in the app's JWKS fits the assertion's algorithm and `kid`.
    NoKey,
    Signature,
    Claim(&'static str),
    /// This `jti` was used before.
    Replayed,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Malformed(why) => write!(f, "the client assertion is malformed: {why}"),
            Refusal::NoKey => f.write_str("no key in the app's JWKS matches the client assertion"),
            Refusal::Signature => f.write_str("the client assertion's signature does not verify"),
            Refusal::Claim(why) => write!(f, "the client assertion's {why}"),
            Refusal::Replayed => f.write_str("the client assertion was used before (its jti)"),
        }
    }
}

/// The assertion's parts, when it is a JWS with an accepted algorithm (and the one the
/// app registered, when it named one).
pub fn split(assertion: &str, registered_alg: Option<&str>) -> Result<Jws, Refusal> {
    let jws = jws::split(assertion, &ALGS).map_err(|e| match e {
        jws::JwsError::Malformed(why) => Refusal::Malformed(why.to_string()),
        jws::JwsError::Algorithm(alg) => Refusal::Malformed(format!(
            "signed with {}, not RS256, ES256 or EdDSA",
            crate::util::text::truncate(&alg, 20)
        )),
    })?;
    if registered_alg.is_some_and(|a| a != jws.alg.name()) {
        return Err(Refusal::Malformed(
            "not signed with the app's token_endpoint_auth_signing_alg".into(),
        ));
    }
    Ok(jws)
}

/// The subject of an assertion, read without checking anything: how a request that sent
/// no `client_id` names its app (RFC 7521 §4.2 makes `client_id` optional).
pub fn claimed_client(assertion: &str) -> Option<String> {
    let jws = jws::split(assertion, &ALGS).ok()?;
    jws.claims.get("sub")?.as_str().map(str::to_string)
}

/// An assertion whose claims passed: its `jti`, to be recorded as used until `exp`.
#[derive(Debug, PartialEq, Eq)]
pub struct Passed {
    pub jti: String,
    pub expires_at: u64,
}

/// The claims' rules (RFC 7523 §3, OIDC Core §9): `iss` and `sub` are the app, `aud` names
/// this server (its issuer or its token endpoint: `audiences`), `exp` is ahead but not far
/// ahead, `nbf` and `iat` are not in the future, and there is a `jti`.
pub fn check_claims(
    claims: &serde_json::Map<String, Value>,
    client_id: &str,
    audiences: &[&str],
    now: u64,
) -> Result<Passed, Refusal> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) {
        return Err(Refusal::Claim("iss is not the app's client_id"));
    }
    if text("sub") != Some(client_id) {
        return Err(Refusal::Claim("sub is not the app's client_id"));
    }
    // One audience: an assertion naming several servers could be replayed by any of them
    // (the 2025 audience-injection reports on private_key_jwt).
    let for_us = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(&a.as_str()),
        Some(Value::Array(list)) if list.len() == 1 => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.contains(&a)),
        _ => false,
    };
    if !for_us {
        return Err(Refusal::Claim(
            "aud is not this server's issuer or token endpoint",
        ));
    }
    let time = |name: &str| claims.get(name).and_then(Value::as_u64);
    let exp = time("exp").ok_or(Refusal::Claim("exp is missing"))?;
    if exp.saturating_add(LEEWAY) <= now {
        return Err(Refusal::Claim("exp has passed"));
    }
    if exp > now + MAX_LIFETIME + LEEWAY {
        return Err(Refusal::Claim("exp is more than 10 minutes away"));
    }
    for name in ["nbf", "iat"] {
        match claims.get(name) {
            None => {}
            Some(v) => match v.as_u64() {
                Some(t) if t <= now + LEEWAY => {}
                _ => return Err(Refusal::Claim("nbf or iat is in the future or not a time")),
            },
        }
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or(Refusal::Claim("jti is missing or longer than 256 bytes"))?;
    Ok(Passed {
        jti: jti.to_string(),
        expires_at: exp.saturating_add(LEEWAY),
    })
}

#[cfg(test)]
#[path = "client_assertion_tests.rs"]
mod tests;
