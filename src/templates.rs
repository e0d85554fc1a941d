//! A tiny template renderer for the pages in `templates/`: `{{name}}` is replaced by the
//! HTML-escaped value, `{{{name}}}` by a value that is already HTML (built from escaped
//! parts by this crate). Unknown names render as nothing, so a page never shows `{{`.

pub const LAYOUT: &str = include_str!("../templates/layout.html");
pub const AUTHORIZE: &str = include_str!("../templates/authorize.html");
pub const ERROR: &str = include_str!("../templates/error.html");
pub const NOTE: &str = include_str!("../templates/note.html");
pub const SIGNIN: &str = include_str!("../templates/signin.html");
pub const STYLESHEET: &str = include_str!("../templates/style.css");

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let raw = rest[start..].starts_with("{{{");
        let (open, close) = if raw { (3, "}}}") } else { (2, "}}") };
        let Some(end) = rest[start + open..].find(close) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = rest[start + open..start + open + end].trim();
        if let Some((_, v)) = values.iter().find(|(k, _)| *k == name) {
            if raw {
                out.push_str(v);
            } else {
                out.push_str(&escape(v));
            }
        }
        rest = &rest[start + open + end + close.len()..];
    }
    out.push_str(rest);
    out
}

/// A whole page: `content` (already rendered) inside the shared layout.
pub fn page(title: &str, product: &str, content: &str) -> String {
    render(
        LAYOUT,
        &[("title", title), ("product", product), ("content", content)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_by_default() {
        assert_eq!(
            render(
                "<p>{{x}}</p>{{{y}}}{{missing}}",
                &[("x", "<b>\"'&"), ("y", "<i>")]
            ),
            "<p>&lt;b&gt;&quot;&#39;&amp;</p><i>"
        );
        assert_eq!(render("a {{ unterminated", &[]), "a {{ unterminated");
    }
}
