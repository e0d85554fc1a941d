//! Bearer tokens (RFC 6750): who a request to `/mcp` or `/sse` acts for, and the access
//! token check `/userinfo` shares. A caller holds an access token this server issued (JWT,
//! in the `Authorization` header; verified once per isolate, its grant checked against the
//! KV revocation marks) or a personal access token (in the header, or in the path
//! `/mcp/t/<token>` when `MCP_PATH_TOKENS` allows it). Access tokens never work in the
//! path, and personal tokens work nowhere but `/mcp` and `/sse`.

use super::{now, Ctx, Incoming};
use crate::audit::Event;
use crate::doctor::Step;
use crate::encoding::secret_hash;
use crate::http::webcrypto::WebCrypto;
use crate::oauth::access_token::{self, Verified};
use crate::oauth::keys::KeySet;
use crate::oauth::personal_token;
use crate::reply::{Reply, NO_STORE};
use crate::store::d1_revocations::MAX_UNMARKED;
use crate::store::memo::Memo;
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use worker::console_error;

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An OAuth access token of this grant, issued to this client.
    Access { grant_id: String, client_id: String },
    /// A personal access token, by its id.
    Personal { token_id: String },
    /// The operator console's overview asking each upstream for its tools as the signed-in
    /// administrator (never from a request's token).
    Console,
}

/// The person a request acts for.
pub struct Principal {
    pub user: String,
    /// Space-separated scopes.
    pub scope: String,
    /// The person's roles, as the token says (an access token's `roles`) or as they are
    /// now (a personal token's owner): what the user assertion tells an upstream.
    pub roles: Vec<String>,
    pub credential: Credential,
}

impl Principal {
    /// The client acting for the person: the OAuth client, or `pat:<id>` for a personal
    /// access token (what an upstream's user assertion names).
    /// What an MCP session is bound to: the person and the credential the session began
    /// with (the grant, which outlives refreshes, or the personal token), so app A's
    /// session id is refused with app B's token for the same person.
    pub fn session_holder(&self) -> String {
        match &self.credential {
            Credential::Access { grant_id, .. } => format!("{}\0grant:{grant_id}", self.user),
            Credential::Personal { token_id } => format!("{}\0pat:{token_id}", self.user),
            Credential::Console => format!("{}\0console", self.user),
        }
    }

    pub fn client(&self) -> String {
        match &self.credential {
            Credential::Access { client_id, .. } => client_id.clone(),
            Credential::Personal { token_id } => format!("pat:{token_id}"),
            Credential::Console => "console".to_string(),
        }
    }

    /// Tells the connector doctor this caller's `/mcp` call was served, or where it
    /// stopped (nothing for a personal token or the console, which are not connections).
    pub async fn tell_doctor(&self, ctx: &Ctx, stopped: Option<&str>) {
        if let Credential::Access {
            grant_id,
            client_id,
        } = &self.credential
        {
            super::doctor::grant_step(ctx, client_id, grant_id, &self.user, Step::Mcp, stopped)
                .await;
        }
    }

    /// Whether the token grants any of the MCP resource's scopes. One that grants none
    /// can do nothing at `/mcp` or `/sse`, and is asked for them with a 403 (RFC 6750
    /// §3.1, MCP authorization "Scope challenge").
    pub fn has_mcp_scope(&self, catalog: &crate::oauth::catalog::Catalog) -> bool {
        self.scope.split(' ').any(|s| catalog.is_resource_scope(s))
    }
}

/// The caller of an `/mcp` request; `Ok(None)` when it carries no token at all.
/// `path_token` is the token of `/mcp/t/<token>`, already allowed by the setting.
pub async fn authenticate(
    ctx: &Ctx,
    req: &Incoming,
    path_token: Option<&str>,
) -> Result<Option<Principal>, BearerError> {
    let header = bearer_token(req)?;
    let token = match (path_token, header) {
        (Some(_), Some(_)) => {
            return Err(BearerError::Invalid(
                "send the token in the URL or in the Authorization header, not both",
            ))
        }
        (Some(t), None) => {
            if !personal_token::looks_like(t) {
                return Err(BearerError::Invalid(
                    "only personal access tokens work in the URL",
                ));
            }
            t
        }
        (None, Some(t)) => t,
        (None, None) => return Ok(None),
    };
    if personal_token::looks_like(token) {
        return personal(ctx, token).await.map(Some);
    }
    let verified = verify_access_token(ctx, token).await?;
    Ok(Some(Principal {
        user: verified.claims.sub,
        scope: verified.claims.scope,
        roles: verified.claims.roles,
        credential: Credential::Access {
            grant_id: verified.claims.gid,
            client_id: verified.claims.client_id,
        },
    }))
}

