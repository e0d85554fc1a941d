//! OAuth 2.1 authorization server logic, free of `worker` types.

pub mod keys;
pub mod metadata;
pub mod scope;
