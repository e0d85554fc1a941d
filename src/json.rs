//! JSON as this server reads it from others: like `serde_json::from_slice` into a `Value`,
//! but an object that names a key twice is refused. RFC 8259 §4 leaves duplicates to the
//! parser, and parsers disagree on which one wins; where a duplicate could change meaning
//! (a registration's `redirect_uris`, a JSON-RPC `method` or `id`), refusing it keeps this
//! server from reading a request differently from a proxy or a log that read it first.

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at all (or nested deeper than serde_json's limit).
    Syntax,
    /// Valid JSON, but an object repeats this key.
    DuplicateKey(String),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax => f.write_str("the body is not valid JSON"),
            JsonError::DuplicateKey(k) => write!(
                f,
                "the key \"{}\" appears twice in one object",
                crate::util::text::truncate(k, 40)
            ),
        }
    }
}

/// Parses `bytes` into a `Value`, refusing any object with a repeated key.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(v)) => Ok(v),
        Err(e) if e.is_data() => {
            let text = e.to_string();
            let key = text
                .strip_prefix(DUPLICATE)
                .and_then(|rest| rest.rsplit_once(" at line"))
                .map(|(k, _)| k.to_string())
                .unwrap_or_default();
            Err(JsonError::DuplicateKey(key))
        }
        Err(_) => Err(JsonError::Syntax),
    }
}

/// `value[key] = new` when `value` is an object, and nothing otherwise: serde_json's
/// `IndexMut` panics on an array, number or string, and a panic aborts the isolate.
pub fn set(value: &mut Value, key: &str, new: impl Into<Value>) {
    if let Some(object) = value.as_object_mut() {
        object.insert(key.to_string(), new.into());
    }
}

/// The object under `key` of the object `value`, made an empty object first when it is
/// absent or not an object; `None` when `value` itself is not an object.
pub fn object_at<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = value
        .as_object_mut()?
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

const DUPLICATE: &str = "duplicate key ";

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so every parsed float is representable.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if obj.contains_key(&key) {
                return Err(A::Error::custom(format!("{DUPLICATE}{key}")));
            }
            let Strict(v) = map.next_value()?;
            obj.insert(key, v);
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_json_as_serde_json_does() {
        let text = r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":"\u00e9"}"#;
        assert_eq!(
            parse(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(parse(b"[]").unwrap(), json!([]));
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        assert_eq!(
            parse(br#"{"method":"a","method":"b"}"#),
            Err(JsonError::DuplicateKey("method".into()))
        );
        assert_eq!(
            parse(br#"{"p":{"x":[{"k":1,"k":1}]}}"#),
            Err(JsonError::DuplicateKey("k".into()))
        );
        // The same key in two objects is not a repeat.
        assert!(parse(br#"[{"k":1},{"k":2}]"#).is_ok());
        // An escaped spelling of the same key is the same key.
        assert!(parse(br#"{"k":1,"\u006b":2}"#).is_err());
    }

    #[test]
    fn not_json_is_a_syntax_error() {
        for bad in [&b"{"[..], b"", b"{\"a\":}", b"[1,]", b"nul"] {
            assert_eq!(parse(bad), Err(JsonError::Syntax));
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(parse(deep.as_bytes()), Err(JsonError::Syntax));
    }
}
