//! Client ID metadata documents as policy, in plain Rust: which URLs may be one (public
//! names only, never a disguise for a private address), what a fetched document must say
//! to be a client, when its host vouches for the app's name, how long it may be cached,
//! and how many fetches an isolate allows. The edge (`http::cimd`) fetches, caches and
//! counts with these.

use crate::oauth::client::{validate_metadata, Client, ClientSource};
use crate::oauth::kinds::AuthMethod;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

const MIN_CACHE: u64 = 60;
const MAX_CACHE: u64 = 24 * 3600;
/// Failed fetches allowed per document URL per minute: a client_id cannot be used to
/// make this Worker hammer someone else's server.
pub const FAILURES_PER_MINUTE: u64 = 5;

/// How many fetches and KV cache fills this path may make (`METADATA_FETCHES_PER_MINUTE`,
/// `METADATA_CACHE_FILLS_PER_DAY`). Counted per client network and in total, never per
/// URL: a new query string or path is a new URL, not a new allowance. Fetches are counted
/// per isolate (in memory: counting must not cost a write); fills, the KV writes, in D1
/// for the whole deployment. Past the fill allowance a fetched document is used but not
/// cached.
#[derive(Clone, Copy, Debug)]
pub struct Allowance {
    pub fetches_per_network_per_minute: u64,
    pub fetches_per_minute: u64,
    pub fills_per_network_per_hour: u64,
    pub fills_per_day: u64,
}

impl Allowance {
    pub fn from_config(config: &crate::config::Config) -> Allowance {
        let fetches = config.metadata_fetches_per_minute;
        let fills = config.metadata_cache_fills_per_day;
        Allowance {
            fetches_per_network_per_minute: fetches,
            fetches_per_minute: fetches.saturating_mul(6),
            fills_per_network_per_hour: (fills / 20).max(1).min(fills),
            fills_per_day: fills,
        }
    }
}

/// Is `client_id` a metadata-document URL: https, a host that is a public name, a path,
/// no user information, no query, no fragment?
pub fn is_document_url(client_id: &str) -> bool {
    let Ok(url) = Url::parse(client_id) else {
        return false;
    };
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.path().len() > 1
        && match url.host() {
            Some(Host::Domain(d)) => is_public_name(&d.to_ascii_lowercase()),
            // IP literals are refused: they could name private addresses.
            _ => false,
        }
}

/// A host name that may be public: not a private-use name, and not one of the names that
/// spell a private or loopback address for wildcard DNS services (`127.0.0.1.nip.io`,
/// `10-0-0-1.sslip.io`, `7f000001.nip.io`, `--1.sslip.io`) or always resolve to loopback
/// (`localtest.me`, `lvh.me`). What a name resolves to cannot be seen from a Worker
/// without a lookup of its own; Cloudflare's fetch (with `global_fetch_strictly_public`)
/// reaches only the public internet either way.
fn is_public_name(d: &str) -> bool {
    const PRIVATE_SUFFIXES: [&str; 9] = [
        ".localhost",
        ".local",
        ".internal",
        ".home.arpa",
        ".lan",
        ".localtest.me",
        ".lvh.me",
        ".vcap.me",
        ".localhost.direct",
    ];
    let dotted = format!(".{d}");
    // A trailing dot would slip past the suffix checks.
    !d.ends_with('.')
        && d.contains('.')
        && !PRIVATE_SUFFIXES.iter().any(|s| dotted.ends_with(s))
        && !spells_private_address(d)
}

/// Whether any run of labels, or one label, spells an address that is not public.
fn spells_private_address(d: &str) -> bool {
    const WILDCARD_SERVICES: [&str; 5] =
        ["nip.io", "sslip.io", "xip.io", "nip.direct", "traefik.me"];
    let dotted = format!(".{d}");
    let wildcard_service = WILDCARD_SERVICES
        .iter()
        .any(|s| dotted.ends_with(&format!(".{s}")));
    let labels: Vec<&str> = d.split('.').collect();
    let dotted_v4 = labels
        .windows(4)
        .filter_map(|w| w.join(".").parse::<Ipv4Addr>().ok())
        .map(IpAddr::V4);
    let in_one_label = labels.iter().filter_map(|label| {
        let dashed = label.split('-').collect::<Vec<_>>();
        let v4 = dashed
            .windows(4)
            .filter_map(|w| w.join(".").parse::<Ipv4Addr>().ok())
            .find(|a| !is_global(IpAddr::V4(*a)));
        // nip.io's hex form, alone or after a dash (`app-7f000001.nip.io`): only under
        // the services that read it, since eight hex digits are common in ordinary names
        // (`app-git-3f2a1b9c.vercel.app`).
        let hex = dashed
            .iter()
            .filter(|part| part.len() == 8 && wildcard_service)
            .find_map(|part| u32::from_str_radix(part, 16).ok())
            .map(Ipv4Addr::from)
            .filter(|a| !is_global(IpAddr::V4(*a)));
        let v6 = label
            .contains("--")
            .then(|| label.replace('-', ":").parse::<Ipv6Addr>().ok())
            .flatten()
            .map(IpAddr::V6);
        v4.or(hex).map(IpAddr::V4).or(v6)
    });
    dotted_v4.chain(in_one_label).any(|ip| !is_global(ip))
}

