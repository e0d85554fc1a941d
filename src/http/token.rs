//! `POST /token` (authorization_code and refresh_token grants), `POST /revoke` (RFC 7009),
//! `POST /introspect` (RFC 7662) and `GET|POST /userinfo`. Checks run in a fixed order and
//! nothing is written until all of them pass.

use crate::audit::Event;
use crate::encoding::{b64url, constant_time_eq, random_token, secret_hash};
use crate::http::bearer::{
    forget_not_revoked, note_unmarked, unauthorized_with, unavailable, verify_access,
    verify_bearer, BearerError,
};
use crate::http::webcrypto::WebCrypto;
use crate::http::{now, now_ms, Ctx, Incoming};
use crate::oauth::access_token::{self, AccessClaims};
use crate::oauth::client::{Client, ClientSource};
use crate::oauth::code;
use crate::oauth::error::OAuthError;
use crate::oauth::keys::KeySet;
use crate::oauth::pkce;
use crate::oauth::resource;
use crate::oauth::scope::Scopes;
use crate::oauth::seal::hmac_sha256;
use crate::reply::{Reply, NO_STORE};
use crate::store::d1::{NewGrant, NewRefresh, D1};
use crate::store::KeyValue;
use serde_json::json;

struct Form(Vec<(String, String)>);

impl Form {
    /// A parameter; a repeated one is `invalid_request` (RFC 6749 §3.2).
    fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next().map(|(_, v)| v.as_str());
        if found.next().is_some() {
            return Err(OAuthError::InvalidRequest(format!(
                "{name} appears more than once"
            )));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
    }
}

fn form(req: &Incoming) -> Result<Form, OAuthError> {
    let ct = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    Ok(Form(req.form_pairs()))
}

fn respond(result: Result<Reply, OAuthError>) -> Reply {
    result.unwrap_or_else(|e| e.to_reply())
}

pub async fn token(ctx: &Ctx, req: &Incoming) -> Reply {
    respond(token_inner(ctx, req).await)
}

async fn token_inner(ctx: &Ctx, req: &Incoming) -> Result<Reply, OAuthError> {
    let form = form(req)?;
    let grant_type = form.require("grant_type")?;
    if grant_type != "authorization_code" && grant_type != "refresh_token" {
        return Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type {} is not supported",
            crate::oauth::scope::truncate(grant_type, 40)
        )));
    }
    let client = authenticate_client(ctx, req, &form).await?;
    if grant_type == "authorization_code" {
        authorization_code(ctx, &form, &client).await
    } else {
        refresh(ctx, &form, &client).await
    }
}

/// Client authentication (RFC 6749 §2.3): HTTP Basic or the form's client_secret for
/// confidential clients, client_id alone for public ones; exactly one method per request.
async fn authenticate_client(ctx: &Ctx, req: &Incoming, form: &Form) -> Result<Client, OAuthError> {
    let basic = match req
        .header("authorization")
        .and_then(|h| crate::util::text::strip_prefix_ignore_case(h, "basic "))
    {
        Some(credentials) => Some(parse_basic(credentials)?),
        None => None,
    };
    let form_id = form.get("client_id")?;
    let form_secret = form.get("client_secret")?;
    let (client_id, secret, method) = match (&basic, form_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method, not two".into(),
            ))
        }
        (Some((id, secret)), None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::InvalidRequest(
                    "client_id does not match".into(),
                ));
            }
            (id.clone(), Some(secret.clone()), "client_secret_basic")
        }
        (None, Some(secret)) => (
            form.require("client_id")?.to_string(),
            Some(secret.to_string()),
            "client_secret_post",
        ),
        (None, None) => (form.require("client_id")?.to_string(), None, "none"),
    };
    let unknown = || OAuthError::InvalidClient("client authentication failed".into());
    let client = ctx
        .find_client_strong(&client_id)
        .await?
        .ok_or_else(unknown)?;
    match (&client.secret_hash, secret) {
        (None, None) if method == "none" => Ok(client),
        (Some(hash), Some(s)) if client.token_endpoint_auth_method == method => {
            if constant_time_eq(hash.as_bytes(), secret_hash(&s).as_bytes()) {
                Ok(client)
            } else {
                Err(unknown())
            }
        }
        _ => Err(unknown()),
    }
}

