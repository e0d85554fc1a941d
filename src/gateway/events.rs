//! Reading an upstream's event-stream answer (WHATWG HTML §9.2.6) into its JSON-RPC
//! messages, strictly and within `MAX_ANSWER_BYTES`.

use super::error::UpstreamError;
pub use super::error::MAX_ANSWER_BYTES;
use serde_json::Value;

/// Splits an event stream into its JSON messages as its chunks arrive (WHATWG HTML
/// §9.2.6: `data` lines, an empty line ends the event). An event that is not JSON (or
/// not UTF-8) is skipped and marks the answer unusable, which `sse_messages` reports
/// once the whole answer is in.
#[derive(Default)]
pub struct EventReader {
    line: Vec<u8>,
    data: String,
    unusable: bool,
}

/// A line longer than this is not an MCP event this reader will wait for.
const MAX_LINE: usize = MAX_ANSWER_BYTES;

impl EventReader {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Value> {
        let mut out = Vec::new();
        for &b in chunk {
            if b != b'\n' {
                if self.line.len() < MAX_LINE {
                    self.line.push(b);
                } else {
                    self.unusable = true;
                }
                continue;
            }
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.is_empty() {
                if !self.data.is_empty() {
                    match crate::json::parse(self.data.as_bytes()) {
                        Ok(v) => out.push(v),
                        Err(_) => self.unusable = true,
                    }
                    self.data.clear();
                }
            } else if let Some(d) = line.strip_prefix(b"data:") {
                let d = d.strip_prefix(b" ").unwrap_or(d);
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                match std::str::from_utf8(d) {
                    Ok(text) => self.data.push_str(text),
                    Err(_) => self.unusable = true,
                }
            }
        }
        out
    }
}

pub(super) fn sse_messages(body: &[u8]) -> Result<Vec<Value>, UpstreamError> {
    let mut reader = EventReader::default();
    let mut out = reader.push(body);
    // The last event may end with the stream rather than with its blank line.
    out.extend(reader.push(b"\n\n"));
    if reader.unusable {
        return Err(UpstreamError::NotMcp("an event is not JSON"));
    }
    Ok(out)
}
