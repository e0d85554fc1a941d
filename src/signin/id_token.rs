//! An OpenID Connect ID token as this Worker checks it (OIDC Core §3.1.3.7): the JWS's
//! parts, the key in the provider's JWKS that must have signed it, and its claims. The
//! signature itself is checked at the edge with WebCrypto; everything else is here, free of
//! `worker` types, so each rule has its native test.

use crate::oauth::jws::JwsError;
use serde_json::Value;

pub use crate::oauth::jws::{select_key, Alg, Jws};

/// Why an ID token was refused; logged, and the person sees "could not be verified".
#[derive(Debug, PartialEq, Eq)]
pub enum IdTokenError {
    Malformed(&'static str),
    Algorithm(String),
    NoKey,
    Signature,
    Claim(&'static str),
}

impl std::fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdTokenError::Malformed(why) => write!(f, "the ID token is malformed: {why}"),
            IdTokenError::Algorithm(alg) => write!(
                f,
                "the ID token is signed with {}, not RS256 or ES256",
                crate::util::text::truncate(alg, 20)
            ),
            IdTokenError::NoKey => {
                f.write_str("no key in the provider's JWKS matches the ID token")
            }
            IdTokenError::Signature => f.write_str("the ID token's signature does not verify"),
            IdTokenError::Claim(why) => write!(f, "the ID token's {why}"),
        }
    }
}

/// The algorithms an ID token may be signed with: what providers sign with (RS256 is
/// OIDC's default, ES256 the common alternative). `none` and HMAC are never accepted.
const ID_TOKEN_ALGS: [Alg; 2] = [Alg::Rs256, Alg::Es256];

/// An ID token's parts, when it is a JWS signed with RS256 or ES256.
pub fn split(token: &str) -> Result<Jws, IdTokenError> {
    crate::oauth::jws::split(token, &ID_TOKEN_ALGS).map_err(|e| match e {
        JwsError::Malformed(why) => IdTokenError::Malformed(why),
        JwsError::Algorithm(alg) => IdTokenError::Algorithm(alg),
    })
}

/// What the sign-in needs from a verified ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClaims {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub hd: Option<String>,
}

pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: u64,
}

/// Clock skew allowed between this Worker and the provider.
const SKEW: u64 = 120;
/// An ID token issued longer ago than this is not one just issued for this sign-in.
const MAX_AGE: u64 = 600;

