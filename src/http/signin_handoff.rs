//! The operator's own app by hand-off, at the edge: `POST /signin/handoff`, where the
//! app says (signed, server to server) who signed in for a pending hand-off, and
//! `GET /signin/return`, the person's way back with a one-time code only their browser
//! can use. The identity is read by `signin::providers` (`completion`, `Handoff`).

use super::browser::field;
use super::pages::{error_page, ErrorKind};
use super::providers::{list, providers};
use super::signin::{check_pending, finish, refuse};
use super::{now, Ctx, Incoming};
use crate::encoding::{random_token, secret_hash};
use crate::reply::{http_error, Reply};
use crate::signin::config::Flow;
use crate::signin::failure::Failure;
use crate::signin::providers::{self, Answer};
use crate::signin::reach::Reach;
use crate::signin::signature;
use serde_json::json;

/// `POST /signin/handoff`: the operator's app, server to server, says who signed in for a
/// pending hand-off. The answer is where to send that person's browser: a one-time code
/// only that browser can use, so a hand-off started by someone else cannot sign them in.
pub async fn handoff(ctx: &Ctx, req: &Incoming) -> Reply {
    let all = providers(ctx);
    let header = req.header("mcp-signature");
    let now = now();
    let mut signed_by = None;
    for p in list(&all).iter().filter(|p| p.kind.flow() == Flow::Handoff) {
        let Some(s) = p.shared_secret.as_ref().and_then(|n| ctx.secret(n)) else {
            continue;
        };
        if signature::verify(&s, signature::Purpose::Handoff, header, &req.body, now).is_ok() {
            signed_by = Some(p);
            break;
        }
    }
    let Some(p) = signed_by else {
        return http_error(
            401,
            "invalid_signature",
            "the Mcp-Signature header is missing, stale or not made with a hand-off provider's shared secret",
        );
    };
    let completed = match providers::completion(p, &req.body) {
        Ok(c) => c,
        Err(why) => return http_error(400, "invalid_request", why),
    };
    let code = random_token();
    let Ok(db) = ctx.db() else {
        return http_error(503, "temporarily_unavailable", "no database");
    };
    match db
        .complete_handoff(
            &secret_hash(&completed.request),
            &p.id,
            &secret_hash(&code),
            &completed.identity,
            now,
        )
        .await
    {
        Ok(true) => Reply::json(
            200,
            &json!({ "redirect_to": format!("{}/signin/return?code={code}", ctx.issuer) }),
        )
        .header("Cache-Control", crate::reply::NO_STORE),
        Ok(false) => http_error(
            400,
            "invalid_grant",
            "the sign-in request is unknown, already completed or expired",
        ),
        Err(e) => {
            ctx.internal(e);
            http_error(503, "temporarily_unavailable", "try again")
        }
    }
}

/// `GET /signin/return?code=`: the person, back from the operator's app.
pub async fn handoff_return(ctx: &Ctx, req: &Incoming) -> Reply {
    let q = req.query_pairs();
    let code = field(&q, "code");
    let all = providers(ctx);
    let taken = async {
        if code.is_empty() || code.len() > 100 {
            return Err(Failure::Expired("no return code".into()));
        }
        let db = ctx
            .db()
            .map_err(|_| Failure::Internal("no database".into()))?;
        db.take_completed(&secret_hash(code))
            .await?
            .ok_or_else(|| Failure::Expired("unknown or used return code".into()))
    };
    let row = match taken.await {
        Ok(row) => row,
        Err(_) => {
            return error_page(
                ctx,
                ErrorKind::SignInExpired,
                Some("unknown or used return code"),
            )
        }
    };
    let Some(p) = list(&all)
        .iter()
        .find(|p| p.id == row.provider && p.kind.flow() == Flow::Handoff)
    else {
        return error_page(
            ctx,
            ErrorKind::SignInExpired,
            Some("the hand-off's provider is gone"),
        );
    };
    let row = match check_pending(ctx, req, row, p) {
        Ok(row) => row,
        Err(f) => return refuse(ctx, p, f).await,
    };
    let Some(identity) = row.identity.as_deref() else {
        return error_page(
            ctx,
            ErrorKind::SignInExpired,
            Some("the hand-off was not completed"),
        );
    };
    match providers::person(p, ctx, Answer::Handoff { identity }).await {
        Ok(who) => finish(ctx, p, &who, &row.return_to).await,
        Err(f) => refuse(ctx, p, f).await,
    }
}
