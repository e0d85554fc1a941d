//! The sign-in providers an operator declares in `SIGNIN_PROVIDERS` (a JSON array in
//! `wrangler.toml`'s `[vars]`), validated once per isolate. Every URL this Worker sends a
//! person to or fetches during a sign-in comes from here or from the discovery document of
//! an issuer named here, never from a request. A mistake is a `ConfigError` naming the
//! setting; the sign-in page then leaves that provider out and the log says why.

use crate::config::{check_url, ConfigError};
use serde_json::{Map, Value};

pub use crate::signin::provider::{Allow, Flow, Kind, Provider};

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const MAX_PROVIDERS: usize = 10;
const SETTING: &str = "SIGNIN_PROVIDERS";

/// What the edge can tell about the environment, to check secret names against it: the
/// length of a secret's value (`None`: no such secret; the value itself is never read here).
pub struct Environment<'a> {
    pub secret_len: &'a dyn Fn(&str) -> Option<usize>,
    /// Whether `SCOPES` knows a role (a provider's `roles.map` may give only those).
    pub is_role: &'a dyn Fn(&str) -> bool,
}

/// A shared secret shorter than this could be guessed; anyone who knows it can sign
/// people in as anyone of the operator's app.
const MIN_SHARED_SECRET: usize = 32;

/// The providers of `SIGNIN_PROVIDERS` (unset or empty: none).
pub fn parse(text: Option<&str>, env: &Environment) -> Result<Vec<Provider>, ConfigError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let list = crate::json::parse(text.as_bytes())
        .map_err(|e| error(SETTING.into(), &format!("not JSON: {e}")))?;
    let Value::Array(items) = list else {
        return Err(error(SETTING.into(), "must be a JSON array of providers"));
    };
    if items.len() > MAX_PROVIDERS {
        return Err(error(SETTING.into(), "at most 10 providers"));
    }
    let mut out: Vec<Provider> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |key: &str| format!("{SETTING}[{i}].{key}");
        let p = one(item, &at, env)?;
        if out.iter().any(|o| o.id == p.id) {
            return Err(error(at("id"), "two providers have this id"));
        }
        if !p.is_redirect() && out.iter().any(|o| !o.is_redirect()) {
            return Err(error(at("type"), "at most one password_check provider"));
        }
        out.push(p);
    }
    Ok(out)
}

fn error(setting: String, message: &str) -> ConfigError {
    ConfigError {
        setting,
        message: message.to_string(),
    }
}

const KEYS: &[&str] = &[
    "id",
    "type",
    "name",
    "issuer",
    "client_id",
    "client_secret",
    "scopes",
    "timeout_ms",
    "allow",
    "link_by_email",
    "emails_verified",
    "token_endpoint_auth_method",
    "membership_cache_seconds",
    "membership_token",
    "github_url",
    "github_api_url",
    "login_url",
    "url",
    "shared_secret",
    "roles",
];

/// One provider's object, read key by key: every error names its setting.
struct Reader<'a> {
    obj: &'a Map<String, Value>,
    at: &'a dyn Fn(&str) -> String,
    env: &'a Environment<'a>,
}

impl Reader<'_> {
    fn err(&self, key: &str, message: &str) -> ConfigError {
        error((self.at)(key), message)
    }

    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(_) => Err(self.err(key, "must be a non-empty string")),
        }
    }

    fn required(&self, key: &str) -> Result<String, ConfigError> {
        self.text(key)?.ok_or_else(|| self.err(key, "is required"))
    }

    fn url(&self, key: &str) -> Result<String, ConfigError> {
        check_url(&self.required(key)?).map_err(|m| self.err(key, &m))
    }

    /// `{"secret": "<name>"}`: the name of a Worker secret that is set.
    fn secret(&self, key: &str) -> Result<Option<String>, ConfigError> {
        let Some(v) = self.obj.get(key) else {
            return Ok(None);
        };
        let name = v
            .get("secret")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.err(key, "must be {\"secret\": \"<name of a Worker secret>\"}"))?;
        let at = format!("{key}.secret");
        match (self.env.secret_len)(name) {
            None => Err(self.err(&at, &format!("no Worker secret named {name}"))),
            Some(n) if key == "shared_secret" && n < MIN_SHARED_SECRET => Err(self.err(
                &at,
                &format!("{name} must be at least {MIN_SHARED_SECRET} characters (a random value)"),
            )),
            Some(_) => Ok(Some(name.to_string())),
        }
    }

    fn number(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
        message: &str,
    ) -> Result<u64, ConfigError> {
        match self.obj.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|n| range.contains(n))
                .ok_or_else(|| self.err(key, message)),
        }
    }
}

