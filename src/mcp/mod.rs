//! The MCP server (Model Context Protocol, revisions 2024-11-05 to 2026-07-28), free of
//! `worker` types: JSON-RPC messages, errors, protocol revisions, session ids, the
//! transport's header rules, the method handlers and the tools.

pub use crate::wire::error;
pub mod apps;
pub mod challenges;
pub mod jsonrpc;
pub mod legacy;
pub mod prompts;
pub mod resources;
pub mod schema;
pub mod server;
pub mod session;
pub mod tools;
pub mod transport;
pub use crate::wire::version;
