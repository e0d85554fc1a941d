//! The grant contract, natively, on the memory store (`store::memory_grants`) with the
//! pure-Rust Ed25519: every rule the token endpoint promises, as whole requests. The same
//! rules run against D1 in workerd in `tests/oauth-rules.test.mjs` and
//! `tests/oauth-flow.test.mjs`.

use super::*;
use crate::encoding::{b64url, secret_hash};
use crate::oauth::catalog::Catalog;
use crate::oauth::client::ClientSource;
use crate::oauth::code::{self, CodeGrant};
use crate::oauth::ed25519::{block_on, Native};
use crate::oauth::id_token::PersonClaims;
use crate::oauth::kinds::{AuthMethod, GrantType, ResponseType};
use crate::store::memory_grants::{self, User};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

const ISSUER: &str = "https://as.example";
const REDIRECT: &str = "https://app.example/cb";
const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-long";

#[derive(Default)]
pub(super) struct World {
    clients: HashMap<String, Client>,
    admitted: Cell<bool>,
    events: std::rc::Rc<RefCell<Vec<(Event, String)>>>,
    internal: RefCell<Vec<String>>,
    /// The clock, in milliseconds; asking about membership takes `membership_ms`.
    clock: Cell<u64>,
    membership_ms: Cell<u64>,
    /// What a provider asked again at refresh says (`None`: nothing asked).
    roles_now: RefCell<Option<Vec<String>>>,
    /// The connector doctor's marks reported.
    marks: RefCell<Vec<crate::doctor::Mark>>,
    /// What an app's `jwks_uri` serves now, and how often it was fetched.
    served_jwks: RefCell<Value>,
    cached_jwks: RefCell<Option<Value>>,
    jwks_fetches: Cell<u32>,
    /// The client assertions' `jti`s used, per app.
    used_jtis: RefCell<std::collections::HashSet<String>>,
}

impl Surroundings for World {
    async fn client(&self, client_id: &str) -> Result<Option<Client>, OAuthError> {
        Ok(self.clients.get(client_id).cloned())
    }
    async fn still_admitted(&self, _user_id: &str) -> Result<bool, String> {
        self.clock.set(self.clock.get() + self.membership_ms.get());
        Ok(self.admitted.get())
    }
    async fn person(&self, _user_id: &str) -> Result<PersonClaims, String> {
        Ok(PersonClaims {
            email: Some("ann@example.com".into()),
            name: Some("Ann".into()),
        })
    }
    async fn roles_now(&self, _user_id: &str) -> Result<Option<Vec<String>>, String> {
        Ok(self.roles_now.borrow().clone())
    }
    async fn audit(&self, event: Event, user_id: &str, _client_id: &str) {
        self.events.borrow_mut().push((event, user_id.to_string()));
    }
    async fn audit_detail(&self, event: Event, user_id: &str, _client_id: &str, detail: &str) {
        self.events
            .borrow_mut()
            .push((event, format!("{user_id} {detail}")));
    }
    async fn client_keys(&self, client: &Client, again: bool) -> Result<Value, OAuthError> {
        if let Some(jwks) = &client.jwks {
            return Ok(jwks.clone());
        }
        // As the edge: the copy fetched before, until the grants ask again.
        if let (false, Some(cached)) = (again, self.cached_jwks.borrow().clone()) {
            return Ok(cached);
        }
        self.jwks_fetches.set(self.jwks_fetches.get() + 1);
        let served = self.served_jwks.borrow().clone();
        *self.cached_jwks.borrow_mut() = Some(served.clone());
        Ok(served)
    }
    async fn first_use(
        &self,
        client_id: &str,
        jti: &str,
        _expires_at: u64,
    ) -> Result<bool, String> {
        Ok(self
            .used_jtis
            .borrow_mut()
            .insert(format!("{client_id} {jti}")))
    }
    async fn doctor(&self, mark: crate::doctor::Mark) {
        self.marks.borrow_mut().push(mark);
    }
    fn internal(&self, cause: &dyn std::fmt::Display) -> OAuthError {
        self.internal.borrow_mut().push(cause.to_string());
        OAuthError::ServerError
    }
    fn now_ms(&self) -> u64 {
        self.clock.get()
    }
}

