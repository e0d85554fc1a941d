//! Clients: the record stored for each one, registration-metadata validation (RFC 7591
//! §2, with the redirect URI rules of OAuth 2.1 §2.3 and RFC 8252 §7), and matching a
//! redirect URI at `/authorize` (exact, except the port of a loopback URI).

use crate::oauth::error::OAuthError;
use crate::oauth::id_token::IdAlg;
use crate::oauth::kinds::{AuthMethod, GrantType, ResponseType};
use crate::oauth::scope::is_scope_token;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::{Host, Url};

/// Largest registration body accepted, documented in the README.
pub const MAX_REGISTRATION_BYTES: usize = 8 * 1024;
const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LEN: usize = 2000;
const MAX_NAME_LEN: usize = 120;

/// Where a client came from; the consent page says how far its name can be trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientSource {
    /// Dynamic client registration: every field is self-declared.
    Registered,
    /// A client ID metadata document, fetched from the `client_id` URL's host, served as
    /// JSON, and sending people only to that host or its own domain: the host vouches for
    /// the name.
    MetadataDocument,
    /// A client ID metadata document that the host does not vouch for: served as something
    /// other than JSON, or naming redirect URIs elsewhere (anyone can put a file on a host
    /// that serves files, naming any app).
    UnverifiedDocument,
    /// Registered by this server's operator (`npm run client -- add`): the name is theirs.
    Preregistered,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    /// SHA-256 of the secret, base64url; `None` for public clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub client_id_issued_at: u64,
    pub source: ClientSource,
    /// Seconds its access tokens live, when the operator gave a pre-registered client
    /// its own (`npm run client -- add --access-token-ttl`); else `ACCESS_TOKEN_TTL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u64>,
    /// The same for its refresh tokens (`--refresh-token-ttl`; else `REFRESH_TOKEN_TTL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<u64>,
    /// OpenID Connect Registration §2: how its ID tokens are signed (RS256 if unsaid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<IdAlg>,
    /// A `private_key_jwt` app's keys (from its metadata document): its JWK Set, or where
    /// it is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one algorithm its assertions are signed with, when it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// A metadata document's client read from the copy kept when someone connected,
    /// standing in while the document's host fails: never kept again from itself, so an
    /// outage cannot stretch the copy's week. Never stored.
    #[serde(skip)]
    pub stood_in: bool,
}

impl Client {
    pub fn is_public(&self) -> bool {
        !self.token_endpoint_auth_method.is_confidential()
    }

    pub fn allows_refresh(&self) -> bool {
        self.grant_types.contains(&GrantType::RefreshToken)
    }