/// A kind, with the name and scopes it has when the operator names none.
type KindAndDefaults = (Kind, Option<&'static str>, &'static [&'static str]);

fn kind(
    r: &Reader,
    kind_name: &str,
    allow: Option<&Allow>,
    membership_token: Option<String>,
) -> Result<KindAndDefaults, ConfigError> {
    Ok(match kind_name {
        "google" => {
            if r.obj.contains_key("issuer") {
                return Err(r.err("issuer", "is Google's own for type google"));
            }
            let issuer = GOOGLE_ISSUER.to_string();
            (
                Kind::Oidc { issuer },
                Some("Google"),
                &["openid", "email", "profile"],
            )
        }
        "oidc" => {
            // Kept exactly as written: the discovery document must name this issuer, and
            // ID tokens carry it in `iss` (some issuers end in a slash).
            let issuer = r.required("issuer")?;
            check_url(&issuer).map_err(|m| r.err("issuer", &m))?;
            let parsed = url::Url::parse(&issuer).map_err(|_| r.err("issuer", "not a URL"))?;
            if parsed.query().is_some() {
                return Err(r.err("issuer", "must not have a query"));
            }
            (Kind::Oidc { issuer }, None, &["openid", "email", "profile"])
        }
        "github" => {
            let web = match r.text("github_url")? {
                Some(_) => r.url("github_url")?,
                None => "https://github.com".to_string(),
            };
            let api = match r.text("github_api_url")? {
                Some(_) => r.url("github_api_url")?,
                None => "https://api.github.com".to_string(),
            };
            if allow.is_some_and(Allow::needs_membership) && membership_token.is_none() {
                return Err(r.err(
                    "membership_token",
                    "is required when allow names GitHub orgs or teams (membership is checked again at every refresh)",
                ));
            }
            let kind = Kind::GitHub {
                web: web.trim_end_matches('/').to_string(),
                api: api.trim_end_matches('/').to_string(),
                membership_token,
            };
            (kind, Some("GitHub"), &["read:user", "user:email"])
        }
        "handoff" => (
            Kind::Handoff {
                login_url: r.url("login_url")?,
            },
            None,
            &[],
        ),
        // Never shown: its password form is the page's own.
        "password_check" => (
            Kind::PasswordCheck { url: r.url("url")? },
            Some("password check"),
            &[],
        ),
        _ => {
            return Err(r.err(
                "type",
                "must be oidc, google, github, handoff or password_check",
            ))
        }
    })
}

fn one(
    item: &Value,
    at: &dyn Fn(&str) -> String,
    env: &Environment,
) -> Result<Provider, ConfigError> {
    let obj = item
        .as_object()
        .ok_or_else(|| error(at(""), "must be an object"))?;
    let r = Reader { obj, at, env };
    if let Some(key) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(r.err(key, "is not a setting of a provider"));
    }
    let id = r.required("id")?;
    let id_ok = id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !id_ok {
        return Err(r.err("id", "must be 1 to 32 of a-z, 0-9, - and _"));
    }
    let kind_name = r.required("type")?;
    let client_secret = r.secret("client_secret")?;
    let shared_secret = r.secret("shared_secret")?;
    let membership_token = r.secret("membership_token")?;
    let allow = match obj.get("allow") {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => Some(allow(a, &|k| at(&format!("allow.{k}")))?),
        Some(_) => return Err(r.err("allow", "must be an object")),
    };
    let (kind, default_name, default_scopes) =
        kind(&r, &kind_name, allow.as_ref(), membership_token)?;
    let redirect_flow = kind.flow() == Flow::Callback;
    let client_id = if redirect_flow {
        r.required("client_id")?
    } else {
        String::new()
    };
    if redirect_flow && client_secret.is_none() {
        return Err(r.err("client_secret", "is required"));
    }
    if !redirect_flow && shared_secret.is_none() {
        return Err(r.err("shared_secret", "is required"));
    }
    if allow.as_ref().is_some_and(Allow::needs_membership) && !matches!(kind, Kind::GitHub { .. }) {
        return Err(r.err("allow", "github_orgs and github_teams are for type github"));
    }
    let name = match r.text("name")? {
        Some(n) if n.chars().count() <= 40 => n,
        Some(_) => return Err(r.err("name", "at most 40 characters")),
        None => default_name
            .map(str::to_string)
            .ok_or_else(|| r.err("name", "is required"))?,
    };
    let scopes = match obj.get("scopes") {
        None => default_scopes.iter().map(|s| s.to_string()).collect(),
        Some(v) => strings(v).ok_or_else(|| r.err("scopes", "must be an array of strings"))?,
    };
    if matches!(kind, Kind::Oidc { .. }) && !scopes.iter().any(|s| s == "openid") {
        return Err(r.err("scopes", "must include openid"));
    }
    // In the order the settings were always checked, so the first mistake is named first.
    let timeout_ms = r.number(
        "timeout_ms",
        500..=15_000,
        DEFAULT_TIMEOUT_MS,
        "must be a number of milliseconds from 500 to 15000",
    )?;
    let link_by_email = match obj.get("link_by_email") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(r.err("link_by_email", "must be true or false")),
    };
    let emails_verified = emails_verified(&r, &kind_name, link_by_email)?;
    let token_auth_basic = token_auth_basic(&r, redirect_flow)?;
    let membership_cache_seconds = r.number(
        "membership_cache_seconds",
        0..=3600,
        300,
        "must be a number of seconds from 0 to 3600",
    )?;
    let roles = match obj.get("roles") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let github = matches!(kind, Kind::GitHub { .. });
            if let Kind::GitHub {
                membership_token: None,
                ..
            } = &kind
            {
                return Err(r.err(
                    "roles",
                    "needs membership_token: GitHub is asked about the orgs and teams with it",
                ));
            }
            Some(crate::signin::roles::parse(v, at, env.is_role, github)?)
        }
    };
    Ok(Provider {
        id,
        roles,
        membership_cache_seconds,
        emails_verified,
        token_auth_basic,
        name,
        kind,
        client_id,
        client_secret,
        shared_secret,
        scopes,
        timeout_ms,
        allow,
        link_by_email,
    })
}

