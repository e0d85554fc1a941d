//! Discovery documents: authorization-server metadata (RFC 8414), its OpenID Connect
//! Discovery twin, and protected-resource metadata for `/mcp` (RFC 9728).

use crate::oauth::catalog::Catalog;
use crate::oauth::id_token::IdAlg;
use crate::oauth::kinds::{names, AuthMethod, GrantType, ResponseType};
use serde_json::{json, Value};

/// The MCP resource identifier (RFC 8707) for an issuer: its `/mcp` endpoint.
pub fn mcp_resource(issuer: &str) -> String {
    format!("{issuer}/mcp")
}

/// Where clients find protected-resource metadata, named in every 401 challenge.
pub fn resource_metadata_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/oauth-protected-resource/mcp")
}

/// How clients may come to be known here, which the metadata advertises.
#[derive(Clone, Copy, Debug)]
pub struct ClientIntake {
    /// Dynamic client registration (`DYNAMIC_REGISTRATION`); when off, no
    /// `registration_endpoint` is advertised.
    pub registration: bool,
    /// Client ID metadata documents (`CLIENT_METADATA_DOCUMENTS`).
    pub metadata_documents: bool,
}

impl ClientIntake {
    /// The names of `methods` clients can use here: `private_key_jwt` only where metadata
    /// documents (which publish the keys) are on.
    fn auth_methods(self, methods: impl Iterator<Item = AuthMethod>) -> Value {
        json!(methods
            .filter(|m| *m != AuthMethod::PrivateKeyJwt || self.metadata_documents)
            .map(AuthMethod::as_str)
            .collect::<Vec<_>>())
    }

    pub fn of(config: &crate::config::Config) -> ClientIntake {
        ClientIntake {
            registration: config.dynamic_registration,
            metadata_documents: config.metadata_documents,
        }
    }
}

pub fn authorization_server(issuer: &str, intake: ClientIntake, catalog: &Catalog) -> Value {
    let scopes = catalog.all_scopes();
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "scopes_supported": scopes,
        "response_types_supported": names(ResponseType::ALL, ResponseType::as_str),
        "response_modes_supported": ["query"],
        "grant_types_supported": names(GrantType::ALL, GrantType::as_str),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": intake.auth_methods(AuthMethod::ALL.into_iter()),
        "revocation_endpoint_auth_methods_supported": intake.auth_methods(AuthMethod::ALL.into_iter()),
        "introspection_endpoint_auth_methods_supported": intake.auth_methods(AuthMethod::confidential()),
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": intake.metadata_documents,
    });
    if intake.metadata_documents {
        // What `private_key_jwt` assertions may be signed with (RFC 8414 §2). `none` stays
        // listed beside it: clients choose a metadata document only when it is.
        let algs: Vec<&str> = crate::oauth::client_assertion::ALGS
            .iter()
            .map(|a| a.name())
            .collect();
        for endpoint in ["token", "revocation", "introspection"] {
            let key = format!("{endpoint}_endpoint_auth_signing_alg_values_supported");
            crate::json::set(&mut doc, &key, json!(algs));
        }
    }
    if !intake.registration {
        if let Some(d) = doc.as_object_mut() {
            d.remove("registration_endpoint");
        }
    }
    doc
}

/// OpenID Provider metadata (OpenID Connect Discovery 1.0 §3): the same endpoints, every
/// required member, and the ID token algorithms (`id_algs`: RS256 first when its key is
/// configured, and EdDSA).
pub fn openid_configuration(
    issuer: &str,
    intake: ClientIntake,
    catalog: &Catalog,
    id_algs: &[IdAlg],
) -> Value {
    let mut doc = authorization_server(issuer, intake, catalog);
    let algs: Vec<&str> = id_algs.iter().map(|a| a.as_str()).collect();
    let set = |doc: &mut Value, k: &str, v: Value| crate::json::set(doc, k, v);
    set(&mut doc, "subject_types_supported", json!(["public"]));
    set(
        &mut doc,
        "id_token_signing_alg_values_supported",
        json!(algs),
    );
    set(
        &mut doc,
        "userinfo_signing_alg_values_supported",
        json!(["none"]),
    );
    set(
        &mut doc,
        "claims_supported",
        json!([
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "azp",
            "at_hash",
            "name",
            "email",
            "email_verified"
        ]),
    );
    set(
        &mut doc,
        "prompt_values_supported",
        json!(["none", "login", "consent", "select_account"]),
    );
    set(&mut doc, "claims_parameter_supported", json!(false));
    set(&mut doc, "request_parameter_supported", json!(false));
    set(&mut doc, "request_uri_parameter_supported", json!(false));
    doc
}

/// The resource's scopes only: `offline_access` and the OpenID scopes are the
/// authorization server's business (MCP 2026-07-28, protected-resource metadata).
pub fn protected_resource(issuer: &str, resource_name: &str, catalog: &Catalog) -> Value {
    json!({
        "resource": mcp_resource(issuer),
        "authorization_servers": [issuer],
        "scopes_supported": catalog.resource_scopes(),
        "bearer_methods_supported": ["header"],
        "resource_name": resource_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: ClientIntake = ClientIntake {
        registration: true,
        metadata_documents: true,
    };

    #[test]
    fn issuer_is_identical_everywhere() {
        let iss = "https://mcp.example.com";
        let doc = authorization_server(iss, OPEN, &Catalog::default());
        assert_eq!(doc["issuer"], iss);
        assert_eq!(
            openid_configuration(iss, OPEN, &Catalog::default(), &IdAlg::ALL)["issuer"],
            iss
        );
        assert_eq!(
            doc["registration_endpoint"],
            "https://mcp.example.com/register"
        );
        assert!(authorization_server(
            iss,
            ClientIntake {
                registration: false,
                ..OPEN
            },
            &Catalog::default()
        )
        .get("registration_endpoint")
        .is_none());
        assert_eq!(
            protected_resource(iss, "x", &Catalog::default())["authorization_servers"][0],
            iss
        );
        assert_eq!(
            protected_resource(iss, "x", &Catalog::default())["resource"],
            "https://mcp.example.com/mcp"
        );
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    }

    #[test]
    fn the_openid_document_has_every_required_member() {
        let doc = openid_configuration("https://a.example", OPEN, &Catalog::default(), &IdAlg::ALL);
        // OpenID Connect Discovery 1.0 §3, REQUIRED.
        for member in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ] {
            assert!(doc.get(member).is_some(), "{member}");
        }
        assert_eq!(doc["id_token_signing_alg_values_supported"][0], "RS256");
        let scopes = doc["scopes_supported"].as_array().unwrap();
        assert!(scopes.iter().any(|s| s == "openid"));
    }

    #[test]
    fn resource_scopes_exclude_offline_access() {
        let prm = protected_resource("https://a.example", "x", &Catalog::default());
        assert_eq!(prm["scopes_supported"], json!(["mcp:read", "mcp:write"]));
    }
}
