//! `memory_delete`: deletes one of the caller's notes.

use super::{arg_str, Tool, ToolCtx, ToolError, ToolFuture};
use serde_json::{json, Value};

pub struct MemoryDelete;

impl Tool for MemoryDelete {
    fn name(&self) -> &'static str {
        "memory_delete"
    }
    fn title(&self) -> &'static str {
        "Delete a note"
    }
    fn description(&self) -> &'static str {
        "Delete one of the user's notes by its id. This cannot be undone."
    }
    fn input_schema(&self) -> &'static str {
        super::note_id_schema()
    }
    fn output_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"}},
            "required": ["id", "deleted"]
        }"#
    }
    fn annotations(&self) -> Value {
        json!({
            "title": self.title(),
            "readOnlyHint": false,
            "destructiveHint": true,
            "idempotentHint": true,
            "openWorldHint": false
        })
    }
    fn read_only(&self) -> bool {
        false
    }
    fn call<'a>(&'a self, ctx: &'a ToolCtx<'a>, args: Value) -> ToolFuture<'a> {
        Box::pin(async move {
            let id = arg_str(&args, "id").unwrap_or("");
            if !ctx.notes.delete(ctx.owner()?, id).await? {
                return Err(ToolError::Rejected(format!(
                    "{} It may already be deleted.",
                    super::no_such_note(id)
                )));
            }
            Ok(json!({ "id": id, "deleted": true }))
        })
    }
}
