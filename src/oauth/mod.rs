//! OAuth 2.1 authorization server logic, free of `worker` types.

pub mod access_token;
pub mod app_form;
pub mod authorize;
pub mod catalog;
pub mod chacha20;
pub mod client;
pub mod client_assertion;
pub mod client_directory;
pub mod client_document;
pub mod code;
pub mod ed25519;
pub mod error;
pub mod grant;
pub mod id_token;
pub mod jws;
pub mod keys;
pub mod kinds;
pub mod metadata;
pub mod offer;
pub mod personal_token;
pub mod pkce;
pub mod prompt;
pub mod resource;
pub mod rsa_key;
pub mod scope;
pub mod seal;
