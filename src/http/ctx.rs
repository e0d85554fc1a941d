//! What a handler gets besides the request: `Ctx`, with the settings (read once per
//! isolate), the signing keys, the bindings, and the helpers every endpoint shares
//! (finding a client, the audit log, internal errors).

use super::cimd;
use crate::audit::{self, Event};
use crate::config::{Config, ConfigError};
use crate::oauth::catalog::Catalog;
use crate::oauth::client::Client;
use crate::oauth::client_directory::ClientDirectory;
use crate::oauth::error::OAuthError;
use crate::oauth::keys::{KeyError, KeySet, PREVIOUS_KEY_SECRET, SIGNING_KEY_SECRET};
use crate::oauth::rsa_key::{RsaKeys, OIDC_KEY_SECRET, OIDC_PREVIOUS_KEY_SECRET};
use crate::reply::{http_error, Reply};
use crate::store::d1::D1;
use crate::store::d1_audit::AuditRow;
use crate::store::kv::Kv;
use crate::store::StoreError;
use std::rc::Rc;
use worker::{console_error, console_log, Env};

/// Everything a handler needs besides the request.
pub struct Ctx {
    pub config: Rc<Config>,
    /// This server's issuer identifier: `ISSUER`, or the request's origin.
    pub issuer: String,
    pub env: Env,
    pub request_id: String,
    /// The signing keys, loaded (once per isolate) before the handler runs, or why not.
    pub keys: Result<Rc<KeySet>, KeyError>,
    /// The client's address as the audit log keeps it (`audit::truncate_ip`).
    pub audit_ip: String,
    /// The client's network as rate limits count it (`client_network`).
    pub client_network: String,
    /// Where notifications go as they come, when this request's answer may be streamed
    /// (`live`).
    pub live: Option<crate::mcp::tools::LiveSink>,
    /// Set once the request wrote to the audit log: its request log line is then always
    /// written, since the rows name the request by its id.
    pub audited: Rc<std::cell::Cell<bool>>,
    /// The RSA key of RS256 ID tokens, if configured (read once per isolate).
    pub rsa: Option<Rc<RsaKeys>>,
}

/// The settings and the two key secrets, read from the environment once per isolate.
/// Vars and secrets cannot change under a running isolate (changing either deploys a new
/// version, which starts new isolates), and reading them is some twenty calls into
/// JavaScript on every request otherwise.
pub(super) struct Settings {
    pub(super) config: Rc<Config>,
    pub(super) signing_key: Option<String>,
    pub(super) previous_key: Option<String>,
    /// The RSA key of RS256 ID tokens (`OIDC_SIGNING_KEY`); `None` when unset or unusable
    /// (logged once here): ID tokens are then EdDSA.
    pub(super) rsa: Option<Rc<RsaKeys>>,
}

thread_local! {
    static SETTINGS: std::cell::OnceCell<Rc<Settings>> = const { std::cell::OnceCell::new() };
}

pub(super) fn settings(env: &Env) -> Rc<Settings> {
    SETTINGS.with(|s| {
        s.get_or_init(|| {
            Rc::new(Settings {
                config: Rc::new(Config::from_lookup(&|name| var_text(env, name))),
                signing_key: env_string(env, SIGNING_KEY_SECRET),
                previous_key: env_string(env, PREVIOUS_KEY_SECRET),
                rsa: rsa_keys(env),
            })
        })
        .clone()
    })
}

fn rsa_keys(env: &Env) -> Option<Rc<RsaKeys>> {
    let current = env_string(env, OIDC_KEY_SECRET);
    let previous = env_string(env, OIDC_PREVIOUS_KEY_SECRET);
    match RsaKeys::load(current.as_deref(), previous.as_deref()) {
        Ok(Some(keys)) => Some(Rc::new(keys)),
        Ok(None) => {
            console_log!(
                "{OIDC_KEY_SECRET} is not set: ID tokens are signed EdDSA only; run `npm run dev` \
                 locally or `npm run setup:cloudflare` to add the RS256 key"
            );
            None
        }
        Err(e) => {
            console_error!("{e}: ID tokens are signed EdDSA only until it is fixed");
            None
        }
    }
}

/// A var's text: a string as it is, a JSON var (an object or array in `[vars]`) as JSON.
fn var_text(env: &Env, name: &str) -> Option<String> {
    let value = worker::js_sys::Reflect::get(env, &name.into()).ok()?;
    if let Some(s) = value.as_string() {
        return Some(s);
    }
    if value.is_object() {
        return worker::js_sys::JSON::stringify(&value)
            .ok()
            .and_then(|s| s.as_string());
    }
    None
}

