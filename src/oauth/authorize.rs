//! The authorization request (OAuth 2.1 §4.1.1, RFC 7636, RFC 8707), validated in the
//! order the spec requires: first the client and its redirect URI, whose failures must
//! never redirect; only then everything else, whose failures redirect to the validated URI.

use crate::oauth::catalog::Catalog;
use crate::oauth::client::{host_of, Client, ClientSource};
use crate::oauth::error::OAuthError;
use crate::oauth::pkce;
use crate::oauth::prompt::{self, Prompt};
use crate::oauth::resource;
use crate::oauth::scope::Scopes;
use url::Url;

/// The raw parameters, from the query string (GET) or the form (POST).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    /// OpenID Connect Core §3.1.2.1: echoed in the ID token.
    pub nonce: Option<String>,
    /// `none`, `login`, `consent`, `select_account`, space separated.
    pub prompt: Option<String>,
    /// Seconds since the person last signed in beyond which they must sign in again.
    pub max_age: Option<String>,
    /// The email to fill in on the sign-in page.
    pub login_hint: Option<String>,
    /// Request objects (OpenID Connect Core §6): refused with their own errors.
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// The longest query string `/authorize` reads; a longer one is refused (414) before it
/// is parsed. Real clients send well under 2 KB.
pub const MAX_QUERY_LEN: usize = 8 * 1024;

/// The longest value of each parameter, in bytes: far above what any real client sends,
/// far below what would make a page or a code large. `client_id` may be a metadata
/// document's URL; `state` is the client's own opaque value.
fn max_len(name: &str) -> usize {
    match name {
        "client_id" | "redirect_uri" | "resource" => 2048,
        "state" => 2048,
        "scope" => 1024,
        "code_challenge" => 128,
        "nonce" => 512,
        "request" => 8192,
        "request_uri" => 2048,
        "login_hint" => 254,
        "prompt" => 64,
        _ => 32,
    }
}

impl AuthorizeParams {
    /// Reads the parameters; a repeated parameter (RFC 6749 §3.1) or one longer than its
    /// bound is an error.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<AuthorizeParams, String> {
        let mut p = AuthorizeParams::default();
        for (k, v) in pairs {
            let slot = match k.as_str() {
                "client_id" => &mut p.client_id,
                "redirect_uri" => &mut p.redirect_uri,
                "response_type" => &mut p.response_type,
                "state" => &mut p.state,
                "code_challenge" => &mut p.code_challenge,
                "code_challenge_method" => &mut p.code_challenge_method,
                "scope" => &mut p.scope,
                "resource" => &mut p.resource,
                "nonce" => &mut p.nonce,
                "prompt" => &mut p.prompt,
                "max_age" => &mut p.max_age,
                "login_hint" => &mut p.login_hint,
                "request" => &mut p.request,
                "request_uri" => &mut p.request_uri,
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("the parameter {k} appears more than once"));
            }
            if v.len() > max_len(k) {
                return Err(format!(
                    "the parameter {k} is longer than {} bytes",
                    max_len(k)
                ));
            }
            *slot = Some(v.clone());
        }
        Ok(p)
    }

    /// The parameters as pairs, for hidden form fields and CSRF binding.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", &self.response_type),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("scope", &self.scope),
            ("resource", &self.resource),
            ("nonce", &self.nonce),
            ("prompt", &self.prompt),
            ("max_age", &self.max_age),
            ("login_hint", &self.login_hint),
            ("request", &self.request),
            ("request_uri", &self.request_uri),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }
}

/// A validated request, ready for sign-in and consent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub scopes: Scopes,
    pub resource: String,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
}

/// Why a request failed, and therefore where the answer goes. A `Page` is shown to the
/// person and never redirects; a `Redirect` goes only to a redirect URI already matched
/// against the client's registration, and only once the person has signed in here
/// (`ErrorRedirect::deliver`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeFailure {
    Page(Refusal),
    Redirect(ErrorRedirect),
}

/// An error for a trusted client and redirect URI, not yet sent anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRedirect {
    redirect: Redirect,
    unsent: UnsentError,
}

/// What the person is shown instead of a redirect: the app, where it wanted to send them,
/// and what was wrong with its request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsentError {
    pub app: String,
    pub redirect_host: String,
    pub description: String,
}

/// Where an authorization error goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Redirect(Redirect),
    Page(UnsentError),
}

