//! The OpenID Connect and GitHub round trips as data: the provider's discovery document,
//! the URL a person is sent to, the token request and what comes back. The edge does the
//! fetching; these functions decide what is sent and what an answer means.

use crate::config::check_url;
use crate::signin::config::{Kind, Provider};
use serde_json::Value;
use url::form_urlencoded::Serializer;

/// What this Worker uses of a provider's discovery document (OIDC Discovery §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// RFC 9207: the provider sends `iss` with every authorization response, so one
    /// without it (or with another) did not come from this provider.
    pub sends_iss: bool,
    pub basic_auth: bool,
}

/// Reads a discovery document fetched from `issuer`: it must name exactly that issuer
/// (OIDC Discovery §4.3, the defence against a document served for another) and its
/// endpoints must be https like the issuer (http only on loopback, for local tests).
pub fn discovery(issuer: &str, doc: &Value) -> Result<Discovery, String> {
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err("the discovery document names another issuer".into());
    }
    let endpoint = |name: &str| -> Result<String, String> {
        let v = doc
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the discovery document has no {name}"))?;
        check_url(v).map_err(|e| format!("{name} {e}"))?;
        // An https issuer's endpoints are https too: never a loopback http service, which
        // would receive the client secret.
        if issuer.starts_with("https://") && !v.starts_with("https://") {
            return Err(format!("{name} is not https like the issuer"));
        }
        Ok(v.to_string())
    };
    let methods: Vec<&str> = doc
        .get("token_endpoint_auth_methods_supported")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // OIDC Discovery: absent means client_secret_basic.
    let basic_auth = methods.is_empty() || methods.contains(&"client_secret_basic");
    if !basic_auth && !methods.contains(&"client_secret_post") {
        return Err(
            "the provider accepts neither client_secret_basic nor client_secret_post".into(),
        );
    }
    if let Some(m) = doc
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array)
    {
        if !m.iter().any(|v| v.as_str() == Some("S256")) {
            return Err("the provider does not support PKCE with S256".into());
        }
    }
    Ok(Discovery {
        authorization_endpoint: endpoint("authorization_endpoint")?,
        token_endpoint: endpoint("token_endpoint")?,
        jwks_uri: endpoint("jwks_uri")?,
        sends_iss: doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        basic_auth,
    })
}

/// What a pending sign-in sends the person with.
pub struct Outgoing<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub code_challenge: &'a str,
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = match url::Url::parse(base) {
        Ok(u) => u,
        Err(_) => return base.to_string(),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// The URL a person is sent to at an OIDC provider (`endpoint`, from discovery) or at
/// GitHub. The authorization endpoint may carry its own query; ours is appended.
pub fn authorization_url(p: &Provider, endpoint: &str, out: &Outgoing) -> String {
    let scope = p.scopes.join(" ");
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", p.client_id.as_str()),
        ("redirect_uri", out.redirect_uri),
        ("scope", scope.as_str()),
        ("state", out.state),
        ("code_challenge", out.code_challenge),
        ("code_challenge_method", "S256"),
    ];
    if matches!(p.kind, Kind::Oidc { .. }) {
        pairs.push(("nonce", out.nonce));
    }
    // Google's hint for one Workspace domain; the hd claim is what is checked.
    let hd = p
        .allow
        .as_ref()
        .filter(|a| a.hosted_domains.len() == 1)
        .and_then(|a| a.hosted_domains.first().cloned());
    if let Some(hd) = &hd {
        pairs.push(("hd", hd));
    }
    with_query(endpoint, &pairs)
}

/// The hand-off's URL at the operator's app: its login URL with the pending request's id.
pub fn handoff_url(login_url: &str, request: &str) -> String {
    with_query(login_url, &[("mcp_request", request)])
}

/// The token request's form body; the client authenticates in the body only when the
/// provider does not take HTTP Basic (`basic`).
pub fn token_request(
    p: &Provider,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    secret: &str,
    basic: bool,
) -> String {
    let mut f = Serializer::new(String::new());
    f.append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier);
    if !basic {
        f.append_pair("client_id", &p.client_id)
            .append_pair("client_secret", secret);
    }
    f.finish()
}

/// The `Authorization` header of client_secret_basic: both parts form-encoded first
/// (RFC 6749 §2.3.1), which providers that follow the RFC decode.
pub fn basic_auth(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| Serializer::new(String::new()).append_key_only(s).finish();
    let pair = format!("{}:{}", enc(client_id), enc(secret));
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
    )
}

/// A token endpoint's answer: the token wanted (`id_token` for OIDC, `access_token` for
/// GitHub), or the provider's error code. GitHub answers errors with 200 and a JSON
/// `error`, so the body decides, not only the status.
pub fn token_answer(status: u16, body: &[u8], wanted: &str) -> Result<String, String> {
    let doc = crate::json::parse(body)
        .map_err(|_| format!("the token endpoint answered {status} without JSON"))?;
    if let Some(e) = doc.get("error").and_then(Value::as_str) {
        return Err(format!(
            "the token endpoint refused the code: {}",
            crate::util::text::truncate(e, 60)
        ));
    }
    if status != 200 {
        return Err(format!("the token endpoint answered {status}"));
    }
    doc.get(wanted)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("the token endpoint's answer has no {wanted}"))
}

/// The person GitHub's `/user` describes. The numeric id is the identity; the login can
/// change and is kept only to ask about memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubUser {
    pub id: String,
    pub login: String,
    pub name: Option<String>,
}

