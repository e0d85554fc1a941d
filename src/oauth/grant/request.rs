//! The token, revocation and introspection requests, read from the form body into types
//! (RFC 6749 §3.2: a parameter sent twice is `invalid_request`; an empty one counts as
//! absent; parameters this server does not know are ignored, as §3.2 asks).

use crate::oauth::error::OAuthError;
use crate::oauth::kinds::{AuthMethod, GrantType};

/// Every parameter the three endpoints read, each at most once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `private_key_jwt`'s assertion and its type (RFC 7521 §4.2).
    pub client_assertion: Option<String>,
    pub client_assertion_type: Option<String>,
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
}

impl Params {
    pub fn parse(pairs: &[(String, String)]) -> Result<Params, OAuthError> {
        let mut p = Params::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            let Some(slot) = p.slot(name) else { continue };
            if seen.contains(&name.as_str()) {
                return Err(OAuthError::InvalidRequest(format!(
                    "{name} appears more than once"
                )));
            }
            seen.push(name);
            *slot = Some(value.clone()).filter(|v| !v.is_empty());
        }
        Ok(p)
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "grant_type" => &mut self.grant_type,
            "code" => &mut self.code,
            "redirect_uri" => &mut self.redirect_uri,
            "code_verifier" => &mut self.code_verifier,
            "refresh_token" => &mut self.refresh_token,
            "scope" => &mut self.scope,
            "resource" => &mut self.resource,
            "client_id" => &mut self.client_id,
            "client_secret" => &mut self.client_secret,
            "client_assertion" => &mut self.client_assertion,
            "client_assertion_type" => &mut self.client_assertion_type,
            "token" => &mut self.token,
            "token_type_hint" => &mut self.token_type_hint,
            _ => return None,
        })
    }

    pub fn grant_type(&self) -> Result<GrantType, OAuthError> {
        let name = required("grant_type", &self.grant_type)?;
        GrantType::parse(name).ok_or_else(|| {
            OAuthError::UnsupportedGrantType(format!(
                "grant_type {} is not supported",
                crate::util::text::truncate(name, 40)
            ))
        })
    }

    /// The token to revoke or introspect.
    pub fn token(&self) -> Result<&str, OAuthError> {
        required("token", &self.token)
    }
}

fn required<'a>(name: &str, value: &'a Option<String>) -> Result<&'a str, OAuthError> {
    value
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
}

/// `grant_type=authorization_code` (OAuth 2.1 §4.1.3).
pub struct CodeRequest<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub resource: Option<&'a str>,
}

impl<'a> CodeRequest<'a> {
    pub fn from_params(p: &'a Params) -> Result<Self, OAuthError> {
        Ok(CodeRequest {
            code: required("code", &p.code)?,
            redirect_uri: p.redirect_uri.as_deref(),
            code_verifier: p.code_verifier.as_deref(),
            resource: p.resource.as_deref(),
        })
    }
}

/// `grant_type=refresh_token` (OAuth 2.1 §4.3.1).
pub struct RefreshRequest<'a> {
    pub refresh_token: &'a str,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
}

impl<'a> RefreshRequest<'a> {
    pub fn from_params(p: &'a Params) -> Result<Self, OAuthError> {
        Ok(RefreshRequest {
            refresh_token: required("refresh_token", &p.refresh_token)?,
            scope: p.scope.as_deref(),
            resource: p.resource.as_deref(),
        })
    }
}

/// A token request's grant, for callers that want the whole request typed at once.
pub enum TokenRequest<'a> {
    AuthorizationCode(CodeRequest<'a>),
    RefreshToken(RefreshRequest<'a>),
}

impl<'a> TokenRequest<'a> {
    pub fn from_params(p: &'a Params) -> Result<Self, OAuthError> {
        Ok(match p.grant_type()? {
            GrantType::AuthorizationCode => {
                TokenRequest::AuthorizationCode(CodeRequest::from_params(p)?)
            }
            GrantType::RefreshToken => TokenRequest::RefreshToken(RefreshRequest::from_params(p)?),
        })
    }
}

/// The client's credentials, by exactly one method (RFC 6749 §2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    pub secret: Option<String>,
    pub method: AuthMethod,
    /// A `private_key_jwt` client's assertion (checked in `client_auth`).
    pub assertion: Option<String>,
}

