//! People and identities in memory, for native tests of account linking: the same rules
//! as `d1_identities.rs` (an identity keeps its person; creating a person fails when the
//! email is taken).

use crate::store::d1::UserRow;
use crate::store::identities::{Identity, IdentityRow, IdentityStore};
use crate::store::StoreError;
use std::cell::RefCell;

#[derive(Default)]
pub struct People {
    pub users: RefCell<Vec<UserRow>>,
    /// (provider, row, last used)
    pub identities: RefCell<Vec<(String, IdentityRow, u64)>>,
}

impl People {
    /// A person the operator added (with a local password).
    pub fn add(&self, id: &str, email: &str) {
        self.users.borrow_mut().push(UserRow {
            id: id.into(),
            email: email.into(),
            name: None,
            password_hash: "hash".into(),
            password_salt: "salt".into(),
            iterations: 1,
            disabled_at: None,
            sessions_after: 0,
            operator_added: 0,
        });
    }

    pub fn disable(&self, id: &str) {
        for u in self.users.borrow_mut().iter_mut().filter(|u| u.id == id) {
            u.disabled_at = Some(1);
        }
    }

    /// Whose identity `subject` at `provider` is.
    pub fn owner(&self, provider: &str, subject: &str) -> Option<String> {
        let ids = self.identities.borrow();
        ids.iter()
            .find(|(p, r, _)| p == provider && r.subject == subject)
            .map(|(_, r, _)| r.user_id.clone())
    }
}

impl IdentityStore for People {
    async fn identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<IdentityRow>, StoreError> {
        let ids = self.identities.borrow();
        Ok(ids
            .iter()
            .find(|(p, r, _)| p == provider && r.subject == subject)
            .map(|(_, r, _)| r.clone()))
    }

    async fn identity_of(
        &self,
        user_id: &str,
        provider: &str,
    ) -> Result<Option<IdentityRow>, StoreError> {
        let ids = self.identities.borrow();
        Ok(ids
            .iter()
            .filter(|(p, r, _)| p == provider && r.user_id == user_id)
            .max_by_key(|(_, _, at)| *at)
            .map(|(_, r, _)| r.clone()))
    }

    async fn use_identity(
        &self,
        id: &Identity<'_>,
        user_id: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut ids = self.identities.borrow_mut();
        match ids
            .iter_mut()
            .find(|(p, r, _)| p == id.provider && r.subject == id.subject)
        {
            Some((_, row, at)) => {
                row.login = id.login.map(str::to_string);
                if let Some(e) = id.email {
                    row.email = Some(e.to_string());
                }
                *at = now;
            }
            None => ids.push((
                id.provider.to_string(),
                IdentityRow {
                    user_id: user_id.into(),
                    subject: id.subject.into(),
                    login: id.login.map(str::to_string),
                    email: id.email.map(str::to_string),
                },
                now,
            )),
        }
        Ok(())
    }

    async fn create_person(
        &self,
        user_id: &str,
        email: &str,
        name: Option<&str>,
        id: &Identity<'_>,
        now: u64,
    ) -> Result<bool, StoreError> {
        if self
            .users
            .borrow()
            .iter()
            .any(|u| u.email == email || u.id == user_id)
        {
            return Ok(false);
        }
        self.users.borrow_mut().push(UserRow {
            id: user_id.into(),
            email: email.into(),
            name: name.map(str::to_string),
            password_hash: String::new(),
            password_salt: String::new(),
            iterations: 0,
            disabled_at: None,
            sessions_after: 0,
            operator_added: 0,
        });
        self.use_identity(id, user_id, now).await?;
        Ok(true)
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(self.users.borrow().iter().find(|u| u.id == id).cloned())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(self
            .users
            .borrow()
            .iter()
            .find(|u| u.email == email)
            .cloned())
    }
}
