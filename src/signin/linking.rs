//! Account linking: which person here a provider's identity is. Found by the identity,
//! linked to an operator-added person by a verified email when the provider allows it,
//! created, or refused, by the provider's rules (`policy::decide`); then recorded. The
//! riskiest decisions of sign-in live here, so each is tested natively (`tests` below).

use crate::encoding::{b64url, random_bytes};
use crate::signin::config::Provider;
use crate::signin::failure::Failure;
use crate::signin::policy::{admits, decide, Claimed, Decision, Person, Refusal};
use crate::signin::providers::github_member;
use crate::signin::reach::Reach;
use crate::store::d1::UserRow;
use crate::store::identities::{Identity, IdentityStore};

/// The person `who` (as provider `p` vouched for them) is here.
pub async fn resolve(
    store: &impl IdentityStore,
    reach: &impl Reach,
    p: &Provider,
    who: &Claimed,
) -> Result<UserRow, Failure> {
    let ns = p.identity_namespace();
    let mapped = match store.identity(&ns, &who.subject).await? {
        Some(row) => store.user_by_id(&row.user_id).await?,
        None => None,
    };
    let by_email = match (&mapped, &who.verified_email) {
        (None, Some(email)) => store.user_by_email(email).await?,
        _ => None,
    };
    // Linking by email joins only people the operator added (`npm run user`, so with a
    // local password, or the console), never a person another provider created: whoever created them
    // through a provider that vouched for an address they do not own must not be joined
    // by its real owner. And a person who already has another identity at this provider
    // is not linked to a second one: one account there, one person here.
    if let Some(person) = &by_email {
        let provider_made = person.provider_made();
        if p.link_by_email && (provider_made || store.identity_of(&person.id, &ns).await?.is_some())
        {
            return Err(Failure::Denied(
                Refusal::AccountExists,
                Some(person.id.clone()),
            ));
        }
    }
    let admitted = match &p.allow {
        None => None,
        Some(a) => Some(match admits(a, who) {
            Some(yes) => yes,
            None => github_member(reach, p, who.login.as_deref().unwrap_or_default()).await?,
        }),
    };
    let person = |u: &UserRow| Person {
        id: u.id.clone(),
        disabled: u.disabled_at.is_some(),
    };
    let decision = decide(
        p,
        who,
        mapped.as_ref().map(person).as_ref(),
        by_email.as_ref().map(person).as_ref(),
        admitted,
    );
    let identity = Identity {
        provider: &ns,
        subject: &who.subject,
        login: who.login.as_deref(),
        email: who.verified_email.as_deref(),
    };
    let now = reach.now();
    match decision {
        Decision::SignIn(_) | Decision::Link(_) => {
            let user = mapped
                .or(by_email)
                .ok_or_else(|| Failure::Internal("no person".into()))?;
            store.use_identity(&identity, &user.id, now).await?;
            Ok(user)
        }
        Decision::Create => create(store, &identity, who, now).await,
        Decision::Refuse(r) => Err(Failure::Denied(r, mapped.or(by_email).map(|u| u.id))),
    }
}

async fn create(
    store: &impl IdentityStore,
    identity: &Identity<'_>,
    who: &Claimed,
    now: u64,
) -> Result<UserRow, Failure> {
    let id = b64url(&random_bytes::<16>());
    let email = identity.email.unwrap_or_default();
    if !store
        .create_person(&id, email, who.name.as_deref(), identity, now)
        .await?
    {
        // Two first sign-ins at once (two tabs): the other one created them.
        if let Some(row) = store.identity(identity.provider, &who.subject).await? {
            if let Some(user) = store.user_by_id(&row.user_id).await? {
                if user.disabled_at.is_none() {
                    return Ok(user);
                }
            }
        }
        return Err(Failure::Denied(Refusal::AccountExists, None));
    }
    store
        .user_by_id(&id)
        .await?
        .ok_or_else(|| Failure::Internal("the new person is missing".into()))
}

#[cfg(test)]
#[path = "linking_tests.rs"]
mod tests;
