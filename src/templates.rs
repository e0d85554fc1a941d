//! A tiny template renderer for the pages in `templates/`. Every word a person reads lives
//! in a template, so a deployment can reword a page without touching Rust:
//! - `{{name}}` is replaced by the HTML-escaped value;
//! - `{{{name}}}` by a value that is already HTML (built by this crate from escaped parts);
//! - `{{#name}}…{{/name}}` is kept when `name` has a non-empty value, `{{^name}}…{{/name}}`
//!   when it has none, so one template holds every variant of its page.
//!
//! Unknown names render as nothing, so a page never shows `{{`.

use sha2::{Digest, Sha256};

use crate::oauth::catalog::Catalog;

pub const LAYOUT: &str = include_str!("../templates/layout.html");
pub const SIGNIN: &str = include_str!("../templates/signin.html");
pub const SIGNIN_PROVIDER: &str = include_str!("../templates/signin-provider.html");
pub const CONSENT: &str = include_str!("../templates/consent.html");
pub const SCOPES: &str = include_str!("../templates/scopes.html");
pub const ACCOUNT_TOKEN_SCOPE: &str = include_str!("../templates/account-token-scope.html");
pub const ACCOUNT: &str = include_str!("../templates/account.html");
pub const ADMIN: &str = include_str!("../templates/admin.html");
pub const ADMIN_AUDIT: &str = include_str!("../templates/admin-audit.html");
pub const ADMIN_AUDIT_ROW: &str = include_str!("../templates/admin-audit-row.html");
pub const ADMIN_DOCTOR: &str = include_str!("../templates/admin-doctor.html");
pub const ADMIN_DOCTOR_APP: &str = include_str!("../templates/admin-doctor-app.html");
pub const ADMIN_DOCTOR_ATTEMPT: &str = include_str!("../templates/admin-doctor-attempt.html");
pub const ADMIN_APPS: &str = include_str!("../templates/admin-apps.html");
pub const ADMIN_APP: &str = include_str!("../templates/admin-app.html");
pub const ADMIN_PEOPLE: &str = include_str!("../templates/admin-people.html");
pub const ADMIN_PERSON_PAGE: &str = include_str!("../templates/admin-person-page.html");
pub const ADMIN_PERSON: &str = include_str!("../templates/admin-person.html");
pub const ACCOUNT_APP: &str = include_str!("../templates/account-app.html");
pub const ACCOUNT_TOKEN: &str = include_str!("../templates/account-token.html");
pub const ACCOUNT_EVENT: &str = include_str!("../templates/account-event.html");
pub const ERROR: &str = include_str!("../templates/error.html");
pub const WELCOME: &str = include_str!("../templates/welcome.html");
pub const NOTE: &str = include_str!("../templates/note.html");
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

fn lookup<'a>(values: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .filter(|v| !v.is_empty())
}

pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    render_into(&mut out, template, values);
    out
}

fn render_into(out: &mut String, template: &str, values: &[(&str, &str)]) {
    let mut rest = template;
    while let Some((before, tag)) = rest.find("{{").and_then(|at| rest.split_at_checked(at)) {
        out.push_str(before);
        let raw = tag.starts_with("{{{");
        let (open, close) = if raw { ("{{{", "}}}") } else { ("{{", "}}") };
        let Some((name, after)) = tag.strip_prefix(open).and_then(|t| t.split_once(close)) else {
            out.push_str(tag);
            return;
        };
        let name = name.trim();
        if let Some(section) = name.strip_prefix('#').or_else(|| name.strip_prefix('^')) {
            let closing = format!("{{{{/{section}}}}}");
            let Some((inner, next)) = after.split_once(&closing) else {
                // An unclosed section renders nothing after it rather than half a page.
                return;
            };
            let wanted = name.starts_with('#');
            if lookup(values, section).is_some() == wanted {
                render_into(out, inner, values);
            }
            rest = next;
            continue;
        }
        if let Some(v) = lookup(values, name) {
            if raw {
                out.push_str(v);
            } else {
                out.push_str(&escape(v));
            }
        }
        rest = after;
    }
    out.push_str(rest);
}