impl Credentials {
    /// From the `Authorization` header's Basic credentials (already without `Basic `)
    /// and the form.
    pub fn read(basic: Option<&str>, p: &Params) -> Result<Credentials, OAuthError> {
        if p.client_assertion.is_some() || p.client_assertion_type.is_some() {
            return Credentials::asserted(basic, p);
        }
        let basic = basic.map(parse_basic).transpose()?;
        match (basic, &p.client_secret) {
            (Some(_), Some(_)) => Err(OAuthError::InvalidRequest(
                "use one client authentication method, not two".into(),
            )),
            (Some((id, secret)), None) => {
                if p.client_id.as_ref().is_some_and(|f| *f != id) {
                    return Err(OAuthError::InvalidRequest(
                        "client_id does not match".into(),
                    ));
                }
                Ok(Credentials {
                    client_id: id,
                    secret: Some(secret),
                    method: AuthMethod::ClientSecretBasic,
                    assertion: None,
                })
            }
            (None, Some(secret)) => Ok(Credentials {
                client_id: required("client_id", &p.client_id)?.to_string(),
                secret: Some(secret.clone()),
                method: AuthMethod::ClientSecretPost,
                assertion: None,
            }),
            (None, None) => Ok(Credentials {
                client_id: required("client_id", &p.client_id)?.to_string(),
                secret: None,
                method: AuthMethod::None,
                assertion: None,
            }),
        }
    }

    /// `private_key_jwt`: the assertion and its type, and no other credential. The app is
    /// `client_id` when sent (it must match the assertion's subject, checked with the
    /// claims), else the assertion's subject (RFC 7521 §4.2).
    fn asserted(basic: Option<&str>, p: &Params) -> Result<Credentials, OAuthError> {
        use crate::oauth::client_assertion::{claimed_client, JWT_BEARER};
        if basic.is_some() || p.client_secret.is_some() {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not two".into(),
            ));
        }
        let (Some(assertion), Some(kind)) = (&p.client_assertion, &p.client_assertion_type) else {
            return Err(OAuthError::InvalidRequest(
                "client_assertion and client_assertion_type go together".into(),
            ));
        };
        let refused = || OAuthError::InvalidClient("client authentication failed".into());
        if kind != JWT_BEARER {
            return Err(refused());
        }
        let client_id = match &p.client_id {
            Some(id) => id.clone(),
            None => claimed_client(assertion).ok_or_else(refused)?,
        };
        Ok(Credentials {
            client_id,
            secret: None,
            method: AuthMethod::PrivateKeyJwt,
            assertion: Some(assertion.clone()),
        })
    }
}

/// Basic credentials: base64 of `id:secret`, both parts form-urlencoded (§2.3.1).
fn parse_basic(encoded: &str) -> Result<(String, String), OAuthError> {
    use base64::Engine;
    let bad = || OAuthError::InvalidClient("malformed Basic credentials".into());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((decode(id), decode(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_known_parameter_sent_twice_is_refused_even_when_empty() {
        for name in ["code", "scope", "client_id", "token", "resource"] {
            let e = Params::parse(&pairs(&[(name, "a"), (name, "")])).unwrap_err();
            assert_eq!(e.code(), "invalid_request", "{name}");
        }
        // Unknown parameters are ignored, repeated or not.
        assert!(Params::parse(&pairs(&[("x", "1"), ("x", "2")])).is_ok());
        let p = Params::parse(&pairs(&[("code", "")])).unwrap();
        assert_eq!(p.code, None);
    }

    #[test]
    fn grant_types_are_an_enum() {
        let p = Params::parse(&pairs(&[("grant_type", "client_credentials")])).unwrap();
        assert_eq!(p.grant_type().unwrap_err().code(), "unsupported_grant_type");
        let p = Params::parse(&pairs(&[])).unwrap();
        assert_eq!(p.grant_type().unwrap_err().code(), "invalid_request");
        let p = Params::parse(&pairs(&[("grant_type", "refresh_token")])).unwrap();
        assert!(matches!(
            TokenRequest::from_params(&p),
            Err(OAuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn credentials_by_exactly_one_method() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let none = Params::parse(&pairs(&[("client_id", "c")])).unwrap();
        assert_eq!(
            Credentials::read(None, &none).unwrap().method,
            AuthMethod::None
        );
        let post = Params::parse(&pairs(&[("client_id", "c"), ("client_secret", "s")])).unwrap();
        assert_eq!(
            Credentials::read(None, &post).unwrap().method,
            AuthMethod::ClientSecretPost
        );
        // Both parts of Basic are form-encoded: `a%3Ab` is the id `a:b`.
        let basic = Credentials::read(Some(&b64("a%3Ab:s%20t")), &none.clone()).unwrap_err();
        assert_eq!(
            basic.code(),
            "invalid_request",
            "client_id c does not match a:b"
        );
        let ok = Credentials::read(Some(&b64("a%3Ab:s%20t")), &Params::default()).unwrap();
        assert_eq!(
            (ok.client_id.as_str(), ok.secret.as_deref()),
            ("a:b", Some("s t"))
        );
        assert_eq!(
            Credentials::read(Some(&b64("c:s")), &post)
                .unwrap_err()
                .code(),
            "invalid_request"
        );
        assert_eq!(
            Credentials::read(Some("%%%"), &none).unwrap_err().code(),
            "invalid_client"
        );
        assert_eq!(
            Credentials::read(None, &Params::default())
                .unwrap_err()
                .code(),
            "invalid_request"
        );
    }
}
