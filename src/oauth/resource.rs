//! Resource indicators (RFC 8707): is a `resource` parameter this server's MCP endpoint?
//! Compared with the scheme and host case-folded, the default port dropped, and one
//! trailing slash tolerated, so `HTTPS://MCP.example.com:443/mcp/` names `/mcp` too.

use url::Url;

fn normalize(u: &str) -> Option<String> {
    let url = Url::parse(u).ok()?;
    if url.fragment().is_some() {
        return None; // RFC 8707 §2: must not include a fragment
    }
    // Url::parse lower-cases scheme and host and drops a default port.
    let mut s = format!(
        "{}://{}{}{}",
        url.scheme(),
        url.host_str()?,
        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
        url.path()
    );
    if s.ends_with('/') && url.path() != "/" {
        s.pop();
    }
    if let Some(q) = url.query() {
        s.push('?');
        s.push_str(q);
    }
    Some(s)
}

pub fn matches(requested: &str, ours: &str) -> bool {
    match (normalize(requested), normalize(ours)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_spellings_match() {
        let ours = "https://mcp.example.com/mcp";
        assert!(matches("https://mcp.example.com/mcp", ours));
        assert!(matches("HTTPS://MCP.Example.com:443/mcp/", ours));
        assert!(matches(
            "http://127.0.0.1:8787/mcp",
            "http://127.0.0.1:8787/mcp"
        ));
    }

    #[test]
    fn other_resources_do_not() {
        let ours = "https://mcp.example.com/mcp";
        assert!(!matches("https://mcp.example.com/MCP", ours));
        assert!(!matches("https://mcp.example.com:8443/mcp", ours));
        assert!(!matches("https://evil.example/mcp", ours));
        assert!(!matches("https://mcp.example.com/mcp#x", ours));
        assert!(!matches("https://mcp.example.com/mcp//", ours));
        assert!(!matches("not a url", ours));
    }
}