fn client(id: &str, method: AuthMethod, secret: Option<&str>) -> Client {
    Client {
        client_id: id.into(),
        secret_hash: secret.map(secret_hash),
        redirect_uris: vec![REDIRECT.into()],
        client_name: None,
        client_uri: None,
        token_endpoint_auth_method: method,
        grant_types: GrantType::ALL.to_vec(),
        response_types: ResponseType::ALL.to_vec(),
        scope: None,
        client_id_issued_at: 0,
        source: ClientSource::Registered,
        access_token_ttl: None,
        refresh_token_ttl: None,
        id_token_signed_response_alg: None,
        jwks: None,
        jwks_uri: None,
        token_endpoint_auth_signing_alg: None,
        stood_in: false,
    }
}

struct H {
    store: memory_grants::Grants,
    world: World,
    keys: KeySet,
    settings: Settings,
    catalog: Catalog,
    /// An RSA key for RS256 ID tokens; natively it cannot sign (WebCrypto does).
    rsa: Option<crate::oauth::rsa_key::RsaKeys>,
}

fn form(list: &[(&str, &str)]) -> Params {
    let pairs: Vec<(String, String)> = list
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::parse(&pairs).unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

impl H {
    fn new() -> H {
        let mut world = World::default();
        world.admitted.set(true);
        world.clock.set(1_800_000_000_000);
        for c in [
            client("app", AuthMethod::None, None),
            client("other", AuthMethod::None, None),
            client("conf", AuthMethod::ClientSecretBasic, Some("s3cret")),
            client("post", AuthMethod::ClientSecretPost, Some("p0st")),
        ] {
            world.clients.insert(c.client_id.clone(), c);
        }
        let mut no_refresh = client("once", AuthMethod::None, None);
        no_refresh.grant_types = vec![GrantType::AuthorizationCode];
        world.clients.insert("once".into(), no_refresh);
        let seed = b64url(&[7u8; 32]);
        let store = memory_grants::Grants::recording_to(world.events.clone());
        H {
            catalog: Catalog::default(),
            rsa: None,
            store,
            world,
            keys: block_on(KeySet::load(&Native, Some(&seed), None)).unwrap(),
            settings: Settings {
                issuer: ISSUER.into(),
                resource: format!("{ISSUER}/mcp"),
                access_token_ttl: 3600,
                refresh_token_ttl: 30 * 86400,
                refresh_grace: 60,
            },
        }
    }

    fn grants(&self) -> Grants<'_, memory_grants::Grants, World, Native> {
        Grants {
            store: &self.store,
            world: &self.world,
            crypto: &Native,
            keys: Some(&self.keys),
            rsa: self.rsa.as_ref(),
            settings: &self.settings,
            catalog: &self.catalog,
            now_ms: self.world.clock.get(),
        }
    }

    fn advance(&self, seconds: u64) {
        self.world
            .clock
            .set(self.world.clock.get() + seconds * 1000);
    }

    /// A code for `user` through `client_id`, issued now, as `/authorize` mints it.
    fn code(&self, client_id: &str, user: &str) -> String {
        self.mint(&self.grant(client_id, user))
    }

    /// What `/authorize` puts in a code for `user` through `client_id`, issued now.
    fn grant(&self, client_id: &str, user: &str) -> CodeGrant {
        CodeGrant {
            client_id: client_id.into(),
            redirect_uri: REDIRECT.into(),
            code_challenge: b64url(&crate::encoding::sha256(VERIFIER.as_bytes())),
            user_id: user.into(),
            scope: "mcp:read mcp:write".into(),
            resource: self.settings.resource.clone(),
            expires_at: self.world.clock.get() / 1000 + 60,
            issued_ms: self.world.clock.get(),
            roles: String::new(),
            nonce: None,
            auth_time: None,
        }
    }

    fn mint(&self, grant: &CodeGrant) -> String {
        code::mint(&self.keys.mac_key("code"), grant).0
    }

    fn token(&self, list: &[(&str, &str)], basic: Option<&str>) -> Result<Issued, OAuthError> {
        block_on(self.grants().token(&form(list), basic))
    }

    fn redeem(&self, client_id: &str, code: &str) -> Result<Issued, OAuthError> {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("code", code),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
    }

    fn refresh(&self, client_id: &str, token: &str) -> Result<Issued, OAuthError> {
        self.token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", token),
            ],
            None,
        )
    }

    /// Signs in through `app` and returns the first response.
    fn connected(&self) -> Issued {
        self.redeem("app", &self.code("app", "u1")).unwrap()
    }

    /// Signs in through the confidential client `post` (client_secret_post).
    fn connected_by_post(&self) -> Issued {
        let code = self.code("post", "u1");
        let list = [
            ("grant_type", "authorization_code"),
            ("client_id", "post"),
            ("client_secret", "p0st"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
        ];
        self.token(&list, None).unwrap()
    }

    fn events(&self) -> Vec<Event> {
        self.world.events.borrow().iter().map(|(e, _)| *e).collect()
    }

    fn access_works(&self, token: &str) -> bool {
        let s = &self.settings;
        block_on(access_token::verify(
            &Native,
            &self.keys,
            token,
            &s.issuer,
            &s.resource,
            self.world.clock.get() / 1000,
        ))
        .is_ok()
    }
}