/// Only for a provider that vouches for addresses itself, and never with linking: an email
/// the provider does not verify, trusted for linking, would let whoever sets it take the
/// account.
fn emails_verified(r: &Reader, kind_name: &str, link_by_email: bool) -> Result<bool, ConfigError> {
    let vouches = matches!(kind_name, "oidc" | "handoff" | "password_check");
    match r.obj.get("emails_verified") {
        None | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) if vouches && !link_by_email => Ok(true),
        Some(Value::Bool(true)) if vouches => {
            Err(r.err("emails_verified", "cannot be combined with link_by_email"))
        }
        Some(_) => Err(r.err(
            "emails_verified",
            "is true or false, for types oidc, handoff and password_check",
        )),
    }
}

/// `token_endpoint_auth_method`: `Some(true)` Basic, `Some(false)` the form; `None` as the
/// provider's metadata says.
fn token_auth_basic(r: &Reader, redirect_flow: bool) -> Result<Option<bool>, ConfigError> {
    match r.text("token_endpoint_auth_method")?.as_deref() {
        None => Ok(None),
        Some("client_secret_basic") if redirect_flow => Ok(Some(true)),
        Some("client_secret_post") if redirect_flow => Ok(Some(false)),
        Some(_) => Err(r.err(
            "token_endpoint_auth_method",
            "is client_secret_basic or client_secret_post",
        )),
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| {
            s.as_str()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .collect()
}

fn allow(a: &Map<String, Value>, at: &dyn Fn(&str) -> String) -> Result<Allow, ConfigError> {
    let mut out = Allow::default();
    for (key, v) in a {
        let list = || strings(v).ok_or_else(|| error(at(key), "must be an array of strings"));
        let lower = || list().map(|l| l.iter().map(|s| s.to_ascii_lowercase()).collect());
        match key.as_str() {
            "everyone" => {
                out.everyone = v
                    .as_bool()
                    .ok_or_else(|| error(at(key), "must be true or false"))?
            }
            "emails" => out.emails = lower()?,
            "email_domains" => out.email_domains = lower()?,
            "hosted_domains" => out.hosted_domains = lower()?,
            "subjects" => out.subjects = list()?,
            "github_orgs" => out.github_orgs = list()?,
            "github_teams" => {
                out.github_teams = list()?
                    .into_iter()
                    .map(|t| match t.split_once('/') {
                        Some((org, team))
                            if !org.is_empty() && !team.is_empty() && !team.contains('/') =>
                        {
                            Ok((org.to_string(), team.to_string()))
                        }
                        _ => Err(error(at(key), "each must be \"org/team-slug\"")),
                    })
                    .collect::<Result<_, _>>()?
            }
            _ => return Err(error(at(key), "is not an allow rule")),
        }
    }
    // GitHub names are used in API paths: only the characters GitHub allows.
    let slug = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    if !out.github_orgs.iter().all(|o| slug(o))
        || !out.github_teams.iter().all(|(o, t)| slug(o) && slug(t))
    {
        return Err(error(
            at("github_orgs"),
            "GitHub names hold only letters, digits, - _ .",
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
