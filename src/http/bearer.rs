//! Who a request to `/mcp` acts for: an access token this server issued (JWT, in the
//! `Authorization` header), or a personal access token (in the header, or in the path
//! `/mcp/t/<token>` when `MCP_PATH_TOKENS` allows it). Access tokens never work in the
//! path, and personal tokens work nowhere but here.

use super::token::{bearer_token, verify_access_token, BearerError};
use super::{now, Ctx, Incoming};
use crate::audit::Event;
use crate::encoding::secret_hash;
use crate::oauth::personal_token;
use crate::store::memo::Memo;
use std::cell::RefCell;

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An OAuth access token of this grant.
    Access { grant_id: String },
    /// A personal access token, by its id.
    Personal { token_id: String },
}

/// The person a request acts for.
pub struct Principal {
    pub user: String,
    /// Space-separated scopes.
    pub scope: String,
    pub credential: Credential,
}

impl Principal {
    /// Whether the token grants any of the MCP resource's scopes. One that grants none
    /// can do nothing at `/mcp` or `/sse`, and is asked for them with a 403 (RFC 6750
    /// §3.1, MCP authorization "Scope challenge").
    pub fn has_mcp_scope(&self) -> bool {
        self.scope
            .split(' ')
            .any(|s| crate::oauth::scope::RESOURCE_SCOPES.contains(&s))
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
        credential: Credential::Access {
            grant_id: verified.claims.gid,
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
    Ok(Principal {
        user: found.user_id,
        scope: found.scope,
        credential: Credential::Personal { token_id: found.id },
    })
}
