//! Small helpers several rooms use: waiting on futures, and text from outside.

pub mod futures;
pub mod text;
