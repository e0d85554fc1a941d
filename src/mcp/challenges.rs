//! Which shape of sign-in challenge a client acts on, when a tool call needs sign-in or a
//! scope its token lacks (`tools::SignIn`). ChatGPT's connector reads the challenge from
//! an `isError` tool result (`_meta["mcp/www_authenticate"]`, the OpenAI Apps SDK) and
//! shows no Connect button for an HTTP error on a call; Claude's connector and the MCP
//! SDKs start sign-in (or step-up) only from an HTTP 401 or 403 and show a tool result's
//! text as text. Neither says which it is in the protocol, so the request says it:
//! first its `User-Agent`, then, once signed in, the app behind the token.

/// The answer a client is given for a tool call it may not make yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An `isError` result carrying the challenge in `_meta["mcp/www_authenticate"]`.
    ToolResult,
    /// HTTP 401 (no token) or 403 `insufficient_scope` with `WWW-Authenticate`.
    Http,
}

/// What the `User-Agent` alone decides: ChatGPT's connector (`openai-mcp/<version>`)
/// reads tool results; Claude's (`Claude-User`) reads HTTP. `None`: not known by it.
pub fn by_user_agent(user_agent: Option<&str>) -> Option<Shape> {
    let ua = user_agent?.trim().to_ascii_lowercase();
    if ua.starts_with("openai-mcp/") {
        Some(Shape::ToolResult)
    } else if ua.contains("claude-user") {
        Some(Shape::Http)
    } else {
        None
    }
}

/// Whether an app that sends its people back to `host` is ChatGPT (its connector
/// callbacks and its client ID metadata documents are on `chatgpt.com` or `openai.com`).
pub fn is_chatgpt_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    ["chatgpt.com", "openai.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// The shape for an app known by its client ID metadata document's host, or by the hosts
/// of its registered redirect URIs: ChatGPT's reads tool results, every other HTTP.
pub fn by_app_hosts<'a>(mut hosts: impl Iterator<Item = &'a str>) -> Shape {
    if hosts.any(is_chatgpt_host) {
        Shape::ToolResult
    } else {
        Shape::Http
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_the_two_big_clients() {
        assert_eq!(
            by_user_agent(Some("openai-mcp/1.0.0")),
            Some(Shape::ToolResult)
        );
        assert_eq!(by_user_agent(Some("OpenAI-MCP/2")), Some(Shape::ToolResult));
        assert_eq!(by_user_agent(Some("Claude-User")), Some(Shape::Http));
        assert_eq!(
            by_user_agent(Some("Mozilla/5.0 (compatible; Claude-User/1.0)")),
            Some(Shape::Http)
        );
        // Anything else is decided by the app, or gets the HTTP form.
        assert_eq!(by_user_agent(Some("node")), None);
        assert_eq!(by_user_agent(Some("python-httpx/0.28 openai-mcp/1")), None);
        assert_eq!(by_user_agent(None), None);
    }

    #[test]
    fn chatgpt_is_known_by_its_hosts_and_nothing_that_looks_like_them() {
        for h in [
            "chatgpt.com",
            "ChatGPT.com.",
            "www.chatgpt.com",
            "openai.com",
            "cdn.openai.com",
        ] {
            assert!(is_chatgpt_host(h), "{h}");
        }
        for h in [
            "notchatgpt.com",
            "chatgpt.com.evil.example",
            "openai.co",
            "claude.ai",
            "",
        ] {
            assert!(!is_chatgpt_host(h), "{h}");
        }
        assert_eq!(
            by_app_hosts(["claude.ai", "chatgpt.com"].into_iter()),
            Shape::ToolResult
        );
        assert_eq!(by_app_hosts(["claude.ai"].into_iter()), Shape::Http);
        assert_eq!(by_app_hosts(std::iter::empty()), Shape::Http);
    }
}
