//! Discovery documents: authorization-server metadata (RFC 8414), its OpenID Connect
//! Discovery twin, and protected-resource metadata for `/mcp` (RFC 9728).

use crate::oauth::catalog::Catalog;
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
        "token_endpoint_auth_methods_supported": names(AuthMethod::ALL, AuthMethod::as_str),
        "revocation_endpoint_auth_methods_supported": names(AuthMethod::ALL, AuthMethod::as_str),
        "introspection_endpoint_auth_methods_supported": names(AuthMethod::with_secret(), AuthMethod::as_str),
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": intake.metadata_documents,
    });
    if !intake.registration {
        if let Some(d) = doc.as_object_mut() {
            d.remove("registration_endpoint");
        }
    }
    doc
}

/// OpenID Provider metadata: the same endpoints, plus the userinfo claims this server
/// returns. No ID tokens are issued, so none of the id_token fields are claimed.
pub fn openid_configuration(issuer: &str, intake: ClientIntake, catalog: &Catalog) -> Value {
    let mut doc = authorization_server(issuer, intake, catalog);
    crate::json::set(&mut doc, "subject_types_supported", json!(["public"]));
    crate::json::set(
        &mut doc,
        "claims_supported",
        json!(["sub", "name", "email"]),
    );
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
            openid_configuration(iss, OPEN, &Catalog::default())["issuer"],
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
    fn resource_scopes_exclude_offline_access() {
        let prm = protected_resource("https://a.example", "x", &Catalog::default());
        assert_eq!(prm["scopes_supported"], json!(["mcp:read", "mcp:write"]));
    }
}