fn claims_of(h: &H, token: &str) -> crate::oauth::access_token::AccessClaims {
    block_on(access_token::verify(
        &Native,
        &h.keys,
        token,
        ISSUER,
        &h.settings.resource,
        h.world.clock.get() / 1000,
    ))
    .unwrap()
    .claims
}

fn code_of(e: Result<Issued, OAuthError>) -> &'static str {
    e.expect_err("refused").code()
}

#[test]
fn a_code_redeems_once_and_its_access_token_verifies() {
    let h = H::new();
    let first = h.connected();
    assert!(h.access_works(&first.access_token));
    assert_eq!(first.scope.to_string(), "mcp:read mcp:write");
    assert_eq!(first.expires_in, 3600);
    assert!(first.refresh_token.is_some());
    assert_eq!(h.events(), [Event::CodeRedeemed]);
}

#[test]
fn a_replayed_code_revokes_the_grant_it_produced() {
    let h = H::new();
    let code = h.code("app", "u1");
    let first = h.redeem("app", &code).unwrap();
    assert_eq!(code_of(h.redeem("app", &code)), "invalid_grant");
    let refresh = first.refresh_token.unwrap();
    assert_eq!(code_of(h.refresh("app", &refresh)), "invalid_grant");
    assert_eq!(h.events(), [Event::CodeRedeemed, Event::CodeReuse]);
}

#[test]
fn every_code_check_runs_before_anything_is_written() {
    let h = H::new();
    let code = h.code("app", "u1");
    let wrong = |list: &[(&str, &str)]| {
        let mut all = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        all.extend_from_slice(list);
        code_of(h.token(&all, None))
    };
    let verifier = ("code_verifier", VERIFIER);
    assert_eq!(wrong(&[("client_id", "other"), verifier]), "invalid_grant");
    assert_eq!(wrong(&[("client_id", "app")]), "invalid_request");
    let bad_verifier = ("code_verifier", "x".repeat(43));
    assert_eq!(
        wrong(&[
            ("client_id", "app"),
            ("code_verifier", bad_verifier.1.as_str())
        ]),
        "invalid_grant"
    );
    assert_eq!(
        wrong(&[
            ("client_id", "app"),
            verifier,
            ("redirect_uri", "https://app.example/other")
        ]),
        "invalid_grant"
    );
    assert_eq!(
        wrong(&[
            ("client_id", "app"),
            verifier,
            ("resource", "https://elsewhere.example/mcp")
        ]),
        "invalid_target"
    );
    let twice = [
        ("client_id", "app"),
        ("code", code.as_str()),
        ("code", code.as_str()),
    ];
    let pairs: Vec<(String, String)> = twice
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(Params::parse(&pairs).unwrap_err().code(), "invalid_request");
    // None of those spent the code.
    assert!(h.redeem("app", &code).is_ok());
}

#[test]
fn an_expired_or_forged_code_is_invalid_grant() {
    let h = H::new();
    let code = h.code("app", "u1");
    h.advance(61);
    assert_eq!(code_of(h.redeem("app", &code)), "invalid_grant");
    assert_eq!(code_of(h.redeem("app", "not-a-code")), "invalid_grant");
}