fn env_string(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .ok()
        .map(|s| s.to_string())
        .or_else(|| env.var(name).ok().map(|v| v.to_string()))
}

type Scopes = Rc<Result<Rc<Catalog>, ConfigError>>;

thread_local! {
    static CATALOG: std::cell::OnceCell<Scopes> = const { std::cell::OnceCell::new() };
}

/// The operator's scopes and roles (`SCOPES`), checked once per isolate; a mistake is
/// logged once, and everything that grants or checks a scope refuses until it is fixed.
pub fn catalog(config: &Config) -> Result<Rc<Catalog>, ConfigError> {
    CATALOG.with(|cell| {
        cell.get_or_init(|| {
            let parsed = Catalog::from_setting(config.scopes.as_deref()).map(Rc::new);
            if let Err(e) = &parsed {
                console_error!("scopes not configured: {e}; nothing is granted until it is fixed");
            }
            Rc::new(parsed)
        })
        .as_ref()
        .clone()
    })
}

/// The current time in Unix seconds.
pub fn now() -> u64 {
    now_ms() / 1000
}

/// The current time in Unix milliseconds, for events whose order within a second matters.
pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

impl Ctx {
    /// Logs an internal failure with the request id; the client sees `server_error`.
    pub fn internal(&self, e: impl std::fmt::Display) -> OAuthError {
        console_error!("[{}] internal error: {}", self.request_id, e);
        OAuthError::ServerError
    }

    /// The scope catalog, or `server_error` (the mistake was logged when it was read).
    pub fn scopes(&self) -> Result<Rc<Catalog>, OAuthError> {
        catalog(&self.config).map_err(|_| OAuthError::ServerError)
    }

    /// A person's roles (for pages and grants; `/mcp` reads them from the token).
    pub async fn roles_of(&self, db: &D1, user_id: &str) -> Result<Vec<String>, OAuthError> {
        db.roles_of(user_id).await.map_err(|e| self.internal(e))
    }

    pub fn kv(&self) -> Result<Kv, OAuthError> {
        self.env
            .kv("OAUTH_KV")
            .map(Kv)
            .map_err(|e| self.internal(format!("KV binding OAUTH_KV: {e}")))
    }

    pub fn db(&self) -> Result<D1, OAuthError> {
        self.env
            .d1("DB")
            .map(D1)
            .map_err(|e| self.internal(format!("D1 binding DB: {e}")))
    }

    /// Keys for OAuth handlers: a missing key is a `server_error` that names the secret.
    pub fn oauth_keys(&self) -> Result<Rc<KeySet>, OAuthError> {
        self.keys().map_err(|_| OAuthError::ServerError)
    }

    /// Finds a client: registered ones in KV (D1 when KV misses), metadata-document
    /// clients by fetching their URL. `Ok(None)`: no such client.
    pub async fn find_client(&self, client_id: &str) -> Result<Option<Client>, OAuthError> {
        self.find_client_from(client_id, false).await
    }

    /// `find_client`, reading registered clients from D1 only (see `find_strong`).
    pub async fn find_client_strong(&self, client_id: &str) -> Result<Option<Client>, OAuthError> {
        self.find_client_from(client_id, true).await
    }

    async fn find_client_from(
        &self,
        client_id: &str,
        strong: bool,
    ) -> Result<Option<Client>, OAuthError> {
        let kv = self.kv()?;
        if client_id.starts_with("https://") {
            if !self.config.metadata_documents {
                console_log!("[{}] metadata documents are off", self.request_id);
                return Ok(None);
            }
            let db = self.db()?;
            match cimd::host_allowed(&db, client_id).await {
                Some(true) => {}
                Some(false) => {
                    self.document_failed(
                        client_id,
                        "is on a host the operator does not allow (the console's Apps page)",
                    )
                    .await;
                    return Ok(None);
                }
                None if strong => return Err(OAuthError::RateLimited(60)),
                None => return Ok(None),
            }
            return match cimd::resolve(
                &kv,
                &db,
                client_id,
                &self.client_network,
                crate::oauth::client_document::Allowance::from_config(&self.config),
            )
            .await
            {
                Ok(c) => Ok(Some(c)),
                Err(crate::oauth::client_document::Unusable::Refused(why)) => {
                    console_log!("[{}] metadata document refused: {}", self.request_id, why);
                    self.document_failed(client_id, &format!("was fetched and refused: {why}"))
                        .await;
                    Ok(None)
                }
                // Not "unknown client", which tells a client to forget its credentials
                // and a person that the app is not known: try again later.
                Err(crate::oauth::client_document::Unusable::Busy(why)) => {
                    console_log!(
                        "[{}] metadata document unavailable: {}",
                        self.request_id,
                        why
                    );
                    self.document_failed(client_id, &format!("could not be fetched: {why}"))
                        .await;
                    // Try again later, at /token and on the sign-in page alike: the
                    // document was not refused, it was not reached.
                    Err(OAuthError::RateLimited(60))
                }
            };
        }
        let db = self.db()?;
        let directory = ClientDirectory {
            kv: &kv,
            strong: &db,
        };
        let found = if strong {
            directory.find_strong(client_id).await
        } else {
            directory.find(client_id).await
        };
        // With registration off, only the operator's clients (and metadata documents,
        // above) are left: one that registered itself earlier is unknown from then on.
        let found = found.map_err(|e: StoreError| self.internal(e))?;
        Ok(found.filter(|c| {
            self.config.dynamic_registration
                || c.source != crate::oauth::client::ClientSource::Registered
        }))
    }

