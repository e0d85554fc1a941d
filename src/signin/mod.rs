//! Signing in with an identity people already have: any OpenID Connect provider, Google,
//! GitHub, or the operator's own app (a hand-off to its login page, or a password check
//! by its endpoint). This module is the protocol logic, free of `worker` types: each
//! provider kind behind one trait (`providers`), account linking (`linking`) over the
//! identity store, outbound requests and secrets through `reach::Reach`. The edge
//! (`http::signin`) routes, keeps the pending sign-ins and renders pages.

pub mod config;
pub mod failure;
pub mod id_token;
pub mod linking;
pub mod oidc;
pub mod policy;
pub mod provider;
pub mod providers;
pub mod reach;
pub mod roles;
pub mod signature;