#[test]
fn a_code_is_withdrawn_by_a_disconnect_a_disabled_account_or_ended_sessions() {
    let h = H::new();
    // Disconnected after the code was issued: a grant of the same person and app revoked.
    let old = h.connected();
    let code = h.code("app", "u1");
    h.advance(1);
    block_on(
        h.store
            .revoke_grant(&grant_of(&h, &old), h.world.clock.get()),
    )
    .unwrap();
    assert_eq!(code_of(h.redeem("app", &code)), "invalid_grant");
    // A new code, issued after the disconnect, works.
    h.advance(1);
    assert!(h.redeem("app", &h.code("app", "u1")).is_ok());

    let code = h.code("app", "u2");
    h.store.users.borrow_mut().insert(
        "u2".into(),
        User {
            disabled_at: Some(1),
            sessions_after_ms: 0,
            roles: Vec::new(),
        },
    );
    assert_eq!(code_of(h.redeem("app", &code)), "invalid_grant");

    let code = h.code("app", "u3");
    let later = h.world.clock.get() + 1;
    h.store.users.borrow_mut().insert(
        "u3".into(),
        User {
            disabled_at: None,
            sessions_after_ms: later,
            roles: Vec::new(),
        },
    );
    assert_eq!(code_of(h.redeem("app", &code)), "invalid_grant");
}

fn grant_of(h: &H, issued: &Issued) -> String {
    let token = issued.refresh_token.as_deref().unwrap();
    block_on(h.store.refresh_token(&secret_hash(token)))
        .unwrap()
        .unwrap()
        .grant_id
}

#[test]
fn a_refresh_rotates_and_a_retry_within_grace_gets_the_same_successor() {
    let h = H::new();
    let first = h.connected();
    let old = first.refresh_token.unwrap();
    let next = h.refresh("app", &old).unwrap();
    let successor = next.refresh_token.clone().unwrap();
    assert_ne!(successor, old);
    assert!(h.access_works(&next.access_token));
    // The response was lost: the same request again, within the grace period.
    h.advance(30);
    let retry = h.refresh("app", &old).unwrap();
    assert_eq!(retry.refresh_token.as_deref(), Some(successor.as_str()));
    // One refresh recorded, not two.
    assert_eq!(h.events(), [Event::CodeRedeemed, Event::Refresh]);
    // The successor works and rotates in turn.
    assert!(h.refresh("app", &successor).is_ok());
}

#[test]
fn reuse_after_grace_revokes_the_family() {
    let h = H::new();
    let old = h.connected().refresh_token.unwrap();
    let successor = h.refresh("app", &old).unwrap().refresh_token.unwrap();
    h.advance(61);
    assert_eq!(code_of(h.refresh("app", &old)), "invalid_grant");
    assert_eq!(code_of(h.refresh("app", &successor)), "invalid_grant");
    assert_eq!(h.events().last(), Some(&Event::RefreshReuse));
}

#[test]
fn reuse_after_the_successor_was_used_revokes_the_family_even_within_grace() {
    let h = H::new();
    let old = h.connected().refresh_token.unwrap();
    let successor = h.refresh("app", &old).unwrap().refresh_token.unwrap();
    let third = h.refresh("app", &successor).unwrap().refresh_token.unwrap();
    assert_eq!(code_of(h.refresh("app", &old)), "invalid_grant");
    assert_eq!(code_of(h.refresh("app", &third)), "invalid_grant");
}

#[test]
fn the_store_rotates_for_exactly_one_caller() {
    let h = H::new();
    let old = h.connected().refresh_token.unwrap();
    let row = block_on(h.store.refresh_token(&secret_hash(&old)))
        .unwrap()
        .unwrap();
    let successor_hash = secret_hash("successor");
    let new = crate::store::grants::NewRefresh {
        token_hash: &successor_hash,
        grant_id: &row.grant_id,
        user_id: &row.user_id,
        client_id: &row.client_id,
        scope: &row.scope,
        expires_at: u64::MAX,
    };
    assert!(block_on(h.store.rotate(&row.token_hash, &new, 1)).unwrap());
    assert!(!block_on(h.store.rotate(&row.token_hash, &new, 2)).unwrap());
    assert_eq!(h.store.family_size(&row.grant_id), 2);
    // And a code is redeemed by exactly one caller: a second redemption names the first grant.
    let code = h.code("app", "u9");
    assert!(h.redeem("app", &code).is_ok());
    let code_hash = secret_hash(&code);
    let again = crate::store::grants::NewGrant {
        id: "another",
        user_id: "u9",
        client_id: "app",
        scope: "mcp:read",
        resource: "r",
        redirect_uri: REDIRECT,
        auth_time: None,
        code_hash: &code_hash,
        code_issued_ms: 0,
    };
    assert!(matches!(
        block_on(h.store.redeem_code(&again, None, 0)).unwrap(),
        crate::store::grants::Redeemed::Replayed { grant_id } if grant_id != "another"
    ));
}