impl ErrorRedirect {
    /// The error's code (`invalid_scope`, ...), for the connector doctor.
    pub fn code(&self) -> &str {
        self.redirect
            .params
            .iter()
            .find(|(k, _)| k == "error")
            .map_or("", |(_, v)| v.as_str())
    }

    /// The error's description, as the page or the redirect says it.
    pub fn description(&self) -> &str {
        &self.unsent.description
    }

    /// An error for a request already validated (`prompt=none`'s `login_required`),
    /// delivered by the same rule as every other.
    pub fn for_request(req: &AuthorizeRequest, issuer: &str, e: &OAuthError) -> ErrorRedirect {
        ErrorRedirect {
            unsent: UnsentError {
                app: req
                    .client
                    .display_name()
                    .unwrap_or_else(|| "An unnamed app".to_string()),
                redirect_host: host_of(&req.redirect_uri),
                description: e.description(),
            },
            redirect: Redirect::error(req, issuer, e),
        }
    }

    /// RFC 9700 §4.11.2: the server authenticates the person before it redirects. Anyone
    /// can register a redirect URI (dynamic registration, a metadata document), so without
    /// this a link anyone makes would bounce a browser through this server's trusted name
    /// to any host, without a click. Before sign-in the error is shown here; after it, the
    /// standard error redirect (RFC 6749 §4.1.2.1) that clients rely on.
    pub fn deliver(self, signed_in: bool) -> Delivery {
        if signed_in {
            Delivery::Redirect(self.redirect)
        } else {
            Delivery::Page(self.unsent)
        }
    }
}

/// Why a request gets an error page instead of a redirect (RFC 6749 §4.1.2.1: never
/// redirect when the client or its redirect URI cannot be trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    NoClientId,
    UnknownClient,
    UnregisteredRedirect,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    redirect_uri: String,
    params: Vec<(String, String)>,
}

impl Redirect {
    /// A redirect to a URI that has been validated; only this module can build one.
    fn to(redirect_uri: &str, state: Option<&str>, issuer: &str) -> Redirect {
        let mut params = Vec::new();
        if let Some(s) = state {
            params.push(("state".into(), s.to_string()));
        }
        params.push(("iss".into(), issuer.to_string()));
        Redirect {
            redirect_uri: redirect_uri.to_string(),
            params,
        }
    }

    pub fn error(req: &AuthorizeRequest, issuer: &str, e: &OAuthError) -> Redirect {
        Redirect::to(&req.redirect_uri, req.state.as_deref(), issuer).with_error(e)
    }

    pub fn code(req: &AuthorizeRequest, issuer: &str, code: &str) -> Redirect {
        let mut r = Redirect::to(&req.redirect_uri, req.state.as_deref(), issuer);
        r.params.insert(0, ("code".into(), code.to_string()));
        r
    }

    fn with_error(mut self, e: &OAuthError) -> Redirect {
        self.params.insert(0, ("error".into(), e.code().into()));
        self.params
            .insert(1, ("error_description".into(), e.description()));
        self
    }

