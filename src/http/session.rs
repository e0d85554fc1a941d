//! Signing in with a password on the pages (`/authorize`, `/account`, `/notes/<id>`),
//! with lockouts per account and per network; the password is this Worker's own or the
//! operator's password-check endpoint's to judge. Cookies and CSRF are in `browser`.

use crate::audit::Event;
use crate::http::browser::{field, session_cookie};
use crate::http::{now, password, signin, Ctx, Incoming};
use crate::store::d1::{UserRow, D1};

/// Why a sign-in failed; each is one message in `templates/signin.html`. None of them says
/// whether the account exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInError {
    Missing,
    Failed,
    /// Locked for this many more minutes.
    Locked(u64),
    Unavailable,
    /// The operator's app vouched for the password, and the person may not sign in here
    /// (never `Disabled`, which reads as `Failed`).
    Refused(crate::signin::policy::Refusal),
}

impl SignInError {
    pub fn status(self) -> u16 {
        match self {
            SignInError::Missing => 400,
            SignInError::Failed => 401,
            SignInError::Locked(_) => 429,
            SignInError::Unavailable => 503,
            SignInError::Refused(_) => 403,
        }
    }
}

/// Why a password is checked: to sign in, or to confirm making a personal token (which is
/// not a sign-in, and is not recorded as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    ConfirmNewToken,
}

/// Checks a password, with lockouts per account and per network. Attempts are reserved
/// before the password is checked, so parallel guesses cannot exceed the limit. The
/// password is this Worker's own (`npm run user`, unless `LOCAL_PASSWORDS` is off) or,
/// for an email without one, the operator's password-check endpoint's to judge: the
/// lockouts apply before any call goes out.
pub async fn sign_in(
    ctx: &Ctx,
    db: &D1,
    req: &Incoming,
    email: &str,
    pw: &str,
    purpose: Purpose,
) -> Result<UserRow, SignInError> {
    let email = email.trim().to_ascii_lowercase();
    if email.is_empty() || pw.is_empty() {
        return Err(SignInError::Missing);
    }
    let keys = Keys {
        user: crate::store::keys::account_failures(&email),
        ip: crate::store::keys::network_failures(&req.client_ip),
    };
    let now = now();
    let internal = |e| {
        ctx.internal(e);
        SignInError::Unavailable
    };
    let (max, lock) = (ctx.config.login_max_failures, ctx.config.lockout_seconds);
    if let Some(until) = db
        .reserve_attempt(&[&keys.user, &keys.ip], now, max, lock)
        .await
        .map_err(internal)?
    {
        // Not recorded: the lockout itself was, once, and attempts while it lasts cost
        // nothing but could fill the log.
        return Err(locked(until, now));
    }
    let user = db.user_by_email(&email).await.map_err(internal)?;
    let local = ctx.config.local_passwords;
    let has_local = user.as_ref().is_some_and(|u| !u.password_hash.is_empty());
    if purpose == Purpose::SignIn && !(local && has_local) {
        if let Some(p) = signin::password_checker(ctx) {
            return checked_elsewhere(ctx, db, &keys, &email, pw, &p).await;
        }
    }
    let ok = match &user {
        Some(u) if local && has_local => {
            password::verify(pw, &u.password_salt, &u.password_hash, u.iterations).await
        }
        _ => {
            // The same work as a real check, so "no such account" takes as long.
            password::verify(pw, password::DUMMY_SALT, password::DUMMY_HASH, 100_000).await;
            false
        }
    };
    match user {
        Some(u) if ok && u.disabled_at.is_none() => {
            succeeded(ctx, db, &keys, &u, purpose, "password").await?;
            Ok(u)
        }
        _ => {
            // The account's own id when the email is one: its owner sees the attempt.
            let who = user.as_ref().map(|u| u.id.as_str());
            let why = match (&user, purpose) {
                (None, _) => "no such account",
                (Some(u), _) if u.disabled_at.is_some() => "account disabled",
                (Some(_), _) if !local => "local passwords are off",
                (Some(_), _) if !has_local => "the account has no local password",
                (Some(_), Purpose::SignIn) => "wrong password",
                (Some(_), Purpose::ConfirmNewToken) => "wrong password for a new token",
            };
            Err(failed(ctx, db, &keys, who, why).await)
        }
    }
}

