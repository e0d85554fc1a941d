//! Settings, read once per request from the Worker's vars into a typed `Config`.
//! Every setting has a safe default, so an empty `[vars]` is a working deployment; the
//! README's "Settings" table lists them.

/// Bounds keep a typo (or a test value left in a deployment) from disabling a protection.
fn seconds(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> u64 {
    lookup(name)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|v| v.clamp(min, max))
        .unwrap_or(default)
}

/// An on/off setting: unset or empty is `default`; on, true, yes, 1 and off, false, no, 0
/// in any case say what they say; any other value is off, the safe reading for the
/// switches that open something (`MCP_PATH_TOKENS`) or that close something that is on by
/// default (`DYNAMIC_REGISTRATION`, which an operator sets only to turn it off).
fn switch(lookup: &dyn Fn(&str) -> Option<String>, name: &str, default: bool) -> bool {
    match lookup(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => default,
        Some(v) if v.is_empty() => default,
        Some(v) => matches!(v.as_str(), "on" | "true" | "yes" | "1"),
    }
}

/// A comma-separated setting, trimmed, without empty entries.
fn list(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Vec<String> {
    lookup(name)
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `value` if it is an absolute https URL with a host and no credentials.
fn https_url(value: &str) -> Option<String> {
    let url = url::Url::parse(value.trim()).ok()?;
    let ok = url.scheme() == "https"
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none();
    ok.then(|| url.to_string())
}

/// A setting that cannot be used, named as the operator wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

/// An https URL with a host and no credentials; http only on a loopback host.
pub fn check_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|_| "not an absolute URL".to_string())?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("must not hold user information or a fragment".into());
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => Ok(url.to_string()),
        ("http", Some(url::Host::Ipv4(ip))) if ip.is_loopback() => Ok(url.to_string()),
        ("http", Some(url::Host::Ipv6(ip))) if ip.is_loopback() => Ok(url.to_string()),
        ("http", Some(url::Host::Domain("localhost"))) => Ok(url.to_string()),
        _ => Err("must be https (http only on a loopback host)".into()),
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `ISSUER`: the public origin, e.g. `https://mcp.example.com`. Unset: the request's origin.
    pub issuer: Option<String>,
    /// `ACCESS_TOKEN_TTL`: seconds an access token lives (default 3600).
    pub access_token_ttl: u64,
    /// `REFRESH_TOKEN_TTL`: seconds a refresh token lives (default 30 days).
    pub refresh_token_ttl: u64,
    /// `AUTH_CODE_TTL`: seconds an authorization code lives (default 300).
    pub code_ttl: u64,
    /// `REFRESH_GRACE_SECONDS`: how long the previous refresh token may be presented again
    /// after a rotation whose response was lost, until its successor is used (default 60).
    pub refresh_grace: u64,
    /// `REGISTER_RATE_LIMIT`: client registrations per client IP per hour (default 20).
    pub register_limit: u64,
    /// `LOGIN_MAX_FAILURES`: failed sign-ins before an account or IP is locked (default 5).
    pub login_max_failures: u64,
    /// `LOGIN_LOCKOUT_SECONDS`: how long a lockout lasts (default 900).
    pub lockout_seconds: u64,
    /// `MCP_ALLOWED_ORIGINS`: extra browser origins allowed at `/mcp`, comma separated.
    pub extra_origins: Vec<String>,
    /// `PUBLIC_TOOLS`: tools callable without a token, comma separated (OpenAI Apps SDK
    /// "mixed auth"). Empty (the default): `/mcp` answers 401 without a token.
    pub public_tools: Vec<String>,
    /// `MCP_PATH_TOKENS`: "on" lets personal access tokens work in the path
    /// `/mcp/t/<token>` for clients that cannot send a header. Off by default: URLs end up
    /// in logs.
    pub path_tokens: bool,
    /// `DYNAMIC_REGISTRATION`: "off" turns `/register` off, leaving pre-registered
    /// clients (`npm run client`) and metadata-document clients. On by default.
    pub dynamic_registration: bool,
    /// `CLIENT_METADATA_DOCUMENTS`: "off" refuses `client_id`s that are metadata-document
    /// URLs (nothing is fetched or cached for them). On by default: ChatGPT and Claude
    /// use them.
    pub metadata_documents: bool,
    /// `METADATA_FETCHES_PER_MINUTE`: metadata documents fetched (cache misses) per client
    /// network per minute (default 10, 1 to 10,000); six times as many from everyone.
    pub metadata_fetches_per_minute: u64,
    /// `METADATA_CACHE_FILLS_PER_DAY`: metadata documents written to KV's cache per UTC day
    /// in all (default 200, 0 to 100,000; a twentieth of it per client network per hour,
    /// at least one). KV's free plan allows 1,000 writes a day.
    pub metadata_cache_fills_per_day: u64,
    /// `AUDIT_RETENTION_DAYS`: how long audit rows are kept (default 90, 1 to 3650).
    pub audit_retention_days: u64,
    /// `LEGACY_SSE`: "on" offers the 2024-11-05 HTTP+SSE transport at `/sse` and
    /// `/messages`. Off by default: every open stream keeps a Durable Object running.
    pub legacy_sse: bool,
    /// `SSE_SESSIONS_PER_HOUR`: legacy SSE streams one person may open per hour (default
    /// 30, 1 to 10,000).
    pub sse_sessions_per_hour: u64,
    /// `SSE_KEEPALIVE_SECONDS`: how often a quiet legacy SSE stream gets a keep-alive
    /// comment (default 30, 1 to 300).
    pub sse_keepalive_seconds: u64,
    /// `SSE_IDLE_SECONDS`: a legacy SSE stream with no message for this long is closed
    /// (default 300, 2 to 86,400); the client reconnects.
    pub sse_idle_seconds: u64,
    /// `SCOPES`: the operator's scopes, roles and per-tool needs, as JSON (see
    /// `oauth::catalog`). Unset: `mcp:read` and `mcp:write`.
    pub scopes: Option<String>,
    /// `UPSTREAMS`: the MCP servers this Worker fronts, as JSON (see `gateway::config`).
    pub upstreams: Option<String>,
    /// `BUILTIN_TOOLS`: "off" leaves only the upstreams' tools at `/mcp`. On by default.
    pub builtin_tools: bool,
    /// `SIGNIN_PROVIDERS`: the identity providers people may sign in with, as JSON (see
    /// `signin::config`).
    pub signin_providers: Option<String>,
    /// `LOCAL_PASSWORDS`: "off" stops passwords stored in this Worker (`npm run user`)
    /// from signing anyone in. On by default.
    pub local_passwords: bool,
    /// `ACCESS_CONTACT`: whom a person without access should ask (an email address or a
    /// sentence), shown on the "no access" page.
    pub access_contact: Option<String>,
    /// `PRODUCT_NAME`: shown on the pages a person sees.
    pub product_name: String,
    /// `PRODUCT_LOGO_URL`: an https image shown beside the name; anything else is ignored,
    /// so a typo cannot put an insecure or scripted URL on the sign-in page.
    pub product_logo: Option<String>,
}

