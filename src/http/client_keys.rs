//! A `private_key_jwt` app's keys (`oauth::client_assertion`): the JWK Set its client ID
//! metadata document holds, or the one at its `jwks_uri`, fetched under the documents'
//! rules (a public https name, a few seconds, a few KiB, the same per-network fetch
//! allowance) and kept in this isolate's memory for its `Cache-Control`, never in KV: a
//! new isolate fetches again, which costs no write. A key the set lacks (one just rotated
//! in) makes one fetch anew, at most once a minute per URL. The operator's host rules
//! (the console's Apps page) hold for the set's host as for the document's.

use crate::http::{now, Ctx};
use crate::oauth::client::Client;
use crate::oauth::client_document::{cache_seconds, is_document_url, Allowance};
use crate::oauth::error::OAuthError;
use crate::store::memo::Memo;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

const MAX_BYTES: usize = 16 * 1024;
const TIMEOUT_MS: u64 = 3_000;
/// How long a set is kept when its host says nothing (or less), and at most.
const DEFAULT_SECONDS: u64 = 300;
const MAX_SECONDS: u64 = 3_600;
/// A set fetched this recently is not fetched anew for a missing key.
const REFETCH_SECONDS: u64 = 60;
const MAX_SETS: usize = 256;
const MAX_KEYS: usize = 20;

/// A JWK Set fetched from a `jwks_uri`: when it was fetched, when a fetch was last tried
/// (it may have failed), until when it is kept.
#[derive(Clone)]
struct Held {
    fetched_at: u64,
    tried_at: u64,
    until: u64,
    set: Rc<Value>,
}

thread_local! {
    /// JWK Sets fetched from `jwks_uri`, by URL.
    static SETS: RefCell<Memo<String, Held>> = RefCell::new(Memo::new(MAX_SETS));
}

/// The app's JWK Set; `again`: the copy held lacked the key, so fetch anew, unless it was
/// fetched less than `REFETCH_SECONDS` ago (then it answers). `Err` with `RateLimited`
/// when it cannot be had now (its host failing, now or a moment ago): the assertion
/// cannot be checked, and the app should try again shortly, not forget itself.
pub async fn jwks(ctx: &Ctx, client: &Client, again: bool) -> Result<Value, OAuthError> {
    if let Some(jwks) = &client.jwks {
        return Ok(jwks.clone());
    }
    let Some(uri) = &client.jwks_uri else {
        return Ok(Value::Null);
    };
    let now = now();
    let held = SETS.with(|s| s.borrow().get(uri, now));
    match &held {
        Some(h) if !again => return Ok((*h.set).clone()),
        // Fetched a moment ago: it can say the key is not there (`invalid_client`), and
        // made-up `kid`s make no fetches.
        Some(h) if h.fetched_at + REFETCH_SECONDS > now => return Ok((*h.set).clone()),
        // Tried a moment ago and failed: the key may be there; try again later.
        Some(h) if h.tried_at + REFETCH_SECONDS > now => {
            return Err(OAuthError::RateLimited(h.tried_at + REFETCH_SECONDS - now))
        }
        _ => {}
    }
    match fetch(ctx, uri, now).await {
        Ok((set, seconds)) => {
            let held = Held {
                fetched_at: now,
                tried_at: now,
                until: now + seconds,
                set: Rc::new(set),
            };
            let set = held.set.clone();
            SETS.with(|s| {
                s.borrow_mut()
                    .put(uri.clone(), held.clone(), held.until, now)
            });
            Ok((*set).clone())
        }
        Err(why) => {
            worker::console_log!(
                "[{}] jwks_uri of {}: {why}",
                ctx.request_id,
                client.client_id
            );
            let what = format!("has a jwks_uri that could not be used: {why}");
            ctx.document_failed(&client.client_id, &what).await;
            // The copy held still answers for its keys; the next try waits a minute.
            if let Some(h) = held {
                let until = h.until;
                let kept = Held { tried_at: now, ..h };
                SETS.with(|s| s.borrow_mut().put(uri.clone(), kept, until, now));
            }
            Err(OAuthError::RateLimited(REFETCH_SECONDS))
        }
    }
}

/// Fetches a JWK Set: `Ok` with how long to keep it, or why not.
async fn fetch(ctx: &Ctx, uri: &str, now: u64) -> Result<(Value, u64), String> {
    if !is_document_url(uri) {
        return Err("not an https URL on a public name".into());
    }
    // The operator's host rules for documents hold for their keys' hosts too.
    let db = ctx.db().map_err(|e| e.description())?;
    match super::cimd::host_allowed(&db, uri).await {
        Some(true) => {}
        Some(false) => return Err("on a host the operator does not allow".into()),
        None => return Err("the operator's host rules cannot be read now".into()),
    }
    let limits = Allowance::from_config(&ctx.config);
    // Failures are counted under a key of their own: a document's URL named as a
    // `jwks_uri` must not count against that document.
    let counted = format!("jwks {uri}");
    super::cimd::take_fetch(&counted, &ctx.client_network, &limits, now)?;
    let headers = [("Accept", "application/jwk-set+json, application/json")];
    let fetched = super::outbound::fetch("GET", uri, &headers, None, TIMEOUT_MS, MAX_BYTES).await;
    // Only a failing host counts against the URL: an answer that is not a key set is the
    // app's mistake, and a fetch again later may find it fixed.
    let failing = match &fetched {
        Err(_) => true,
        Ok(f) => f.status == 429 || f.status >= 500,
    };
    if failing {
        super::cimd::fetch_failed(&counted);
    }
    let result = match fetched {
        Err(why) => Err(why.to_string()),
        Ok(f) if f.status != 200 => Err(format!("it answered {}", f.status)),
        Ok(f) => match crate::json::parse(&f.body) {
            Ok(set) if is_key_set(&set) => Ok((
                set,
                cache_seconds(f.cache_control)
                    .unwrap_or(DEFAULT_SECONDS)
                    .min(MAX_SECONDS),
            )),
            _ => Err(format!("it is not a JWK Set of 1 to {MAX_KEYS} keys")),
        },
    };
    result
}

fn is_key_set(set: &Value) -> bool {
    set.get("keys")
        .and_then(Value::as_array)
        .is_some_and(|k| !k.is_empty() && k.len() <= MAX_KEYS && k.iter().all(Value::is_object))
}
