//! The closed lists the authorization server speaks: grant types (RFC 6749 §4, OAuth 2.1
//! §4), client authentication methods (RFC 7591 §2, OAuth 2.1 §2.4) and response types
//! (OAuth 2.1 §4.1.1). Metadata, registration and the token endpoint's dispatch all use
//! these enums, so a new variant does not compile until each of them says what it does.

use serde::{Deserialize, Serialize};

/// A grant type `/token` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 2] = [GrantType::AuthorizationCode, GrantType::RefreshToken];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
        }
    }

    pub fn parse(s: &str) -> Option<GrantType> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// How a client authenticates at `/token`, `/revoke` and `/introspect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum AuthMethod {
    /// A public client: its `client_id` alone, with PKCE protecting the code.
    None,
    /// HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with a key the app publishes (OIDC Core §9, RFC 7523): only for
    /// client ID metadata documents, which publish the keys (`oauth::client_assertion`).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::None,
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether a client using it holds a secret (this Worker keeps its hash).
    pub fn has_secret(self) -> bool {
        match self {
            AuthMethod::None | AuthMethod::PrivateKeyJwt => false,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => true,
        }
    }

    /// Whether a client using it proves who it is (a secret or a key): a confidential
    /// client.
    pub fn is_confidential(self) -> bool {
        self != AuthMethod::None
    }

    /// The methods introspection accepts: it answers confidential clients only.
    pub fn confidential() -> impl Iterator<Item = AuthMethod> {
        Self::ALL.into_iter().filter(|m| m.is_confidential())
    }
}

/// A response type `/authorize` accepts: OAuth 2.1 keeps only the code flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum ResponseType {
    Code,
}

impl ResponseType {
    pub const ALL: [ResponseType; 1] = [ResponseType::Code];

    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Code => "code",
        }
    }

    pub fn parse(s: &str) -> Option<ResponseType> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

// Read and written by their wire names (`parse`, `as_str`), through serde's
// `try_from`/`into`: smaller in the upload than derived visitors, one spelling each.
impl TryFrom<String> for GrantType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown grant type {s:?}"))
    }
}

impl From<GrantType> for &'static str {
    fn from(v: GrantType) -> &'static str {
        v.as_str()
    }
}

impl TryFrom<String> for AuthMethod {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown client authentication method {s:?}"))
    }
}

impl From<AuthMethod> for &'static str {
    fn from(v: AuthMethod) -> &'static str {
        v.as_str()
    }
}

impl TryFrom<String> for ResponseType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown response type {s:?}"))
    }
}

impl From<ResponseType> for &'static str {
    fn from(v: ResponseType) -> &'static str {
        v.as_str()
    }
}

/// The wire names of a list, for metadata documents.
pub fn names<T: Copy>(
    all: impl IntoIterator<Item = T>,
    name: fn(T) -> &'static str,
) -> Vec<&'static str> {
    all.into_iter().map(name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_parse_and_serde() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
            assert_eq!(serde_json::to_value(g).unwrap(), g.as_str());
        }
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        for r in ResponseType::ALL {
            assert_eq!(ResponseType::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(GrantType::parse("client_credentials"), None);
        assert_eq!(AuthMethod::parse("client_secret_jwt"), None);
        assert_eq!(ResponseType::parse("token"), None);
    }
}
