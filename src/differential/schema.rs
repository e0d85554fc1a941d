//! Our tool-argument checks (`mcp::schema`, which knows only the keywords the tools use)
//! agree with a full JSON Schema validator on every built-in tool's input schema, for
//! arguments built to sit on each side of each rule.

use crate::mcp::tools::{input_schema, TOOLS};
use serde_json::{json, Map, Value};

/// Values for one property: of its type at and beyond each bound, and of other types.
fn candidates(schema: &Value) -> Vec<Value> {
    let mut out = vec![Value::Null, json!(true), json!(1.5), json!({}), json!([])];
    match schema["type"].as_str() {
        Some("string") => {
            out.push(json!(""));
            out.push(json!("a"));
            for key in ["minLength", "maxLength"] {
                if let Some(n) = schema[key].as_u64() {
                    for len in [n.saturating_sub(1), n, n + 1] {
                        out.push(json!("é".repeat(len as usize)));
                    }
                }
            }
        }
        Some("integer") => {
            out.extend([json!(0), json!(-1), json!(1), json!(i64::MAX)]);
            for key in ["minimum", "maximum"] {
                if let Some(n) = schema[key].as_i64() {
                    out.extend([json!(n - 1), json!(n), json!(n + 1)]);
                }
            }
        }
        Some("array") => {
            let items = candidates(&schema["items"]);
            out.push(json!([items.last().cloned().unwrap_or(Value::Null)]));
            out.push(json!(["a"]));
            if let Some(n) = schema["maxItems"].as_u64() {
                for len in [n, n + 1] {
                    out.push(Value::Array(vec![json!("a"); len as usize]));
                }
            }
        }
        _ => {}
    }
    out
}

/// Argument objects: a valid-looking base, then each property replaced by each candidate,
/// each one left out, and an extra property added.
fn arguments(schema: &Value) -> Vec<Value> {
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut base = Map::new();
    for (name, p) in &props {
        let pick = match p["type"].as_str() {
            Some("string") => json!("x".repeat(p["minLength"].as_u64().unwrap_or(1) as usize)),
            Some("integer") => json!(p["minimum"].as_i64().unwrap_or(1)),
            Some("array") => json!(["a"]),
            _ => json!({}),
        };
        base.insert(name.clone(), pick);
    }
    let mut out = vec![
        Value::Object(base.clone()),
        json!({}),
        json!(null),
        json!([]),
    ];
    for (name, p) in &props {
        for c in candidates(p) {
            let mut a = base.clone();
            a.insert(name.clone(), c);
            out.push(Value::Object(a));
        }
        let mut without = base.clone();
        without.remove(name);
        out.push(Value::Object(without));
    }
    let mut extra = base;
    extra.insert("unexpected".into(), json!(1));
    out.push(Value::Object(extra));
    out
}

#[test]
fn our_argument_checks_agree_with_a_json_schema_validator() {
    let mut checked = 0;
    for tool in TOOLS.iter() {
        let schema = input_schema(*tool);
        let validator = jsonschema::validator_for(&schema).unwrap();
        for args in arguments(&schema) {
            let ours = crate::mcp::schema::validate(&schema, &args).is_ok();
            let theirs = validator.is_valid(&args);
            assert_eq!(ours, theirs, "{}: {args}", tool.name());
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} argument sets");
}