/// A public unicast address (what `IpAddr::is_global` will say once it is stable).
fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [first, second, ..] = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_documentation()
                || a.is_multicast()
                || first == 0
                || first >= 240
                // Shared address space (RFC 6598) and benchmarking (RFC 2544).
                || (first == 100 && (64..128).contains(&second))
                || (first == 198 && (18..20).contains(&second)))
        }
        IpAddr::V6(a) => {
            let first = a.segments().first().copied().unwrap_or(0);
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || a.to_ipv4_mapped()
                    .is_some_and(|v4| !is_global(IpAddr::V4(v4))))
        }
    }
}

pub fn cache_seconds(cache_control: Option<String>) -> Option<u64> {
    let cc = cache_control?.to_ascii_lowercase();
    if cc.contains("no-store") || cc.contains("no-cache") || cc.contains("private") {
        return None;
    }
    let max_age = cc
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.trim().parse::<u64>().ok())?;
    Some(max_age.clamp(MIN_CACHE, MAX_CACHE))
}

/// A document as fetched: its text, and whether it was served as JSON.
pub struct Document {
    pub text: String,
    pub json: bool,
}

impl Document {
    /// The KV form: a line saying how it was served, then the text.
    pub fn cached(&self) -> String {
        let served = if self.json { "json" } else { "other" };
        format!("{served}\n{}", self.text)
    }

    pub fn from_cache(value: &str) -> Option<Document> {
        let (served, text) = value.split_once('\n')?;
        let json = match served {
            "json" => true,
            "other" => false,
            _ => return None,
        };
        Some(Document {
            text: text.to_string(),
            json,
        })
    }
}

/// `application/json`, with or without parameters (RFC 8259 §11).
pub fn is_json_media_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

pub fn parse_client(url: &str, doc: &Document) -> Result<Client, String> {
    let value = crate::json::parse(doc.text.as_bytes())
        .map_err(|e| format!("the metadata document cannot be read: {e}"))?;
    if value.get("client_id").and_then(serde_json::Value::as_str) != Some(url) {
        return Err("the metadata document's client_id is not its own URL".into());
    }
    let mut meta = validate_metadata(&value).map_err(|e| e.description())?;
    let keys = keys_of(&value)?;
    meta.token_endpoint_auth_method = auth_method(&value, keys.is_some())?;
    let source = if doc.json && redirects_stay_home(url, &meta.redirect_uris) {
        ClientSource::MetadataDocument
    } else {
        ClientSource::UnverifiedDocument
    };
    let private_key = meta.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt;
    let mut client = meta.into_client(url.to_string(), None, 0, source);
    if let (true, Some(keys)) = (private_key, keys) {
        client.token_endpoint_auth_signing_alg = keys.alg;
        match keys.set {
            KeySet::Inline(jwks) => client.jwks = Some(jwks),
            KeySet::At(uri) => client.jwks_uri = Some(uri),
        }
    }
    Ok(client)
}

/// How a document's app authenticates: `none` (a public client), or `private_key_jwt`
/// with the keys the document publishes. A document cannot hold a secret. It names its
/// method, or offers several (OpenID RP Metadata Choices:
/// `token_endpoint_auth_methods_supported`), and then `private_key_jwt` is chosen when it
/// is offered and the keys are there.
fn auth_method(value: &serde_json::Value, has_keys: bool) -> Result<AuthMethod, String> {
    let named = value
        .get("token_endpoint_auth_method")
        .and_then(serde_json::Value::as_str);
    let offered: Vec<&str> = match value.get("token_endpoint_auth_methods_supported") {
        None => Vec::new(),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|m| {
                m.as_str()
                    .ok_or("token_endpoint_auth_methods_supported must list names")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("token_endpoint_auth_methods_supported must be a list".into()),
    };
    let chosen = match named {
        Some(m) => m,
        None if offered.contains(&"private_key_jwt") && has_keys => "private_key_jwt",
        None if offered.is_empty() || offered.contains(&"none") => "none",
        None => {
            return Err(
                "a metadata-document client must offer token_endpoint_auth_method none or \
                 private_key_jwt"
                    .into(),
            )
        }
    };
    match chosen {
        "none" => Ok(AuthMethod::None),
        "private_key_jwt" if has_keys => Ok(AuthMethod::PrivateKeyJwt),
        "private_key_jwt" => Err("private_key_jwt needs the document's jwks or jwks_uri".into()),
        _ => Err(
            "a metadata-document client must use token_endpoint_auth_method none or \
             private_key_jwt"
                .into(),
        ),
    }
}

/// A document's keys: its JWK Set in the document, or where it is published.
struct Keys {
    set: KeySet,
    alg: Option<String>,
}

enum KeySet {
    Inline(serde_json::Value),
    At(String),
}

const MAX_KEYS: usize = 10;

/// The keys the document publishes, if any: `jwks` (a JWK Set of at most 10 keys) or
/// `jwks_uri` (a URL with the same rules as a document's own), never both (RFC 7591 §2),
/// and the signing algorithm it names, which must be one assertions may use.
fn keys_of(value: &serde_json::Value) -> Result<Option<Keys>, String> {
    let alg = match value.get("token_endpoint_auth_signing_alg") {
        None => None,
        Some(a) => {
            let a = a.as_str().unwrap_or_default();
            if !crate::oauth::client_assertion::ALGS
                .iter()
                .any(|x| x.name() == a)
            {
                return Err("token_endpoint_auth_signing_alg must be RS256, ES256 or EdDSA".into());
            }
            Some(a.to_string())
        }
    };
    let set = match (value.get("jwks"), value.get("jwks_uri")) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => return Err("a document gives jwks or jwks_uri, not both".into()),
        (Some(jwks), None) => {
            let usable = jwks
                .get("keys")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|k| {
                    !k.is_empty() && k.len() <= MAX_KEYS && k.iter().all(|k| k.is_object())
                });
            if !usable {
                return Err("jwks must be a JWK Set of 1 to 10 keys".into());
            }
            KeySet::Inline(jwks.clone())
        }
        (None, Some(uri)) => match uri.as_str() {
            Some(u) if is_document_url(u) && u.len() <= 1000 => KeySet::At(u.to_string()),
            _ => {
                return Err(
                    "jwks_uri must be an https URL on a public name, without a query".into(),
                )
            }
        },
    };
    Ok(Some(Keys { set, alg }))
}