fn parse_basic(encoded: &str) -> Result<(String, String), OAuthError> {
    use base64::Engine;
    let bad = || OAuthError::InvalidClient("malformed Basic credentials".into());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded.
    let decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok((decode(id), decode(secret)))
}

fn token_response(access: &str, ttl: u64, refresh: Option<&str>, scope: &Scopes) -> Reply {
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scope.to_string(),
    });
    if let Some(r) = refresh {
        crate::json::set(&mut body, "refresh_token", r);
    }
    Reply::json(200, &body)
        .header("Cache-Control", NO_STORE)
        .header("Pragma", "no-cache")
}

async fn mint_access(
    ctx: &Ctx,
    keys: &KeySet,
    user_id: &str,
    client_id: &str,
    scope: &Scopes,
    resource: &str,
    grant_id: &str,
) -> Result<String, OAuthError> {
    let claims = AccessClaims {
        iss: ctx.issuer.clone(),
        sub: user_id.to_string(),
        aud: resource.to_string(),
        client_id: client_id.to_string(),
        scope: scope.to_string(),
        jti: String::new(),
        gid: grant_id.to_string(),
    };
    access_token::issue(&WebCrypto, keys, claims, now(), ctx.config.access_token_ttl)
        .await
        .map_err(|e| ctx.internal(e))
}

async fn authorization_code(ctx: &Ctx, form: &Form, client: &Client) -> Result<Reply, OAuthError> {
    let keys = ctx.oauth_keys()?;
    let code = form.require("code")?;
    let verifier = form.get("code_verifier")?;
    let now = now();
    let invalid = |why: &str| OAuthError::InvalidGrant(why.to_string());
    let grant = code::open(&keys.mac_key("code"), code, now)
        .ok_or_else(|| invalid("the authorization code is invalid or expired"))?;
    if grant.client_id != client.client_id {
        return Err(invalid(
            "the authorization code was issued to another client",
        ));
    }
    match form.get("redirect_uri")? {
        Some(r) if r == grant.redirect_uri => {}
        None if client.redirect_uris.len() == 1 => {}
        _ => {
            return Err(invalid(
                "redirect_uri does not match the authorization request",
            ))
        }
    }
    let verifier =
        verifier.ok_or_else(|| OAuthError::InvalidRequest("code_verifier is required".into()))?;
    if !pkce::verify_s256(verifier, &grant.code_challenge) {
        return Err(invalid("code_verifier does not match the code_challenge"));
    }
    if let Some(r) = form.get("resource")? {
        if !resource::matches(r, &grant.resource) {
            return Err(OAuthError::InvalidTarget(
                "resource does not match the authorization".into(),
            ));
        }
    }
    let scopes = Scopes::parse(Some(&grant.scope)).map_err(|_| invalid("bad scope"))?;

    // All checks passed: redeem once, atomically.
    let db = ctx.db()?;
    let grant_id = random_token();
    let code_hash = secret_hash(code);
    let refresh = client.allows_refresh().then(random_token);
    let refresh_hash = refresh.as_deref().map(secret_hash);
    let new_grant = NewGrant {
        id: &grant_id,
        user_id: &grant.user_id,
        client_id: &client.client_id,
        scope: &grant.scope,
        resource: &grant.resource,
        redirect_uri: &grant.redirect_uri,
        code_hash: &code_hash,
        code_issued_ms: grant.issued_ms,
    };
    let new_refresh = refresh_hash.as_deref().map(|h| NewRefresh {
        token_hash: h,
        grant_id: &grant_id,
        user_id: &grant.user_id,
        client_id: &client.client_id,
        scope: &grant.scope,
        expires_at: now + ctx.config.refresh_token_ttl,
    });
    let first = db
        .redeem_code(&new_grant, new_refresh.as_ref(), now)
        .await
        .map_err(|e| ctx.internal(e))?;
    if !first {
        // RFC 9700 §4.2.4 / OAuth 2.1 §4.1.3: a replayed code revokes what it produced.
        if let Some(gid) = db
            .grant_id_by_code(&code_hash)
            .await
            .map_err(|e| ctx.internal(e))?
        {
            revoke_grant(ctx, &db, &gid).await?;
            ctx.audit(
                Event::CodeReuse,
                Some(&grant.user_id),
                Some(&client.client_id),
                None,
            )
            .await;
            return Err(invalid(
                "the authorization code was already used; its tokens are revoked",
            ));
        }
        return Err(invalid(
            "the authorization was withdrawn: the app was disconnected or the account disabled",
        ));
    }
    // A metadata document someone connected with is kept, to stand in while it cannot be
    // fetched (`cimd::resolve`): this request is authenticated, so it is no one's way to
    // spend writes.
    if matches!(
        client.source,
        ClientSource::MetadataDocument | ClientSource::UnverifiedDocument
    ) {
        if let Err(e) = db.keep_document(client, now).await {
            worker::console_error!("[{}] keeping a metadata document: {e}", ctx.request_id);
        }
    }
    let access = mint_access(
        ctx,
        &keys,
        &grant.user_id,
        &client.client_id,
        &scopes,
        &grant.resource,
        &grant_id,
    )
    .await?;
    ctx.audit(
        Event::CodeRedeemed,
        Some(&grant.user_id),
        Some(&client.client_id),
        None,
    )
    .await;
    Ok(token_response(
        &access,
        ctx.config.access_token_ttl,
        refresh.as_deref(),
        &scopes,
    ))
}

