//! OAuth errors (RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2, RFC 8707 §2, RFC 6750 §3.1),
//! each rendered in one place as `{error, error_description}` with its status and
//! `Cache-Control: no-store`.

use crate::reply::{Reply, NO_STORE};
use serde_json::json;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OAuthError {
    /// A required parameter is missing, repeated or malformed.
    InvalidRequest(String),
    /// Client authentication failed (unknown client, wrong or missing secret).
    InvalidClient(String),
    /// The code or refresh token is invalid, expired, revoked, or was issued to another
    /// client or redirect URI, or the PKCE verifier does not match.
    InvalidGrant(String),
    /// The client may not use this grant type.
    UnauthorizedClient(String),
    UnsupportedGrantType(String),
    UnsupportedResponseType(String),
    /// The requested scope is unknown or exceeds what was granted.
    InvalidScope(String),
    /// The `resource` is not this server's MCP resource (RFC 8707).
    InvalidTarget(String),
    /// The person (or the server) denied the request.
    AccessDenied(String),
    /// A registration's metadata is invalid (RFC 7591).
    InvalidClientMetadata(String),
    InvalidRedirectUri(String),
    /// OpenID Connect Core §3.1.2.6, for `prompt=none`: the person must sign in.
    LoginRequired(String),
    /// OpenID Connect Core §3.1.2.6, for `prompt=none`: the person must approve.
    ConsentRequired(String),
    /// OpenID Connect Core §3.1.2.6: `request` and `request_uri` (request objects) are
    /// not supported here; said rather than ignored.
    RequestNotSupported(String),
    RequestUriNotSupported(String),
    /// Too many requests; the number is the seconds until a retry may succeed.
    RateLimited(u64),
    /// Something on our side failed; the detail is logged, not sent.
    ServerError,
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::UnsupportedResponseType(_) => "unsupported_response_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidTarget(_) => "invalid_target",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::InvalidRedirectUri(_) => "invalid_redirect_uri",
            OAuthError::LoginRequired(_) => "login_required",
            OAuthError::ConsentRequired(_) => "consent_required",
            OAuthError::RequestNotSupported(_) => "request_not_supported",
            OAuthError::RequestUriNotSupported(_) => "request_uri_not_supported",
            // Not `slow_down`, the device flow's (RFC 8628): registration and token clients
            // read this one (RFC 6749 §4.1.2.1), with Retry-After saying when.
            OAuthError::RateLimited(_) => "temporarily_unavailable",
            OAuthError::ServerError => "server_error",
        }
    }

    pub fn description(&self) -> String {
        match self {
            OAuthError::RateLimited(s) => format!("too many requests; retry in {s} seconds"),
            OAuthError::ServerError => "the server could not complete the request".into(),
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidClient(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d)
            | OAuthError::UnsupportedGrantType(d)
            | OAuthError::UnsupportedResponseType(d)
            | OAuthError::InvalidScope(d)
            | OAuthError::InvalidTarget(d)
            | OAuthError::AccessDenied(d)
            | OAuthError::InvalidClientMetadata(d)
            | OAuthError::InvalidRedirectUri(d)
            | OAuthError::LoginRequired(d)
            | OAuthError::ConsentRequired(d)
            | OAuthError::RequestNotSupported(d)
            | OAuthError::RequestUriNotSupported(d) => d.clone(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            OAuthError::InvalidClient(_) => 401,
            OAuthError::AccessDenied(_) => 403,
            OAuthError::RateLimited(_) => 429,
            OAuthError::ServerError => 500,
            _ => 400,
        }
    }

    /// The JSON error response of the token, registration, revocation and introspection
    /// endpoints.
    pub fn to_reply(&self) -> Reply {
        let mut reply = Reply::json(
            self.status(),
            &json!({ "error": self.code(), "error_description": self.description() }),
        )
        .header("Cache-Control", NO_STORE)
        .header("Pragma", "no-cache");
        match self {
            // RFC 6749 §5.2: a 401 names the authentication scheme the client should use.
            OAuthError::InvalidClient(_) => {
                reply = reply.header("WWW-Authenticate", "Basic realm=\"token\"");
            }
            OAuthError::RateLimited(s) => {
                reply = reply.header("Retry-After", &s.to_string());
            }
            _ => {}
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_401_with_a_challenge() {
        let r = OAuthError::InvalidClient("x".into()).to_reply();
        assert_eq!(r.status, 401);
        assert!(r
            .header_value("www-authenticate")
            .unwrap()
            .starts_with("Basic"));
        assert_eq!(r.header_value("cache-control"), Some("no-store"));
    }

    #[test]
    fn rate_limit_says_when_to_retry() {
        let r = OAuthError::RateLimited(42).to_reply();
        assert_eq!(r.status, 429);
        assert_eq!(
            OAuthError::RateLimited(42).code(),
            "temporarily_unavailable"
        );
        assert_eq!(r.header_value("retry-after"), Some("42"));
    }
}