    /// True when every redirect URI is on a loopback host: such a client runs on the
    /// person's own machine, and any local program could claim to be it.
    /// The name pages show: the self-declared `client_name` without control characters
    /// and the bidirectional overrides that could reorder the words around it ("verified
    /// by ..."); `None` when nothing printable is left.
    pub fn display_name(&self) -> Option<String> {
        let name: String = self
            .client_name
            .as_deref()?
            .chars()
            .filter(|c| {
                !c.is_control()
                    && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect();
        let name = name.trim();
        (!name.is_empty()).then(|| name.to_string())
    }

    /// The host that vouches for the name: a metadata document's host; `None` for a
    /// registered client, whose name is its own claim.
    pub fn vouched_by(&self) -> Option<String> {
        match self.source {
            ClientSource::Registered | ClientSource::UnverifiedDocument => None,
            ClientSource::MetadataDocument => Some(host_of(&self.client_id)),
            ClientSource::Preregistered => Some("this server's operator".to_string()),
        }
    }

    pub fn loopback_only(&self) -> bool {
        self.redirect_uris
            .iter()
            .all(|u| Url::parse(u).map(|u| is_loopback(&u)).unwrap_or(false))
    }

    /// Whether `uri` sends the person back to their own device (a loopback host).
    pub fn is_loopback_uri(uri: &str) -> bool {
        Url::parse(uri).map(|u| is_loopback(&u)).unwrap_or(false)
    }

    /// The registered redirect URI that `requested` names, if any (loopback port aside).
    pub fn match_redirect_uri(&self, requested: &str) -> Option<String> {
        if self.redirect_uris.iter().any(|r| r == requested) {
            return Some(requested.to_string());
        }
        let req = Url::parse(requested).ok()?;
        if req.scheme() != "http" || !is_loopback(&req) {
            return None;
        }
        // RFC 8252 §7.3 lets the port vary and nothing else: the requested URI, with the
        // registered URI's port, must be that URI exactly (so no user information and no
        // fragment, which registration refuses too).
        self.redirect_uris
            .iter()
            .filter_map(|r| Url::parse(r).ok())
            .any(|reg| {
                let mut same_port = req.clone();
                same_port.set_port(reg.port()).is_ok() && same_port == reg
            })
            .then(|| requested.to_string())
    }

    /// The registration response (RFC 7591 §3.2.1), without the secret.
    pub fn registration_response(&self) -> Value {
        let mut v = serde_json::json!({
            "client_id": self.client_id,
            "client_id_issued_at": self.client_id_issued_at,
            "redirect_uris": self.redirect_uris,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": self.grant_types,
            "response_types": self.response_types,
        });
        for (k, val) in [
            ("client_name", &self.client_name),
            ("client_uri", &self.client_uri),
            ("scope", &self.scope),
        ] {
            if let Some(x) = val {
                crate::json::set(&mut v, k, Value::String(x.clone()));
            }
        }
        // OpenID Connect Registration §3.2: registered values, defaults included.
        let alg = self.id_token_signed_response_alg.unwrap_or_default();
        crate::json::set(&mut v, "id_token_signed_response_alg", alg.as_str());
        v
    }
}

/// The host a person recognizes in a URI; `scheme:` for an app's own URI scheme.
pub fn host_of(uri: &str) -> String {
    Url::parse(uri)
        .ok()
        .map(|u| match u.host_str() {
            Some(h) => h.to_string(),
            None => format!("{}:", u.scheme()),
        })
        .unwrap_or_default()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Schemes that a browser handles itself, so no app can receive a code there, although
/// they can look like a private-use URI with a host (`javascript://`, `ws://`).
const BROWSER_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "filesystem",
    "vbscript",
    "about",
    "blob",
    "view-source",
    "ftp",
    "ws",
    "wss",
    "mailto",
    "tel",
    "sms",
    "intent",
    "chrome",
    "edge",
];

/// A native app's private-use URI (RFC 8252 §7.1): a reverse-domain scheme
/// (`com.example.app:/callback`) or a scheme with an app's handler as its host
/// (`cursor://anysphere.cursor-retrieval/oauth/callback`). A scheme without either
/// (`mailto:`, `tel:`, `sms:`, `urn:`) names no app that listens for a code.
fn is_private_use(url: &Url) -> bool {
    url.scheme().contains('.') || url.host_str().is_some_and(|h| !h.is_empty())
}

/// Checks one redirect URI: an `https` URL, `http` on a loopback host, or an app's
/// private-use URI; never a fragment, a wildcard, or a scheme the browser handles itself.
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI_LEN {
        return Err("redirect URI is too long".into());
    }
    if uri.contains('*') {
        return Err(format!("wildcards are not allowed: {uri}"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("redirect URI contains whitespace".into());
    }
    let url = Url::parse(uri).map_err(|_| format!("not an absolute URI: {uri}"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(format!("fragments are not allowed: {uri}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("user information is not allowed: {uri}"));
    }
    match url.scheme() {
        "https" => match url.host() {
            Some(_) => Ok(()),
            None => Err(format!("https redirect URI without a host: {uri}")),
        },
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "http is only allowed on a loopback host (127.0.0.1, [::1], localhost): {uri}"
        )),
        scheme if BROWSER_SCHEMES.contains(&scheme) => Err(format!(
            "the {scheme} scheme cannot receive an authorization code: {uri}"
        )),
        _ if is_private_use(&url) => Ok(()),
        _ => Err(format!(
            "not a redirect URI an app can receive: use https, http on a loopback host, or \
             an app's private-use URI (com.example.app:/callback or app://handler/path): {uri}"
        )),
    }
}

fn optional_string(v: &Value, key: &str, max: usize) -> Result<Option<String>, OAuthError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => {
            Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty()))
        }
        Some(_) => Err(OAuthError::InvalidClientMetadata(format!(
            "{key} must be a string of at most {max} characters"
        ))),
    }
}

fn string_list(v: &Value, key: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| {
                OAuthError::InvalidClientMetadata(format!("{key} must be an array of strings"))
            }),
        Some(_) => Err(OAuthError::InvalidClientMetadata(format!(
            "{key} must be an array of strings"
        ))),
    }
}

/// Validated client metadata, before an id (and maybe a secret) is assigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<ResponseType>,
    pub scope: Option<String>,
    pub id_token_signed_response_alg: Option<IdAlg>,
}

