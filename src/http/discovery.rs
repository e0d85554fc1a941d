//! `GET` handlers for the discovery documents and the JWKS.

use crate::http::Ctx;
use crate::oauth::catalog::Catalog;
use crate::oauth::id_token::IdAlg;
use crate::oauth::metadata::{self, ClientIntake};
use crate::reply::Reply;
use serde_json::Value;
use std::rc::Rc;

/// Metadata changes only with a deployment, so clients may cache it for an hour.
fn document(value: &Value) -> Reply {
    Reply::json(200, value).header("Cache-Control", "public, max-age=3600")
}

/// The scopes metadata lists. With a broken `SCOPES` (logged), only the protocol scopes:
/// nothing else can be granted until it is fixed.
fn catalog(ctx: &Ctx) -> Rc<Catalog> {
    ctx.scopes()
        .unwrap_or_else(|_| Rc::new(Catalog::protocol_only()))
}

pub fn authorization_server(ctx: &Ctx) -> Reply {
    document(&metadata::authorization_server(
        &ctx.issuer,
        ClientIntake::of(&ctx.config),
        &catalog(ctx),
    ))
}

pub fn openid_configuration(ctx: &Ctx) -> Reply {
    let algs: &[IdAlg] = match ctx.rsa {
        Some(_) => &IdAlg::ALL,
        None => &[IdAlg::EdDsa],
    };
    document(&metadata::openid_configuration(
        &ctx.issuer,
        ClientIntake::of(&ctx.config),
        &catalog(ctx),
        algs,
    ))
}

pub fn protected_resource(ctx: &Ctx) -> Reply {
    document(&metadata::protected_resource(
        &ctx.issuer,
        &ctx.config.product_name,
        &catalog(ctx),
    ))
}

/// The JWKS with the RSA keys of ID tokens beside the Ed25519 ones.
fn with_rsa(mut jwks: Value, ctx: &Ctx) -> Value {
    if let (Some(rsa), Some(keys)) = (&ctx.rsa, jwks.get_mut("keys").and_then(Value::as_array_mut))
    {
        keys.extend(rsa.published.iter().cloned());
    }
    jwks
}

/// The public keys. Cached briefly: after a rotation, verifiers must see the new key soon.
pub fn jwks(ctx: &Ctx) -> Reply {
    match ctx.keys() {
        Ok(keys) => Reply::json(200, &with_rsa(keys.jwks(), ctx))
            .set_header("Content-Type", "application/jwk-set+json")
            .header("Cache-Control", "public, max-age=300"),
        Err(reply) => reply,
    }
}
