//! Roles from a sign-in provider (`SIGNIN_PROVIDERS[].roles`): which of the provider's
//! values (an OpenID claim's entries, GitHub organisations and teams, the operator app's
//! `roles`) make which roles here. Only mapped values count: a provider can never name a
//! role directly, so a group someone creates at the provider gives nothing here until the
//! operator maps it. Read again at every sign-in through that provider, and re-checked at
//! refresh where the provider can be asked without the person (GitHub); elsewhere they
//! lapse after `max_age_seconds` until the person signs in again.

use crate::config::ConfigError;
use crate::util::text::truncate;
use serde_json::{Map, Value};

/// How long roles from a provider that cannot be asked again at refresh are trusted
/// without a new sign-in, by default: a day.
pub const DEFAULT_MAX_AGE: u64 = 86_400;
const MAX_ENTRIES: usize = 64;
const MAX_GITHUB_ENTRIES: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleMap {
    /// The OpenID claim read (`groups` unless named): an array of strings, or one string.
    pub claim: String,
    /// The provider's value and the role it gives, in the operator's order.
    pub map: Vec<(String, String)>,
    /// Seconds the roles hold without a new sign-in (not for GitHub, asked at refresh).
    pub max_age: u64,
}

impl RoleMap {
    /// The roles the provider's values give, each once, in name order.
    pub fn roles_for(&self, values: &[String]) -> Vec<String> {
        let mut roles: Vec<String> = self
            .map
            .iter()
            .filter(|(value, _)| values.contains(value))
            .map(|(_, role)| role.clone())
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// A claim's entries: an array's strings, or a single string (some providers send
    /// one group as a string). Anything else is no value.
    pub fn claim_values(&self, claims: &Map<String, Value>) -> Vec<String> {
        values(claims.get(&self.claim))
    }
}

/// An array's strings (at most 1,024), or a single string; anything else is none.
pub fn values(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .take(1024)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads `roles`: `{"claim"?: name, "map": {value: role}, "max_age_seconds"?: n}`.
/// `is_role` says which roles `SCOPES` knows; `github` whether values are `org` or
/// `org/team`.
pub fn parse(
    v: &Value,
    at: &dyn Fn(&str) -> String,
    is_role: &dyn Fn(&str) -> bool,
    github: bool,
) -> Result<RoleMap, ConfigError> {
    let err = |key: &str, message: String| ConfigError {
        setting: at(key),
        message,
    };
    let Value::Object(obj) = v else {
        return Err(err("roles", "must be an object with a \"map\"".into()));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["claim", "map", "max_age_seconds"].contains(&k.as_str()))
    {
        return Err(err(
            &format!("roles.{}", truncate(k, 40)),
            "is not a setting of roles (claim, map, max_age_seconds)".into(),
        ));
    }
    let claim = match obj.get("claim") {
        None => "groups".to_string(),
        Some(Value::String(c)) if !c.is_empty() && c.len() <= 64 && !github => c.clone(),
        Some(_) if github => {
            return Err(err(
                "roles.claim",
                "is for OpenID providers; GitHub's values are orgs and org/team".into(),
            ))
        }
        Some(_) => return Err(err("roles.claim", "must be a claim's name".into())),
    };
    let Some(Value::Object(entries)) = obj.get("map") else {
        return Err(err(
            "roles.map",
            "is required: the provider's values and the roles they give".into(),
        ));
    };
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        return Err(err("roles.map", "must map 1 to 64 values to roles".into()));
    }
    // Each GitHub entry is one API call at every sign-in and refresh (answers cached).
    if github && entries.len() > MAX_GITHUB_ENTRIES {
        return Err(err(
            "roles.map",
            "at most 16 GitHub orgs and teams: each is asked at every sign-in and refresh".into(),
        ));
    }
    let mut map = Vec::new();
    for (value, role) in entries {
        let here = format!("roles.map.{}", truncate(value, 64));
        let Some(role) = role.as_str() else {
            return Err(err(&here, "must name a role".into()));
        };
        if !is_role(role) {
            return Err(err(
                &here,
                format!(
                    "names the role '{}', which SCOPES does not declare",
                    truncate(role, 64)
                ),
            ));
        }
        if github && !github_target(value) {
            return Err(err(
                &here,
                "must be an organisation or organisation/team".into(),
            ));
        }
        if value.is_empty() || value.len() > 256 {
            return Err(err(&here, "a value is 1 to 256 characters".into()));
        }
        map.push((value.clone(), role.to_string()));
    }
    let max_age = match obj.get("max_age_seconds") {
        None => DEFAULT_MAX_AGE,
        Some(v) => v
            .as_u64()
            .filter(|n| (300..=30 * 86_400).contains(n))
            .ok_or_else(|| {
                err(
                    "roles.max_age_seconds",
                    "must be a number of seconds from 300 to 2592000 (30 days)".into(),
                )
            })?,
    };
    Ok(RoleMap {
        claim,
        map,
        max_age,
    })
}

/// `org` or `org/team`, in GitHub's name syntax (a letter or digit first, so never `.`
/// or `..` in an API path).
fn github_target(value: &str) -> bool {
    let ok = |s: &str| {
        s.len() <= 100
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    };
    match value.split_once('/') {
        Some((org, team)) => ok(org) && ok(team),
        None => ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(k: &str) -> String {
        format!("SIGNIN_PROVIDERS[0].{k}")
    }

    fn known(r: &str) -> bool {
        ["admin", "staff"].contains(&r)
    }

    #[test]
    fn only_mapped_values_give_roles() {
        let m = parse(
            &json!({"map": {"mcp-admins": "admin", "people": "staff", "ops": "staff"}}),
            &at,
            &known,
            false,
        )
        .unwrap();
        assert_eq!(m.claim, "groups");
        assert_eq!(m.max_age, DEFAULT_MAX_AGE);
        let claims = json!({"groups": ["ops", "people", "mcp-admins-not", "admin"]});
        let values = m.claim_values(claims.as_object().unwrap());
        // "admin" at the provider is not a role here: only the map speaks.
        assert_eq!(m.roles_for(&values), ["staff"]);
        let one = json!({"groups": "mcp-admins"});
        assert_eq!(
            m.roles_for(&m.claim_values(one.as_object().unwrap())),
            ["admin"]
        );
        let odd = json!({"groups": {"x": 1}});
        assert!(m.claim_values(odd.as_object().unwrap()).is_empty());
    }

    #[test]
    fn mistakes_name_their_place() {
        for (v, github, setting, says) in [
            (json!([]), false, "SIGNIN_PROVIDERS[0].roles", "object"),
            (
                json!({"maps": {}}),
                false,
                "SIGNIN_PROVIDERS[0].roles.maps",
                "not a setting",
            ),
            (
                json!({"claim": "g"}),
                false,
                "SIGNIN_PROVIDERS[0].roles.map",
                "required",
            ),
            (
                json!({"map": {"x": "boss"}}),
                false,
                "SIGNIN_PROVIDERS[0].roles.map.x",
                "boss",
            ),
            (
                json!({"map": {"x": 1}}),
                false,
                "SIGNIN_PROVIDERS[0].roles.map.x",
                "name a role",
            ),
            (
                json!({"map": {}}),
                false,
                "SIGNIN_PROVIDERS[0].roles.map",
                "1 to 64",
            ),
            (
                json!({"claim": "g", "map": {"acme": "admin"}}),
                true,
                "SIGNIN_PROVIDERS[0].roles.claim",
                "GitHub",
            ),
            (
                json!({"map": {"acme/a/b": "admin"}}),
                true,
                "SIGNIN_PROVIDERS[0].roles.map.acme/a/b",
                "organisation",
            ),
            (
                json!({"map": {"x": "admin"}, "max_age_seconds": 5}),
                false,
                "SIGNIN_PROVIDERS[0].roles.max_age_seconds",
                "300",
            ),
        ] {
            let e = parse(&v, &at, &known, github).unwrap_err();
            assert_eq!(e.setting, setting, "{v}");
            assert!(e.message.contains(says), "{v}: {e}");
        }
        let gh = parse(
            &json!({"map": {"acme": "staff", "acme/admins": "admin"}}),
            &at,
            &known,
            true,
        );
        assert_eq!(gh.unwrap().map.len(), 2);
    }
}
