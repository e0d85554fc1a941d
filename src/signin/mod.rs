//! Signing in with an identity people already have: any OpenID Connect provider, Google,
//! GitHub, or the operator's own app (a hand-off to its login page, or a password check
//! by its endpoint). This module is the protocol logic, free of `worker` types; the
//! round trips and storage are in `http::signin`.

pub mod config;
pub mod id_token;
pub mod oidc;
pub mod policy;
pub mod signature;