/// How long this isolate remembers a refused personal token.
const REFUSED_MEMO_SECONDS: u64 = 300;

thread_local! {
    static REFUSED_TOKENS: RefCell<Memo<String, ()>> = RefCell::new(Memo::new(1024));
}

/// A personal access token: looked up by hash in D1 on every request (so a revocation
/// holds at once), its last use recorded at most once a minute.
async fn personal(ctx: &Ctx, token: &str) -> Result<Principal, BearerError> {
    const REFUSED: &str = "the personal access token is unknown, expired or revoked";
    let db = ctx.db().map_err(|_| BearerError::Unavailable)?;
    let now = now();
    let hash = secret_hash(token);
    if REFUSED_TOKENS
        .with(|m| m.borrow().get(&hash, now))
        .is_some()
    {
        return Err(BearerError::Invalid(REFUSED));
    }
    let found = match db.active_personal_token(&hash, now).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            // A refused token stays refused (a revoked or expired one never comes back,
            // and an unknown one cannot become known: tokens are made fresh), so
            // repeating it costs this isolate no more D1 reads for a while.
            let until = now + REFUSED_MEMO_SECONDS;
            REFUSED_TOKENS.with(|m| m.borrow_mut().put(hash, (), until, now));
            return Err(BearerError::Invalid(REFUSED));
        }
        Err(e) => {
            ctx.internal(e);
            return Err(BearerError::Unavailable);
        }
    };
    let stale = found
        .last_used_at
        .is_none_or(|t| t + crate::store::d1_tokens::LAST_USED_STEP <= now);
    if stale {
        // A failed write costs the person an out-of-date "last used", not the request.
        // Whoever wrote the new time records the use: at most one row a minute per token.
        match db.touch_personal_token(&found.id, now).await {
            Ok(true) => {
                ctx.audit(
                    Event::TokenUsed,
                    Some(&found.user_id),
                    None,
                    Some(&found.id),
                )
                .await
            }
            Ok(false) => {}
            Err(e) => {
                ctx.internal(e);
            }
        }
    }
    let roles: Vec<String> = found
        .roles
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    // Scopes the operator removed, or that the owner's roles no longer allow, are gone
    // from the token at once (it has no refresh to narrow it at).
    let scope = match ctx.scopes() {
        Ok(catalog) => {
            let held: Vec<&str> = roles.iter().map(String::as_str).collect();
            catalog
                .allowed_for(&catalog.stored(&found.scope), &held)
                .to_string()
        }
        Err(_) => return Err(BearerError::Unavailable),
    };
    Ok(Principal {
        user: found.user_id,
        scope,
        roles,
        credential: Credential::Personal { token_id: found.id },
    })
}

/// Why a bearer token was not accepted.
pub enum BearerError {
    /// The token is missing its scheme, malformed, expired, forged, for another audience
    /// or revoked: 401 with `error="invalid_token"`.
    Invalid(&'static str),
    /// This server could not check it (a missing key, a KV failure): 503, so clients keep
    /// their tokens and retry instead of starting a new sign-in.
    Unavailable,
}

/// A bearer token from the `Authorization` header only (never the query string),
/// verified for this server's MCP resource, and not revoked.
pub async fn verify_bearer(ctx: &Ctx, req: &Incoming) -> Result<Option<Verified>, BearerError> {
    match bearer_token(req)? {
        Some(token) => verify_access_token(ctx, token).await.map(Some),
        None => Ok(None),
    }
}

/// The token of an `Authorization: Bearer` header; `None` without the header.
pub fn bearer_token(req: &Incoming) -> Result<Option<&str>, BearerError> {
    let Some(header) = req.header("authorization") else {
        return Ok(None);
    };
    match header.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            Ok(Some(t.trim()))
        }
        _ => Err(BearerError::Invalid(
            "the Authorization header must be: Bearer <token>",
        )),
    }
}

