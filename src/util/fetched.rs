//! What an outbound request brought back, as the rooms that ask for one see it (the edge's
//! `http::outbound` does the fetching).

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    /// The answer's `Cache-Control`, for callers that cache what they fetched.
    pub cache_control: Option<String>,
    /// The answer's `Content-Type`.
    pub content_type: Option<String>,
}

/// Why nothing usable came back: the words for the log (never the body, which may quote
/// what was sent).
pub type Unreachable = String;

/// How an `Unreachable` for an answer over the limit begins: the sender answered, with
/// too much (unlike a timeout or a refused connection, not a passing failure).
pub const TOO_LARGE: &str = "the answer is larger than";
