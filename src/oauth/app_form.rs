//! The console's forms about apps, read into what they mean: a new pre-registered client
//! (the rules of `npm run client -- add`), its limits, and a host rule for client ID
//! metadata documents. Pure, so every refusal is tested natively.

use crate::oauth::catalog::Catalog;
use crate::oauth::client::{validate_redirect_uri, Client, ClientSource};
use crate::oauth::kinds::{AuthMethod, GrantType, ResponseType};

pub const MAX_REDIRECT_URIS: usize = 10;
const MAX_NAME: usize = 120;
/// The bounds of `ACCESS_TOKEN_TTL` and `REFRESH_TOKEN_TTL`, as the command line's.
pub const ACCESS_TTL: (u64, u64) = (5, crate::config::MAX_ACCESS_TOKEN_TTL);
pub const REFRESH_TTL: (u64, u64) = (60, 365 * 86_400);

/// The limits an operator gives a pre-registered client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Space-separated scopes it may be granted; `None`: any this server grants.
    pub scope: Option<String>,
    pub access_token_ttl: Option<u64>,
    pub refresh_token_ttl: Option<u64>,
}

/// A lifetime as typed: seconds, or a number with s, m, h or d; empty for none.
pub fn lifetime(label: &str, raw: &str, (min, max): (u64, u64)) -> Result<Option<u64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let (digits, unit) = match raw.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (raw.get(..at).unwrap_or(""), c),
        _ => (raw, 's'),
    };
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => 0,
    };
    let n: Option<u64> = (factor > 0
        && (1..=9).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit()))
    .then(|| digits.parse().ok())
    .flatten();
    let Some(seconds) = n.map(|n| n * factor) else {
        return Err(format!(
            "{label} must be a number of seconds, or a number with s, m, h or d (15m, 7d)."
        ));
    };
    if !(min..=max).contains(&seconds) {
        return Err(format!("{label} must be between {min} and {max} seconds."));
    }
    Ok(Some(seconds))
}

/// The scopes a client may be limited to: declared resource or protocol scopes only.
pub fn scope_limit(catalog: &Catalog, raw: &str) -> Result<Option<String>, String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    if words.is_empty() {
        return Ok(None);
    }
    let mut out: Vec<&str> = Vec::new();
    for w in words {
        if !catalog.is_known(w) {
            return Err(format!(
                "'{}' is not a scope this server knows (SCOPES names them).",
                crate::util::text::truncate(w, 64)
            ));
        }
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(Some(out.join(" ")))
}

pub fn limits(
    catalog: &Catalog,
    scope: &str,
    access: &str,
    refresh: &str,
) -> Result<Limits, String> {
    Ok(Limits {
        scope: scope_limit(catalog, scope)?,
        access_token_ttl: lifetime("The access-token lifetime", access, ACCESS_TTL)?,
        refresh_token_ttl: lifetime("The refresh-token lifetime", refresh, REFRESH_TTL)?,
    })
}

/// A new pre-registered client from the form: its id and secret hash are given by the
/// caller (`secret_hash` `None` for a public client).
pub struct NewApp<'a> {
    pub name: &'a str,
    /// One redirect URI per line.
    pub redirect_uris: &'a str,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub auth: &'a str,
    pub limits: Limits,
}

pub fn new_client(
    app: &NewApp<'_>,
    client_id: String,
    secret_hash: Option<String>,
    now: u64,
) -> Result<Client, String> {
    let name = app.name.trim();
    if name.is_empty() {
        return Err("Give the app a name: people see it on the consent page.".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("The name must be at most {MAX_NAME} characters."));
    }
    if name.chars().any(|c| {
        c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }) {
        return Err("The name must not contain control or text-direction characters.".into());
    }
    let mut uris: Vec<String> = Vec::new();
    for line in app
        .redirect_uris
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        validate_redirect_uri(line).map_err(|e| format!("Redirect URI: {e}"))?;
        if uris.iter().any(|u| u == line) {
            return Err(format!("The redirect URI {line} is given twice."));
        }
        uris.push(line.to_string());
    }
    if uris.is_empty() {
        return Err("Give at least one redirect URI, one per line.".into());
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(format!("At most {MAX_REDIRECT_URIS} redirect URIs."));
    }
    let method = match app.auth {
        "none" => AuthMethod::None,
        "client_secret_basic" => AuthMethod::ClientSecretBasic,
        "client_secret_post" => AuthMethod::ClientSecretPost,
        _ => return Err("Choose how the app authenticates.".into()),
    };
    if method.has_secret() != secret_hash.is_some() {
        return Err("A confidential app needs a secret, a public one none.".into());
    }
    Ok(Client {
        client_id,
        secret_hash,
        redirect_uris: uris,
        client_name: Some(name.to_string()),
        client_uri: None,
        token_endpoint_auth_method: method,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        response_types: vec![ResponseType::Code],
        scope: app.limits.scope.clone(),
        client_id_issued_at: now,
        source: ClientSource::Preregistered,
        access_token_ttl: app.limits.access_token_ttl,
        refresh_token_ttl: app.limits.refresh_token_ttl,
        id_token_signed_response_alg: None,
        jwks: None,
        jwks_uri: None,
        token_endpoint_auth_signing_alg: None,
        stood_in: false,
    })
}