/// The lockout keys of one attempt: the account and the network.
struct Keys {
    user: String,
    ip: String,
}

fn locked(until: u64, now: u64) -> SignInError {
    SignInError::Locked(until.saturating_sub(now).div_ceil(60).max(1))
}

async fn succeeded(
    ctx: &Ctx,
    db: &D1,
    keys: &Keys,
    u: &UserRow,
    purpose: Purpose,
    how: &str,
) -> Result<(), SignInError> {
    let internal = |e| {
        ctx.internal(e);
        SignInError::Unavailable
    };
    db.clear_failures(&keys.user).await.map_err(internal)?;
    db.release_attempt(&keys.ip).await.map_err(internal)?;
    if purpose == Purpose::SignIn {
        ctx.audit(Event::SignIn, Some(&u.id), None, Some(how)).await;
    }
    Ok(())
}

/// A failed attempt: counted against both keys (locking them when spent) and recorded.
async fn failed(ctx: &Ctx, db: &D1, keys: &Keys, who: Option<&str>, why: &str) -> SignInError {
    let now = now();
    let (max, lock) = (ctx.config.login_max_failures, ctx.config.lockout_seconds);
    let (a, b) = (
        db.lock_if_spent(&keys.user, now, max, lock).await,
        db.lock_if_spent(&keys.ip, now, max, lock).await,
    );
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            ctx.internal(e);
            return SignInError::Unavailable;
        }
    };
    match a.or(b) {
        Some(until) => {
            ctx.audit(Event::Lockout, who, None, Some(why)).await;
            locked(until, now)
        }
        None => {
            ctx.audit(Event::SignInFailed, who, None, Some(why)).await;
            SignInError::Failed
        }
    }
}

/// The operator's endpoint judges the password (`SIGNIN_PROVIDERS`, type password_check).
async fn checked_elsewhere(
    ctx: &Ctx,
    db: &D1,
    keys: &Keys,
    email: &str,
    pw: &str,
    p: &crate::signin::config::Provider,
) -> Result<UserRow, SignInError> {
    let how = format!("provider {}", p.id);
    match signin::check_password(ctx, db, p, email, pw).await {
        signin::Checked::Person(u) => {
            succeeded(ctx, db, keys, &u, Purpose::SignIn, &how).await?;
            Ok(u)
        }
        signin::Checked::Wrong => {
            let who = db.user_by_email(email).await.ok().flatten().map(|u| u.id);
            Err(failed(
                ctx,
                db,
                keys,
                who.as_deref(),
                &format!("{how}: wrong password"),
            )
            .await)
        }
        signin::Checked::Denied(r, who) => {
            let why = format!("{how}: {}", r.why());
            ctx.audit(Event::SignInFailed, who.as_deref(), None, Some(&why))
                .await;
            // A disabled account reads like a wrong password, as it does here.
            Err(match r {
                crate::signin::policy::Refusal::Disabled => SignInError::Failed,
                r => SignInError::Refused(r),
            })
        }
        // Not a guess that failed: the attempt is given back, so an endpoint that is down
        // does not lock people out.
        signin::Checked::Unavailable => {
            let _ = db.release_attempt(&keys.user).await;
            let _ = db.release_attempt(&keys.ip).await;
            Err(SignInError::Unavailable)
        }
    }
}

/// A page's `signin` action: checks the form's email and password and answers a 303 to
/// `location` (a path of this server) with the new session, so a reload does not post the
/// password again. On failure the page shows its form again with the error.
pub async fn sign_in_then_see(
    ctx: &Ctx,
    req: &Incoming,
    form: &[(String, String)],
    location: &str,
) -> Result<crate::reply::Reply, SignInError> {
    let db = ctx.db().map_err(|_| SignInError::Unavailable)?;
    let user = sign_in(
        ctx,
        &db,
        req,
        field(form, "email"),
        field(form, "password"),
        Purpose::SignIn,
    )
    .await?;
    let cookie = session_cookie(ctx, &user.id).ok_or(SignInError::Unavailable)?;
    Ok(crate::reply::see_other(location).header("Set-Cookie", &cookie))
}
