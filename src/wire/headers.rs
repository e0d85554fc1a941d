//! Header values of the 2026-07-28 transport (`Mcp-Method`, `Mcp-Name`): plain visible
//! ASCII as is, anything else as `=?base64?...?=`.

/// A header value as the client meant it: surrounding whitespace dropped, and the
/// `=?base64?...?=` form (for values that are not plain visible ASCII) decoded.
/// `None` when the encoded form is not valid base64 of UTF-8.
pub fn decode_header_value(raw: &str) -> Option<String> {
    let raw = raw.trim();
    match raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(encoded) => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(raw.to_string()),
    }
}

/// A header value in the form `decode_header_value` reads: as is when it is plain
/// visible ASCII without surrounding spaces, else `=?base64?...?=`.
pub fn encode_header_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value.trim() == value
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with("=?base64?");
    if plain {
        value.to_string()
    } else {
        use base64::Engine;
        format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode(value)
        )
    }
}