/// A host rule for client ID metadata documents: a host name, lower-cased, that matches
/// itself and its subdomains.
pub fn document_host(raw: &str) -> Result<String, String> {
    let host = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(host)
    } else {
        Err(format!(
            "'{}' is not a host name such as chatgpt.com (no scheme, port or path).",
            crate::util::text::truncate(raw.trim(), 80)
        ))
    }
}

/// Whether `host` is `rule` or one of its subdomains.
pub fn host_matches(host: &str, rule: &str) -> bool {
    host == rule
        || host
            .strip_suffix(rule)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// Whether a document on `host` may be used under the operator's rules: never a blocked
/// host; when any host is allowed, only those.
pub fn host_allowed(host: &str, allowed: &[String], blocked: &[String]) -> bool {
    if blocked.iter().any(|b| host_matches(host, b)) {
        return false;
    }
    allowed.is_empty() || allowed.iter().any(|a| host_matches(host, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::default()
    }

    #[test]
    fn lifetimes_read_like_the_command_line() {
        assert_eq!(lifetime("L", "", ACCESS_TTL), Ok(None));
        assert_eq!(lifetime("L", "15m", ACCESS_TTL), Ok(Some(900)));
        assert_eq!(lifetime("L", " 3600 ", ACCESS_TTL), Ok(Some(3600)));
        assert_eq!(lifetime("L", "7d", REFRESH_TTL), Ok(Some(604_800)));
        for bad in ["1w", "-5", "1.5h", "m", "9999999999", "2d"] {
            assert!(lifetime("L", bad, ACCESS_TTL).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_app_follows_the_registration_rules() {
        let app = |name, uris, auth| NewApp {
            name,
            redirect_uris: uris,
            auth,
            limits: Limits::default(),
        };
        let ok = new_client(
            &app(
                " Acme ",
                "https://acme.example/cb\nhttp://127.0.0.1/cb\n",
                "none",
            ),
            "id".into(),
            None,
            7,
        )
        .expect("made");
        assert_eq!(ok.client_name.as_deref(), Some("Acme"));
        assert_eq!(ok.redirect_uris.len(), 2);
        assert_eq!(ok.source, ClientSource::Preregistered);
        assert!(ok.allows_refresh());
        for (a, says) in [
            (app("", "https://a.example/cb", "none"), "name"),
            (
                app("A\u{202e}", "https://a.example/cb", "none"),
                "text-direction",
            ),
            (app("A", "", "none"), "at least one"),
            (app("A", "http://a.example/cb", "none"), "loopback"),
            (
                app("A", "https://a.example/cb\nhttps://a.example/cb", "none"),
                "twice",
            ),
            (app("A", "javascript:alert(1)", "none"), "Redirect URI"),
            (
                app("A", "https://a.example/cb", "private_key_jwt"),
                "authenticates",
            ),
        ] {
            let e = new_client(&a, "id".into(), None, 7).expect_err(says);
            assert!(e.contains(says), "{says}: {e}");
        }
        assert!(new_client(
            &app("A", "https://a.example/cb", "client_secret_basic"),
            "id".into(),
            None,
            7
        )
        .is_err());
    }

    #[test]
    fn scope_limits_name_known_scopes_only() {
        let c = catalog();
        assert_eq!(scope_limit(&c, "  "), Ok(None));
        assert_eq!(
            scope_limit(&c, "mcp:read mcp:read openid"),
            Ok(Some("mcp:read openid".into()))
        );
        assert!(scope_limit(&c, "mcp:read files:write").is_err());
    }

    #[test]
    fn host_rules_match_hosts_and_their_subdomains() {
        assert_eq!(document_host(" ChatGPT.com. "), Ok("chatgpt.com".into()));
        for bad in [
            "https://a.example",
            "a.example:443",
            "a.example/x",
            "localhost",
            "",
            "-a.example",
        ] {
            assert!(document_host(bad).is_err(), "{bad}");
        }
        assert!(host_matches("chatgpt.com", "chatgpt.com"));
        assert!(host_matches("x.chatgpt.com", "chatgpt.com"));
        assert!(!host_matches("evilchatgpt.com", "chatgpt.com"));
        let allowed = vec!["claude.ai".to_string()];
        let blocked = vec!["bad.claude.ai".to_string()];
        assert!(host_allowed("claude.ai", &allowed, &blocked));
        assert!(!host_allowed("bad.claude.ai", &allowed, &blocked));
        assert!(!host_allowed("chatgpt.com", &allowed, &blocked));
        assert!(host_allowed("chatgpt.com", &[], &[]));
        assert!(!host_allowed("chatgpt.com", &[], &["chatgpt.com".into()]));
    }
}
