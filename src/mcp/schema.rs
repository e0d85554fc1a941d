//! Checks tool arguments against the tools' own input schemas. Only the JSON Schema
//! keywords those schemas use are understood (`type` object/string/integer/array,
//! `properties`, `required`, `additionalProperties: false`, `minLength`, `maxLength`,
//! `items`, `maxItems`, `minimum`, `maximum`); a schema using anything else is a bug
//! caught by the tests of `tools`. The message names the argument and the rule, because
//! a model reads it and tries again.

use serde_json::Value;

/// `Ok` when `value` satisfies `schema`, else what is wrong with the argument.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "arguments")
}

fn check(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    match schema["type"].as_str() {
        Some("object") => check_object(schema, value, at),
        Some("string") => {
            let Some(s) = value.as_str() else {
                return Err(format!("{at} must be a string"));
            };
            let chars = s.chars().count() as u64;
            if let Some(min) = schema["minLength"].as_u64() {
                if chars < min {
                    return Err(if min == 1 {
                        format!("{at} must not be empty")
                    } else {
                        format!("{at} must be at least {min} characters")
                    });
                }
            }
            if let Some(max) = schema["maxLength"].as_u64() {
                if chars > max {
                    return Err(format!("{at} must be at most {max} characters"));
                }
            }
            Ok(())
        }
        Some("integer") => {
            let Some(n) = value.as_i64() else {
                return Err(format!("{at} must be an integer"));
            };
            if schema["minimum"].as_i64().is_some_and(|m| n < m) {
                return Err(format!("{at} must be at least {}", schema["minimum"]));
            }
            if schema["maximum"].as_i64().is_some_and(|m| n > m) {
                return Err(format!("{at} must be at most {}", schema["maximum"]));
            }
            Ok(())
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                return Err(format!("{at} must be an array"));
            };
            if let Some(max) = schema["maxItems"].as_u64() {
                if items.len() as u64 > max {
                    return Err(format!("{at} must have at most {max} items"));
                }
            }
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_object(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let Some(obj) = value.as_object() else {
        return Err(format!("{at} must be an object"));
    };
    let properties = schema["properties"].as_object();
    for name in schema["required"].as_array().into_iter().flatten() {
        if let Some(name) = name.as_str() {
            if !obj.contains_key(name) {
                return Err(format!("{} is required", path(at, name)));
            }
        }
    }
    for (name, v) in obj {
        match properties.and_then(|p| p.get(name)) {
            Some(prop) => check(prop, v, &path(at, name))?,
            None if schema["additionalProperties"] == Value::Bool(false) => {
                let known: Vec<&str> = properties
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                return Err(format!(
                    "unknown argument '{}' (expected: {})",
                    crate::util::text::truncate(name, 40),
                    known.join(", ")
                ));
            }
            None => {}
        }
    }
    Ok(())
}

fn path(at: &str, name: &str) -> String {
    if at == "arguments" {
        name.to_string()
    } else {
        format!("{at}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "text": { "type": "string", "minLength": 1, "maxLength": 5 },
                "tags": { "type": "array", "maxItems": 2, "items": { "type": "string", "maxLength": 3 } },
                "n": { "type": "integer", "minimum": 1, "maximum": 9 }
            },
            "required": ["text"],
            "additionalProperties": false
        })
    }

    #[test]
    fn accepts_what_the_schema_allows() {
        assert_eq!(validate(&schema(), &json!({"text": "héllo"})), Ok(()));
        assert_eq!(
            validate(
                &schema(),
                &json!({"text": "a", "tags": ["x", "yz"], "n": 3})
            ),
            Ok(())
        );
    }

    #[test]
    fn names_the_argument_and_the_rule() {
        let cases = [
            (json!([]), "arguments must be an object"),
            (json!({}), "text is required"),
            (json!({"text": 3}), "text must be a string"),
            (json!({"text": ""}), "text must not be empty"),
            (
                json!({"text": "toolong"}),
                "text must be at most 5 characters",
            ),
            (json!({"text": "a", "tags": "x"}), "tags must be an array"),
            (
                json!({"text": "a", "tags": ["a", "b", "c"]}),
                "tags must have at most 2 items",
            ),
            (
                json!({"text": "a", "tags": ["abcd"]}),
                "tags[0] must be at most 3 characters",
            ),
            (json!({"text": "a", "n": 0}), "n must be at least 1"),
            (json!({"text": "a", "n": 1.5}), "n must be an integer"),
            (
                json!({"text": "a", "x": 1}),
                "unknown argument 'x' (expected: n, tags, text)",
            ),
        ];
        for (value, message) in cases {
            assert_eq!(
                validate(&schema(), &value),
                Err(message.to_string()),
                "{value}"
            );
        }
    }
}
