//! Grants and their refresh-token families, behind one trait whose contract the token
//! endpoint relies on. D1 implements it at the edge (`http::grants`), `memory::Grants` in
//! native tests; `oauth::grant::tests` runs the same contract against the memory double,
//! and the end-to-end suite (`tests/oauth-rules.test.mjs`) against D1.

use crate::store::StoreError;
use serde::Deserialize;

/// A refresh token as `/token`, `/revoke` and `/introspect` read it.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RefreshRow {
    pub token_hash: String,
    pub grant_id: String,
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub expires_at: u64,
    pub rotated_at: Option<u64>,
    pub successor_hash: Option<String>,
    pub revoked_at: Option<u64>,
    /// From the grant: its resource, when the person signed in for it, and whether it
    /// was revoked.
    pub resource: String,
    #[serde(default)]
    pub auth_time: Option<u64>,
    pub grant_revoked_at: Option<u64>,
    /// When the successor (if any) was itself rotated, i.e. first used.
    pub successor_rotated_at: Option<u64>,
    /// The successor's own row, as found (its hash): `None` with a `successor_hash` means
    /// the row is gone (the cron deleted it), so nothing says it is unused.
    #[serde(default)]
    pub successor_found: Option<String>,
    /// A disabled account's refresh tokens stop working.
    pub user_disabled_at: Option<u64>,
    /// The person's roles now, comma separated (`None`: none), read with the token so a
    /// refresh narrows to what they may still hold without another query.
    #[serde(default)]
    pub roles: Option<String>,
}

impl RefreshRow {
    pub fn roles(&self) -> Vec<&str> {
        self.roles
            .as_deref()
            .map(|r| r.split(',').filter(|r| !r.is_empty()).collect())
            .unwrap_or_default()
    }
}

/// A grant to create when a code is redeemed.
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub resource: &'a str,
    pub redirect_uri: &'a str,
    pub code_hash: &'a str,
    /// When the code was issued, in milliseconds: a grant of the same person and client
    /// revoked since then (Disconnect on the account page, a replayed code) or a disabled
    /// account refuses the code. Milliseconds, so a revocation and a new sign-in within
    /// one second keep their order.
    pub code_issued_ms: u64,
    /// When the person signed in for it (OpenID Connect's `auth_time`).
    pub auth_time: Option<u64>,
}

/// A refresh token row to insert.
pub struct NewRefresh<'a> {
    pub token_hash: &'a str,
    pub grant_id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub expires_at: u64,
}

/// What redeeming a code did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// This caller redeemed it: the grant (and its first refresh token) now exist.
    First,
    /// It was redeemed before; this is the grant that redemption created.
    Replayed { grant_id: String },
    /// Never redeemed, and its authorization no longer stands (see `redeem_code`).
    Withdrawn,
}

/// The grants' storage. Times are Unix seconds unless the name says milliseconds.
#[allow(async_fn_in_trait)]
pub trait GrantStore {
    /// Redeems a code for exactly one caller: creates the grant and its first refresh
    /// token only if no grant was ever created from this code hash and its authorization
    /// still stands (the person is not disabled, their sessions were not ended after
    /// `code_issued_ms`, and no grant of theirs for this client was revoked since then:
    /// a code approved with a stolen session dies with it). Every later call answers
    /// `Replayed` with the first call's grant.
    async fn redeem_code(
        &self,
        grant: &NewGrant<'_>,
        refresh: Option<&NewRefresh<'_>>,
        now: u64,
    ) -> Result<Redeemed, StoreError>;

    /// The refresh token stored under this hash, with its grant's and successor's state.
    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRow>, StoreError>;

    /// Rotates for exactly one caller: marks the token used with `successor` as its
    /// successor and stores the successor, only if it was neither rotated nor revoked,
    /// and records that refresh in the audit log (`Event::Refresh`) in the same
    /// transaction (one round trip, where a separate audit insert cost a refresh 0.12 ms
    /// of CPU). `false` for every other caller, with nothing recorded; a retry then reads
    /// the same successor hash through `refresh_token`, so the caller can decide whether
    /// it is within grace.
    async fn rotate(
        &self,
        old_hash: &str,
        successor: &NewRefresh<'_>,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Revokes the family: the grant and every refresh token of it at once (idempotent);
    /// access tokens of the grant stop at `/mcp` within a minute.
    async fn revoke_grant(&self, grant_id: &str, now_ms: u64) -> Result<(), StoreError>;

    /// Whether a grant is revoked, or unknown (strongly consistent).
    async fn grant_revoked(&self, grant_id: &str) -> Result<bool, StoreError>;
}