#[test]
fn a_refresh_may_narrow_the_scope_never_widen_it() {
    let h = H::new();
    let old = h.connected().refresh_token.unwrap();
    let narrow = h
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "app"),
                ("refresh_token", &old),
                ("scope", "mcp:read"),
            ],
            None,
        )
        .unwrap();
    assert_eq!(narrow.scope.to_string(), "mcp:read");
    let next = narrow.refresh_token.unwrap();
    // The grant keeps its scope: the next refresh may ask for all of it again.
    let wide = h.token(
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", &next),
            ("scope", "mcp:read email"),
        ],
        None,
    );
    assert_eq!(code_of(wide), "invalid_scope");
    assert_eq!(
        h.refresh("app", &next).unwrap().scope.to_string(),
        "mcp:read mcp:write"
    );
}

#[test]
fn a_refresh_token_is_bound_to_its_client_account_lifetime_and_membership() {
    let h = H::new();
    let old = h.connected().refresh_token.unwrap();
    assert_eq!(code_of(h.refresh("other", &old)), "invalid_grant");
    assert_eq!(code_of(h.refresh("once", &old)), "unauthorized_client");
    h.world.admitted.set(false);
    assert_eq!(code_of(h.refresh("app", &old)), "invalid_grant");
    h.world.admitted.set(true);
    h.store.users.borrow_mut().insert(
        "u1".into(),
        User {
            disabled_at: Some(1),
            sessions_after_ms: 0,
            roles: Vec::new(),
        },
    );
    assert_eq!(code_of(h.refresh("app", &old)), "invalid_grant");
    h.store.users.borrow_mut().clear();
    h.advance(30 * 86400 + 1);
    assert_eq!(code_of(h.refresh("app", &old)), "invalid_grant");
}

#[test]
fn a_client_without_refresh_gets_no_refresh_token() {
    let h = H::new();
    let issued = h.redeem("once", &h.code("once", "u1")).unwrap();
    assert_eq!(issued.refresh_token, None);
}

#[test]
fn client_authentication_by_the_registered_method_only() {
    let h = H::new();
    let code = h.code("conf", "u1");
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
    ];
    let with = |extra: &[(&str, &str)], b: Option<&str>| {
        let mut all = grant.to_vec();
        all.extend_from_slice(extra);
        h.token(&all, b)
    };
    assert_eq!(
        code_of(with(&[], Some(&basic("conf", "wrong")))),
        "invalid_client"
    );
    assert_eq!(
        code_of(with(
            &[("client_id", "conf"), ("client_secret", "s3cret")],
            None
        )),
        "invalid_client"
    );
    assert_eq!(
        code_of(with(&[("client_id", "conf")], None)),
        "invalid_client"
    );
    assert_eq!(
        code_of(with(&[], Some(&basic("nobody", "x")))),
        "invalid_client"
    );
    assert_eq!(
        code_of(with(
            &[("client_secret", "s3cret")],
            Some(&basic("conf", "s3cret"))
        )),
        "invalid_request"
    );
    assert!(with(&[], Some(&basic("conf", "s3cret"))).is_ok());
    // A public client cannot present a secret it does not have.
    assert_eq!(
        code_of(h.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "app"),
                ("client_secret", "x"),
                ("code", "c")
            ],
            None
        )),
        "invalid_client"
    );
}

#[test]
fn revocation_revokes_the_family_and_says_nothing_about_other_tokens() {
    let h = H::new();
    let issued = h.connected();
    let refresh = issued.refresh_token.clone().unwrap();
    let revoke = |client: &str, token: &str| {
        block_on(
            h.grants()
                .revoke(&form(&[("client_id", client), ("token", token)]), None),
        )
    };
    // Another client's token, or a made-up one: the same empty success, nothing revoked.
    assert_eq!(revoke("other", &refresh), Ok(()));
    assert_eq!(revoke("app", "made-up"), Ok(()));
    assert!(h.refresh("app", &refresh).is_ok());
    // The access token (of the rotated grant) revokes the whole grant.
    let fresh = h.refresh("app", &refresh).unwrap();
    assert_eq!(revoke("app", &fresh.access_token), Ok(()));
    assert_eq!(
        code_of(h.refresh("app", fresh.refresh_token.as_deref().unwrap())),
        "invalid_grant"
    );
    assert!(h.events().contains(&Event::Revocation));
    assert_eq!(
        code_of(
            block_on(h.grants().revoke(&form(&[("client_id", "app")]), None))
                .map(|_| h.connected())
        ),
        "invalid_request"
    );
}

