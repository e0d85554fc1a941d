//! Any OpenID Connect provider (Google among them): discovery (OIDC Discovery §4), the
//! code flow with PKCE and a nonce, the token request by the provider's client
//! authentication method, and the ID token checked by signature and claims (OIDC Core
//! §3.1.3.7), with RFC 9207's mix-up defence.

use super::{provider_fetch, returned_code, secret, wrong_flow, Answer, SignIn, ANSWER_LIMIT};
use crate::signin::config::Provider;
use crate::signin::failure::Failure;
use crate::signin::id_token::{self, Expected, IdTokenError};
use crate::signin::oidc::{self, Discovery, Outgoing};
use crate::signin::policy::{clean_email, clean_name, Claimed};
use crate::signin::reach::{Outbound, Reach};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

const DISCOVERY_SECONDS: u64 = 3600;
const JWKS_SECONDS: u64 = 3600;
/// An unknown `kid` refetches the JWKS (the provider rotated its keys), at most this often
/// per provider, so tokens with made-up kids cannot make this Worker hammer the provider.
const JWKS_REFETCH_SECONDS: u64 = 60;
/// Providers whose documents are kept (see `crate::isolate`).
const CACHED_PROVIDERS: usize = 10;

thread_local! {
    /// By issuer: the document and when it was fetched.
    static DISCOVERED: RefCell<Vec<(String, Discovery, u64)>> = const { RefCell::new(Vec::new()) };
    /// By JWKS URL: the key set and when it was fetched.
    static KEYSETS: RefCell<Vec<(String, Rc<Value>, u64)>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `value` for `key`, replacing an older one; the oldest goes past the bound.
fn remember<T>(list: &mut Vec<(String, T, u64)>, key: &str, value: T, now: u64) {
    list.retain(|(k, _, _)| k != key);
    if list.len() >= CACHED_PROVIDERS {
        list.remove(0);
    }
    list.push((key.to_string(), value, now));
}

pub struct OpenId<'a> {
    pub p: &'a Provider,
    pub issuer: &'a str,
}

impl SignIn for OpenId<'_> {
    async fn start(
        &self,
        reach: &impl Reach,
        out: &Outgoing<'_>,
    ) -> Result<Option<String>, Failure> {
        let d = discovered(reach, self.issuer, self.p.timeout_ms).await?;
        Ok(Some(oidc::authorization_url(
            self.p,
            &d.authorization_endpoint,
            out,
        )))
    }

    async fn person(&self, reach: &impl Reach, answer: Answer<'_>) -> Result<Claimed, Failure> {
        let Answer::Callback {
            query,
            verifier,
            nonce,
            redirect_uri,
        } = answer
        else {
            return Err(wrong_flow());
        };
        let (p, issuer) = (self.p, self.issuer);
        let d = discovered(reach, issuer, p.timeout_ms).await?;
        check_iss(query, issuer, &d)?;
        let code = returned_code(query)?;
        let client_secret = secret(reach, p.client_secret.as_ref())?;
        let use_basic = p.token_auth_basic.unwrap_or(d.basic_auth);
        let body = oidc::token_request(p, code, redirect_uri, verifier, &client_secret, use_basic);
        let basic = oidc::basic_auth(&p.client_id, &client_secret);
        let mut headers = vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
        ];
        if use_basic {
            headers.push(("Authorization", basic.as_str()));
        }
        let answer = provider_fetch(
            reach,
            p,
            "POST",
            &d.token_endpoint,
            &headers,
            Some(body.as_bytes()),
        )
        .await?;
        let token =
            oidc::token_answer(answer.status, &answer.body, "id_token").map_err(Failure::Failed)?;
        let jws = id_token::split(&token).map_err(|e| Failure::Failed(e.to_string()))?;
        let key = jwks_key(reach, &d.jwks_uri, &jws, p.timeout_ms).await?;
        if !reach
            .verify_jwk(jws.alg, &key, &jws.signing_input, &jws.signature)
            .await
        {
            return Err(Failure::Failed(IdTokenError::Signature.to_string()));
        }
        let expected = Expected {
            issuer,
            client_id: &p.client_id,
            nonce,
            now: reach.now(),
        };
        let claims = id_token::check_claims(&jws.claims, &expected)
            .map_err(|e| Failure::Failed(e.to_string()))?;
        let email = claims.email.as_deref().and_then(clean_email);
        let verified = claims.email_verified || p.emails_verified;
        Ok(Claimed {
            subject: claims.sub,
            unverified_email: email.is_some() && !verified,
            verified_email: email.filter(|_| verified),
            name: claims.name.as_deref().and_then(clean_name),
            hosted_domain: claims.hd,
            login: None,
            roles: p
                .roles
                .as_ref()
                .map(|m| m.roles_for(&m.claim_values(&jws.claims))),
        })
    }
}