    /// The `Location`: the redirect URI with our parameters added to its query.
    pub fn location(&self) -> String {
        match Url::parse(&self.redirect_uri) {
            Ok(mut url) => {
                url.query_pairs_mut()
                    .extend_pairs(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                url.to_string()
            }
            // Unreachable: the URI was parsed when the client registered.
            Err(_) => self.redirect_uri.clone(),
        }
    }
}

/// Validates `params` for `client` (already looked up; `None` if unknown).
pub fn validate(
    params: &AuthorizeParams,
    client: Option<Client>,
    issuer: &str,
    our_resource: &str,
    catalog: &Catalog,
) -> Result<AuthorizeRequest, AuthorizeFailure> {
    let client_id = params.client_id.as_deref().unwrap_or("");
    if client_id.is_empty() {
        return Err(AuthorizeFailure::Page(Refusal::NoClientId));
    }
    let client = client.ok_or(AuthorizeFailure::Page(Refusal::UnknownClient))?;
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(r) => client.match_redirect_uri(r),
        // OAuth 2.1 §4.1.1: optional only when exactly one URI is registered.
        None => match client.redirect_uris.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
    }
    .ok_or(AuthorizeFailure::Page(Refusal::UnregisteredRedirect))?;
    let fail = |e: OAuthError| {
        AuthorizeFailure::Redirect(ErrorRedirect {
            unsent: UnsentError {
                app: client
                    .display_name()
                    .unwrap_or_else(|| "An unnamed app".to_string()),
                redirect_host: host_of(&redirect_uri),
                description: e.description(),
            },
            redirect: Redirect::to(&redirect_uri, params.state.as_deref(), issuer).with_error(&e),
        })
    };
    match params.response_type.as_deref() {
        Some("code") => {}
        None => {
            return Err(fail(OAuthError::InvalidRequest(
                "response_type is required".into(),
            )))
        }
        Some(other) => {
            return Err(fail(OAuthError::UnsupportedResponseType(format!(
                "response_type {} is not supported; use code",
                crate::util::text::truncate(other, 40)
            ))))
        }
    }
    let code_challenge = params.code_challenge.clone().unwrap_or_default();
    if code_challenge.is_empty() {
        return Err(fail(OAuthError::InvalidRequest(
            "code_challenge is required (PKCE with S256)".into(),
        )));
    }
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Err(fail(OAuthError::InvalidRequest(
            "code_challenge_method must be S256".into(),
        )));
    }
    if !pkce::is_s256_challenge(&code_challenge) {
        return Err(fail(OAuthError::InvalidRequest(
            "code_challenge must be the base64url SHA-256 of the verifier: 43 characters".into(),
        )));
    }
    let mut scopes = catalog
        .parse(params.scope.as_deref())
        .map_err(|e| fail(OAuthError::InvalidScope(e)))?;
    // An operator who registered a client with `--scope` set its limit: it is granted at
    // most those (RFC 6749 §3.3 lets the server grant less than asked). A self-registered
    // client's `scope` is only its own claim and limits nothing.
    if client.source == ClientSource::Preregistered {
        if let Some(allowed) = client.scope.as_deref() {
            let allowed = catalog.stored(allowed);
            scopes = scopes.intersect(&allowed);
            if scopes.is_empty() {
                return Err(fail(OAuthError::InvalidScope(
                    "this client may not be granted any of the scopes asked for".into(),
                )));
            }
        }
    }
    if let Some(r) = params.resource.as_deref() {
        if !resource::matches(r, our_resource) {
            return Err(fail(OAuthError::InvalidTarget(format!(
                "this server only issues tokens for {our_resource}"
            ))));
        }
    }
    if params.request.is_some() {
        return Err(fail(OAuthError::RequestNotSupported(
            "request objects are not supported; send the parameters themselves".into(),
        )));
    }
    if params.request_uri.is_some() {
        return Err(fail(OAuthError::RequestUriNotSupported(
            "request_uri is not supported; send the parameters themselves".into(),
        )));
    }
    let prompt =
        Prompt::parse(params.prompt.as_deref()).map_err(|e| fail(OAuthError::InvalidRequest(e)))?;
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(m) => Some(m.trim().parse::<u64>().map_err(|_| {
            fail(OAuthError::InvalidRequest(
                "max_age must be a number of seconds".into(),
            ))
        })?),
    };
    Ok(AuthorizeRequest {
        client,
        redirect_uri,
        state: params.state.clone(),
        code_challenge,
        scopes,
        resource: our_resource.to_string(),
        nonce: params.nonce.clone().filter(|n| !n.is_empty()),
        prompt,
        max_age,
        login_hint: params.login_hint.clone().filter(|h| !h.is_empty()),
    })
}

impl AuthorizeRequest {
    /// Whether a session whose sign-in was at `signed_in` (Unix seconds; 0 when unknown)
    /// answers this request at `now`, or the person must sign in again: `prompt=login`, or
    /// a sign-in older than `max_age` (OpenID Connect Core §3.1.2.1).
    pub fn accepts_sign_in_at(&self, signed_in: u64, now: u64) -> bool {
        prompt::sign_in_answers(self.prompt, self.max_age, signed_in, now)
    }
}

/// The parameters without `prompt=login` (and `select_account`) and `max_age`: where a
/// sign-in that just happened sends the person back. That sign-in answered both, so the
/// request must not ask again (`max_age=0` would otherwise ask forever); the client checks
/// the ID token's `auth_time` against its `max_age` itself (Core §3.1.3.7).
pub fn after_sign_in(params: &AuthorizeParams) -> AuthorizeParams {
    let mut p = params.clone();
    if Prompt::parse(p.prompt.as_deref()).is_ok_and(|pr| pr.login) {
        p.prompt = None;
    }
    p.max_age = None;
    p
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
