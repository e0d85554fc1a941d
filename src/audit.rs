//! The audit log's vocabulary: which security-relevant events are recorded, what a person
//! reads for each on the account page, and how much of a client's IP address is kept.
//! Rows are written by the edge (`Ctx::audit`) into D1 (`store::d1_audit`); a row never
//! holds a password, token, code or secret.

/// Every event the log records. The names are what the table and `npm run audit` show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    ClientRegistered,
    SignIn,
    SignInFailed,
    Lockout,
    ConsentGiven,
    ConsentDenied,
    CodeIssued,
    CodeRedeemed,
    CodeReuse,
    Refresh,
    RefreshReuse,
    Revocation,
    Disconnect,
    TokenCreated,
    TokenUsed,
    TokenRevoked,
    /// The person ended every session of theirs ("sign out everywhere").
    SignedOutEverywhere,
    /// A tool call through the gateway; the detail is "<upstream> <tool> <outcome>".
    GatewayCall,
    /// A refresh gave a narrower scope than the grant's: the person lost a role, or the
    /// operator removed a scope. The detail names the scopes dropped.
    ScopeNarrowed,
    /// A person's roles changed (the operator, or a sign-in provider's claim); the detail
    /// says which and who.
    RolesChanged,
    /// An administrator disabled or enabled a person in the console (the detail names the
    /// administrator; the command line writes the same names).
    UserDisabled,
    UserEnabled,
    /// The console's Apps page: an app's limits changed, a new secret, an app removed
    /// (the detail names the administrator; the command line writes the same names).
    ClientChanged,
    ClientSecretRotated,
    ClientRemoved,
    /// A client ID metadata document host allowed, blocked or its rule removed in the
    /// console; the detail names the host, the rule and the administrator.
    DocumentHostChanged,
    /// An administrator added a person in the console (no password: a link follows).
    UserAdded,
    /// An administrator reset a person: signed out, apps and tokens revoked, password
    /// cleared for a link.
    PasswordReset,
    /// A person set their password with a one-time link.
    PasswordSet,
    /// An administrator made a new one-time link for a person without a password.
    PasswordLinkMade,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::ClientRegistered => "client_registered",
            Event::SignIn => "sign_in",
            Event::SignInFailed => "sign_in_failed",
            Event::Lockout => "lockout",
            Event::ConsentGiven => "consent_given",
            Event::ConsentDenied => "consent_denied",
            Event::CodeIssued => "code_issued",
            Event::CodeRedeemed => "code_redeemed",
            Event::CodeReuse => "code_reuse",
            Event::Refresh => "refresh",
            Event::RefreshReuse => "refresh_reuse",
            Event::Revocation => "revocation",
            Event::Disconnect => "disconnect",
            Event::TokenCreated => "token_created",
            Event::TokenUsed => "token_used",
            Event::TokenRevoked => "token_revoked",
            Event::SignedOutEverywhere => "signed_out_everywhere",
            Event::GatewayCall => "gateway_call",
            Event::ScopeNarrowed => "scope_narrowed",
            Event::RolesChanged => "roles_changed",
            Event::UserDisabled => "user_disabled",
            Event::UserEnabled => "user_enabled",
            Event::ClientChanged => "client_changed",
            Event::ClientSecretRotated => "client_secret_rotated",
            Event::ClientRemoved => "client_removed",
            Event::DocumentHostChanged => "document_host_changed",
            Event::UserAdded => "user_added",
            Event::PasswordReset => "password_reset",
            Event::PasswordSet => "password_set",
            Event::PasswordLinkMade => "password_link_made",
        }
    }

    /// Whether the event is a failure or a defence acting (the row's `outcome`).
    pub fn failed(self) -> bool {
        matches!(
            self,
            Event::SignInFailed | Event::Lockout | Event::CodeReuse | Event::RefreshReuse
        )
    }
}

/// Every event name the log holds: the Worker's events and those the operator's commands
/// and the console write. The console's filter offers these.
pub const NAMES: &[&str] = &[
    "client_registered",
    "client_removed",
    "client_secret_rotated",
    "client_changed",
    "document_host_changed",
    "user_added",
    "user_disabled",
    "user_enabled",
    "password_reset",
    "password_set",
    "password_link_made",
    "sign_in",
    "sign_in_failed",
    "lockout",
    "consent_given",
    "consent_denied",
    "code_issued",
    "code_redeemed",
    "code_reuse",
    "refresh",
    "refresh_reuse",
    "revocation",
    "disconnect",
    "token_created",
    "token_used",
    "token_revoked",
    "signed_out_everywhere",
    "gateway_call",
    "scope_narrowed",
    "roles_changed",
];

