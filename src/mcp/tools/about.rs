//! `about`: what this server is, whether the caller is signed in, and which tools need
//! sign-in. It reads no one's data, so it is the tool an operator can make public
//! (`PUBLIC_TOOLS=about`) for a ChatGPT app that answers before the person connects.

use super::{Tool, ToolCtx, ToolFuture, TOOLS};
use serde_json::{json, Value};

pub struct About;

impl Tool for About {
    fn name(&self) -> &'static str {
        "about"
    }
    fn title(&self) -> &'static str {
        "About this server"
    }
    fn description(&self) -> &'static str {
        "Describe this notes server: its name and version, whether the user is signed in, \
         and which tools work before signing in."
    }
    fn input_schema(&self) -> &'static str {
        r#"{"type": "object", "properties": {}, "additionalProperties": false}"#
    }
    fn output_schema(&self) -> &'static str {
        r#"{
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "signed_in": {"type": "boolean"},
                "tools": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "title": {"type": "string"},
                            "needs_sign_in": {"type": "boolean"},
                            "scope": {"type": "string"}
                        },
                        "required": ["name", "title", "needs_sign_in", "scope"]
                    }
                }
            },
            "required": ["name", "version", "signed_in", "tools"]
        }"#
    }
    fn annotations(&self) -> Value {
        json!({ "title": self.title(), "readOnlyHint": true, "openWorldHint": false })
    }
    fn read_only(&self) -> bool {
        true
    }
    fn needs_user(&self) -> bool {
        false
    }
    fn call<'a>(&'a self, ctx: &'a ToolCtx<'a>, _args: Value) -> ToolFuture<'a> {
        Box::pin(async move {
            let tools: Vec<Value> = TOOLS
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name(),
                        "title": t.title(),
                        "needs_sign_in": !ctx.public.contains(*t),
                        "scope": ctx.catalog.tool_need(&Vec::new(), t.name(), t.read_only()).summary(),
                    })
                })
                .collect();
            Ok(json!({
                "name": ctx.product_name,
                "version": env!("CARGO_PKG_VERSION"),
                "signed_in": ctx.user.is_some(),
                "tools": tools,
            }))
        })
    }
}
