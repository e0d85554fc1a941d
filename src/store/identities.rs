//! People's identities at sign-in providers, behind the trait account linking runs on
//! (`signin::linking`). D1 implements it (`d1_identities.rs`); `memory_identities.rs` in
//! native tests.

use crate::store::d1::UserRow;
use crate::store::StoreError;
use serde::Deserialize;

/// An identity as a provider names it, and what it last said.
pub struct Identity<'a> {
    pub provider: &'a str,
    pub subject: &'a str,
    pub login: Option<&'a str>,
    pub email: Option<&'a str>,
}

#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub user_id: String,
    pub subject: String,
    pub login: Option<String>,
    pub email: Option<String>,
}

#[allow(async_fn_in_trait)]
pub trait IdentityStore {
    /// The identity `subject` at `provider` (a provider's identity namespace).
    async fn identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<IdentityRow>, StoreError>;
    /// A person's identity at one provider, the most recently used if several.
    async fn identity_of(
        &self,
        user_id: &str,
        provider: &str,
    ) -> Result<Option<IdentityRow>, StoreError>;
    /// Records a sign-in through an identity: links it to `user_id` if it is new (an
    /// identity already linked keeps its person), and keeps what the provider last said
    /// (GitHub's login; the verified email, unless it said none).
    async fn use_identity(
        &self,
        id: &Identity<'_>,
        user_id: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// Creates a person with no local password and their first identity, together or not
    /// at all. `Ok(false)`: a person with this email (or this identity) appeared meanwhile.
    async fn create_person(
        &self,
        user_id: &str,
        email: &str,
        name: Option<&str>,
        id: &Identity<'_>,
        now: u64,
    ) -> Result<bool, StoreError>;
    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError>;
    /// The person with this (lower-case) email.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError>;
}
