//! The route table: which paths exist, which methods each accepts, and how large a body
//! each may send. Pure, so the 404/405 rules are unit-tested natively.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    AuthorizationServerMetadata,
    OpenIdConfiguration,
    ProtectedResourceMetadata,
    Jwks,
    Register,
    Authorize,
    Token,
    Revoke,
    Introspect,
    UserInfo,
    Mcp,
    /// `/mcp/t/<token>`: `/mcp` with a personal access token in the path, for clients that
    /// cannot send a header (only when `MCP_PATH_TOKENS` allows it).
    McpPathToken,
    /// `/sse`: the legacy HTTP+SSE transport's event stream (MCP 2024-11-05).
    Sse,
    /// `/messages?sessionId=`: where legacy SSE clients post their messages.
    Messages,
    /// `/notes/<id>`: a note's page for its owner.
    Note,
    /// `/account`: a person's connected apps.
    Account,
    /// `/admin`: the operator console, for people with the `admin` role.
    Admin,
    /// `/admin/people`: the console's People page.
    AdminPeople,
    /// `/admin/apps`: the console's Apps page.
    AdminApps,
    /// `/admin/audit`: the console's audit log, and its downloads.
    AdminAudit,
    /// `/admin/doctor`: the console's connector doctor.
    AdminDoctor,
    /// `/welcome?token=`: a person sets their password with a one-time link.
    Welcome,
    Home,
    /// `/signin/start`: a "Continue with" button, off to a sign-in provider.
    SignInStart,
    /// `/signin/callback/<provider id>`: where OpenID Connect providers and GitHub return.
    SignInCallback,
    /// `/signin/handoff`: the operator's app completing a hand-off, server to server.
    SignInHandoff,
    /// `/signin/return`: a person back from the operator's app.
    SignInReturn,
}

/// Bodies larger than this are refused with 413 before they are read.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;
pub const MCP_BODY_LIMIT: usize = 1024 * 1024;

impl Route {
    pub fn find(path: &str) -> Option<Route> {
        Some(match path {
            "/.well-known/oauth-authorization-server" => Route::AuthorizationServerMetadata,
            "/.well-known/openid-configuration" => Route::OpenIdConfiguration,
            "/.well-known/oauth-protected-resource"
            | "/.well-known/oauth-protected-resource/mcp" => Route::ProtectedResourceMetadata,
            "/.well-known/jwks.json" => Route::Jwks,
            "/register" => Route::Register,
            "/authorize" => Route::Authorize,
            "/token" => Route::Token,
            "/revoke" => Route::Revoke,
            "/introspect" => Route::Introspect,
            "/userinfo" => Route::UserInfo,
            "/mcp" => Route::Mcp,
            // Also under /mcp, so an OAuth client that checks the protected resource (/mcp)
            // against the URL it was given accepts the legacy transport's URL.
            "/sse" | "/mcp/sse" => Route::Sse,
            "/messages" | "/mcp/messages" => Route::Messages,
            "/account" => Route::Account,
            "/admin" => Route::Admin,
            "/admin/people" => Route::AdminPeople,
            "/admin/apps" => Route::AdminApps,
            "/admin/audit" => Route::AdminAudit,
            "/admin/doctor" => Route::AdminDoctor,
            "/welcome" => Route::Welcome,
            "/" => Route::Home,
            "/signin/start" => Route::SignInStart,
            "/signin/handoff" => Route::SignInHandoff,
            "/signin/return" => Route::SignInReturn,
            p if p
                .strip_prefix("/signin/callback/")
                .is_some_and(is_provider_id) =>
            {
                Route::SignInCallback
            }
            p if p.strip_prefix("/notes/").is_some_and(is_note_id) => Route::Note,
            p if path_token(p).is_some() => Route::McpPathToken,
            _ => return None,
        })
    }