/// Validates a registration request or a client ID metadata document.
pub fn validate_metadata(v: &Value) -> Result<ClientMetadata, OAuthError> {
    if !v.is_object() {
        return Err(OAuthError::InvalidClientMetadata(
            "the body must be a JSON object".into(),
        ));
    }
    let redirect_uris = string_list(v, "redirect_uris")?.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err(OAuthError::InvalidRedirectUri(
            "redirect_uris is required and must not be empty".into(),
        ));
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::InvalidRedirectUri(format!(
            "at most {MAX_REDIRECT_URIS} redirect URIs"
        )));
    }
    for uri in &redirect_uris {
        validate_redirect_uri(uri).map_err(OAuthError::InvalidRedirectUri)?;
    }
    let token_endpoint_auth_method = match optional_string(v, "token_endpoint_auth_method", 40)? {
        None => AuthMethod::ClientSecretBasic,
        Some(m) => AuthMethod::parse(&m).ok_or_else(|| {
            OAuthError::InvalidClientMetadata(format!(
                "token_endpoint_auth_method {m} is not supported"
            ))
        })?,
    };
    let grant_types = match string_list(v, "grant_types")? {
        None => GrantType::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|g| GrantType::parse(g))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default(),
    };
    if !grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(OAuthError::InvalidClientMetadata(
            "grant_types must be authorization_code, optionally with refresh_token".into(),
        ));
    }
    let response_types = match string_list(v, "response_types")? {
        None => ResponseType::ALL.to_vec(),
        Some(names) if names == ["code"] => vec![ResponseType::Code],
        Some(_) => {
            return Err(OAuthError::InvalidClientMetadata(
                "response_types must be [\"code\"]".into(),
            ))
        }
    };
    // A registration's `scope` is only the client's own claim (RFC 7591 §2 lets the server
    // replace it): it limits nothing, and what is granted is decided at `/authorize` by the
    // catalog. Words that are not scope tokens are dropped rather than refused.
    let scope = optional_string(v, "scope", 500)?.and_then(|s| {
        let mut known: Vec<&str> = Vec::new();
        for w in s.split(' ').filter(|w| is_scope_token(w)) {
            if !known.contains(&w) {
                known.push(w);
            }
        }
        Some(known.join(" ")).filter(|k| !k.is_empty())
    });
    let client_uri = optional_string(v, "client_uri", MAX_URI_LEN)?;
    if let Some(u) = &client_uri {
        if !u.starts_with("https://") && !u.starts_with("http://") {
            return Err(OAuthError::InvalidClientMetadata(
                "client_uri must be an http(s) URL".into(),
            ));
        }
    }
    // OpenID Connect Registration §2: RS256 unless the client asks for EdDSA; anything
    // else cannot be honoured, so it is refused rather than silently replaced.
    let id_token_signed_response_alg = match optional_string(v, "id_token_signed_response_alg", 16)?
    {
        None => None,
        Some(name) => Some(IdAlg::from_name(&name).ok_or_else(|| {
            OAuthError::InvalidClientMetadata(
                "id_token_signed_response_alg must be RS256 or EdDSA".into(),
            )
        })?),
    };
    Ok(ClientMetadata {
        redirect_uris,
        client_name: optional_string(v, "client_name", MAX_NAME_LEN)?,
        client_uri,
        token_endpoint_auth_method,
        grant_types,
        response_types,
        scope,
        id_token_signed_response_alg,
    })
}

impl ClientMetadata {
    /// What makes two registrations the same app: its name, where its redirect URIs go
    /// (their origins, in any order: a platform's callbacks may carry a per-connector
    /// path, `https://chatgpt.com/connector/oauth/<id>`), how it authenticates, its
    /// grants and its scope. The SHA-256 of them, so a counter's key stays short.
    pub fn fingerprint(&self) -> String {
        let mut uris: Vec<String> = self
            .redirect_uris
            .iter()
            .map(|u| match Url::parse(u) {
                Ok(url) if url.origin().is_tuple() => url.origin().ascii_serialization(),
                // An app's own scheme has no origin: the scheme stands for it.
                Ok(url) => format!("{}:", url.scheme()),
                Err(_) => u.clone(),
            })
            .collect();
        uris.sort();
        uris.dedup();
        let grants: Vec<&str> = self.grant_types.iter().map(|g| g.as_str()).collect();
        let text = format!(
            "{}\n{}\n{}\n{}\n{}",
            self.client_name.as_deref().unwrap_or_default(),
            uris.join(" "),
            self.token_endpoint_auth_method.as_str(),
            grants.join(" "),
            self.scope.as_deref().unwrap_or_default(),
        );
        crate::encoding::secret_hash(&text)
    }

    pub fn into_client(
        self,
        client_id: String,
        secret_hash: Option<String>,
        issued_at: u64,
        source: ClientSource,
    ) -> Client {
        Client {
            client_id,
            secret_hash,
            redirect_uris: self.redirect_uris,
            client_name: self.client_name,
            client_uri: self.client_uri,
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            grant_types: self.grant_types,
            response_types: self.response_types,
            scope: self.scope,
            client_id_issued_at: issued_at,
            source,
            access_token_ttl: None,
            refresh_token_ttl: None,
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            jwks: None,
            jwks_uri: None,
            token_endpoint_auth_signing_alg: None,
            stood_in: false,
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
