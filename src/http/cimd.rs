//! Client ID metadata documents: a `client_id` that is an `https` URL is the address of
//! the client's own metadata (what ChatGPT and Claude Code use instead of registering).
//! Fetched with strict limits, cached in KV per its `Cache-Control` (bounded), and never
//! cached when it fails.

use crate::encoding::{b64url, sha256};
use crate::oauth::client::{validate_metadata, Client, ClientSource};
use crate::store::d1::D1;
use crate::store::kv::Kv;
use crate::store::KeyValue;
use url::{Host, Url};

const MAX_BYTES: usize = 5 * 1024;
const TIMEOUT_MS: u64 = 3_000;
const MIN_CACHE: u64 = 60;
const MAX_CACHE: u64 = 24 * 3600;
/// Failed fetches allowed per document URL per minute: a client_id cannot be used to
/// make this Worker hammer someone else's server.
const FAILURES_PER_MINUTE: u64 = 5;

/// Is `client_id` a metadata-document URL: https, a host that is a public name, a path,
/// no user information, no fragment?
pub fn is_document_url(client_id: &str) -> bool {
    let Ok(url) = Url::parse(client_id) else {
        return false;
    };
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
        && url.path().len() > 1
        && match url.host() {
            Some(Host::Domain(d)) => {
                let d = d.to_ascii_lowercase();
                // A trailing dot would slip past the suffix checks.
                !d.ends_with('.')
                    && d.contains('.')
                    && !d.ends_with(".localhost")
                    && !d.ends_with(".local")
                    && !d.ends_with(".internal")
            }
            // IP literals are refused: they could name private addresses.
            _ => false,
        }
}

fn cache_seconds(cache_control: Option<String>) -> Option<u64> {
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

async fn fetch_document(url: &str) -> Result<(String, Option<u64>), String> {
    let headers = [("Accept", "application/json")];
    let f = super::outbound::fetch("GET", url, &headers, None, TIMEOUT_MS, MAX_BYTES)
        .await
        .map_err(|why| format!("the metadata document: {why}"))?;
    if f.status != 200 {
        return Err(format!("the metadata document answered {}", f.status));
    }
    let text = String::from_utf8(f.body).map_err(|_| "the metadata document is not UTF-8")?;
    Ok((text, cache_seconds(f.cache_control)))
}

/// Resolves when the first of two futures does: `Some` for the first, `None` for the second.
pub(crate) async fn futures_select<A, B, T>(
    mut a: std::pin::Pin<&mut A>,
    mut b: std::pin::Pin<&mut B>,
) -> Option<T>
where
    A: std::future::Future<Output = T>,
    B: std::future::Future<Output = ()>,
{
    std::future::poll_fn(move |cx| {
        if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(v));
        }
        if b.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(None);
        }
        std::task::Poll::Pending
    })
    .await
}

fn parse_client(url: &str, text: &str) -> Result<Client, String> {
    let doc = crate::json::parse(text.as_bytes())
        .map_err(|e| format!("the metadata document cannot be read: {e}"))?;
    if doc.get("client_id").and_then(serde_json::Value::as_str) != Some(url) {
        return Err("the metadata document's client_id is not its own URL".into());
    }
    let mut meta = validate_metadata(&doc).map_err(|e| e.description())?;
    // A document cannot hold a secret: such clients are public.
    if meta.token_endpoint_auth_method == "client_secret_basic"
        && doc.get("token_endpoint_auth_method").is_none()
    {
        meta.token_endpoint_auth_method = "none".into();
    }
    if meta.token_endpoint_auth_method != "none" {
        return Err("a metadata-document client must use token_endpoint_auth_method none".into());
    }
    Ok(meta.into_client(url.to_string(), None, 0, ClientSource::MetadataDocument))
}

/// The client a metadata-document URL describes, or why it cannot be used.
pub async fn resolve(kv: &Kv, db: &D1, url: &str) -> Result<Client, String> {
    if !is_document_url(url) || url.len() > 1000 {
        return Err("the client_id is not a usable metadata-document URL".into());
    }
    let cache_key = format!("cimd:{}", b64url(&sha256(url.as_bytes())));
    if let Ok(Some(cached)) = kv.get(&cache_key).await {
        if let Ok(client) = parse_client(url, &cached) {
            return Ok(client);
        }
    }
    let now = crate::http::now();
    let failures_key = format!("{cache_key}:failed:{}", now / 60);
    if db.hits(&failures_key, now).await.unwrap_or(0) >= FAILURES_PER_MINUTE {
        return Err(
            "fetching this metadata document failed too often; not trying for a minute".into(),
        );
    }
    let fetched = fetch_document(url).await;
    let (text, client, cache) = match fetched
        .and_then(|(text, cache)| parse_client(url, &text).map(|client| (text, client, cache)))
    {
        Ok(found) => found,
        Err(why) => {
            if let Err(e) = db.count_hit(&failures_key, (now / 60 + 1) * 60, now).await {
                worker::console_error!("counting a failed metadata fetch: {e}");
            }
            return Err(why);
        }
    };
    if let Some(ttl) = cache {
        if let Err(e) = kv.put(&cache_key, &text, Some(ttl)).await {
            worker::console_error!("caching a metadata document failed: {e}");
        }
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_urls_with_a_path_are_documents() {
        assert!(is_document_url("https://chatgpt.com/oauth/abc/client.json"));
        for bad in [
            "http://chatgpt.com/client.json",
            "https://chatgpt.com/",
            "https://u:p@chatgpt.com/c.json",
            "https://chatgpt.com/c.json#x",
            "https://127.0.0.1/c.json",
            "https://[::1]/c.json",
            "https://localhost/c.json",
            "https://intranet/c.json",
            "https://metadata.google.internal./c.json",
            "abc123",
        ] {
            assert!(!is_document_url(bad), "{bad}");
        }
    }

    #[test]
    fn cache_lifetimes_are_bounded() {
        assert_eq!(cache_seconds(Some("max-age=5".into())), Some(60));
        assert_eq!(
            cache_seconds(Some("public, max-age=3600".into())),
            Some(3600)
        );
        assert_eq!(cache_seconds(Some("max-age=99999999".into())), Some(86400));
        assert_eq!(cache_seconds(Some("no-store".into())), None);
        assert_eq!(cache_seconds(None), None);
    }

    #[test]
    fn document_must_name_itself() {
        let url = "https://app.example/client.json";
        let ok = format!(r#"{{"client_id":"{url}","redirect_uris":["https://app.example/cb"]}}"#);
        assert_eq!(
            parse_client(url, &ok).unwrap().token_endpoint_auth_method,
            "none"
        );
        let other = r#"{"client_id":"https://evil.example/c.json","redirect_uris":["https://app.example/cb"]}"#;
        assert!(parse_client(url, other).is_err());
        let secret = format!(
            r#"{{"client_id":"{url}","redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post"}}"#
        );
        assert!(parse_client(url, &secret).is_err());
    }
}