/// The successor of a refresh token: derived from it with a server key, so a retry after
/// a lost response (or a concurrent request) gets the same successor, never a second one.
fn successor_of(keys: &KeySet, token: &str) -> String {
    b64url(&hmac_sha256(
        &keys.mac_key("refresh-successor"),
        token.as_bytes(),
    ))
}

async fn refresh(ctx: &Ctx, form: &Form, client: &Client) -> Result<Reply, OAuthError> {
    let keys = ctx.oauth_keys()?;
    let token = form.require("refresh_token")?;
    let requested = form.get("scope")?;
    if !client.allows_refresh() {
        return Err(OAuthError::UnauthorizedClient(
            "this client may not use refresh tokens".into(),
        ));
    }
    let db = ctx.db()?;
    let now = now();
    let invalid = |why: &str| OAuthError::InvalidGrant(why.to_string());
    let hash = secret_hash(token);
    let row = db
        .refresh_token(&hash)
        .await
        .map_err(|e| ctx.internal(e))?
        .ok_or_else(|| invalid("the refresh token is invalid"))?;
    if row.client_id != client.client_id {
        return Err(invalid("the refresh token is invalid"));
    }
    if row.revoked_at.is_some() || row.grant_revoked_at.is_some() {
        return Err(invalid("the refresh token has been revoked"));
    }
    if row.user_disabled_at.is_some() {
        return Err(invalid("the account is disabled"));
    }
    if row.expires_at < now {
        return Err(invalid("the refresh token has expired"));
    }
    // A GitHub org or team that admitted the person is asked again: membership changes.
    // Nothing is asked when no provider has such a rule.
    match super::signin::still_member(ctx, &db, &row.user_id).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(invalid(
                "the person is no longer in the GitHub organisation or team this server requires",
            ))
        }
        Err(e) => return Err(ctx.internal(format!("membership check: {e}"))),
    }
    let granted = Scopes::parse(Some(&row.scope)).map_err(|_| invalid("bad scope"))?;
    let scopes = match requested {
        None => granted.clone(),
        Some(s) => {
            let asked = Scopes::parse(Some(s)).map_err(OAuthError::InvalidScope)?;
            if !asked.is_subset_of(&granted) {
                return Err(OAuthError::InvalidScope(
                    "a refresh cannot widen the granted scope".into(),
                ));
            }
            asked
        }
    };
    if let Some(r) = form.get("resource")? {
        if !resource::matches(r, &row.resource) {
            return Err(OAuthError::InvalidTarget(
                "resource does not match the grant".into(),
            ));
        }
    }
    let successor = successor_of(&keys, token);
    let successor_hash = secret_hash(&successor);
    let new_row = NewRefresh {
        token_hash: &successor_hash,
        grant_id: &row.grant_id,
        user_id: &row.user_id,
        client_id: &row.client_id,
        scope: &row.scope,
        expires_at: now + ctx.config.refresh_token_ttl,
    };
    let rotated_now = row.rotated_at.is_none()
        && db
            .rotate(&hash, &new_row, now)
            .await
            .map_err(|e| ctx.internal(e))?;
    if !rotated_now {
        // Already rotated, by an earlier request whose response may have been lost or by a
        // concurrent one. Its successor is this same value; hand it out again only while
        // the successor is unused and within the grace window. Anything else is reuse.
        let fresh = db.refresh_token(&hash).await.map_err(|e| ctx.internal(e))?;
        let in_grace = fresh.as_ref().is_some_and(|r| {
            r.successor_hash.as_deref() == Some(successor_hash.as_str())
                && r.successor_rotated_at.is_none()
                && r.revoked_at.is_none()
                && r.grant_revoked_at.is_none()
                && r.rotated_at
                    .is_some_and(|t| now <= t + ctx.config.refresh_grace)
        });
        if !in_grace {
            revoke_grant(ctx, &db, &row.grant_id).await?;
            ctx.audit(
                Event::RefreshReuse,
                Some(&row.user_id),
                Some(&row.client_id),
                None,
            )
            .await;
            return Err(invalid(
                "the refresh token was already used; the grant is revoked",
            ));
        }
    }
    let access = mint_access(
        ctx,
        &keys,
        &row.user_id,
        &row.client_id,
        &scopes,
        &row.resource,
        &row.grant_id,
    )
    .await?;
    if rotated_now {
        // A retry within the grace period is the same refresh, already recorded.
        ctx.audit(
            Event::Refresh,
            Some(&row.user_id),
            Some(&row.client_id),
            None,
        )
        .await;
    }
    Ok(token_response(
        &access,
        ctx.config.access_token_ttl,
        Some(&successor),
        &scopes,
    ))
}

