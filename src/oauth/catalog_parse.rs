//! Reads `SCOPES` (a JSON object) into a `Catalog`, refusing every mistake by the path of
//! the value at fault: a scope named twice or spelled against RFC 6749 §3.3, a protocol
//! scope declared again, a role the setting does not declare, an implication cycle, a
//! mapping to an undeclared scope, and any key it does not know (a typo must not go
//! unnoticed: `"role"` for `"roles"` would otherwise give everyone an admin scope).

use super::{is_role_name, is_scope_name, Catalog, Mapping, Need, ScopeDef, ADMIN};
use crate::config::ConfigError;
use crate::oauth::scope::PROTOCOL;
use crate::util::text::truncate;
use serde_json::{Map, Value};

const MAX_SCOPES: usize = 64;
const MAX_ROLES: usize = 64;
const MAX_MAPPINGS: usize = 256;
const MAX_WORDS: usize = 200;

fn err(setting: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.into(),
        message: message.into(),
    }
}

fn only_keys(obj: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), ConfigError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(err(
            format!("{at}.{}", truncate(k, 40)),
            format!("is not a known key (known: {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn strings(v: &Value, at: &str) -> Result<Vec<String>, ConfigError> {
    let list = v
        .as_array()
        .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect())
        .ok_or_else(|| err(at, "must be an array of strings"));
    list
}

pub(super) fn catalog(text: &str) -> Result<Catalog, ConfigError> {
    let root =
        crate::json::parse(text.as_bytes()).map_err(|e| err("SCOPES", format!("not JSON: {e}")))?;
    let Value::Object(obj) = root else {
        return Err(err(
            "SCOPES",
            "must be a JSON object with a \"scopes\" array",
        ));
    };
    only_keys(
        &obj,
        &[
            "roles",
            "scopes",
            "read",
            "write",
            "tools",
            "resources",
            "prompts",
        ],
        "SCOPES",
    )?;
    let roles = roles(obj.get("roles"))?;
    let Some(Value::Array(items)) = obj.get("scopes") else {
        return Err(err("SCOPES.scopes", "must be an array of scopes"));
    };
    if items.is_empty() || items.len() > MAX_SCOPES {
        return Err(err("SCOPES.scopes", "must declare 1 to 64 scopes"));
    }
    let mut scopes: Vec<ScopeDef> = Vec::new();
    let mut direct: Vec<Vec<String>> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("SCOPES.scopes[{i}]");
        let (def, implies) = scope(item, &at, &roles)?;
        if scopes.iter().any(|d| d.name == def.name) {
            return Err(err(
                format!("{at}.name"),
                "names a scope declared before it",
            ));
        }
        scopes.push(def);
        direct.push(implies);
    }
    for (i, implies) in direct.iter().enumerate() {
        if let Some(unknown) = implies
            .iter()
            .find(|s| !scopes.iter().any(|d| &d.name == *s))
        {
            return Err(err(
                format!("SCOPES.scopes[{i}].implies"),
                format!("names '{}', which is not declared", truncate(unknown, 64)),
            ));
        }
    }
    let closures = closures(&scopes, &direct)?;
    for (def, closure) in scopes.iter_mut().zip(closures) {
        def.implies = closure;
    }
    no_wider_through_implication(&scopes)?;
    if !scopes.iter().any(|d| d.default) {
        return Err(err(
            "SCOPES.scopes",
            "no scope has \"default\": true, so a request naming no scope (ChatGPT's \
             reconnect) could be granted nothing",
        ));
    }
    let mut catalog = Catalog {
        read: String::new(),
        write: String::new(),
        tools: Vec::new(),
        resources: Vec::new(),
        prompts: Vec::new(),
        fingerprint: 0,
        scopes,
        roles,
    };
    catalog.read = fallback(&catalog, obj.get("read"), "read", "mcp:read")?;
    catalog.write = fallback(&catalog, obj.get("write"), "write", "mcp:write")?;
    catalog.tools = mapping(&catalog, obj.get("tools"), "SCOPES.tools")?;
    catalog.resources = mapping(&catalog, obj.get("resources"), "SCOPES.resources")?;
    catalog.prompts = mapping(&catalog, obj.get("prompts"), "SCOPES.prompts")?;
    Ok(catalog)
}