/// The longest an access token may live: `ACCESS_TOKEN_TTL`'s bound, and a pre-registered
/// client's own lifetime's (`npm run client -- add --access-token-ttl`, the console).
pub const MAX_ACCESS_TOKEN_TTL: u64 = 86_400;

impl Config {
    /// How long an access token issued now may live, whoever it was issued to: what a
    /// revocation mark must outlive, and how far back an unmarked revocation is looked for.
    /// A client given a longer lifetime than `ACCESS_TOKEN_TTL` must not outlive either.
    pub fn longest_access_ttl(&self) -> u64 {
        self.access_token_ttl.max(MAX_ACCESS_TOKEN_TTL)
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Config {
        let issuer = lookup("ISSUER")
            .map(|v| v.trim().trim_end_matches('/').to_string())
            .filter(|v| !v.is_empty());
        Config {
            issuer,
            access_token_ttl: seconds(lookup, "ACCESS_TOKEN_TTL", 3600, 5, MAX_ACCESS_TOKEN_TTL),
            refresh_token_ttl: seconds(lookup, "REFRESH_TOKEN_TTL", 30 * 86_400, 60, 365 * 86_400),
            code_ttl: seconds(lookup, "AUTH_CODE_TTL", 300, 1, 600),
            refresh_grace: seconds(lookup, "REFRESH_GRACE_SECONDS", 60, 0, 600),
            register_limit: seconds(lookup, "REGISTER_RATE_LIMIT", 20, 1, 100_000),
            login_max_failures: seconds(lookup, "LOGIN_MAX_FAILURES", 5, 1, 1000),
            lockout_seconds: seconds(lookup, "LOGIN_LOCKOUT_SECONDS", 900, 1, 86_400),
            extra_origins: list(lookup, "MCP_ALLOWED_ORIGINS")
                .into_iter()
                .map(|o| o.trim_end_matches('/').to_string())
                .collect(),
            public_tools: list(lookup, "PUBLIC_TOOLS"),
            legacy_sse: switch(lookup, "LEGACY_SSE", false),
            sse_sessions_per_hour: seconds(lookup, "SSE_SESSIONS_PER_HOUR", 30, 1, 10_000),
            sse_keepalive_seconds: seconds(lookup, "SSE_KEEPALIVE_SECONDS", 30, 1, 300),
            sse_idle_seconds: seconds(lookup, "SSE_IDLE_SECONDS", 300, 2, 86_400),
            audit_retention_days: seconds(lookup, "AUDIT_RETENTION_DAYS", 90, 1, 3650),
            dynamic_registration: switch(lookup, "DYNAMIC_REGISTRATION", true),
            metadata_documents: switch(lookup, "CLIENT_METADATA_DOCUMENTS", true),
            metadata_fetches_per_minute: seconds(
                lookup,
                "METADATA_FETCHES_PER_MINUTE",
                10,
                1,
                10_000,
            ),
            metadata_cache_fills_per_day: seconds(
                lookup,
                "METADATA_CACHE_FILLS_PER_DAY",
                200,
                0,
                100_000,
            ),
            path_tokens: switch(lookup, "MCP_PATH_TOKENS", false),
            scopes: lookup("SCOPES").filter(|v| !v.trim().is_empty()),
            upstreams: lookup("UPSTREAMS").filter(|v| !v.trim().is_empty()),
            builtin_tools: switch(lookup, "BUILTIN_TOOLS", true),
            signin_providers: lookup("SIGNIN_PROVIDERS").filter(|v| !v.trim().is_empty()),
            local_passwords: switch(lookup, "LOCAL_PASSWORDS", true),
            access_contact: lookup("ACCESS_CONTACT")
                .map(|v| v.trim().chars().take(200).collect::<String>())
                .filter(|v| !v.is_empty()),
            product_name: lookup("PRODUCT_NAME")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "MCP OAuth Worker".to_string()),
            product_logo: lookup("PRODUCT_LOGO_URL").and_then(|v| https_url(&v)),
        }
    }