/// Revokes a grant: its refresh tokens in D1 at once, its access tokens at `/mcp` within
/// the minute KV takes to carry the mark everywhere (or D1's list of unmarked
/// revocations, when the mark cannot be written).
pub async fn revoke_grant(ctx: &Ctx, db: &D1, grant_id: &str) -> Result<(), OAuthError> {
    db.revoke_grant(grant_id, now_ms())
        .await
        .map_err(|e| ctx.internal(e))?;
    mark_revoked(ctx, db, grant_id).await;
    Ok(())
}

/// Writes the KV mark that stops a revoked grant's access tokens at `/mcp` (it outlives
/// the longest-lived of them), then records in D1 that it was written. The grant is
/// already revoked in D1: when KV refuses the write (its daily write quota, an outage),
/// the revocation stands and `/mcp` reads it from D1 until the cron writes the mark.
pub async fn mark_revoked(ctx: &Ctx, db: &D1, grant_id: &str) {
    // This isolate stops at once; others within the minute, through the mark.
    forget_not_revoked(grant_id);
    let ttl = ctx.config.access_token_ttl + 120;
    let written = match ctx.kv() {
        Ok(kv) => {
            kv.put(&crate::store::keys::revoked_grant(grant_id), "1", Some(ttl))
                .await
        }
        Err(_) => return,
    };
    let recorded = match written {
        Ok(()) => db.set_marked(grant_id, now()).await,
        Err(e) => Err(e),
    };
    if let Err(e) = recorded {
        note_unmarked(grant_id);
        worker::console_error!(
            "[{}] revocation mark for a revoked grant not written (D1 stands in): {e}",
            ctx.request_id
        );
    }
}

pub async fn revoke(ctx: &Ctx, req: &Incoming) -> Reply {
    respond(revoke_inner(ctx, req).await)
}

async fn revoke_inner(ctx: &Ctx, req: &Incoming) -> Result<Reply, OAuthError> {
    let form = form(req)?;
    let token = form.require("token")?;
    let client = authenticate_client(ctx, req, &form).await?;
    let db = ctx.db()?;
    let row = db
        .refresh_token(&secret_hash(token))
        .await
        .map_err(|e| ctx.internal(e))?;
    let grant = match row {
        Some(r) if r.client_id == client.client_id => Some((r.grant_id, r.user_id)),
        Some(_) => None,
        None => match ctx.keys() {
            Ok(keys) => verify_access(ctx, &keys, token, &ctx.resource(), now())
                .await
                .ok()
                .filter(|v| v.claims.client_id == client.client_id)
                .map(|v| (v.claims.gid, v.claims.sub)),
            Err(_) => None,
        },
    };
    if let Some((gid, user)) = grant {
        revoke_grant(ctx, &db, &gid).await?;
        ctx.audit(
            Event::Revocation,
            Some(&user),
            Some(&client.client_id),
            None,
        )
        .await;
    }
    // RFC 7009 §2.2: 200 whether or not the token was known.
    Ok(Reply::new(200).header("Cache-Control", NO_STORE))
}