/// An access token issued by this server for its MCP resource, not revoked.
pub async fn verify_access_token(ctx: &Ctx, token: &str) -> Result<Verified, BearerError> {
    let now = now();
    let resource = ctx.resource();
    let memo_key = secret_hash(&format!("{}\n{resource}\n{token}", ctx.issuer));
    let verified = match VERIFIED.with(|m| m.borrow().get(&memo_key, now)) {
        Some(v) => v,
        None => {
            let keys = ctx.keys().map_err(|_| BearerError::Unavailable)?;
            let v = match verify_access(ctx, &keys, token, &resource, now).await {
                Ok(v) => v,
                Err(e) => {
                    if e == access_token::TokenError::Expired {
                        expired_for_doctor(ctx, token).await;
                    }
                    return Err(BearerError::Invalid(e.describe()));
                }
            };
            VERIFIED.with(|m| m.borrow_mut().put(memo_key, v.clone(), v.expires_at, now));
            v
        }
    };
    let gid = &verified.claims.gid;
    if NOT_REVOKED.with(|m| m.borrow().get(gid, now)).is_some() {
        return Ok(verified);
    }
    let mark = match ctx.kv() {
        Ok(kv) => kv
            .get_cached(
                &crate::store::keys::revoked_grant(gid),
                REVOKED_CACHE_SECONDS,
            )
            .await
            .map_err(|e| e.to_string()),
        Err(_) => Err("no KV binding".to_string()),
    };
    let revoked = match mark {
        Ok(Some(_)) => true,
        // No mark: revoked all the same if D1 holds a revocation whose mark could not be
        // written (KV's write quota spent, or KV failing). A full list may have left older
        // revocations out (someone revoking thousands of their own grants while KV
        // refuses writes): then D1 is asked about this grant.
        Ok(None) => {
            let unmarked = unmarked_revocations(ctx, now).await;
            if unmarked.len() >= MAX_UNMARKED as usize {
                revoked_in_d1(ctx, gid).await?
            } else {
                unmarked.contains(gid)
            }
        }
        // KV cannot be read: D1, where revocation happens, decides for this grant.
        Err(e) => {
            console_error!(
                "[{}] revocation mark unreadable, asking D1: {e}",
                ctx.request_id
            );
            revoked_in_d1(ctx, gid).await?
        }
    };
    if revoked {
        return Err(BearerError::Invalid("the access token has been revoked"));
    }
    let until = now + NOT_REVOKED_MEMO_SECONDS;
    NOT_REVOKED.with(|m| m.borrow_mut().put(gid.clone(), (), until, now));
    Ok(verified)
}

/// Tells the doctor an app sent an expired access token instead of refreshing it. Only
/// after `Expired`, which `access_token::verify` gives once the signature has verified:
/// the claims read here are this server's own.
async fn expired_for_doctor(ctx: &Ctx, token: &str) {
    let Some(c) = access_token::signed_claims_unchecked(token) else {
        return;
    };
    // No changing numbers in the cause: the same cause is one row, moved, not a row a
    // minute (the row's time says when).
    let cause = "The access token had expired and the app sent it anyway instead of \
                 refreshing it: look for a refresh below, or whether the app was given a \
                 refresh token (offline_access, or a client that may not refresh)";
    super::doctor::grant_step(ctx, &c.client_id, &c.gid, &c.sub, Step::Mcp, Some(cause)).await;
}

/// The grants D1 holds as revoked without a KV mark, read at most every
/// `NOT_REVOKED_MEMO_SECONDS` per isolate and only when a grant's mark is looked up (the
/// list is almost always empty: a mark is written with every revocation, and a missing
/// one by the daily cron). If D1 cannot be read the last list read stands.
async fn unmarked_revocations(ctx: &Ctx, now: u64) -> Rc<HashSet<String>> {
    let fresh = UNMARKED.with(|u| {
        u.borrow()
            .as_ref()
            .filter(|(read_at, _)| read_at + NOT_REVOKED_MEMO_SECONDS > now)
            .map(|(_, set)| set.clone())
    });
    if let Some(set) = fresh {
        return set;
    }
    // An unmarked grant matters only while its access tokens can live.
    let since = now.saturating_sub(ctx.config.longest_access_ttl() + 120);
    let read = match ctx.db() {
        Ok(db) => db.unmarked_revocations(since).await,
        Err(_) => Err(crate::store::StoreError("no D1 binding".into())),
    };
    match read {
        Ok(ids) => {
            let set = Rc::new(ids.into_iter().collect::<HashSet<_>>());
            UNMARKED.with(|u| *u.borrow_mut() = Some((now, set.clone())));
            set
        }
        Err(e) => {
            console_error!("[{}] unmarked revocations: {e}", ctx.request_id);
            UNMARKED
                .with(|u| u.borrow().as_ref().map(|(_, set)| set.clone()))
                .unwrap_or_default()
        }
    }
}

