//! The user assertion: how an upstream learns who is calling, in a way it can verify,
//! without ever seeing the client's token (MCP security guidance: no token passthrough).
//! A short-lived JWT signed with the Worker's Ed25519 key (checkable against its JWKS),
//! `typ: user-assertion+jwt`, `aud` the upstream, so it is useless anywhere else, this
//! Worker's `/mcp` included (whose tokens are `at+jwt` for its own resource).

use crate::oauth::access_token::sign_jws;
use crate::oauth::ed25519::Ed25519;
use crate::oauth::keys::KeySet;
use serde::Serialize;

pub const TYP: &str = "user-assertion+jwt";
/// How long an assertion is valid: one call, with room for clock skew.
pub const LIFETIME_SECONDS: u64 = 60;

/// Who is calling, as the upstream is told.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct UserAssertion {
    /// This Worker's issuer.
    pub iss: String,
    /// The upstream (`Upstream::audience`: its URL, or `service:<binding><path>`): the
    /// only audience that accepts it.
    pub aud: String,
    /// The person's stable id here.
    pub sub: String,
    /// The person's email, only when their token grants the `email` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The MCP client the person connected (or `pat:<id>` for a personal access token).
    pub client_id: String,
    /// The scopes the person's token grants.
    pub scope: String,
    /// The person's roles (RFC 9068 §7.2.1.1's `roles`), so an upstream can enforce the
    /// operator's model too; absent when they have none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    pub iat: u64,
    pub exp: u64,
    /// Unique per client request: the few upstream requests one client request makes
    /// (an `initialize`, then the call) carry the same assertion.
    pub jti: String,
}

pub async fn sign(
    crypto: &impl Ed25519,
    keys: &KeySet,
    claims: &UserAssertion,
) -> Result<String, String> {
    let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
    sign_jws(crypto, keys, TYP, &payload).await
}
