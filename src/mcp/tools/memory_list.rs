//! `memory_list`: the caller's notes, newest first, a page at a time.

use super::{arg_str, note_url, timestamp, Tool, ToolCtx, ToolError, ToolFuture};
use crate::encoding::{b64url, b64url_decode};
use serde_json::{json, Value};

pub struct MemoryList;

const PAGE: usize = 20;

impl Tool for MemoryList {
    fn name(&self) -> &'static str {
        "memory_list"
    }
    fn title(&self) -> &'static str {
        "List notes"
    }
    fn description(&self) -> &'static str {
        "List the user's notes, newest first, 20 at a time, optionally only those with a \
         tag. Pass nextCursor back as cursor for the next page."
    }
    fn input_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {
                "tag": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 32,
                    "description": "Only notes with this tag."
                },
                "cursor": {
                    "type": "string",
                    "maxLength": 100,
                    "description": "nextCursor from the previous page."
                }
            },
            "additionalProperties": false
        }"#
    }
    fn output_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {
                "notes": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                            "created_at": {"type": "string"},
                            "url": {"type": "string"}
                        },
                        "required": ["id", "title", "tags", "created_at", "url"]
                    }
                },
                "nextCursor": {"type": "string"}
            },
            "required": ["notes"]
        }"#
    }
    fn annotations(&self) -> Value {
        json!({ "title": self.title(), "readOnlyHint": true, "openWorldHint": false })
    }
    fn read_only(&self) -> bool {
        true
    }
    fn shown_in_view(&self) -> bool {
        true
    }
    fn call<'a>(&'a self, ctx: &'a ToolCtx<'a>, args: Value) -> ToolFuture<'a> {
        Box::pin(async move {
            let tag = arg_str(&args, "tag").map(str::to_ascii_lowercase);
            if tag
                .as_deref()
                .is_some_and(|t| !super::memory_store::valid_tag(t))
            {
                return Err(ToolError::Rejected(
                    "tag may only contain letters, digits, '-' and '_'".into(),
                ));
            }
            let before = match arg_str(&args, "cursor") {
                None | Some("") => None,
                Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                    ToolError::Rejected(
                        "cursor is not one this tool gave out; omit it to start over".into(),
                    )
                })?),
            };
            // One extra row says whether there is a next page.
            let mut rows = ctx
                .notes
                .list(ctx.owner()?, tag.as_deref(), before, PAGE + 1)
                .await?;
            let more = rows.len() > PAGE;
            rows.truncate(PAGE);
            let notes: Vec<Value> = rows
                .iter()
                .map(|n| {
                    json!({
                        "id": n.id,
                        "title": n.title,
                        "tags": n.tags,
                        "created_at": timestamp(n.created_at),
                        "url": note_url(ctx.base_url, &n.id),
                    })
                })
                .collect();
            let mut out = json!({ "notes": notes });
            if let (true, Some(last)) = (more, rows.last()) {
                crate::json::set(&mut out, "nextCursor", json!(encode_cursor(last.seq)));
            }
            Ok(out)
        })
    }
}

fn encode_cursor(seq: u64) -> String {
    b64url(format!("notes-before:{seq}").as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let text = String::from_utf8(b64url_decode(cursor)?).ok()?;
    text.strip_prefix("notes-before:")?.parse().ok()
}
