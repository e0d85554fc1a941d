//! What a signed-in person may grant of an authorization request: the operator's
//! catalog decides which of the asked scopes their roles allow.

use crate::oauth::catalog::Catalog;
use crate::oauth::scope::Scopes;

/// What a signed-in person may grant of a request: the scopes their roles allow, and those
/// left out (RFC 6749 §3.3 lets the server issue fewer scopes than asked; the token
/// response's `scope` says which).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub granted: Scopes,
    pub refused: Scopes,
}

impl Offer {
    pub fn of(catalog: &Catalog, requested: &Scopes, roles: &[&str]) -> Offer {
        let granted = catalog.allowed_for(requested, roles);
        let refused = requested.without(&granted);
        let usable = !granted.is_empty()
            && (!catalog.has_resource_scope(requested) || catalog.has_resource_scope(&granted));
        if usable {
            Offer { granted, refused }
        } else {
            Offer {
                granted: Scopes::default(),
                refused: requested.clone(),
            }
        }
    }

    /// Whether anything the app can use is left: never a silent empty token. An app that
    /// asked for any of the resource's scopes needs one of them.
    pub fn usable(&self) -> bool {
        !self.granted.is_empty()
    }
}