/// Whether every redirect URI is on the document's host, a name under it, or a name it
/// is under (its own domain, `app.example.com` for `cdn.app.example.com`, never a bare
/// top-level name): only then does the host's word about the app's name mean anything.
/// Without the Public Suffix List, a document on `a.github.io` can vouch for `github.io`
/// and no further, which names no other customer.
fn redirects_stay_home(document_url: &str, redirect_uris: &[String]) -> bool {
    let Some(home) = host_name(document_url) else {
        return false;
    };
    redirect_uris.iter().all(|uri| {
        host_name(uri).is_some_and(|host| {
            host == home
                || host.ends_with(&format!(".{home}"))
                || (home.ends_with(&format!(".{host}")) && host.contains('.'))
        })
    })
}

fn host_name(uri: &str) -> Option<String> {
    match Url::parse(uri).ok()?.host()? {
        Host::Domain(d) => Some(d.to_ascii_lowercase()),
        _ => None,
    }
}

/// Why a metadata-document client cannot be used now.
#[derive(Debug, PartialEq, Eq)]
pub enum Unusable {
    /// The URL or the document is not acceptable (or gone): the client is unknown.
    Refused(String),
    /// It cannot be fetched right now (an allowance is spent, or its host is failing) and
    /// no copy is held: the client should try again later, not forget its credentials.
    Busy(String),
}

/// How long a copy of a document kept when someone connected with it stands in while the
/// document cannot be fetched: a week, then the app must be fetchable again.
pub const KNOWN_GOOD_SECONDS: u64 = 7 * 86_400;

/// Fetches this isolate made in the current minute, per client network and in all, and
/// failed fetches per document URL. Kept in memory, not in storage: counting an
/// unauthenticated request must not cost a write. At most `MAX_TRACKED` networks and URLs
/// a minute are told apart; past that, new ones wait for the next minute.
#[derive(Default)]
pub struct Fetches {
    minute: u64,
    total: u64,
    by_network: std::collections::HashMap<String, u64>,
    failures: std::collections::HashMap<String, u64>,
}

const MAX_TRACKED: usize = 4096;

/// Why `take` refused a fetch because the document's own host failed too often (the
/// other refusals are spent allowances, which say nothing of the host).
pub const FAILING: &str =
    "fetching this metadata document failed too often; not trying for a minute";

impl Fetches {
    pub fn take(
        &mut self,
        url: &str,
        network: &str,
        limits: &Allowance,
        now: u64,
    ) -> Result<(), &'static str> {
        if self.minute != now / 60 {
            *self = Fetches {
                minute: now / 60,
                ..Fetches::default()
            };
        }
        if self.failures.get(url).copied().unwrap_or(0) >= FAILURES_PER_MINUTE {
            return Err(FAILING);
        }
        if self.total >= limits.fetches_per_minute {
            return Err("too many metadata documents fetched; try in a minute");
        }
        let known = self.by_network.contains_key(network);
        let used = self.by_network.get(network).copied().unwrap_or(0);
        if used >= limits.fetches_per_network_per_minute
            || (!known && self.by_network.len() >= MAX_TRACKED)
        {
            return Err("too many metadata documents fetched for this network; try in a minute");
        }
        self.total += 1;
        self.by_network.insert(network.to_string(), used + 1);
        Ok(())
    }

    pub fn failed(&mut self, url: &str) {
        if self.failures.len() < MAX_TRACKED || self.failures.contains_key(url) {
            *self.failures.entry(url.to_string()).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
#[path = "client_document_tests.rs"]
mod tests;
