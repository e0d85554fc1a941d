//! Differential tests: the pieces written by hand to keep the upload small, checked
//! against well-kept crates that are too large for the Worker. They run natively with
//! `cargo test --features differential` (`npm test` runs them); none of these crates is
//! ever compiled into the wasm.

mod chacha;
mod jwt;
mod mcp_model;
mod schema;
