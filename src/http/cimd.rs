//! Client ID metadata documents: a `client_id` that is an `https` URL is the address of
//! the client's own metadata (what ChatGPT and Claude Code use instead of registering).
//! Fetched with strict limits, only from public names, cached in KV per its
//! `Cache-Control` (bounded), and never cached when it fails. Anyone can make this Worker
//! fetch a URL and write to KV by naming one, so fetches are counted per client network
//! and in total (in memory, per isolate) and cache fills in D1 for the whole deployment:
//! KV's 1,000 writes a day on the free plan are never this path's to spend. A copy of a
//! document someone connected with stands in while it cannot be fetched.

use crate::oauth::client::Client;
use crate::oauth::client_document::{
    cache_seconds, is_document_url, is_json_media_type, parse_client, Allowance, Document, Fetches,
    Unusable, FAILING, KNOWN_GOOD_SECONDS,
};
use crate::store::d1::D1;
use crate::store::keys;
use crate::store::kv::Kv;
use crate::store::KeyValue;

const MAX_BYTES: usize = 5 * 1024;
const TIMEOUT_MS: u64 = 3_000;

/// The document and its cache lifetime. A host that cannot be reached, is too slow or
/// fails (5xx, 429) is `Busy`; an answer that says the document is not there, or is not
/// one (any other status, not UTF-8), is `Refused`.
async fn fetch_document(url: &str) -> Result<(Document, Option<u64>), Unusable> {
    let headers = [("Accept", "application/json")];
    let f = super::outbound::fetch("GET", url, &headers, None, TIMEOUT_MS, MAX_BYTES)
        .await
        .map_err(|why| {
            let said = format!("the metadata document: {why}");
            if why.starts_with(super::outbound::TOO_LARGE) {
                Unusable::Refused(said)
            } else {
                Unusable::Busy(said)
            }
        })?;
    match f.status {
        200 => {}
        429 | 500..=599 => {
            return Err(Unusable::Busy(format!(
                "the metadata document answered {}",
                f.status
            )))
        }
        other => {
            return Err(Unusable::Refused(format!(
                "the metadata document answered {other}"
            )))
        }
    }
    let json = f.content_type.as_deref().is_some_and(is_json_media_type);
    let text = String::from_utf8(f.body)
        .map_err(|_| Unusable::Refused("the metadata document is not UTF-8".into()))?;
    Ok((Document { text, json }, cache_seconds(f.cache_control)))
}

/// The client a metadata-document URL describes, or why it cannot be used. `network` is
/// the asking client's network (`client_network`), which the fetch allowance counts by.
pub async fn resolve(
    kv: &Kv,
    db: &D1,
    url: &str,
    network: &str,
    limits: Allowance,
) -> Result<Client, Unusable> {
    if !is_document_url(url) || url.len() > 1000 {
        return Err(Unusable::Refused(
            "the client_id is not a usable metadata-document URL".into(),
        ));
    }
    let cache_key = keys::metadata_document(url);
    if let Ok(Some(cached)) = kv.get(&cache_key).await {
        if let Some(client) = Document::from_cache(&cached).and_then(|d| parse_client(url, &d).ok())
        {
            return Ok(client);
        }
    }
    let now = crate::http::now();
    let fetched = match take_fetch(url, network, &limits, now) {
        // The asking network's allowance (or everyone's) is spent: that says nothing of
        // the document's host, so the copy kept below does not stand in. Anyone can spend
        // their own allowance, and the copy may be a week older than a document that
        // has since changed how the app authenticates, or its keys.
        Err(why) if !why.starts_with(FAILING) => return Err(Unusable::Busy(why.to_string())),
        Err(why) => Err(Unusable::Busy(why.to_string())),
        Ok(()) => {
            let result = fetch_document(url).await.and_then(|(doc, cache)| {
                parse_client(url, &doc)
                    .map(|client| (doc, client, cache))
                    .map_err(Unusable::Refused)
            });
            // Only a host that fails counts against the URL (and lets the kept copy stand
            // in, below): a document that answers 404 or nonsense was withdrawn or is
            // wrong, and must not revive an older copy however often it is asked for.
            if matches!(result, Err(Unusable::Busy(_))) {
                fetch_failed(url);
            }
            result
        }
    };
    let (doc, client, cache) = match fetched {
        Ok(found) => found,
        // A document that answered with something unusable (or 404) is not used; one
        // whose host cannot be reached now (it failed now, or failed too often this
        // minute) is stood in for by the copy kept when someone connected with it, so
        // connected apps keep refreshing.
        Err(Unusable::Busy(why)) => {
            let since = now.saturating_sub(KNOWN_GOOD_SECONDS);
            return match db.known_document(url, since).await {
                Ok(Some(record)) => match serde_json::from_str::<Client>(&record) {
                    Ok(client) => Ok(Client {
                        stood_in: true,
                        ..client
                    }),
                    Err(_) => Err(Unusable::Busy(why)),
                },
                Ok(None) => Err(Unusable::Busy(why)),
                Err(e) => {
                    worker::console_error!("reading a kept metadata document: {e}");
                    Err(Unusable::Busy(why))
                }
            };
        }
        Err(refused) => return Err(refused),
    };
    if let Some(ttl) = cache {
        if may_fill(db, network, &limits, now).await {
            if let Err(e) = kv.put(&cache_key, &doc.cached(), Some(ttl)).await {
                worker::console_error!("caching a metadata document failed: {e}");
            }
        }
    }
    Ok(client)
}