/// RFC 9207: an authorization response from another issuer (a mix-up) is refused, also
/// when it is an error.
fn check_iss(query: &[(String, String)], issuer: &str, d: &Discovery) -> Result<(), Failure> {
    match query
        .iter()
        .find(|(k, _)| k == "iss")
        .map(|(_, v)| v.as_str())
    {
        Some(iss) if iss != issuer => Err(Failure::Failed(
            "the response's iss is another issuer (RFC 9207)".into(),
        )),
        None if d.sends_iss => Err(Failure::Failed(
            "the response has no iss, which this provider sends (RFC 9207)".into(),
        )),
        _ => Ok(()),
    }
}

async fn fetch_json(
    reach: &impl Reach,
    url: &str,
    timeout_ms: u64,
    what: &str,
) -> Result<Value, Failure> {
    let request = Outbound {
        method: "GET",
        url,
        headers: &[("Accept", "application/json")],
        body: None,
        timeout_ms,
        limit: ANSWER_LIMIT,
    };
    let f = reach
        .fetch(request)
        .await
        .map_err(|e| Failure::Unavailable(format!("{what}: {e}")))?;
    if f.status != 200 {
        return Err(Failure::Unavailable(format!(
            "{what} answered {}",
            f.status
        )));
    }
    crate::json::parse(&f.body).map_err(|_| Failure::Failed(format!("{what} is not JSON")))
}

/// The provider's discovery document, cached per isolate for an hour.
async fn discovered(
    reach: &impl Reach,
    issuer: &str,
    timeout_ms: u64,
) -> Result<Discovery, Failure> {
    let now = reach.now();
    let hit = DISCOVERED.with(|c| {
        let c = c.borrow();
        c.iter()
            .find(|(i, _, at)| i == issuer && at + DISCOVERY_SECONDS > now)
            .map(|(_, d, _)| d.clone())
    });
    if let Some(d) = hit {
        return Ok(d);
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc = fetch_json(reach, &url, timeout_ms, "the discovery document").await?;
    let d = oidc::discovery(issuer, &doc).map_err(Failure::Failed)?;
    DISCOVERED.with(|c| remember(&mut c.borrow_mut(), issuer, d.clone(), now));
    Ok(d)
}

/// The key that must have signed `jws`, from the provider's JWKS (cached per isolate; an
/// unknown `kid` refetches it, at most once a minute).
async fn jwks_key(
    reach: &impl Reach,
    uri: &str,
    jws: &id_token::Jws,
    timeout_ms: u64,
) -> Result<Value, Failure> {
    let now = reach.now();
    let cached = KEYSETS.with(|c| {
        let c = c.borrow();
        c.iter()
            .find(|(u, _, at)| u == uri && at + JWKS_SECONDS > now)
            .map(|(_, k, at)| (k.clone(), *at))
    });
    let no_key = || Failure::Failed(IdTokenError::NoKey.to_string());
    if let Some((jwks, at)) = &cached {
        if let Some(k) = id_token::select_key(jwks, jws.alg, jws.kid.as_deref()) {
            return Ok(k.clone());
        }
        if at + JWKS_REFETCH_SECONDS > now {
            return Err(no_key());
        }
    }
    let jwks = Rc::new(fetch_json(reach, uri, timeout_ms, "the provider's JWKS").await?);
    KEYSETS.with(|c| remember(&mut c.borrow_mut(), uri, jwks.clone(), now));
    id_token::select_key(&jwks, jws.alg, jws.kid.as_deref())
        .cloned()
        .ok_or_else(no_key)
}
