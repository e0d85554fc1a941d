//! `POST /register`: dynamic client registration (RFC 7591), rate limited per client IP.

use crate::audit::Event;
use crate::doctor::{attempt_key, Attempt, Mark, Step};
use crate::encoding::{random_token, secret_hash};
use crate::http::{now, Ctx, Incoming};
use crate::oauth::client::{validate_metadata, ClientSource, MAX_REGISTRATION_BYTES};
use crate::oauth::client_directory::ClientDirectory;
use crate::oauth::error::OAuthError;
use crate::oauth::kinds::AuthMethod;
use crate::reply::{Reply, NO_STORE};

const WINDOW: u64 = 3600;

/// How many registrations an address gets in an hour, in all, when those past
/// `REGISTER_RATE_LIMIT` are of an app (`ClientMetadata::fingerprint`) registered there
/// within it: 25 times the limit (500 with the default 20).
const ALIKE_FACTOR: u64 = 25;

/// Registrations a day whose client is also written to KV (a fifth of the free plan's
/// 1,000 daily writes).
const CACHED_PER_DAY: u64 = 200;

pub async fn register(ctx: &Ctx, req: &Incoming) -> Reply {
    match handle(ctx, req).await {
        Ok(reply) => reply,
        Err(e) => {
            // No app yet to file it under: the unknown apps' attempts, one per network.
            let cause = format!(
                "Registration was refused: {} ({})",
                e.description(),
                e.code()
            );
            let attempt = Attempt::Key(attempt_key("", &format!("register {}", ctx.audit_ip)));
            ctx.doctor(Mark::stopped("", attempt, Step::Register, &cause))
                .await;
            e.to_reply()
        }
    }
}

async fn handle(ctx: &Ctx, req: &Incoming) -> Result<Reply, OAuthError> {
    if !ctx.config.dynamic_registration {
        // Not advertised in the metadata either; the message says what to do instead.
        return Ok(crate::reply::http_error(
            404,
            "not_found",
            "dynamic client registration is turned off on this server: ask its operator \
             for a client ID, or use a client ID metadata document",
        ));
    }
    let content_type = req.header("content-type").unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(OAuthError::InvalidClientMetadata(
            "the body must be application/json".into(),
        ));
    }
    if req.body.len() > MAX_REGISTRATION_BYTES {
        return Err(OAuthError::InvalidClientMetadata(format!(
            "the body must be at most {MAX_REGISTRATION_BYTES} bytes"
        )));
    }
    let body = crate::json::parse(&req.body)
        .map_err(|e| OAuthError::InvalidClientMetadata(e.to_string()))?;
    let metadata = validate_metadata(&body)?;
    if metadata.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt {
        // Its keys would have to be registered and kept; a metadata document publishes them.
        return Err(OAuthError::InvalidClientMetadata(
            "private_key_jwt is for client ID metadata documents; register with none, \
             client_secret_basic or client_secret_post"
                .into(),
        ));
    }

    let now = now();
    let window_end = (now / WINDOW + 1) * WINDOW;
    let db = ctx.db()?;
    let key = crate::store::keys::registrations(&req.client_ip, now / WINDOW);
    let count = db
        .count_hit(&key, window_end, now)
        .await
        .map_err(|e| ctx.internal(e))?;
    // Past the address's allowance, a platform registering the same app for each of its
    // people (one name, callbacks to the same places) from a few shared addresses may go
    // on, up to `ALIKE_FACTOR` times the allowance in all: only an app registered from
    // that address within its allowance this hour, so a flood of varied registrations
    // gets no further than before. Only registrations within the allowance are written
    // down by app; past it, one read.
    let alike = crate::store::keys::registrations_alike(
        &req.client_ip,
        &metadata.fingerprint(),
        now / WINDOW,
    );
    let limit = ctx.config.register_limit;
    let allowed = if count <= limit {
        db.count_hit(&alike, window_end, now)
            .await
            .map_err(|e| ctx.internal(e))?;
        true
    } else {
        // And, for the whole deployment, at most `ALIKE_FACTOR` × 4 times the limit a UTC
        // day past the networks' own (2,000 with the default): many networks each sending
        // one app again and again cannot spend D1's writes either. Read before written.
        let day_end = (now / 86_400 + 1) * 86_400;
        let all = crate::store::keys::registrations_alike_all(now / 86_400);
        let all_cap = limit.saturating_mul(ALIKE_FACTOR * 4);
        count <= limit.saturating_mul(ALIKE_FACTOR)
            && db.hits(&alike, now).await.map_err(|e| ctx.internal(e))? > 0
            && db.hits(&all, now).await.map_err(|e| ctx.internal(e))? < all_cap
            && db
                .count_hit(&all, day_end, now)
                .await
                .map_err(|e| ctx.internal(e))?
                <= all_cap
    };
    if !allowed {
        return Err(OAuthError::RateLimited(window_end - now));
    }

    let secret = metadata
        .token_endpoint_auth_method
        .has_secret()
        .then(random_token);
    let client = metadata.into_client(
        random_token(),
        secret.as_deref().map(secret_hash),
        now,
        ClientSource::Registered,
    );
    let (kv, db) = (ctx.kv()?, ctx.db()?);
    let directory = ClientDirectory {
        kv: &kv,
        strong: &db,
    };
    directory
        .save(&client, now)
        .await
        .map_err(|e| ctx.internal(e))?;
    // The KV copy only speeds up lookups, and anyone can register: at most
    // `CACHED_PER_DAY` registrations a day spend a KV write (counted in D1, before it);
    // the rest, and any KV refuses, are read from D1.
    let day = now / 86_400;
    let cached = db
        .count_hit(
            &crate::store::keys::registrations_cached(day),
            (day + 1) * 86_400,
            now,
        )
        .await
        .is_ok_and(|n| n <= CACHED_PER_DAY);
    if cached {
        if let Err(e) = directory.cache(&client).await {
            worker::console_error!("[{}] caching a client in KV: {e}", ctx.request_id);
        }
    }

    ctx.audit(
        Event::ClientRegistered,
        None,
        Some(&client.client_id),
        client.display_name().as_deref(),
    )
    .await;
    // Bounded like registration itself (REGISTER_RATE_LIMIT), so not from the budget.
    ctx.doctor(Mark::reached(&client.client_id, Attempt::App, Step::Register).proven())
        .await;
    let mut response = client.registration_response();
    if let Some(s) = secret {
        crate::json::set(&mut response, "client_secret", s);
        crate::json::set(&mut response, "client_secret_expires_at", 0);
    }
    Ok(Reply::json(201, &response).header("Cache-Control", NO_STORE))
}