    /// Methods served, not counting HEAD (answered like GET) and OPTIONS (CORS preflight).
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            Route::Register
            | Route::Token
            | Route::Revoke
            | Route::Introspect
            | Route::Messages
            | Route::SignInStart
            | Route::SignInHandoff => &["POST"],
            Route::Authorize
            | Route::UserInfo
            | Route::Note
            | Route::Account
            | Route::Admin
            | Route::AdminPeople
            | Route::AdminApps
            | Route::Welcome => &["GET", "POST"],
            // No server-to-client stream is offered, so GET is 405 (MCP transports).
            Route::Mcp | Route::McpPathToken => &["POST", "DELETE"],
            _ => &["GET"],
        }
    }

    /// Browser clients (MCP Inspector) call these from another origin (item 10 of the
    /// OAuth issue); `/authorize` is a navigation and needs no CORS.
    pub fn cors(self) -> bool {
        !matches!(
            self,
            Route::Authorize
                | Route::Home
                | Route::Note
                | Route::Account
                | Route::Admin
                | Route::AdminPeople
                | Route::AdminApps
                | Route::AdminAudit
                | Route::AdminDoctor
                | Route::Welcome
                | Route::SignInStart
                | Route::SignInCallback
                | Route::SignInHandoff
                | Route::SignInReturn
        )
    }

    /// The `Allow` header value for a 405.
    pub fn allow_header(self) -> String {
        let mut m: Vec<&str> = self.methods().to_vec();
        if m.contains(&"GET") {
            m.push("HEAD");
        }
        if self.cors() {
            m.push("OPTIONS");
        }
        m.join(", ")
    }

    pub fn accepts(self, method: &str) -> bool {
        self.methods().contains(&method)
            || (method == "HEAD" && self.methods().contains(&"GET"))
            || (method == "OPTIONS" && self.cors())
    }

    /// The MCP transports' routes: their errors are JSON-RPC error objects.
    pub fn is_mcp(self) -> bool {
        matches!(
            self,
            Route::Mcp | Route::McpPathToken | Route::Sse | Route::Messages
        )
    }

    /// The pages a person's browser shows and posts forms to (and can sign in on).
    pub fn is_page(self) -> bool {
        matches!(
            self,
            Route::Authorize
                | Route::Account
                | Route::Note
                | Route::Admin
                | Route::AdminPeople
                | Route::AdminApps
                | Route::AdminAudit
                | Route::AdminDoctor
                | Route::Welcome
        )
    }

    /// Routes whose successful answers get no request log line (`http::handle`): the
    /// hot paths, whose line would cost as much as their answer.
    pub fn quietly_logged(self) -> bool {
        matches!(
            self,
            Route::Mcp
                | Route::McpPathToken
                | Route::Token
                | Route::AuthorizationServerMetadata
                | Route::OpenIdConfiguration
                | Route::ProtectedResourceMetadata
                | Route::Jwks
        )
    }

    /// Forms a page posts, refused when they come from another site.
    pub fn takes_page_forms(self) -> bool {
        self.is_page() || self == Route::SignInStart
    }

    pub fn body_limit(self) -> usize {
        match self {
            Route::Mcp | Route::McpPathToken | Route::Messages => MCP_BODY_LIMIT,
            _ => FORM_BODY_LIMIT,
        }
    }
}

/// The token of a `/mcp/t/<token>` path: one non-empty segment of token characters.
pub fn path_token(path: &str) -> Option<&str> {
    path.strip_prefix("/mcp/t/").filter(|t| {
        (1..=200).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// Provider ids as `SIGNIN_PROVIDERS` allows them.
fn is_provider_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Note ids are what `memory_store` makes: `n_` and base64url.
fn is_note_id(id: &str) -> bool {
    (3..=100).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_have_no_route() {
        assert_eq!(Route::find("/nope"), None);
        assert_eq!(Route::find("/token/"), None);
        assert_eq!(Route::find("/notes/n_abc-_9"), Some(Route::Note));
        assert_eq!(Route::find("/notes/"), None);
        assert_eq!(Route::find("/notes/a/b"), None);
        assert_eq!(Route::find("/mcp/t/mcp_pat_abc"), Some(Route::McpPathToken));
        assert_eq!(path_token("/mcp/t/mcp_pat_abc"), Some("mcp_pat_abc"));
        assert_eq!(Route::find("/mcp/t/"), None);
        assert_eq!(Route::find("/mcp/t/a/b"), None);
        assert_eq!(Route::find("/mcp/t/a.b"), None);
        assert_eq!(Route::find("/mcp/sse"), Some(Route::Sse));
        assert_eq!(Route::find("/mcp/messages"), Some(Route::Messages));
        assert_eq!(
            Route::find("/signin/callback/corp-sso"),
            Some(Route::SignInCallback)
        );
        assert_eq!(Route::find("/signin/callback/"), None);
        assert_eq!(Route::find("/signin/callback/a/b"), None);
        assert_eq!(Route::find("/signin/callback/Corp"), None);
        assert!(Route::SignInStart.takes_page_forms() && !Route::SignInStart.is_page());
    }

    #[test]
    fn allow_lists_head_and_options() {
        assert_eq!(Route::Jwks.allow_header(), "GET, HEAD, OPTIONS");
        assert_eq!(Route::Token.allow_header(), "POST, OPTIONS");
        assert_eq!(Route::Authorize.allow_header(), "GET, POST, HEAD");
        assert!(Route::Jwks.accepts("HEAD"));
        assert!(!Route::Token.accepts("GET"));
        assert!(!Route::Authorize.accepts("OPTIONS"));
    }
}