/// Whether a fetched document may be written to KV's cache: within the fill allowances,
/// per client network per hour and in all per UTC day (D1 counters, read before they are
/// written, so a spent allowance costs no writes). Closed when D1 cannot say: a document
/// not cached is only fetched again.
async fn may_fill(db: &D1, network: &str, limits: &Allowance, now: u64) -> bool {
    let counters = [
        (
            keys::document_fills(now / 86_400),
            limits.fills_per_day,
            (now / 86_400 + 1) * 86_400,
        ),
        (
            keys::document_fills_from(network, now / 3600),
            limits.fills_per_network_per_hour,
            (now / 3600 + 1) * 3600,
        ),
    ];
    for (key, limit, _) in &counters {
        match db.hits(key, now).await {
            Ok(n) if n < *limit => {}
            _ => return false,
        }
    }
    for (key, limit, expires_at) in &counters {
        match db.count_hit(key, *expires_at, now).await {
            Ok(n) if n <= *limit => {}
            _ => return false,
        }
    }
    true
}

thread_local! {
    static FETCHES: std::cell::RefCell<Fetches> = std::cell::RefCell::new(Fetches::default());
}

/// Takes one fetch of `url` from this isolate's allowance (the one documents use: a
/// `private_key_jwt` app's `jwks_uri` is fetched under the same rules).
pub fn take_fetch(
    url: &str,
    network: &str,
    limits: &Allowance,
    now: u64,
) -> Result<(), &'static str> {
    FETCHES.with(|f| f.borrow_mut().take(url, network, limits, now))
}

/// Counts a failed fetch of `url` against it.
pub fn fetch_failed(url: &str) {
    FETCHES.with(|f| f.borrow_mut().failed(url));
}

/// The operator's host rules for documents (`document_hosts`, set in the console's Apps
/// page): (allowed, blocked), read from D1 at most every `HOST_RULES_SECONDS` per isolate.
type HostRules = std::rc::Rc<(Vec<String>, Vec<String>)>;

const HOST_RULES_SECONDS: u64 = 60;

thread_local! {
    /// The last host rules read, and when.
    static HOST_RULES: std::cell::RefCell<Option<(u64, HostRules)>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether a document at `url` may be used under the operator's host rules. `None` when
/// the rules were never read in this isolate and D1 cannot say now (the caller treats the
/// document as unreachable: a block must not be skipped because D1 was slow).
pub async fn host_allowed(db: &D1, url: &str) -> Option<bool> {
    let now = crate::http::now();
    let cached = HOST_RULES.with(|h| h.borrow().clone());
    let rules = match cached {
        Some((read_at, rules)) if read_at + HOST_RULES_SECONDS > now => rules,
        stale => match db.host_rules().await {
            // More than the rules allowed: the list may be missing blocks, or the allows
            // that make it an allow-list. Closed, as when it cannot be read.
            Ok(rows) if rows.len() as u64 > crate::store::d1_app_admin::MAX_HOST_RULES => {
                worker::console_error!(
                    "more than {} document host rules: no document is used until some are removed",
                    crate::store::d1_app_admin::MAX_HOST_RULES
                );
                return None;
            }
            Ok(rows) => {
                let (allowed, blocked): (Vec<_>, Vec<_>) =
                    rows.into_iter().partition(|r| r.rule == "allow");
                let rules: HostRules = std::rc::Rc::new((
                    allowed.into_iter().map(|r| r.host).collect(),
                    blocked.into_iter().map(|r| r.host).collect(),
                ));
                HOST_RULES.with(|h| *h.borrow_mut() = Some((now, rules.clone())));
                rules
            }
            Err(e) => {
                worker::console_error!("reading the document host rules: {e}");
                stale?.1
            }
        },
    };
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    Some(crate::oauth::app_form::host_allowed(
        &host, &rules.0, &rules.1,
    ))
}

/// Forgets the rules read, after this isolate changed them (others see it within
/// `HOST_RULES_SECONDS`).
pub fn forget_host_rules() {
    HOST_RULES.with(|h| *h.borrow_mut() = None);
}
