//! jwt-compact (with ed25519-compact) against our compact JWS: it verifies every kind of
//! token this Worker signs (access tokens, user assertions to upstreams), and signs
//! tokens that our verifier must accept or refuse.

use crate::encoding::b64url;
use crate::gateway::assertion::{self, UserAssertion};
use crate::oauth::access_token::{self, AccessClaims, TokenError};
use crate::oauth::ed25519::{block_on, Native};
use crate::oauth::keys::KeySet;
use jwt_compact::alg::{Ed25519, Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, Token, UntrustedToken};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "https://as.example";
const AUDIENCE: &str = "https://as.example/mcp";

fn keys(seed: u8) -> KeySet {
    block_on(KeySet::load(&Native, Some(&b64url(&[seed; 32])), None)).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// jwt-compact's keys for our seed.
fn their_keys(seed: u8) -> (ed25519_compact::SecretKey, ed25519_compact::PublicKey) {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32]));
    (pair.sk, pair.pk)
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Access {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
    jti: String,
    gid: String,
}

fn claims() -> AccessClaims {
    AccessClaims {
        iss: ISSUER.into(),
        sub: "u1".into(),
        aud: AUDIENCE.into(),
        client_id: "c1".into(),
        scope: "mcp:read".into(),
        jti: String::new(),
        gid: "g1".into(),
        roles: Vec::new(),
    }
}

#[test]
fn jwt_compact_verifies_our_access_tokens() {
    let k = keys(3);
    let token = block_on(access_token::issue(&Native, &k, claims(), now(), 3600)).unwrap();
    let untrusted = UntrustedToken::new(&token).unwrap();
    assert_eq!(untrusted.header().token_type.as_deref(), Some("at+jwt"));
    assert_eq!(untrusted.header().key_id.as_deref(), Some(k.kid.as_str()));
    assert_eq!(untrusted.algorithm(), "EdDSA");
    let (_, pk) = their_keys(3);
    let verified: Token<Access> = Ed25519.validator(&pk).validate(&untrusted).unwrap();
    let c = verified.claims();
    c.validate_expiration(&TimeOptions::default()).unwrap();
    assert_eq!(c.custom.sub, "u1");
    assert_eq!(c.custom.aud, AUDIENCE);
    assert_eq!(c.custom.gid, "g1");
    assert!(!c.custom.jti.is_empty());
    // Another key's public half refuses it.
    let (_, other) = their_keys(4);
    assert!(Ed25519
        .validator::<Access>(&other)
        .validate(&untrusted)
        .is_err());
}

#[test]
fn jwt_compact_verifies_our_user_assertions() {
    let k = keys(5);
    let t = now();
    let a = UserAssertion {
        iss: ISSUER.into(),
        aud: "https://upstream.example/mcp".into(),
        sub: "u1".into(),
        email: Some("ann@example.com".into()),
        client_id: "c1".into(),
        scope: "mcp:read".into(),
        roles: vec!["admin".into(), "staff".into()],
        iat: t,
        exp: t + assertion::LIFETIME_SECONDS,
        jti: "j1".into(),
    };
    let token = block_on(assertion::sign(&Native, &k, &a)).unwrap();
    let untrusted = UntrustedToken::new(&token).unwrap();
    assert_eq!(
        untrusted.header().token_type.as_deref(),
        Some(assertion::TYP)
    );
    #[derive(Deserialize)]
    struct Seen {
        aud: String,
        email: Option<String>,
        roles: Vec<String>,
    }
    let (_, pk) = their_keys(5);
    let v: Token<Seen> = Ed25519.validator(&pk).validate(&untrusted).unwrap();
    v.claims()
        .validate_expiration(&TimeOptions::default())
        .unwrap();
    assert_eq!(v.claims().custom.aud, "https://upstream.example/mcp");
    assert_eq!(v.claims().custom.email.as_deref(), Some("ann@example.com"));
    assert_eq!(v.claims().custom.roles, ["admin", "staff"]);
}

/// A token jwt-compact signs with our key: `typ`, `kid` and lifetime as given.
fn theirs(seed: u8, typ: &str, kid: &str, from: i64, seconds: i64) -> String {
    let (sk, _) = their_keys(seed);
    let header = Header::empty().with_token_type(typ).with_key_id(kid);
    let start = chrono::DateTime::from_timestamp(from, 0).unwrap();
    let mut c = Claims::new(claims_for_them());
    c.issued_at = Some(start);
    c.expiration = Some(start + chrono::Duration::seconds(seconds));
    Ed25519.token(&header, &c, &sk).unwrap()
}

fn claims_for_them() -> Access {
    let c = claims();
    Access {
        iss: c.iss,
        sub: c.sub,
        aud: c.aud,
        client_id: c.client_id,
        scope: c.scope,
        jti: "j".into(),
        gid: c.gid,
    }
}

fn ours(k: &KeySet, token: &str) -> Result<access_token::Verified, TokenError> {
    block_on(access_token::verify(
        &Native,
        k,
        token,
        ISSUER,
        AUDIENCE,
        now(),
    ))
}

#[test]
fn our_verifier_accepts_what_jwt_compact_signs_right_and_refuses_the_rest() {
    let k = keys(7);
    let t = now() as i64;
    let good = theirs(7, "at+jwt", &k.kid, t, 600);
    let v = ours(&k, &good).unwrap();
    assert_eq!((v.claims.sub.as_str(), v.claims.gid.as_str()), ("u1", "g1"));
    // Signed by another key under our kid; another kid; another type; expired; not yet.
    assert_eq!(
        ours(&k, &theirs(8, "at+jwt", &k.kid, t, 600)).unwrap_err(),
        TokenError::BadSignature
    );
    assert_eq!(
        ours(&k, &theirs(7, "at+jwt", "other", t, 600)).unwrap_err(),
        TokenError::UnknownKey
    );
    assert_eq!(
        ours(&k, &theirs(7, "JWT", &k.kid, t, 600)).unwrap_err(),
        TokenError::WrongType
    );
    assert_eq!(
        ours(&k, &theirs(7, "at+jwt", &k.kid, t - 7200, 600)).unwrap_err(),
        TokenError::Expired
    );
    assert_eq!(
        ours(&k, &theirs(7, "at+jwt", &k.kid, t + 3600, 600)).unwrap_err(),
        TokenError::NotYetValid
    );
    // HS256 keyed with our public key (algorithm confusion): refused.
    let public = k.verifying_key(&k.kid).unwrap().public;
    let header = Header::empty()
        .with_token_type("at+jwt")
        .with_key_id(&k.kid);
    let mut c = Claims::new(claims_for_them());
    c.expiration = chrono::DateTime::from_timestamp(t + 600, 0);
    let confused = Hs256.token(&header, &c, &Hs256Key::new(public)).unwrap();
    assert_eq!(ours(&k, &confused).unwrap_err(), TokenError::BadSignature);
}
