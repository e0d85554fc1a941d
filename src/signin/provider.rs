//! A declared sign-in provider, as `config` reads it from `SIGNIN_PROVIDERS`: its kind and
//! flow, who it admits, and the settings every kind shares.

/// How a provider proves who a person is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// OpenID Connect by issuer (Google is this with its issuer filled in).
    Oidc { issuer: String },
    /// GitHub's OAuth apps (OAuth 2.0, not OIDC): its API says who signed in.
    GitHub {
        web: String,
        api: String,
        /// Secret name of a token that can read org and team membership, needed when
        /// `allow` names orgs or teams (they are checked again at every refresh).
        membership_token: Option<String>,
    },
    /// The operator's app signs the person in on its own login page and completes the
    /// sign-in server to server (`POST /signin/handoff`).
    Handoff { login_url: String },
    /// The operator's endpoint checks the password typed into this Worker's form.
    PasswordCheck { url: String },
}

/// How a person signs in with a provider of a kind. Every filter on kinds asks this, and
/// `Kind::flow` lists every kind, so a new kind cannot compile without saying which flow
/// it takes (and cannot fall through a `matches!` to a 404 at its callback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// OAuth-shaped: the browser goes to the provider and comes back to `/signin/callback`.
    Callback,
    /// The operator's app signs the person in and completes at `/signin/handoff`.
    Handoff,
    /// The password typed into this Worker's form is checked by the operator's endpoint.
    PasswordCheck,
}

impl Kind {
    pub fn flow(&self) -> Flow {
        match self {
            Kind::Oidc { .. } | Kind::GitHub { .. } => Flow::Callback,
            Kind::Handoff { .. } => Flow::Handoff,
            Kind::PasswordCheck { .. } => Flow::PasswordCheck,
        }
    }
}

/// Who may sign in through a provider. Any one rule that matches admits the person.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allow {
    pub everyone: bool,
    /// Verified emails, lower case.
    pub emails: Vec<String>,
    /// Domains of verified emails, lower case.
    pub email_domains: Vec<String>,
    /// The ID token's `hd` claim (Google Workspace), lower case.
    pub hosted_domains: Vec<String>,
    /// The provider's own identifiers (OIDC `sub`, GitHub's numeric id, the app's user id).
    pub subjects: Vec<String>,
    pub github_orgs: Vec<String>,
    /// `org/team-slug`.
    pub github_teams: Vec<(String, String)>,
}

impl Allow {
    pub fn needs_membership(&self) -> bool {
        !self.github_orgs.is_empty() || !self.github_teams.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// In URLs (`/signin/callback/<id>`), forms and the audit log.
    pub id: String,
    /// "Continue with <name>".
    pub name: String,
    pub kind: Kind,
    pub client_id: String,
    /// Secret names (their values are read at the edge, never logged).
    pub client_secret: Option<String>,
    pub shared_secret: Option<String>,
    pub scopes: Vec<String>,
    pub timeout_ms: u64,
    /// `None`: only people already here (mapped, or linked by email) may sign in.
    pub allow: Option<Allow>,
    /// Link a first sign-in to the person here with the same verified email.
    pub link_by_email: bool,
    /// The operator vouches that every email this provider sends is verified (an OIDC
    /// provider that sends no `email_verified`, such as Entra ID in the operator's own
    /// tenant, or an app that verifies every address); never with `link_by_email`.
    pub emails_verified: bool,
    /// `token_endpoint_auth_method`: `Some(true)` client_secret_basic, `Some(false)`
    /// client_secret_post; `None`: as the provider's metadata says (basic first).
    pub token_auth_basic: Option<bool>,
    /// `membership_cache_seconds`: how long GitHub's answer about an org or team
    /// membership is reused (default 300, 0 to 3600).
    pub membership_cache_seconds: u64,
    /// `roles`: which of the provider's values give which roles here; `None`: the
    /// provider gives none.
    pub roles: Option<crate::signin::roles::RoleMap>,
}

impl Provider {
    /// The namespace of this provider's subjects in the identities table: the issuer for
    /// OIDC (so two entries for one issuer are one identity), GitHub's host, the app's id.
    pub fn identity_namespace(&self) -> String {
        match &self.kind {
            Kind::Oidc { issuer } => format!("oidc:{issuer}"),
            Kind::GitHub { web, .. } => format!(
                "github:{}",
                url::Url::parse(web)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_default()
            ),
            Kind::Handoff { .. } | Kind::PasswordCheck { .. } => format!("app:{}", self.id),
        }
    }

    /// Whether the person leaves for the provider (a "Continue with" button) rather than
    /// typing a password here.
    pub fn is_redirect(&self) -> bool {
        self.kind.flow() != Flow::PasswordCheck
    }
}
