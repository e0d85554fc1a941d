//! GitHub: its OAuth web flow with PKCE, the person from `/user` and `/user/emails` (the
//! person's token is used for those two calls and dropped), and organisation or team
//! membership asked with the operator's membership token, so that it can be asked again
//! at every refresh without the person.

use super::{provider_fetch, returned_code, secret, wrong_flow, Answer, SignIn};
use crate::signin::config::{Kind, Provider};
use crate::signin::failure::Failure;
use crate::signin::oidc::{self, Outgoing};
use crate::signin::policy::{admits, clean_email, clean_name, Claimed};
use crate::signin::reach::Reach;
use crate::store::identities::IdentityStore;
use crate::store::memo::Memo;
use crate::util::fetched::Fetched;
use serde_json::Value;
use std::cell::RefCell;

thread_local! {
    // GitHub's answers about memberships and logins, kept per isolate for the provider's
    // membership_cache_seconds: sign-ins, approvals and refreshes cannot spend the
    // membership token's rate limit, and a person removed from the org loses access at
    // most that much later.
    static MEMBERS: RefCell<Memo<String, bool>> = RefCell::new(Memo::new(1024));
    static LOGINS: RefCell<Memo<String, Option<String>>> = RefCell::new(Memo::new(1024));
}

pub struct GitHub<'a> {
    pub p: &'a Provider,
}

impl SignIn for GitHub<'_> {
    async fn start(
        &self,
        _reach: &impl Reach,
        out: &Outgoing<'_>,
    ) -> Result<Option<String>, Failure> {
        let Kind::GitHub { web, .. } = &self.p.kind else {
            return Err(wrong_flow());
        };
        Ok(Some(oidc::authorization_url(
            self.p,
            &format!("{web}/login/oauth/authorize"),
            out,
        )))
    }

    async fn person(&self, reach: &impl Reach, answer: Answer<'_>) -> Result<Claimed, Failure> {
        let (
            Kind::GitHub { web, api, .. },
            Answer::Callback {
                query,
                verifier,
                redirect_uri,
                ..
            },
        ) = (&self.p.kind, answer)
        else {
            return Err(wrong_flow());
        };
        let p = self.p;
        let code = returned_code(query)?;
        let client_secret = secret(reach, p.client_secret.as_ref())?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &p.client_id)
            .append_pair("client_secret", &client_secret)
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier)
            .finish();
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
        ];
        let url = format!("{web}/login/oauth/access_token");
        let answer =
            provider_fetch(reach, p, "POST", &url, &headers, Some(body.as_bytes())).await?;
        let token = oidc::token_answer(answer.status, &answer.body, "access_token")
            .map_err(Failure::Failed)?;
        // Never stored, logged or passed on.
        let auth = format!("Bearer {token}");
        let user = api_get(reach, p, &format!("{api}/user"), &auth).await?;
        let gh = oidc::github_user(&json(&user, "/user")?).map_err(Failure::Failed)?;
        let emails = api_get(reach, p, &format!("{api}/user/emails"), &auth).await?;
        let email = oidc::github_primary_email(&json(&emails, "/user/emails")?)
            .as_deref()
            .and_then(clean_email);
        Ok(Claimed {
            subject: gh.id,
            unverified_email: email.is_none(),
            verified_email: email,
            name: gh.name.as_deref().and_then(clean_name),
            hosted_domain: None,
            roles: roles_for_login(reach, p, &gh.login).await?,
            login: Some(gh.login),
        })
    }
}

async fn api_get(
    reach: &impl Reach,
    p: &Provider,
    url: &str,
    auth: &str,
) -> Result<Fetched, Failure> {
    let headers = [
        ("Accept", "application/vnd.github+json"),
        ("Authorization", auth),
        ("User-Agent", "mcp-oauth-worker"),
        ("X-GitHub-Api-Version", "2022-11-28"),
    ];
    provider_fetch(reach, p, "GET", url, &headers, None).await
}

