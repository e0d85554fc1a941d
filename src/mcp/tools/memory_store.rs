//! `memory_store`: saves a note for the caller.

use super::{arg_str, note_url, Tool, ToolCtx, ToolError, ToolFuture};
use crate::encoding::{b64url, random_bytes};
use crate::store::notes::{Note, Stored, MAX_BYTES_PER_USER, MAX_NOTES_PER_USER, MAX_NOTE_BYTES};
use serde_json::{json, Value};

pub struct MemoryStore;

pub const MAX_TEXT: u64 = 50_000;
pub const MAX_TITLE: u64 = 200;
pub const MAX_TAGS: u64 = 10;
pub const MAX_TAG: u64 = 32;
/// A title made from the text is cut to this many characters.
const DERIVED_TITLE: usize = 80;

impl Tool for MemoryStore {
    fn name(&self) -> &'static str {
        "memory_store"
    }
    fn title(&self) -> &'static str {
        "Save a note"
    }
    fn description(&self) -> &'static str {
        "Save a note for the user so it can be found later with search. Give the text, and \
         optionally a title (else the first line is used) and tags (letters, digits, '-' \
         and '_'). Returns the new note's id."
    }
    fn input_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {
                "text": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 50000,
                    "description": "What to remember."
                },
                "title": {
                    "type": "string",
                    "maxLength": 200,
                    "description": "A short title."
                },
                "tags": {
                    "type": "array",
                    "maxItems": 10,
                    "items": {"type": "string", "minLength": 1, "maxLength": 32},
                    "description": "Words to group notes by, e.g. [\"work\", \"ideas\"]."
                }
            },
            "required": ["text"],
            "additionalProperties": false
        }"#
    }
    fn output_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "url": {"type": "string"}
            },
            "required": ["id", "title", "url"]
        }"#
    }
    fn annotations(&self) -> Value {
        json!({
            "title": self.title(),
            "readOnlyHint": false,
            "destructiveHint": false,
            "idempotentHint": false,
            "openWorldHint": false
        })
    }
    fn read_only(&self) -> bool {
        false
    }
    fn call<'a>(&'a self, ctx: &'a ToolCtx<'a>, args: Value) -> ToolFuture<'a> {
        Box::pin(async move {
            let text = arg_str(&args, "text").unwrap_or("");
            if text.trim().is_empty() {
                return Err(ToolError::Rejected("text must not be blank".into()));
            }
            let tags = normalize_tags(args.get("tags"))?;
            let title = match arg_str(&args, "title").map(str::trim) {
                Some(t) if !t.is_empty() => t.to_string(),
                _ => derive_title(text),
            };
            let note = Note {
                id: format!("n_{}", b64url(&random_bytes::<12>())),
                title,
                text: text.to_string(),
                tags,
                created_at: ctx.now,
                updated_at: ctx.now,
            };
            if note.bytes() > MAX_NOTE_BYTES {
                return Err(ToolError::Rejected(format!(
                    "This note is {} bytes; one note may hold at most {MAX_NOTE_BYTES} bytes \
                     of text, title and tags (in UTF-8). Split it into several notes.",
                    note.bytes()
                )));
            }
            match ctx.notes.insert(ctx.owner()?, &note).await? {
                Stored::Yes => {}
                Stored::TooManyNotes => {
                    return Err(ToolError::Rejected(format!(
                        "You already have {MAX_NOTES_PER_USER} notes, the most one account \
                         may keep. Delete some with memory_delete, then try again."
                    )))
                }
                Stored::OutOfSpace => {
                    return Err(ToolError::Rejected(format!(
                        "Your notes already hold nearly {} MB, the most one account may \
                         keep. Delete some with memory_delete, then try again.",
                        MAX_BYTES_PER_USER / 1_000_000
                    )))
                }
            }
            Ok(
                json!({ "id": note.id, "title": note.title, "url": note_url(ctx.base_url, &note.id) }),
            )
        })
    }
}

/// Tags in lower case, without duplicates; anything but `[a-z0-9_-]` is refused rather
/// than silently changed, so the model learns the rule.
pub fn normalize_tags(value: Option<&Value>) -> Result<Vec<String>, ToolError> {
    let mut tags: Vec<String> = Vec::new();
    for (i, tag) in value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let tag = tag.as_str().unwrap_or("").trim().to_ascii_lowercase();
        if !valid_tag(&tag) {
            return Err(ToolError::Rejected(format!(
                "tags[{i}] may only contain letters, digits, '-' and '_'"
            )));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= MAX_TAG as usize
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The first non-blank line, cut at a word boundary near `DERIVED_TITLE` characters.
fn derive_title(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= DERIVED_TITLE {
        return line.to_string();
    }
    let cut: String = line.chars().take(DERIVED_TITLE).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > DERIVED_TITLE / 2 => cut.get(..i).unwrap_or(&cut),
        _ => &cut,
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(derive_title("\n  Buy milk \nand eggs"), "Buy milk");
        let long = "word ".repeat(40);
        let t = derive_title(&long);
        assert!(
            t.ends_with('…') && t.chars().count() <= DERIVED_TITLE + 1,
            "{t}"
        );
    }

    #[test]
    fn tags_are_lower_case_and_plain() {
        let ok = normalize_tags(Some(&json!(["Work", "work", "q3-plans", "a_b"]))).ok();
        assert_eq!(
            ok,
            Some(vec!["work".into(), "q3-plans".into(), "a_b".into()])
        );
        assert!(normalize_tags(Some(&json!(["two words"]))).is_err());
        assert!(normalize_tags(Some(&json!(["ünï"]))).is_err());
        assert_eq!(normalize_tags(None).ok(), Some(vec![]));
    }
}
