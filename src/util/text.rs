//! Text helpers for values that came from outside (headers, query strings, forms, JSON,
//! upstream and provider answers): none of them can panic on any input, because a panic
//! in a Worker aborts the whole isolate. Byte offsets into such text are taken only with
//! `str::get`, never with `&s[a..b]`, which panics inside a multi-byte character.

/// `text` without `prefix`, compared without regard to ASCII case (an HTTP auth scheme,
/// RFC 9110 §11.1). `None` when `text` does not start with it, including when the byte
/// at the prefix's length falls inside a multi-byte character.
pub fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// At most `max` characters of `text`, for quoting input back in an error.
pub fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `*` matches any run of characters (none included); everything else matches itself.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let (g, n) = (glob.as_bytes(), name.as_bytes());
    let (mut gi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let here = g.get(gi);
        if here == Some(&b'*') {
            star = Some((gi, ni));
            gi += 1;
        } else if here.is_some() && here == n.get(ni) {
            gi += 1;
            ni += 1;
        } else if let Some((sg, sn)) = star {
            gi = sg + 1;
            ni = sn + 1;
            star = Some((sg, sn + 1));
        } else {
            return false;
        }
    }
    g.get(gi..).unwrap_or_default().iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped_whatever_the_bytes() {
        assert_eq!(strip_prefix_ignore_case("Basic abc", "basic "), Some("abc"));
        assert_eq!(strip_prefix_ignore_case("BEARER x", "bearer "), Some("x"));
        assert_eq!(strip_prefix_ignore_case("Basic", "basic "), None);
        // The byte after "Basic" starts a two-byte character: offset 6 is inside it.
        assert_eq!(strip_prefix_ignore_case("Basic\u{e9}x", "basic "), None);
        assert_eq!(
            strip_prefix_ignore_case("\u{e9}\u{e9}\u{e9}x", "basic "),
            None
        );
        assert_eq!(
            strip_prefix_ignore_case("Basic \u{e9}", "basic "),
            Some("\u{e9}")
        );
        assert_eq!(strip_prefix_ignore_case("", "basic "), None);
    }
}
