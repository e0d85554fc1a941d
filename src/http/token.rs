//! `POST /token`, `POST /revoke` (RFC 7009) and `POST /introspect` (RFC 7662): the form
//! is read into `oauth::grant::Params` and the rules run in `oauth::grant`; this file
//! adapts the request and renders the answer.

use crate::http::grants::{settings, EdgeGrants};
use crate::http::webcrypto::WebCrypto;
use crate::http::{now, now_ms, Ctx, Incoming};
use crate::oauth::catalog::Catalog;
use crate::oauth::client::ClientSource;
use crate::oauth::error::OAuthError;
use crate::oauth::grant::{Grants, Issued, Params};
use crate::oauth::keys::KeySet;
use crate::oauth::kinds::GrantType;
use crate::reply::{Reply, NO_STORE};
use crate::util::text::strip_prefix_ignore_case;
use std::rc::Rc;

/// The form of a request to one of the three endpoints, and its Basic credentials.
struct Read {
    params: Params,
    basic: Option<String>,
}

fn read(req: &Incoming) -> Result<Read, OAuthError> {
    let ct = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    let basic = req
        .header("authorization")
        .and_then(|h| strip_prefix_ignore_case(h, "basic "))
        .map(str::to_string);
    Ok(Read {
        params: Params::parse(&req.form_pairs())?,
        basic,
    })
}

/// Runs `f` with the grants of this request.
async fn with_grants<T>(
    ctx: &Ctx,
    f: impl AsyncFnOnce(&Grants<'_, EdgeGrants<'_>, Ctx, WebCrypto>) -> Result<T, OAuthError>,
) -> Result<T, OAuthError> {
    let store = EdgeGrants { ctx, db: ctx.db()? };
    let keys: Option<Rc<KeySet>> = ctx.keys().ok();
    let settings = settings(ctx);
    // Revocation and introspection read no scope: they work while SCOPES is broken. The
    // grants refuse with server_error there (clients keep their tokens and retry).
    let catalog = ctx
        .scopes()
        .unwrap_or_else(|_| Rc::new(Catalog::protocol_only()));
    let grants = Grants {
        catalog: &catalog,
        store: &store,
        world: ctx,
        crypto: &WebCrypto,
        keys: keys.as_deref(),
        rsa: ctx.rsa.as_deref(),
        settings: &settings,
        now_ms: now_ms(),
    };
    f(&grants).await
}

pub async fn token(ctx: &Ctx, req: &Incoming) -> Reply {
    let issued = match read(req) {
        Ok(r) => with_grants(ctx, async |g| g.token(&r.params, r.basic.as_deref()).await).await,
        Err(e) => Err(e),
    };
    match issued {
        Ok(issued) => {
            keep_document(ctx, &issued).await;
            Reply::json(200, &issued.to_json())
                .header("Cache-Control", NO_STORE)
                .header("Pragma", "no-cache")
        }
        Err(e) => e.to_reply(),
    }
}

/// A metadata document someone connected with is kept, to stand in while it cannot be
/// fetched (`cimd::resolve`): the code was redeemed by an authenticated request, so it
/// is no one's way to spend writes.
async fn keep_document(ctx: &Ctx, issued: &Issued) {
    let from_document = matches!(
        issued.client.source,
        ClientSource::MetadataDocument | ClientSource::UnverifiedDocument
    );
    if issued.grant_type != GrantType::AuthorizationCode || !from_document || issued.client.stood_in
    {
        return;
    }
    let kept = match ctx.db() {
        Ok(db) => match serde_json::to_string(&issued.client) {
            Ok(record) => {
                db.keep_document(&issued.client.client_id, &record, now())
                    .await
            }
            Err(_) => return,
        },
        Err(_) => return,
    };
    if let Err(e) = kept {
        worker::console_error!("[{}] keeping a metadata document: {e}", ctx.request_id);
    }
}

pub async fn revoke(ctx: &Ctx, req: &Incoming) -> Reply {
    let revoked = match read(req) {
        Ok(r) => with_grants(ctx, async |g| g.revoke(&r.params, r.basic.as_deref()).await).await,
        Err(e) => Err(e),
    };
    match revoked {
        // RFC 7009 §2.2: 200 whether or not the token was known.
        Ok(()) => Reply::new(200).header("Cache-Control", NO_STORE),
        Err(e) => e.to_reply(),
    }
}

pub async fn introspect(ctx: &Ctx, req: &Incoming) -> Reply {
    let answer = match read(req) {
        Ok(r) => {
            with_grants(ctx, async |g| {
                g.introspect(&r.params, r.basic.as_deref()).await
            })
            .await
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok(a) => Reply::json(200, &a.to_json()).header("Cache-Control", NO_STORE),
        Err(e) => e.to_reply(),
    }
}