fn roles(v: Option<&Value>) -> Result<Vec<String>, ConfigError> {
    let mut roles = vec![ADMIN.to_string()];
    let Some(v) = v else {
        return Ok(roles);
    };
    let listed = strings(v, "SCOPES.roles")?;
    if listed.len() > MAX_ROLES {
        return Err(err("SCOPES.roles", "at most 64 roles"));
    }
    for (i, r) in listed.into_iter().enumerate() {
        if !is_role_name(&r) {
            return Err(err(
                format!("SCOPES.roles[{i}]"),
                "a role is 1 to 64 letters, digits and _ . : -",
            ));
        }
        if r != ADMIN && roles.contains(&r) {
            return Err(err(format!("SCOPES.roles[{i}]"), "is named twice"));
        }
        if !roles.contains(&r) {
            roles.push(r);
        }
    }
    Ok(roles)
}

fn scope(item: &Value, at: &str, roles: &[String]) -> Result<(ScopeDef, Vec<String>), ConfigError> {
    let Value::Object(obj) = item else {
        return Err(err(at, "must be an object with a name and a description"));
    };
    only_keys(
        obj,
        &["name", "description", "default", "roles", "implies"],
        at,
    )?;
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| err(format!("{at}.name"), "is required"))?;
    if !is_scope_name(name) {
        return Err(err(
            format!("{at}.name"),
            "a scope is 1 to 64 printable ASCII characters without spaces, quotes or \
             backslashes (RFC 6749 §3.3)",
        ));
    }
    if PROTOCOL.contains(&name) {
        return Err(err(
            format!("{at}.name"),
            format!("'{name}' is a protocol scope, always known; declare only your own"),
        ));
    }
    let words = obj
        .get("description")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            err(
                format!("{at}.description"),
                "is required: the words a person reads",
            )
        })?;
    if words.chars().count() > MAX_WORDS || words.chars().any(char::is_control) {
        return Err(err(
            format!("{at}.description"),
            "at most 200 characters, without control characters",
        ));
    }
    let default = match obj.get("default") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err(format!("{at}.default"), "must be true or false")),
    };
    let allowed = match obj.get("roles") {
        None => None,
        Some(v) => {
            let list = strings(v, &format!("{at}.roles"))?;
            if list.is_empty() {
                return Err(err(
                    format!("{at}.roles"),
                    "is empty, so no one could hold the scope; leave it out to let everyone",
                ));
            }
            if let Some(r) = list.iter().find(|r| !roles.contains(r)) {
                return Err(err(
                    format!("{at}.roles"),
                    format!(
                        "names the role '{}', which SCOPES.roles does not declare",
                        truncate(r, 64)
                    ),
                ));
            }
            Some(list)
        }
    };
    let implies = match obj.get("implies") {
        None => Vec::new(),
        Some(v) => strings(v, &format!("{at}.implies"))?,
    };
    let def = ScopeDef {
        name: name.to_string(),
        words: Some(words.to_string()),
        default,
        roles: allowed,
        implies: Vec::new(),
    };
    Ok((def, implies))
}