fn json(f: &Fetched, what: &str) -> Result<Value, Failure> {
    if f.status != 200 {
        return Err(Failure::Failed(format!(
            "GitHub's {what} answered {}",
            f.status
        )));
    }
    crate::json::parse(&f.body).map_err(|_| Failure::Failed(format!("GitHub's {what} is not JSON")))
}

/// Whether `login` is in one of the provider's GitHub orgs or teams (cached per isolate
/// for the provider's `membership_cache_seconds`).
pub async fn member(reach: &impl Reach, p: &Provider, login: &str) -> Result<bool, Failure> {
    let key = format!("{}\u{1f}{login}", p.id);
    let now = reach.now();
    if let Some(yes) = MEMBERS.with(|m| m.borrow().get(&key, now)) {
        return Ok(yes);
    }
    let yes = ask_membership(reach, p, login).await?;
    if p.membership_cache_seconds > 0 {
        let until = now + p.membership_cache_seconds;
        MEMBERS.with(|m| m.borrow_mut().put(key, yes, until, now));
    }
    Ok(yes)
}

async fn ask_membership(reach: &impl Reach, p: &Provider, login: &str) -> Result<bool, Failure> {
    let Some(allow) = &p.allow else {
        return Ok(false);
    };
    let teams = allow.github_teams.iter().map(|(o, t)| format!("{o}/{t}"));
    for target in allow.github_orgs.iter().cloned().chain(teams) {
        if ask_one(reach, p, &target, login).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `login` is in `target` (an org, or `org/team` with an active membership),
/// cached like `member`.
pub(super) async fn member_of(
    reach: &impl Reach,
    p: &Provider,
    target: &str,
    login: &str,
) -> Result<bool, Failure> {
    let key = format!("{}\u{1f}{target}\u{1f}{login}", p.id);
    let now = reach.now();
    if let Some(yes) = MEMBERS.with(|m| m.borrow().get(&key, now)) {
        return Ok(yes);
    }
    let yes = ask_one(reach, p, target, login).await?;
    if p.membership_cache_seconds > 0 {
        let until = now + p.membership_cache_seconds;
        MEMBERS.with(|m| m.borrow_mut().put(key, yes, until, now));
    }
    Ok(yes)
}

/// One org or team, asked with the operator's membership token.
async fn ask_one(
    reach: &impl Reach,
    p: &Provider,
    target: &str,
    login: &str,
) -> Result<bool, Failure> {
    let Kind::GitHub {
        api,
        membership_token: Some(token),
        ..
    } = &p.kind
    else {
        return Ok(false);
    };
    let auth = format!("Bearer {}", secret(reach, Some(token))?);
    if let Some((org, team)) = target.split_once('/') {
        let url = format!("{api}/orgs/{org}/teams/{team}/memberships/{login}");
        let f = api_get(reach, p, &url, &auth).await?;
        return match f.status {
            200 => Ok(crate::json::parse(&f.body)
                .ok()
                .and_then(|v| {
                    v.get("state")
                        .and_then(Value::as_str)
                        .map(|s| s == "active")
                })
                .unwrap_or(false)),
            404 => Ok(false),
            s => Err(Failure::Failed(format!(
                "GitHub's team membership of {org}/{team} answered {s}"
            ))),
        };
    }
    let url = format!("{api}/orgs/{target}/members/{login}");
    let f = api_get(reach, p, &url, &auth).await?;
    match f.status {
        204 => Ok(true),
        // 302: the token's owner is not a member of the org and cannot see its members.
        302 | 404 => Ok(false),
        s => Err(Failure::Failed(format!(
            "GitHub's org membership of {target} answered {s}"
        ))),
    }
}

/// The roles the provider's `roles.map` gives `login`: each org or team asked (cached).
pub(super) async fn roles_for_login(
    reach: &impl Reach,
    p: &Provider,
    login: &str,
) -> Result<Option<Vec<String>>, Failure> {
    let Some(m) = &p.roles else {
        return Ok(None);
    };
    let mut values = Vec::new();
    for (target, _) in &m.map {
        if member_of(reach, p, target, login).await? {
            values.push(target.clone());
        }
    }
    Ok(Some(m.roles_for(&values)))
}

/// The current login of GitHub's user `id` (`None`: no such user any more), asked with the
/// membership token and cached like memberships.
async fn login_of(reach: &impl Reach, p: &Provider, id: &str) -> Result<Option<String>, Failure> {
    let key = format!("{}\u{1f}{id}", p.id);
    let now = reach.now();
    if let Some(login) = LOGINS.with(|m| m.borrow().get(&key, now)) {
        return Ok(login);
    }
    let login = ask_login(reach, p, id).await?;
    if p.membership_cache_seconds > 0 {
        let until = now + p.membership_cache_seconds;
        LOGINS.with(|m| m.borrow_mut().put(key, login.clone(), until, now));
    }
    Ok(login)
}

async fn ask_login(reach: &impl Reach, p: &Provider, id: &str) -> Result<Option<String>, Failure> {
    let numeric = id.bytes().all(|b| b.is_ascii_digit());
    let (
        Kind::GitHub {
            api,
            membership_token: Some(token),
            ..
        },
        true,
    ) = (&p.kind, numeric)
    else {
        return Ok(None);
    };
    let auth = format!("Bearer {}", secret(reach, Some(token))?);
    let f = api_get(reach, p, &format!("{api}/user/{id}"), &auth).await?;
    if f.status == 404 {
        return Ok(None);
    }
    let gh = oidc::github_user(&json(&f, "/user/<id>")?).map_err(Failure::Failed)?;
    Ok((gh.id == id).then_some(gh.login))
}

/// At a refresh or an approval: whether a person with a GitHub identity is still in the
/// org or team their provider requires. `Ok(true)` for everyone else.
pub async fn still_admitted(
    providers: &[Provider],
    store: &impl IdentityStore,
    reach: &impl Reach,
    user_id: &str,
) -> Result<bool, String> {
    for p in providers {
        let Some(allow) = p.allow.as_ref().filter(|a| a.needs_membership()) else {
            continue;
        };
        let Some(identity) = store
            .identity_of(user_id, &p.identity_namespace())
            .await
            .map_err(|e| e.0)?
        else {
            continue;
        };
        // Rules that do not need GitHub (a listed person, a verified email's domain)
        // still admit them.
        let known = Claimed {
            subject: identity.subject.clone(),
            verified_email: identity.email.clone(),
            unverified_email: false,
            name: None,
            hosted_domain: None,
            login: None,
            roles: None,
        };
        if admits(allow, &known) == Some(true) {
            continue;
        }
        // The login as it is now, from the numeric id: a renamed account keeps its
        // membership, and someone who took over an old login name is not this person.
        let login = match login_of(reach, p, &identity.subject).await {
            Ok(Some(login)) => login,
            Ok(None) => return Ok(false),
            Err(f) => return Err(format!("{f:?}")),
        };
        match member(reach, p, &login).await {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(f) => return Err(format!("{f:?}")),
        }
    }
    Ok(true)
}

/// At a refresh: the roles each GitHub provider with `roles` gives the person now (their
/// current login asked again, answers cached), by provider id; a person without an
/// identity there, or whose GitHub account is gone, gets none from it.
pub async fn roles_now(
    providers: &[Provider],
    store: &impl IdentityStore,
    reach: &impl Reach,
    user_id: &str,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = Vec::new();
    for p in providers.iter().filter(|p| p.roles.is_some()) {
        if !matches!(p.kind, Kind::GitHub { .. }) {
            continue;
        }
        let Some(identity) = store
            .identity_of(user_id, &p.identity_namespace())
            .await
            .map_err(|e| e.0)?
        else {
            continue;
        };
        let roles = match login_of(reach, p, &identity.subject).await {
            Ok(Some(login)) => roles_for_login(reach, p, &login)
                .await
                .map_err(|f| format!("{f:?}"))?
                .unwrap_or_default(),
            Ok(None) => Vec::new(),
            Err(f) => return Err(format!("{f:?}")),
        };
        out.push((p.id.clone(), roles));
    }
    Ok(out)
}