#[test]
fn introspection_answers_confidential_clients_about_their_own_tokens() {
    let h = H::new();
    let issued = h.connected_by_post();
    let ask = |client: &str, secret: Option<&str>, token: &str| {
        let mut list = vec![("client_id", client), ("token", token)];
        if let Some(s) = secret {
            list.push(("client_secret", s));
        }
        block_on(h.grants().introspect(&form(&list), None))
    };
    let active = |i: Introspection| i.to_json()["active"] == true;
    assert!(active(
        ask("post", Some("p0st"), &issued.access_token).unwrap()
    ));
    let refresh = issued.refresh_token.clone().unwrap();
    let r = ask("post", Some("p0st"), &refresh).unwrap().to_json();
    assert_eq!(
        (r["token_type"].as_str(), r["sub"].as_str()),
        (Some("refresh_token"), Some("u1"))
    );
    assert_eq!(
        ask("app", None, &refresh).unwrap_err().code(),
        "invalid_client"
    );
    assert!(!active(ask("post", Some("p0st"), "made-up").unwrap()));
    let other = h.connected();
    assert!(!active(
        ask("post", Some("p0st"), &other.access_token).unwrap()
    ));
    block_on(h.grants().revoke(
        &form(&[
            ("client_id", "post"),
            ("client_secret", "p0st"),
            ("token", &refresh),
        ]),
        None,
    ))
    .unwrap();
    assert!(!active(ask("post", Some("p0st"), &refresh).unwrap()));
    assert!(!active(
        ask("post", Some("p0st"), &issued.access_token).unwrap()
    ));
}

#[test]
fn a_storage_failure_is_server_error_and_issues_nothing() {
    let h = H::new();
    let code = h.code("app", "u1");
    h.store.failing.set(true);
    assert_eq!(code_of(h.redeem("app", &code)), "server_error");
    assert_eq!(h.world.internal.borrow().len(), 1);
    h.store.failing.set(false);
    assert!(h.redeem("app", &code).is_ok());
}

#[test]
fn without_a_usable_signing_key_nothing_is_issued() {
    let h = H::new();
    let code = h.code("app", "u1");
    let mut g = h.grants();
    g.keys = None;
    let e = block_on(g.token(
        &form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ]),
        None,
    ));
    assert_eq!(code_of(e), "server_error");
}

#[test]
fn a_revocation_is_stamped_when_it_happens_not_when_its_request_began() {
    // A refresh-token reuse whose request began before a code was approved (a slow
    // request): the code is issued before the revocation happens, so it is withdrawn.
    let h = H::new();
    let old = h.connected().refresh_token.unwrap();
    h.refresh("app", &old).unwrap();
    h.advance(61);
    let began = h.world.clock.get();
    let reuse = h.grants();
    h.world.clock.set(began + 1_000);
    let meanwhile = h.code("app", "u1");
    h.world.clock.set(began + 2_000);
    let e = block_on(reuse.token(
        &form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", &old),
        ]),
        None,
    ));
    assert_eq!(code_of(e), "invalid_grant");
    assert_eq!(code_of(h.redeem("app", &meanwhile)), "invalid_grant");
}

#[test]
fn introspection_calls_a_rotated_refresh_token_or_a_disabled_persons_inactive() {
    let h = H::new();
    let first = h.connected_by_post().refresh_token.unwrap();
    let ask = |token: &str| {
        let list = [
            ("client_id", "post"),
            ("client_secret", "p0st"),
            ("token", token),
        ];
        block_on(h.grants().introspect(&form(&list), None))
            .unwrap()
            .to_json()["active"]
            == true
    };
    assert!(ask(&first));
    let next = h
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "post"),
                ("client_secret", "p0st"),
                ("refresh_token", &first),
            ],
            None,
        )
        .unwrap()
        .refresh_token
        .unwrap();
    assert!(!ask(&first));
    assert!(ask(&next));
    h.store.users.borrow_mut().insert(
        "u1".into(),
        User {
            disabled_at: Some(1),
            sessions_after_ms: 0,
            roles: Vec::new(),
        },
    );
    assert!(!ask(&next));
}

