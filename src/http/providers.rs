//! The configured sign-in providers (`SIGNIN_PROVIDERS`), read once per isolate: the
//! pages list their buttons, the sign-in routes find them by id. A leaf of the edge.

use super::Ctx;
use crate::config::ConfigError;
use crate::signin::config::{self as provider_config, Provider};
use std::cell::OnceCell;
use std::rc::Rc;
use worker::console_error;

pub type Providers = Rc<Result<Vec<Provider>, ConfigError>>;

thread_local! {
    static PROVIDERS: OnceCell<Providers> = const { OnceCell::new() };
}

/// The configured providers (checked once per isolate; a mistake is logged once and no
/// provider is offered until it is fixed).
pub fn providers(ctx: &Ctx) -> Providers {
    PROVIDERS.with(|cell| {
        cell.get_or_init(|| {
            let catalog = crate::http::ctx::catalog(&ctx.config).ok();
            let env = provider_config::Environment {
                secret_len: &|name| ctx.env.secret(name).ok().map(|s| s.to_string().len()),
                // With a broken SCOPES (logged where it is read) only admin is known.
                is_role: &|role| match &catalog {
                    Some(c) => c.is_role(role),
                    None => role == crate::oauth::catalog::ADMIN,
                },
            };
            let parsed = provider_config::parse(ctx.config.signin_providers.as_deref(), &env);
            if let Err(e) = &parsed {
                console_error!(
                    "sign-in providers not configured: {e}; none is offered until it is fixed"
                );
            }
            Rc::new(parsed)
        })
        .clone()
    })
}

pub fn list(all: &Providers) -> &[Provider] {
    match all.as_ref() {
        Ok(v) => v,
        Err(_) => &[],
    }
}
