//! `fetch`: one note in full, in the shape ChatGPT's connectors expect: one text item
//! holding `{"id", "title", "text", "url", "metadata"}`.

use super::{arg_str, note_url, timestamp, Tool, ToolCtx, ToolError, ToolFuture};
use serde_json::{json, Value};

pub struct Fetch;

impl Tool for Fetch {
    fn name(&self) -> &'static str {
        "fetch"
    }
    fn title(&self) -> &'static str {
        "Read a note"
    }
    fn description(&self) -> &'static str {
        "Read one of the user's notes in full by its id (from search or memory_list)."
    }
    fn input_schema(&self) -> &'static str {
        super::note_id_schema()
    }
    fn output_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "text": {"type": "string"},
                "url": {"type": "string"},
                "metadata": {
                    "type": "object",
                    "properties": {
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "created_at": {"type": "string"},
                        "updated_at": {"type": "string"}
                    }
                }
            },
            "required": ["id", "title", "text", "url", "metadata"]
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
            let id = arg_str(&args, "id").unwrap_or("");
            let Some(note) = ctx.notes.get(ctx.owner()?, id).await? else {
                return Err(ToolError::Rejected(format!(
                    "{} Use search or memory_list to find ids.",
                    super::no_such_note(id)
                )));
            };
            Ok(json!({
                "id": note.id,
                "title": note.title,
                "text": note.text,
                "url": note_url(ctx.base_url, &note.id),
                "metadata": {
                    "tags": note.tags,
                    "created_at": timestamp(note.created_at),
                    "updated_at": timestamp(note.updated_at),
                }
            }))
        })
    }
}