#[test]
fn a_retry_whose_successor_row_is_gone_is_reuse() {
    // The cron deleted the successor (it expired after an operator shortened the
    // lifetime): nothing says it is unused, so presenting its predecessor again revokes
    // the family rather than handing out a token.
    let h = H::new();
    let old = h.connected().refresh_token.unwrap();
    let next = h.refresh("app", &old).unwrap().refresh_token.unwrap();
    h.store.forget(&secret_hash(&next));
    assert_eq!(code_of(h.refresh("app", &old)), "invalid_grant");
    assert_eq!(h.events().last(), Some(&Event::RefreshReuse));
}

#[path = "tests_scopes.rs"]
mod scopes;

#[test]
fn the_doctor_hears_where_each_exchange_stopped() {
    use crate::doctor::{attempt_key, Attempt, Step};
    let h = H::new();
    let challenge = b64url(&crate::encoding::sha256(VERIFIER.as_bytes()));
    let attempt = Attempt::Key(attempt_key("app", &challenge));
    // A wrong verifier: the attempt its authorization began stops at /token, by name.
    let code = h.code("app", "u1");
    let wrong = [
        ("grant_type", "authorization_code"),
        ("client_id", "app"),
        ("code", code.as_str()),
        (
            "code_verifier",
            "another-verifier-of-at-least-forty-three-chars",
        ),
    ];
    assert_eq!(code_of(h.token(&wrong, None)), "invalid_grant");
    // Then the right one: reached, with the grant it made.
    let issued = h.redeem("app", &code).unwrap();
    let grant = grant_of(&h, &issued);
    // A refresh belongs to that grant's attempt; a token never issued to an attempt of
    // the client's own.
    h.refresh("app", issued.refresh_token.as_deref().unwrap())
        .unwrap();
    assert_eq!(code_of(h.refresh("app", "never-issued")), "invalid_grant");
    // A wrong secret: the confidential client is known, so the doctor hears why.
    let bad = [
        ("grant_type", "authorization_code"),
        ("client_id", "post"),
        ("client_secret", "s3cr3t-guess"),
        ("code", "x"),
        ("code_verifier", VERIFIER),
    ];
    assert_eq!(code_of(h.token(&bad, None)), "invalid_client");
    let marks = h.world.marks.borrow().clone();
    let seen: Vec<(String, Attempt, Step, bool)> = marks
        .iter()
        .map(|m| {
            (
                m.client_id.clone(),
                m.attempt.clone(),
                m.step,
                m.stopped.is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("app".into(), attempt.clone(), Step::Token, true),
            ("app".into(), attempt, Step::Token, false),
            (
                "app".into(),
                Attempt::Grant(grant.clone()),
                Step::Refresh,
                false
            ),
            (
                "app".into(),
                Attempt::Key(attempt_key("app", "refresh")),
                Step::Refresh,
                true
            ),
            (
                "post".into(),
                Attempt::Key(attempt_key("post", "client-authentication")),
                Step::Token,
                true
            ),
        ]
    );
    // What this server issued proves the request; a made-up token or a wrong secret not.
    assert_eq!(
        marks.iter().map(|m| m.proven).collect::<Vec<_>>(),
        [true, true, true, false, false]
    );
    let cause = |i: usize| marks[i].stopped.clone().unwrap_or_default();
    assert!(cause(0).starts_with("PKCE failed"), "{}", cause(0));
    assert_eq!(marks[1].grant_id.as_deref(), Some(grant.as_str()));
    assert_eq!(marks[1].user_id.as_deref(), Some("u1"));
    assert!(cause(4).contains("client secret is wrong"), "{}", cause(4));
    // No mark holds the code, a token or a secret.
    let text = format!("{marks:?}");
    for secret in [
        code.as_str(),
        issued.access_token.as_str(),
        "s3cr3t-guess",
        VERIFIER,
    ] {
        assert!(!text.contains(secret), "{secret}");
    }
}

#[path = "tests_assertion.rs"]
mod assertion;