pub async fn introspect(ctx: &Ctx, req: &Incoming) -> Reply {
    respond(introspect_inner(ctx, req).await)
}

async fn introspect_inner(ctx: &Ctx, req: &Incoming) -> Result<Reply, OAuthError> {
    let form = form(req)?;
    let token = form.require("token")?;
    let client = authenticate_client(ctx, req, &form).await?;
    if client.is_public() {
        return Err(OAuthError::InvalidClient(
            "introspection is only for confidential clients".into(),
        ));
    }
    let inactive =
        || Ok(Reply::json(200, &json!({"active": false})).header("Cache-Control", NO_STORE));
    let db = ctx.db()?;
    if let Some(r) = db
        .refresh_token(&secret_hash(token))
        .await
        .map_err(|e| ctx.internal(e))?
    {
        let live = r.revoked_at.is_none()
            && r.grant_revoked_at.is_none()
            && r.expires_at >= now()
            && r.client_id == client.client_id;
        if !live {
            return inactive();
        }
        return Ok(Reply::json(
            200,
            &json!({
                "active": true, "token_type": "refresh_token", "scope": r.scope,
                "client_id": r.client_id, "sub": r.user_id, "exp": r.expires_at,
                "iss": ctx.issuer, "aud": r.resource,
            }),
        )
        .header("Cache-Control", NO_STORE));
    }
    let keys = ctx.oauth_keys()?;
    let Ok(v) = verify_access(ctx, &keys, token, &ctx.resource(), now()).await else {
        return inactive();
    };
    if v.claims.client_id != client.client_id
        || db
            .grant_revoked(&v.claims.gid)
            .await
            .map_err(|e| ctx.internal(e))?
    {
        return inactive();
    }
    Ok(Reply::json(
        200,
        &json!({
            "active": true, "token_type": "Bearer", "scope": v.claims.scope,
            "client_id": v.claims.client_id, "sub": v.claims.sub, "exp": v.expires_at,
            "iat": v.issued_at, "iss": v.claims.iss, "aud": v.claims.aud, "jti": v.claims.jti,
        }),
    )
    .header("Cache-Control", NO_STORE))
}

/// RFC 6750 §3: a 401 whose challenge points at the resource metadata; no scope is named,
/// since `/userinfo`'s (profile, email) are not the MCP resource's.
fn bearer_error(ctx: &Ctx, why: Option<&str>) -> Reply {
    let mut challenge = format!(
        "Bearer resource_metadata=\"{}\"",
        crate::oauth::metadata::resource_metadata_url(&ctx.issuer)
    );
    if let Some(w) = why {
        challenge.push_str(&format!(
            ", error=\"invalid_token\", error_description=\"{w}\""
        ));
    }
    unauthorized_with(&challenge, why)
}

pub async fn userinfo(ctx: &Ctx, req: &Incoming) -> Reply {
    let verified = match verify_bearer(ctx, req).await {
        Ok(Some(v)) => v,
        Ok(None) => return bearer_error(ctx, None),
        Err(BearerError::Invalid(why)) => return bearer_error(ctx, Some(why)),
        Err(BearerError::Unavailable) => return unavailable(),
    };
    let user = match ctx.db() {
        Ok(db) => db.user_by_id(&verified.claims.sub).await,
        Err(e) => return e.to_reply(),
    };
    let user = match user {
        Ok(Some(u)) if u.disabled_at.is_none() => u,
        Ok(_) => return bearer_error(ctx, Some("the account no longer exists")),
        Err(e) => return ctx.internal(e).to_reply(),
    };
    let scopes = Scopes::parse(Some(&verified.claims.scope)).unwrap_or_default();
    let mut body = json!({ "sub": user.id });
    if scopes.contains(crate::oauth::scope::EMAIL) {
        crate::json::set(&mut body, "email", user.email);
    }
    if scopes.contains(crate::oauth::scope::PROFILE) {
        crate::json::set(&mut body, "name", user.name);
    }
    Reply::json(200, &body).header("Cache-Control", NO_STORE)
}