pub fn check_claims(
    claims: &serde_json::Map<String, Value>,
    want: &Expected,
) -> Result<IdClaims, IdTokenError> {
    let s = |name: &str| claims.get(name).and_then(Value::as_str);
    let n = |name: &str| claims.get(name).and_then(Value::as_u64);
    if s("iss") != Some(want.issuer) {
        return Err(IdTokenError::Claim("issuer (iss) is not the provider's"));
    }
    // `aud` is the client id or an array holding it; with several audiences `azp` must
    // name this client (OIDC Core §3.1.3.7 items 3 to 5).
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&want.client_id) {
        return Err(IdTokenError::Claim(
            "audience (aud) is not this Worker's client id",
        ));
    }
    if (audiences.len() > 1 || claims.contains_key("azp")) && s("azp") != Some(want.client_id) {
        return Err(IdTokenError::Claim(
            "authorized party (azp) is not this Worker's client id",
        ));
    }
    let exp = n("exp").ok_or(IdTokenError::Claim("expiry (exp) is missing"))?;
    if exp.saturating_add(SKEW) <= want.now {
        return Err(IdTokenError::Claim("expiry (exp) has passed"));
    }
    let iat = n("iat").ok_or(IdTokenError::Claim("issue time (iat) is missing"))?;
    if iat > want.now + SKEW || iat.saturating_add(MAX_AGE + SKEW) < want.now {
        return Err(IdTokenError::Claim("issue time (iat) is not now"));
    }
    // RFC 7519 §4.1.5: not to be accepted before `nbf` (optional; one that is not a
    // number is refused rather than ignored).
    if claims.contains_key("nbf") {
        match n("nbf") {
            Some(nbf) if nbf <= want.now + SKEW => {}
            Some(_) => return Err(IdTokenError::Claim("not valid yet (nbf)")),
            None => return Err(IdTokenError::Claim("nbf is not a number")),
        }
    }
    match s("nonce") {
        Some(nonce)
            if crate::encoding::constant_time_eq(nonce.as_bytes(), want.nonce.as_bytes()) => {}
        _ => return Err(IdTokenError::Claim("nonce is not this sign-in's")),
    }
    let sub = s("sub")
        .filter(|v| !v.is_empty() && v.len() <= 255)
        .ok_or(IdTokenError::Claim("subject (sub) is missing or too long"))?;
    // Some providers (Cognito) send the boolean as a string.
    let email_verified = matches!(claims.get("email_verified"), Some(Value::Bool(true)))
        || s("email_verified") == Some("true");
    Ok(IdClaims {
        sub: sub.to_string(),
        email: s("email").filter(|e| e.len() <= 254).map(str::to_string),
        email_verified,
        name: s("name").map(|v| crate::util::text::truncate(v, 100).to_string()),
        hd: s("hd").map(str::to_ascii_lowercase),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64url;
    use serde_json::json;

    fn token(header: Value, claims: Value) -> String {
        format!(
            "{}.{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes()),
            b64url(b"sig")
        )
    }

    fn good() -> Value {
        json!({"iss":"https://idp.example","aud":"mcp","sub":"u1","exp":2000,"iat":1000,
               "nonce":"n1","email":"a@example.com","email_verified":true,"hd":"Example.com"})
    }

    fn want() -> Expected<'static> {
        Expected {
            issuer: "https://idp.example",
            client_id: "mcp",
            nonce: "n1",
            now: 1010,
        }
    }

    #[test]
    fn splits_only_accepted_algorithms() {
        let t = token(json!({"alg":"RS256","kid":"k1"}), good());
        let jws = split(&t).unwrap();
        assert_eq!((jws.alg, jws.kid.as_deref()), (Alg::Rs256, Some("k1")));
        assert_eq!(jws.signature, b"sig");
        for alg in ["none", "HS256", "PS256"] {
            let t = token(json!({ "alg": alg }), good());
            assert!(
                matches!(split(&t), Err(IdTokenError::Algorithm(_))),
                "{alg}"
            );
        }
        let crit = token(json!({"alg":"ES256","crit":["x"]}), good());
        assert!(split(&crit).is_err());
        assert!(split("a.b").is_err());
        assert!(split(&format!("{t}.x", t = token(json!({"alg":"RS256"}), good()))).is_err());
    }

    #[test]
    fn every_claim_rule_refuses() {
        let ok = check_claims(good().as_object().unwrap(), &want()).unwrap();
        assert_eq!(ok.sub, "u1");
        assert!(ok.email_verified);
        assert_eq!(ok.hd.as_deref(), Some("example.com"));
        let bad = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            let mut c = good().as_object().unwrap().clone();
            change(&mut c);
            check_claims(&c, &want()).is_err()
        };
        assert!(bad(&|c| {
            c.insert("iss".into(), json!("https://evil.example"));
        }));
        assert!(bad(&|c| {
            c.insert("aud".into(), json!("other"));
        }));
        assert!(bad(&|c| {
            c.insert("aud".into(), json!(["mcp", "other"]));
        }));
        assert!(!bad(&|c| {
            c.insert("aud".into(), json!(["mcp", "other"]));
            c.insert("azp".into(), json!("mcp"));
        }));
        assert!(bad(&|c| {
            c.insert("azp".into(), json!("other"));
        }));
        assert!(bad(&|c| {
            c.insert("exp".into(), json!(800));
        }));
        assert!(bad(&|c| {
            c.remove("exp");
        }));
        assert!(bad(&|c| {
            c.insert("iat".into(), json!(5000));
        }));
        assert!(bad(&|c| {
            c.insert("iat".into(), json!(100));
        }));
        assert!(bad(&|c| {
            c.insert("nbf".into(), json!(5000));
        }));
        assert!(bad(&|c| {
            c.insert("nbf".into(), json!("soon"));
        }));
        assert!(!bad(&|c| {
            c.insert("nbf".into(), json!(1000));
        }));
        assert!(bad(&|c| {
            c.insert("nonce".into(), json!("n2"));
        }));
        assert!(bad(&|c| {
            c.remove("nonce");
        }));
        assert!(bad(&|c| {
            c.insert("sub".into(), json!(""));
        }));
        let mut c = good().as_object().unwrap().clone();
        c.insert("email_verified".into(), json!(false));
        assert!(!check_claims(&c, &want()).unwrap().email_verified);
        c.insert("email_verified".into(), json!("true"));
        assert!(check_claims(&c, &want()).unwrap().email_verified);
    }

    #[test]
    fn keys_are_chosen_by_kid_and_type() {
        // A 2048-bit modulus; a shorter one is no key (`jws::Alg::fits`).
        let n = crate::encoding::b64url(&[0xc5u8; 256]);
        let jwks = json!({"keys":[
            {"kty":"RSA","kid":"r1","n":n,"e":"AQAB"},
            {"kty":"EC","crv":"P-256","kid":"e1","x":"x","y":"y"},
            {"kty":"RSA","kid":"enc","use":"enc","n":n,"e":"AQAB"},
            {"kty":"RSA","kid":"weak","n":crate::encoding::b64url(&[0xc5u8; 128]),"e":"AQAB"}
        ]});
        let kid = |k: Option<&Value>| k.and_then(|k| k["kid"].as_str()).map(str::to_string);
        assert_eq!(
            kid(select_key(&jwks, Alg::Rs256, Some("r1"))).as_deref(),
            Some("r1")
        );
        assert_eq!(
            kid(select_key(&jwks, Alg::Es256, Some("e1"))).as_deref(),
            Some("e1")
        );
        assert_eq!(select_key(&jwks, Alg::Es256, Some("r1")), None);
        assert_eq!(select_key(&jwks, Alg::Rs256, Some("enc")), None);
        assert_eq!(select_key(&jwks, Alg::Rs256, Some("nope")), None);
        assert_eq!(
            select_key(&jwks, Alg::Rs256, Some("weak")),
            None,
            "1024 bits"
        );
        // Without a kid only an unambiguous key is used.
        assert_eq!(
            kid(select_key(&jwks, Alg::Rs256, None)).as_deref(),
            Some("r1")
        );
        let two = json!({"keys":[{"kty":"RSA","kid":"a"},{"kty":"RSA","kid":"b"}]});
        assert_eq!(select_key(&two, Alg::Rs256, None), None);
    }
}