    /// The logo's origin, the only place pages may load an image from.
    pub fn logo_origin(&self) -> Option<String> {
        let url = url::Url::parse(self.product_logo.as_deref()?).ok()?;
        Some(url.origin().ascii_serialization())
    }

    /// The issuer for a request that arrived at `request_origin`.
    pub fn issuer_for(&self, request_origin: &str) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| request_origin.trim_end_matches('/').to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let c = Config::from_lookup(&|_| None);
        assert_eq!(c.access_token_ttl, 3600);
        assert_eq!(
            c.issuer_for("http://127.0.0.1:8787"),
            "http://127.0.0.1:8787"
        );
        let c = Config::from_lookup(&|n| match n {
            "ISSUER" => Some("https://mcp.example.com/".into()),
            "ACCESS_TOKEN_TTL" => Some("0".into()),
            "AUTH_CODE_TTL" => Some("junk".into()),
            "MCP_ALLOWED_ORIGINS" => Some("https://a.example, ,https://b.example/".into()),
            "PUBLIC_TOOLS" => Some(" about ,,search".into()),
            _ => None,
        });
        assert_eq!(c.issuer_for("http://x"), "https://mcp.example.com");
        assert_eq!(c.access_token_ttl, 5);
        assert_eq!(c.code_ttl, 300);
        assert_eq!(c.product_logo, None);
        assert_eq!(
            c.extra_origins,
            vec!["https://a.example", "https://b.example"]
        );
        assert_eq!(c.public_tools, vec!["about", "search"]);
        assert!(c.dynamic_registration && !c.path_tokens);
        for (value, on) in [
            ("OFF", false),
            ("no", false),
            ("disabled", false),
            ("On", true),
            ("", true),
        ] {
            let c =
                Config::from_lookup(&|n| (n == "DYNAMIC_REGISTRATION").then(|| value.to_string()));
            assert_eq!(c.dynamic_registration, on, "{value:?}");
        }
        let c = Config::from_lookup(&|n| (n == "MCP_PATH_TOKENS").then(|| " TRUE ".to_string()));
        assert!(c.path_tokens);
    }

    #[test]
    fn only_https_logos() {
        let logo = |v: &str| {
            let v = v.to_string();
            Config::from_lookup(&move |n| (n == "PRODUCT_LOGO_URL").then(|| v.clone()))
        };
        let c = logo(" https://cdn.example/logo.png ");
        assert_eq!(
            c.product_logo.as_deref(),
            Some("https://cdn.example/logo.png")
        );
        assert_eq!(c.logo_origin().as_deref(), Some("https://cdn.example"));
        for bad in [
            "http://cdn.example/logo.png",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "https://user:pw@cdn.example/x.png",
            "/logo.png",
        ] {
            assert_eq!(logo(bad).product_logo, None, "{bad}");
            assert_eq!(logo(bad).logo_origin(), None, "{bad}");
        }
    }
}
