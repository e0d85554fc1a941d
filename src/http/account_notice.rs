//! What the account page says about the action it answers (a leaf both `account` and
//! `account_tokens` use, so neither depends on the other's internals).

use crate::http::pages::ErrorKind;

/// What the page says about the action it answers; empty fields say nothing.
#[derive(Default)]
pub struct Notice {
    /// The app just disconnected.
    pub disconnected: String,
    /// A token just made, shown this once, and its name.
    pub created: String,
    pub created_name: String,
    /// The name of a token just revoked.
    pub revoked: String,
    /// Why a token could not be made, and the name to fill in again.
    pub token_error: String,
    pub token_name: String,
    /// A failure to show as the error page instead.
    pub failed: Option<ErrorKind>,
}