pub fn github_user(doc: &Value) -> Result<GitHubUser, String> {
    let id = doc
        .get("id")
        .and_then(Value::as_u64)
        .ok_or("GitHub's /user has no numeric id")?;
    let login = doc
        .get("login")
        .and_then(Value::as_str)
        .filter(|l| {
            !l.is_empty()
                && l.len() <= 100
                // Enterprise Managed Users' logins end in `_<shortcode>`.
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or("GitHub's /user has no usable login")?;
    Ok(GitHubUser {
        id: id.to_string(),
        login: login.to_string(),
        name: doc
            .get("name")
            .and_then(Value::as_str)
            .map(|n| crate::util::text::truncate(n, 100).to_string()),
    })
}

/// The primary address of GitHub's `/user/emails`, when it is verified; an unverified or
/// secondary address is never taken as the person's.
pub fn github_primary_email(doc: &Value) -> Option<String> {
    doc.as_array()?
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .filter(|e| e.get("verified").and_then(Value::as_bool) == Some(true))
        .and_then(|e| e.get("email").and_then(Value::as_str))
        .filter(|e| e.len() <= 254 && e.contains('@'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"issuer":"https://idp.example","authorization_endpoint":"https://idp.example/auth?tenant=1",
               "token_endpoint":"https://idp.example/token","jwks_uri":"https://idp.example/jwks",
               "authorization_response_iss_parameter_supported":true,
               "token_endpoint_auth_methods_supported":["client_secret_post"],
               "code_challenge_methods_supported":["S256"]})
    }

    #[test]
    fn discovery_must_be_the_issuers_own() {
        let d = discovery("https://idp.example", &doc()).unwrap();
        assert!(d.sends_iss && !d.basic_auth);
        assert!(discovery("https://other.example", &doc()).is_err());
        let mut http = doc();
        http["token_endpoint"] = json!("http://idp.example/token");
        assert!(discovery("https://idp.example", &http).is_err());
        http["token_endpoint"] = json!("http://127.0.0.1:9000/token");
        assert!(discovery("https://idp.example", &http).is_err());
        let mut plain = doc();
        plain["code_challenge_methods_supported"] = json!(["plain"]);
        assert!(discovery("https://idp.example", &plain).is_err());
        let mut jwt = doc();
        jwt["token_endpoint_auth_methods_supported"] = json!(["private_key_jwt"]);
        assert!(discovery("https://idp.example", &jwt).is_err());
        let mut none = doc();
        none.as_object_mut()
            .unwrap()
            .remove("token_endpoint_auth_methods_supported");
        assert!(discovery("https://idp.example", &none).unwrap().basic_auth);
    }

    #[test]
    fn urls_carry_state_nonce_and_pkce() {
        let p = crate::signin::config::parse(
            Some(r#"[{"id":"g","type":"google","client_id":"c 1","client_secret":{"secret":"S"},"allow":{"hosted_domains":["example.com"]}}]"#),
            &crate::signin::config::Environment {
                secret_len: &|_| Some(40),
                is_role: &|r| r == "admin",
            },
        )
        .unwrap()
        .remove(0);
        let out = Outgoing {
            redirect_uri: "https://w.example/signin/callback/g",
            state: "st",
            nonce: "no",
            code_challenge: "ch",
        };
        let u = url::Url::parse(&authorization_url(
            &p,
            "https://idp.example/auth?tenant=1",
            &out,
        ))
        .unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["tenant"], "1");
        assert_eq!(q["client_id"], "c 1");
        assert_eq!(q["state"], "st");
        assert_eq!(q["nonce"], "no");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["hd"], "example.com");
        assert_eq!(q["scope"], "openid email profile");
        assert_eq!(
            handoff_url("https://app.example/login?next=1", "r1"),
            "https://app.example/login?next=1&mcp_request=r1"
        );
        assert_eq!(
            basic_auth("a:b", "s c"),
            format!("Basic {}", {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode("a%3Ab:s+c")
            })
        );
    }

    #[test]
    fn token_answers_and_github_shapes() {
        assert_eq!(
            token_answer(200, br#"{"id_token":"x.y.z"}"#, "id_token").unwrap(),
            "x.y.z"
        );
        assert!(
            token_answer(200, br#"{"error":"bad_verification_code"}"#, "access_token")
                .unwrap_err()
                .contains("bad_verification_code")
        );
        assert!(token_answer(500, b"oops", "id_token").is_err());
        assert!(token_answer(200, br#"{"access_token":"t"}"#, "id_token").is_err());
        let u = github_user(&json!({"id": 42, "login": "octo-cat", "name": "Octo"})).unwrap();
        assert_eq!((u.id.as_str(), u.login.as_str()), ("42", "octo-cat"));
        assert!(github_user(&json!({"id": "42", "login": "x"})).is_err());
        assert!(github_user(&json!({"id": 1, "login": "../orgs"})).is_err());
        assert!(github_user(&json!({"id": 1, "login": "octocat_acme"})).is_ok());
        let emails = json!([{"email":"x@a.example","primary":false,"verified":true},{"email":"p@a.example","primary":true,"verified":true}]);
        assert_eq!(
            github_primary_email(&emails).as_deref(),
            Some("p@a.example")
        );
        let unverified = json!([{"email":"p@a.example","primary":true,"verified":false}]);
        assert_eq!(github_primary_email(&unverified), None);
    }
}
