//! `search`: full-text search over the caller's notes, in the shape ChatGPT's deep
//! research and company-knowledge connectors expect: one text item holding
//! `{"results": [{"id", "title", "url"}]}`, best match first.

use super::{arg_str, note_url, Tool, ToolCtx, ToolFuture};
use serde_json::{json, Value};

pub struct Search;

const LIMIT: usize = 10;
const MAX_WORDS: usize = 16;

impl Tool for Search {
    fn name(&self) -> &'static str {
        "search"
    }
    fn title(&self) -> &'static str {
        "Search notes"
    }
    fn description(&self) -> &'static str {
        "Search the user's saved notes by words in their title, text or tags. Returns up to \
         10 results (id, title, url), best match first; read one with fetch. An empty query \
         returns the newest notes."
    }
    fn input_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "maxLength": 1000,
                    "description": "Words to look for."
                }
            },
            "required": ["query"],
            "additionalProperties": false
        }"#
    }
    fn output_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "url": {"type": "string"}
                        },
                        "required": ["id", "title", "url"]
                    }
                }
            },
            "required": ["results"]
        }"#
    }
    fn annotations(&self) -> Value {
        json!({ "title": self.title(), "readOnlyHint": true, "openWorldHint": false })
    }
    fn read_only(&self) -> bool {
        true
    }
    fn call<'a>(&'a self, ctx: &'a ToolCtx<'a>, args: Value) -> ToolFuture<'a> {
        Box::pin(async move {
            let query = arg_str(&args, "query").unwrap_or("");
            ctx.progress.report(0, 2, "Searching your notes");
            let found = match fts_query(query) {
                Some(q) => ctx.notes.search(ctx.owner()?, &q, LIMIT).await?,
                None => ctx.notes.list(ctx.owner()?, None, None, LIMIT).await?,
            };
            ctx.progress
                .report(1, 2, &format!("Found {} notes", found.len()));
            let results: Vec<Value> = found
                .iter()
                .map(|n| json!({ "id": n.id, "title": n.title, "url": note_url(ctx.base_url, &n.id) }))
                .collect();
            ctx.progress.report(2, 2, "Done");
            Ok(json!({ "results": results }))
        })
    }
}

/// Turns what a person or a model typed into an FTS5 query that cannot be a syntax error:
/// the words (letters and digits), each quoted and matched as a prefix, any of them may
/// match, so a question finds the notes that share its rare words (bm25 ranks them).
/// `None` when there is no word at all.
pub fn fts_query(text: &str) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        // ASCII case only: FTS5's unicode61 tokenizer folds the rest itself, and Unicode
        // case tables would cost the upload more than they could ever help here.
        let word: String = word
            .chars()
            .take(64)
            .collect::<String>()
            .to_ascii_lowercase();
        if !words.contains(&word) {
            words.push(word);
        }
        if words.len() == MAX_WORDS {
            break;
        }
    }
    // One-letter prefixes match most of the index; keep them only when they are all there is.
    if words.iter().any(|w| w.chars().count() > 1) {
        words.retain(|w| w.chars().count() > 1);
    }
    if words.is_empty() {
        return None;
    }
    Some(
        words
            .iter()
            .map(|w| format!("\"{w}\"*"))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}