/// What a person reads on the account page for an event name (also those the operator's
/// commands write, `client_removed`).
pub fn describe(event: &str) -> &'static str {
    match event {
        "client_registered" => "App registered",
        "client_removed" => "App removed by the operator",
        "client_secret_rotated" => "App given a new secret by the operator",
        "client_changed" => "App's limits changed by the operator",
        "document_host_changed" => "Metadata-document host rule changed by the operator",
        "user_added" => "Account created by the operator",
        "user_disabled" => "Account disabled by the operator",
        "user_enabled" => "Account enabled by the operator",
        "password_reset" => "Password reset by the operator",
        "password_set" => "Password set with a one-time link",
        "password_link_made" => "A link to set your password was made by the operator",
        "sign_in" => "Signed in",
        "sign_in_failed" => "Failed sign-in",
        "lockout" => "Sign-in paused after failed attempts",
        "consent_given" => "Allowed an app",
        "consent_denied" => "Declined an app",
        "code_issued" => "Authorization code issued",
        "code_redeemed" => "App connected",
        "code_reuse" => "Reused authorization code: the app was disconnected",
        "refresh" => "App renewed its access",
        "refresh_reuse" => "Reused refresh token: the app was disconnected",
        "revocation" => "App gave up its access",
        "disconnect" => "Disconnected an app",
        "token_created" => "Personal access token created",
        "token_used" => "Personal access token used",
        "token_revoked" => "Personal access token revoked",
        "signed_out_everywhere" => "Signed out everywhere",
        "gateway_call" => "A tool of a connected server was used",
        "scope_narrowed" => "An app's access was narrowed to what your roles allow",
        "roles_changed" => "Your roles changed",
        _ => "Other",
    }
}

/// The part of a client's address the log keeps: an IPv4 /24, an IPv6 /48. Enough to tell
/// networks apart, not enough to name a household.
pub fn truncate_ip(raw: &str) -> String {
    match raw.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => String::new(),
    }
}

/// Keeps a free-text detail short and on one line.
pub fn detail(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_cut_to_their_network() {
        assert_eq!(truncate_ip("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(truncate_ip("2001:db8:abcd:12::1"), "2001:db8:abcd::/48");
        assert_eq!(
            truncate_ip(" 2001:db8:abcd:ffff:1:2:3:4 "),
            "2001:db8:abcd::/48"
        );
        assert_eq!(truncate_ip("not an ip"), "");
        assert_eq!(truncate_ip(""), "");
    }

    #[test]
    fn every_event_has_words_and_failures_are_marked() {
        for e in [
            Event::ClientRegistered,
            Event::SignIn,
            Event::SignInFailed,
            Event::Lockout,
            Event::ConsentGiven,
            Event::ConsentDenied,
            Event::CodeIssued,
            Event::CodeRedeemed,
            Event::CodeReuse,
            Event::Refresh,
            Event::RefreshReuse,
            Event::Revocation,
            Event::Disconnect,
            Event::TokenCreated,
            Event::TokenUsed,
            Event::TokenRevoked,
            Event::SignedOutEverywhere,
            Event::GatewayCall,
            Event::ScopeNarrowed,
            Event::RolesChanged,
            Event::UserDisabled,
            Event::UserEnabled,
            Event::ClientChanged,
            Event::ClientSecretRotated,
            Event::ClientRemoved,
            Event::DocumentHostChanged,
            Event::UserAdded,
            Event::PasswordReset,
            Event::PasswordSet,
            Event::PasswordLinkMade,
        ] {
            assert_ne!(describe(e.name()), "Other", "{e:?}");
            assert!(NAMES.contains(&e.name()), "{e:?}");
        }
        for name in NAMES {
            assert_ne!(describe(name), "Other", "{name}");
        }
        assert!(Event::Lockout.failed() && !Event::SignIn.failed());
        assert_eq!(detail("a\nb\u{7}c"), "abc");
        assert_eq!(detail(&"x".repeat(500)).len(), 120);
    }
}
