//! Small helpers several rooms use: waiting on futures, and text from outside.

pub mod fetched;
pub mod futures;
pub mod text;
pub mod time;