/// Whether D1, where revocation happens, holds this grant as revoked (or has no such
/// grant); `Unavailable` when D1 cannot say.
async fn revoked_in_d1(ctx: &Ctx, gid: &str) -> Result<bool, BearerError> {
    let db = ctx.db().map_err(|_| BearerError::Unavailable)?;
    db.grant_revoked(gid).await.map_err(|e| {
        ctx.internal(e);
        BearerError::Unavailable
    })
}

/// An access token issued by this server for `resource`, checked with WebCrypto.
pub(crate) async fn verify_access(
    ctx: &Ctx,
    keys: &KeySet,
    token: &str,
    resource: &str,
    now: u64,
) -> Result<Verified, access_token::TokenError> {
    access_token::verify(&WebCrypto, keys, token, &ctx.issuer, resource, now).await
}

/// How long a location's edge cache may keep a KV answer about a revocation mark, and how
/// long this isolate then trusts a "not revoked" answer: together at most the minute within
/// which a revocation is promised to stop access tokens.
const REVOKED_CACHE_SECONDS: u64 = 40;
const NOT_REVOKED_MEMO_SECONDS: u64 = 20;

thread_local! {
    /// Access tokens this isolate has verified (signature, issuer, audience, times), by
    /// the SHA-256 of the issuer, resource and token, until they expire: a client sends
    /// the same token with every request, and Ed25519 verification is the costly part.
    static VERIFIED: RefCell<Memo<String, Verified>> = RefCell::new(Memo::new(1024));
    /// Grants a KV read found not revoked, for `NOT_REVOKED_MEMO_SECONDS`.
    static NOT_REVOKED: RefCell<Memo<String, ()>> = RefCell::new(Memo::new(4096));
    /// The last list of revocations D1 holds without a KV mark, and when it was read
    /// (at most `MAX_UNMARKED` ids, see `store::d1_revocations`).
    static UNMARKED: RefCell<Option<(u64, Rc<HashSet<String>>)>> = const { RefCell::new(None) };
}

/// The 503 for `BearerError::Unavailable`.
pub fn unavailable() -> Reply {
    Reply::json(
        503,
        &json!({"error": "temporarily_unavailable", "error_description": "the server cannot verify tokens right now; retry shortly"}),
    )
    .header("Retry-After", "5")
    .header("Cache-Control", NO_STORE)
}

/// A 401 for a missing or refused bearer token (RFC 6750 §3): `challenge` in
/// `WWW-Authenticate`, and the same reason in an OAuth error body.
pub fn unauthorized_with(challenge: &str, why: Option<&str>) -> Reply {
    let description = why.unwrap_or("a bearer token is required");
    Reply::json(
        401,
        &json!({ "error": "invalid_token", "error_description": description }),
    )
    .header("WWW-Authenticate", challenge)
    .header("Cache-Control", NO_STORE)
}

/// Adds a grant revoked in D1 whose KV mark could not be written to this isolate's list
/// of unmarked revocations, so this isolate refuses its access tokens at once (the list it
/// read before the revocation does not hold it; other isolates read it within the
/// minute).
pub(crate) fn note_unmarked(grant_id: &str) {
    UNMARKED.with(|u| {
        let mut u = u.borrow_mut();
        // A full list already sends every check to D1 (see `verify_access_token`), so
        // it never grows past `MAX_UNMARKED`.
        if let Some((read_at, set)) = u.take() {
            let mut set = Rc::unwrap_or_clone(set);
            if set.len() < MAX_UNMARKED as usize {
                set.insert(grant_id.to_string());
            }
            *u = Some((read_at, Rc::new(set)));
        }
    });
}

/// Forgets that a grant was found not revoked, so this isolate refuses its access tokens
/// at once after revoking it.
pub(crate) fn forget_not_revoked(grant_id: &str) {
    NOT_REVOKED.with(|m| m.borrow_mut().remove(&grant_id.to_string()));
}