/// Each scope's transitive implications; a scope that implies itself is a cycle.
fn closures(scopes: &[ScopeDef], direct: &[Vec<String>]) -> Result<Vec<Vec<String>>, ConfigError> {
    let index = |name: &String| scopes.iter().position(|d| &d.name == name);
    let next = |i: usize| -> Vec<usize> {
        direct
            .get(i)
            .map(|d| d.iter().filter_map(index).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for (i, def) in scopes.iter().enumerate() {
        let mut seen: Vec<usize> = Vec::new();
        let mut todo = next(i);
        while let Some(j) = todo.pop() {
            if j == i {
                return Err(err(
                    format!("SCOPES.scopes[{i}].implies"),
                    format!("'{}' implies itself through a cycle", def.name),
                ));
            }
            if !seen.contains(&j) {
                seen.push(j);
                todo.extend(next(j));
            }
        }
        seen.sort_unstable();
        out.push(
            seen.into_iter()
                .filter_map(|j| scopes.get(j).map(|d| d.name.clone()))
                .collect(),
        );
    }
    Ok(out)
}

/// A scope that implies a restricted one must be restricted to those roles too: holding
/// it passes every check of what it implies, so `mcp:write` implying an admins-only
/// `mcp:manage` would otherwise give everyone with `mcp:write` the administrators' scope.
fn no_wider_through_implication(scopes: &[ScopeDef]) -> Result<(), ConfigError> {
    for (i, def) in scopes.iter().enumerate() {
        for implied in &def.implies {
            let Some(limit) = scopes
                .iter()
                .find(|d| &d.name == implied)
                .and_then(|d| d.roles.as_ref())
            else {
                continue;
            };
            let within = def
                .roles
                .as_ref()
                .is_some_and(|mine| mine.iter().all(|r| limit.contains(r)));
            if !within {
                return Err(err(
                    format!("SCOPES.scopes[{i}].implies"),
                    format!(
                        "'{}' implies '{implied}', which only the roles {} may hold: give '{}' \
                         those roles (or fewer) too",
                        def.name,
                        limit.join(", "),
                        def.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `read` or `write`: as named, else the built-in scope of that name when declared.
fn fallback(
    catalog: &Catalog,
    v: Option<&Value>,
    key: &str,
    builtin: &str,
) -> Result<String, ConfigError> {
    let at = format!("SCOPES.{key}");
    let name = match v {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(err(at, "must be a scope's name")),
        None if catalog.is_resource_scope(builtin) => builtin,
        None => {
            return Err(err(
                at,
                format!(
                    "is required when {builtin} is not declared: the scope a tool needs \
                     when no mapping names one"
                ),
            ))
        }
    };
    if !catalog.is_resource_scope(name) {
        return Err(err(
            at,
            format!("names '{}', which is not declared", truncate(name, 64)),
        ));
    }
    Ok(name.to_string())
}

/// A map of globs to what matching names need.
pub(crate) fn mapping(
    catalog: &Catalog,
    v: Option<&Value>,
    at: &str,
) -> Result<Mapping, ConfigError> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = v else {
        return Err(err(at, "must map names or globs to scopes"));
    };
    if map.len() > MAX_MAPPINGS {
        return Err(err(at, "at most 256 entries"));
    }
    let mut out = Vec::new();
    for (glob, value) in map {
        let here = format!("{at}.{}", truncate(glob, 64));
        if glob.is_empty() || glob.len() > 256 {
            return Err(err(here, "a name or glob is 1 to 256 characters"));
        }
        let need = need(value).map_err(|m| err(&here, m))?;
        catalog.check_need(&need).map_err(|m| err(&here, m))?;
        out.push((glob.clone(), need));
    }
    Ok(out)
}

/// A scope's name, `{"any_of": [...]}` or `{"all_of": [...]}`.
pub(crate) fn need(v: &Value) -> Result<Need, String> {
    const SHAPE: &str = "must be a scope, {\"any_of\": [scopes]} or {\"all_of\": [scopes]}";
    let list = |v: &Value| -> Result<Vec<String>, String> {
        let l: Option<Vec<String>> = v
            .as_array()
            .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect());
        l.filter(|l| !l.is_empty() && l.len() <= 16)
            .ok_or_else(|| format!("{SHAPE}, with 1 to 16 scopes"))
    };
    match v {
        Value::String(s) => Ok(Need::one(s)),
        Value::Object(m) if m.len() == 1 => match (m.get("any_of"), m.get("all_of")) {
            (Some(l), None) => Ok(Need::AnyOf(list(l)?)),
            (None, Some(l)) => Ok(Need::AllOf(list(l)?)),
            _ => Err(SHAPE.into()),
        },
        _ => Err(SHAPE.into()),
    }
}
