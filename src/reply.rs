//! A plain HTTP response value that protocol code builds and the edge turns into a
//! `worker::Response`. Keeping it free of `worker` types lets every header and status be
//! checked by native unit tests.

use serde::Serialize;

/// An HTTP response: status, headers in order, and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// `Cache-Control` for anything that carries a secret or per-user state (RFC 6749 §5.1).
pub const NO_STORE: &str = "no-store";

impl Reply {
    pub fn new(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON body. Serialising plain data types cannot fail; if it ever did, the reply
    /// says so generically rather than panicking.
    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Reply::new(status)
                .header("Content-Type", "application/json")
                .body(body),
            Err(_) => Reply::new(500)
                .header("Content-Type", "application/json")
                .body(br#"{"error":"server_error"}"#.to_vec()),
        }
    }

    /// An HTML page with the headers every page of this server carries: no framing, no
    /// caching, no sniffing, and a CSP that allows nothing (`http::pages` replaces it with
    /// one that lets the page's own inline stylesheet through by its hash).
    pub fn html(status: u16, page: String) -> Self {
        Reply::new(status)
            .header("Content-Type", "text/html; charset=utf-8")
            .header("Cache-Control", NO_STORE)
            .header("X-Frame-Options", "DENY")
            .header("X-Content-Type-Options", "nosniff")
            .header("Referrer-Policy", "no-referrer")
            .header(
                "Content-Security-Policy",
                "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
            )
            .body(page.into_bytes())
    }

    /// A 302 to a URL that the caller has already validated.
    pub fn redirect(location: &str) -> Self {
        Reply::new(302)
            .header("Location", location)
            .header("Cache-Control", NO_STORE)
            .header("Referrer-Policy", "no-referrer")
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replace a header if present, else add it.
    pub fn set_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.header(name, value)
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A JSON error for plain HTTP problems outside any protocol (unknown path, wrong method,
/// oversized body): `{"error": code, "error_description": text}`.
pub fn http_error(status: u16, code: &str, description: &str) -> Reply {
    Reply::json(
        status,
        &serde_json::json!({ "error": code, "error_description": description }),
    )
    .header("Cache-Control", NO_STORE)
}

/// A 303 back to a page of this server after a form, so a reload does not post again.
pub fn see_other(location: &str) -> Reply {
    Reply::new(303)
        .header("Location", location)
        .header("Cache-Control", NO_STORE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_cannot_be_framed_or_cached() {
        let r = Reply::html(200, "<p>x</p>".into());
        assert_eq!(r.header_value("x-frame-options"), Some("DENY"));
        assert_eq!(r.header_value("cache-control"), Some("no-store"));
        let csp = r.header_value("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("form-action"));
    }

    #[test]
    fn set_header_replaces() {
        let r = Reply::new(200).header("A", "1").set_header("a", "2");
        assert_eq!(r.headers, vec![("a".to_string(), "2".to_string())]);
    }
}