/// The `<title>`: the text of the page's one `h1`, so the wording stays in the template.
/// The page's title: its heading, with "Error: " in front when the page reports a problem
/// with what the person sent (a form's alert), so a screen reader's first words say so
/// (WCAG technique G88).
fn page_title(content: &str) -> String {
    let title = title_of(content);
    if content.contains(r#"role="alert""#) {
        format!("Error: {title}")
    } else {
        title
    }
}

fn title_of(content: &str) -> String {
    let Some((_, body)) = content
        .find("<h1")
        .and_then(|at| content.split_at_checked(at))
    else {
        return String::new();
    };
    let Some((_, inner)) = body.split_once('>') else {
        return String::new();
    };
    let inner = inner.split_once("</h1>").map_or(inner, |(text, _)| text);
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `sha256-…` source that lets the inline stylesheet through the CSP.
pub fn style_hash() -> String {
    csp_hash(STYLESHEET)
}

/// The CSP source (`'sha256-…'`) that lets exactly this inline script or stylesheet run.
pub fn csp_hash(inline: &str) -> String {
    use base64::Engine as _;
    let digest = Sha256::digest(inline.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The CSP of every page: the inline stylesheet by hash, images only from the logo's
/// origin, nothing else. No `form-action`: Chromium applies it to the redirect after the
/// consent POST and would block the return to the app.
pub fn content_security_policy(logo_origin: Option<&str>) -> String {
    format!(
        "default-src 'none'; style-src {}; img-src {}; frame-ancestors 'none'; base-uri 'none'",
        style_hash(),
        logo_origin.unwrap_or("'none'")
    )
}

/// A whole page: `content` (already rendered) inside the shared layout.
pub fn page(product: &str, logo: Option<&str>, content: &str) -> String {
    render(
        LAYOUT,
        &[
            ("title", &page_title(content)),
            ("product", product),
            ("logo", logo.unwrap_or("")),
            ("style", STYLESHEET),
            ("content", content),
        ],
    )
}

/// The words a person reads for a scope: the operator's (`SCOPES`), else those of
/// `templates/scopes.html`; empty for a scope neither knows (one removed since a grant).
pub fn scope_words(catalog: &Catalog, scope: &str) -> String {
    match catalog.words(scope) {
        Some(words) => escape(words),
        None => render(SCOPES, &[(scope, "1")]).trim().to_string(),
    }
}

/// Each scope's words as `<li>` items, in the order given.
pub fn scope_items(catalog: &Catalog, scopes: &[&str]) -> String {
    let mut out = String::new();
    for scope in scopes {
        let words = scope_words(catalog, scope);
        if !words.is_empty() {
            out.push_str("<li>");
            out.push_str(&words);
            out.push_str("</li>");
        }
    }
    out
}

/// The personal-token form's choices: the resource scopes `offered`, the first checked.
pub fn token_scope_choices(catalog: &Catalog, offered: &[&str]) -> String {
    let mut out = String::new();
    for (i, scope) in offered.iter().enumerate() {
        let words = scope_words(catalog, scope);
        out.push_str(&render(
            ACCOUNT_TOKEN_SCOPE,
            &[
                ("name", scope),
                ("checked", if i == 0 { "1" } else { "" }),
                ("words", &words),
            ],
        ));
    }
    out
}

/// A time as a person reads it, in UTC, and as the `datetime` attribute wants it.
pub fn display_time(secs: u64) -> (String, String) {
    let iso = crate::util::time::timestamp(secs);
    let part = |range: std::ops::Range<usize>| iso.get(range).unwrap_or_default();
    let shown = format!("{} {} UTC", part(0..10), part(11..16));
    (shown, iso)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_that_reports_a_problem_says_so_in_its_title() {
        let ok = page("P", None, "<h1>Sign in</h1><form></form>");
        assert!(ok.contains("<title>Sign in · P</title>"), "{ok}");
        let failed = page(
            "P",
            None,
            r#"<h1>Sign in</h1><p class="error" role="alert">Wrong</p>"#,
        );
        assert!(
            failed.contains("<title>Error: Sign in · P</title>"),
            "{failed}"
        );
    }

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

    #[test]
    fn sections_show_and_hide() {
        let t = "{{#a}}A{{x}}{{/a}}{{^a}}not a{{/a}}{{#b}}B{{/b}}{{^b}}not b{{/b}}.";
        assert_eq!(render(t, &[("a", "1"), ("x", "<")]), "A&lt;not b.");
        assert_eq!(render(t, &[("b", "")]), "not anot b.");
        // Nested sections, and an unclosed one drops the rest.
        assert_eq!(
            render("{{#a}}[{{#b}}b{{/b}}]{{/a}}", &[("a", "1"), ("b", "1")]),
            "[b]"
        );
        assert_eq!(render("x{{#a}}never closed", &[("a", "1")]), "x");
    }

    #[test]
    fn every_template_has_one_h1_and_a_title() {
        for t in [
            SIGNIN,
            CONSENT,
            ACCOUNT,
            ADMIN,
            ADMIN_PEOPLE,
            ADMIN_APPS,
            ADMIN_AUDIT,
            ADMIN_DOCTOR,
            WELCOME,
            ADMIN_PERSON_PAGE,
            ERROR,
            NOTE,
        ] {
            assert_eq!(t.matches("<h1").count(), 1, "{t}");
        }
        let html = page(
            "Product",
            None,
            "<h1 id=\"x\">Sign in to <em>A &amp; B</em></h1>",
        );
        assert!(html.contains("<title>Sign in to A &amp; B · Product</title>"));
        assert!(html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn the_stylesheet_is_inline_and_allowed_by_its_hash_only() {
        let html = page("P", None, "<h1>x</h1>");
        assert!(html.contains(&format!("<style>{STYLESHEET}</style>")));
        let csp = content_security_policy(None);
        assert!(csp.contains(&style_hash()));
        assert!(csp.contains("img-src 'none'"));
        assert!(!csp.contains("form-action"));
        assert!(!csp.contains("unsafe"));
        assert!(content_security_policy(Some("https://cdn.example"))
            .contains("img-src https://cdn.example;"));
    }

    #[test]
    fn scope_words_come_from_the_template_or_the_operator() {
        let c = Catalog::default();
        let items = scope_items(&c, &["mcp:read", "offline_access"]);
        assert_eq!(items.matches("<li>").count(), 2, "{items}");
        assert_eq!(scope_items(&c, &[]).matches("<li>").count(), 0);
        for scope in c.all_scopes() {
            assert_eq!(
                scope_items(&c, &[scope]).matches("<li>").count(),
                1,
                "{scope}"
            );
        }
        assert_eq!(scope_items(&c, &["gone"]), "");
        let own = Catalog::from_setting(Some(
            r#"{"scopes":[{"name":"mcp:read","description":"See <your> agents","default":true},
            {"name":"mcp:write","description":"Run them"}]}"#,
        ))
        .unwrap();
        assert_eq!(
            scope_items(&own, &["mcp:read", "email"]),
            "<li>See &lt;your&gt; agents</li><li>See your email address</li>"
        );
        let choices = token_scope_choices(&own, &["mcp:read", "mcp:write"]);
        assert_eq!(choices.matches(" checked").count(), 1, "{choices}");
        assert!(
            choices.contains("value=\"mcp:write\"> Run them"),
            "{choices}"
        );
    }

    #[test]
    fn times_read_in_utc() {
        assert_eq!(
            display_time(1_700_000_000),
            (
                "2023-11-14 22:13 UTC".to_string(),
                "2023-11-14T22:13:20Z".to_string()
            )
        );
    }
}