    /// The doctor's mark of a metadata document that could not be used: filed with the
    /// unknown apps (a URL anyone can make up must not open an app's entry), one attempt
    /// per document.
    pub(crate) async fn document_failed(&self, url: &str, what: &str) {
        use crate::doctor::{attempt_key, Attempt, Mark, Step};
        let cause = format!(
            "The client ID metadata document {} {what}",
            crate::util::text::truncate(url, 200)
        );
        let attempt = Attempt::Key(attempt_key("", url));
        self.doctor(Mark::stopped("", attempt, Step::Document, &cause))
            .await;
    }

    /// Keeps a connector doctor's mark (`doctor`), bounded. A failure to write it is
    /// logged, and never fails the request it describes.
    pub async fn doctor(&self, mark: crate::doctor::Mark) {
        let now = now();
        // The allowance first: unproven marks must not churn the memo that thins the
        // proven ones.
        if !mark.proven && !crate::http::doctor::unproven_allowed(now) {
            return;
        }
        if !crate::http::doctor::worth_writing(&mark) {
            return;
        }
        let Ok(db) = self.db() else { return };
        let since = now.saturating_sub(crate::doctor::WINDOW_SECONDS);
        match db.keep_mark(&mark, now, since).await {
            Ok(crate::store::d1_doctor::Kept::BudgetSpent) => {
                crate::http::doctor::budget_spent(now)
            }
            Ok(crate::store::d1_doctor::Kept::Done) => {}
            Err(e) => console_error!("[{}] connector doctor: {}", self.request_id, e),
        }
    }

    /// Appends an event to the audit log. A failure to write it is logged, and never fails
    /// the request it describes.
    pub async fn audit(
        &self,
        event: Event,
        user: Option<&str>,
        client: Option<&str>,
        detail: Option<&str>,
    ) {
        self.audit_all(&[(event, detail)], user, client).await
    }

    /// Several events of one person and client (each with its detail), in one D1 round trip.
    pub async fn audit_all(
        &self,
        events: &[(Event, Option<&str>)],
        user: Option<&str>,
        client: Option<&str>,
    ) {
        self.audited.set(true);
        let Ok(db) = self.db() else { return };
        let details: Vec<Option<String>> =
            events.iter().map(|(_, d)| d.map(audit::detail)).collect();
        let at = now();
        let rows: Vec<AuditRow> = events
            .iter()
            .zip(&details)
            .map(|((event, _), detail)| AuditRow {
                at,
                event: event.name(),
                failed: event.failed(),
                user_id: user,
                client_id: client,
                ip: &self.audit_ip,
                request_id: &self.request_id,
                detail: detail.as_deref(),
            })
            .collect();
        if let Err(e) = db.append_audit(&rows).await {
            console_error!("[{}] audit log: {}", self.request_id, e);
        }
    }

    /// This server's MCP resource identifier.
    pub fn resource(&self) -> String {
        crate::oauth::metadata::mcp_resource(&self.issuer)
    }

    /// Whether the issuer is https, which decides the cookies' `Secure` and `__Host-`.
    pub fn secure(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// The signing keys, or a JSON 500 that names the missing or malformed secret.
    pub fn keys(&self) -> Result<Rc<KeySet>, Reply> {
        self.keys.clone().map_err(|e| {
            console_error!(
                "[{}] signing key unusable: {}",
                self.request_id,
                e.describe()
            );
            http_error(
                500,
                "server_error",
                &format!(
                    "the server's signing key ({}) is not configured correctly",
                    e.setting()
                ),
            )
        })
    }
}
