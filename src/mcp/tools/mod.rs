//! The tools `/mcp` offers. Each tool is one file implementing `Tool`; adding one is that
//! file and one line in `TOOLS`. Tool failures a model can act on (bad arguments, an
//! unknown id, a missing scope) are results with `isError: true`, never protocol errors
//! (MCP "Tools", error handling).

pub mod about;
pub mod fetch;
pub mod memory_delete;
pub mod memory_list;
pub mod memory_store;
pub mod search;

use crate::oauth::catalog::{Catalog, Need};
use crate::store::notes::NoteStore;
use crate::store::StoreError;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// What a tool call runs with: whose data, where notes live, and how to report progress.
pub struct ToolCtx<'a> {
    /// The signed-in person; `None` only for a public tool called without a token.
    pub user: Option<&'a str>,
    pub notes: &'a dyn NoteStore,
    pub product_name: &'a str,
    /// The operator's scopes, for what each tool needs.
    pub catalog: &'a Catalog,
    /// Which of `TOOLS` are public (see `Public`).
    pub public: Public,
    /// This server's origin: the base of each note's `url`.
    pub base_url: &'a str,
    pub now: u64,
    pub progress: &'a Progress,
}

pub use crate::wire::progress::{LiveSink, Progress};

pub enum ToolError {
    /// Told to the model as an `isError` result: what was wrong and how to do better.
    Rejected(String),
    /// Logged, answered with -32603.
    Store(StoreError),
}

impl From<StoreError> for ToolError {
    fn from(e: StoreError) -> Self {
        ToolError::Store(e)
    }
}

impl ToolCtx<'_> {
    /// The person whose data a tool works on. Tools that call this must say
    /// `needs_user`, which keeps them from ever being public; the error is a second wall.
    pub fn owner(&self) -> Result<&str, ToolError> {
        self.user
            .ok_or_else(|| ToolError::Rejected("Sign in to use this tool.".into()))
    }
}

pub type ToolFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ToolError>> + 'a>>;

pub trait Tool: Sync {
    fn name(&self) -> &'static str;
    fn title(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// JSON Schema of the arguments, checked by `mcp::schema` before `call`. Schemas are
    /// JSON text rather than `json!` trees: text is a fraction of the wasm that building
    /// the tree in code takes, and it is parsed once per isolate (`input_schema`).
    fn input_schema(&self) -> &'static str;
    /// JSON Schema of the structured result, as JSON text.
    fn output_schema(&self) -> &'static str;
    /// `readOnlyHint`, `destructiveHint`, ... as they truly are.
    fn annotations(&self) -> Value;
    /// Whether the tool only reads: without a mapping in `SCOPES.tools` it then needs the
    /// catalog's read scope, else its write scope.
    fn read_only(&self) -> bool;
    /// Whether the tool works on a person's data. Such a tool can never be public, whatever
    /// `PUBLIC_TOOLS` says: without a token there is no person.
    fn needs_user(&self) -> bool {
        true
    }
    /// Whether a host that renders MCP Apps shows this tool's result in the notes' view
    /// (`mcp::apps`) rather than as JSON.
    fn shown_in_view(&self) -> bool {
        false
    }
    /// Runs with validated arguments; returns the structured result.
    fn call<'a>(&'a self, ctx: &'a ToolCtx<'a>, args: Value) -> ToolFuture<'a>;
}

/// Every tool, in the order `tools/list` gives them.
pub static TOOLS: [&dyn Tool; 6] = [
    &search::Search,
    &fetch::Fetch,
    &memory_store::MemoryStore,
    &memory_list::MemoryList,
    &memory_delete::MemoryDelete,
    &about::About,
];

pub fn find(name: &str) -> Option<&'static dyn Tool> {
    TOOLS.iter().copied().find(|t| t.name() == name)
}

/// The tools callable without a token (OpenAI Apps SDK "mixed auth"), as a bit per entry
/// of `TOOLS`: those `PUBLIC_TOOLS` names that do not need a person.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Public(u32);

impl Public {
    pub const NONE: Public = Public(0);

    /// The public set for the `PUBLIC_TOOLS` names, and the names that were ignored (not a
    /// tool, or a tool that works on a person's data) so the edge can log them.
    pub fn from_names(names: &[String]) -> (Public, Vec<&str>) {
        let mut bits = 0;
        let mut ignored = Vec::new();
        for name in names {
            match TOOLS.iter().position(|t| t.name() == name) {
                Some(i) if TOOLS.get(i).is_some_and(|t| !t.needs_user()) => bits |= 1 << i,
                _ => ignored.push(name.as_str()),
            }
        }
        (Public(bits), ignored)
    }

    pub fn any(self) -> bool {
        self.0 != 0
    }

    pub fn contains(self, tool: &dyn Tool) -> bool {
        TOOLS
            .iter()
            .position(|t| t.name() == tool.name())
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

/// What calling a built-in tool needs.
pub fn need(tool: &dyn Tool, catalog: &Catalog) -> Need {
    catalog.tool_need(&Vec::new(), tool.name(), tool.read_only())
}

/// The OpenAI Apps SDK's `securitySchemes` for a tool: `noauth` for a public tool, else
/// OAuth 2 with the scopes it needs.
pub fn security_schemes(tool: &dyn Tool, public: Public, catalog: &Catalog) -> Value {
    if public.contains(tool) {
        json!([{ "type": "noauth" }])
    } else {
        need(tool, catalog).security_schemes()
    }
}

/// A schema's JSON text as a value. Every schema is parsed in the unit tests, so `Null`
/// (which the validator would refuse as a schema) cannot reach a client.
fn parse(schema: &'static str) -> Value {
    serde_json::from_str(schema).unwrap_or(Value::Null)
}

/// One shape of the `tools/list` entries: structured output or not, the public set, and
/// the catalog's fingerprint (one per isolate in a Worker; tests build several).
type EntriesKey = (bool, Public, u64);

thread_local! {
    // Parsed schemas and whole `tools/list` entries, per isolate: the list only changes
    // with a deployment, and rebuilding it was most of the cost of a `tools/list`.
    static INPUT_SCHEMAS: RefCell<Vec<(&'static str, Rc<Value>)>> = const { RefCell::new(Vec::new()) };
    static ENTRIES: RefCell<Vec<(EntriesKey, Rc<Vec<Value>>)>> = const { RefCell::new(Vec::new()) };
}

/// `tool`'s input schema, parsed once per isolate.
pub fn input_schema(tool: &dyn Tool) -> Rc<Value> {
    let name = tool.name();
    if let Some(hit) = INPUT_SCHEMAS.with(|c| {
        c.borrow()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }) {
        return hit;
    }
    let schema = Rc::new(parse(tool.input_schema()));
    INPUT_SCHEMAS.with(|c| c.borrow_mut().push((name, schema.clone())));
    schema
}

/// A tool's `tools/list` entry. Fields a revision does not know are left out for it.
pub fn describe(tool: &dyn Tool, structured: bool, public: Public, catalog: &Catalog) -> Value {
    let schemes = security_schemes(tool, public, catalog);
    let mut entry = json!({
        "name": tool.name(),
        "description": tool.description(),
        "inputSchema": *input_schema(tool),
        "annotations": tool.annotations(),
        "securitySchemes": schemes,
    });
    let mut meta = super::apps::tool_meta(tool.shown_in_view());
    crate::json::set(&mut meta, "securitySchemes", schemes);
    crate::json::set(&mut entry, "_meta", meta);
    if structured {
        crate::json::set(&mut entry, "title", json!(tool.title()));
        crate::json::set(&mut entry, "outputSchema", parse(tool.output_schema()));
    }
    entry
}

/// Every tool's entry, in `TOOLS` order, built once per isolate for each shape.
pub fn entries(structured: bool, public: Public, catalog: &Catalog) -> Rc<Vec<Value>> {
    let key = (structured, public, catalog.fingerprint);
    if let Some(hit) = ENTRIES.with(|c| {
        c.borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }) {
        return hit;
    }
    let all = Rc::new(
        TOOLS
            .iter()
            .map(|t| describe(*t, structured, public, catalog))
            .collect::<Vec<_>>(),
    );
    ENTRIES.with(|c| c.borrow_mut().push((key, all.clone())));
    all
}

/// A successful call: the structured value as one text item (what ChatGPT's search and
/// fetch contract reads) and, where the revision has it, as `structuredContent`.
pub fn success(value: Value, structured: bool) -> Value {
    let text = value.to_string();
    let mut result = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
    if structured {
        crate::json::set(&mut result, "structuredContent", value);
    }
    result
}

/// A failed call the model should read.
pub use crate::wire::tool_failure as failure;

/// A tool call the caller may not make yet: no token, or a token without the tool's
/// scope. The edge tells the client in the shape it acts on: an HTTP 401 or 403 challenge
/// naming `scope` (Claude, the MCP SDKs), or `result`, an `isError` result carrying the
/// same challenge in `_meta["mcp/www_authenticate"]` (the OpenAI Apps SDK's convention,
/// which ChatGPT turns into "connect" or "reconnect with more access").
#[derive(Clone, Debug, PartialEq)]
pub struct SignIn {
    /// The scopes to ask for: what the token holds (or the defaults) and what the tool adds.
    pub scope: String,
    /// Why, in a challenge's `error_description` (header-safe).
    pub description: String,
    pub result: Value,
}

/// For a token without the scopes a tool needs, naming what the token holds and what the
/// tool adds. `name` and a `Need` rather than a `Tool`, so a gateway's tool gets the same
/// answer.
pub fn insufficient_scope(
    name: &str,
    need: &Need,
    granted: &[&str],
    catalog: &Catalog,
    resource_metadata: &str,
) -> SignIn {
    let name = header_safe(name);
    let description = format!("the {name} tool needs {}", need.describe());
    let scope = catalog.challenge_scope(granted, need);
    let text =
        format!("This connection may not use {name}: {description}. Reconnect and allow it.");
    sign_in(scope, description, &text, resource_metadata)
}

/// For a call of a protected tool without a token. The Apps SDK documents
/// `insufficient_scope` for this case (a request with no token holds no scope), with the
/// scopes to ask for: the defaults and what the tool needs.
pub fn sign_in_required(
    name: &str,
    need: Option<&Need>,
    catalog: &Catalog,
    resource_metadata: &str,
) -> SignIn {
    let name = header_safe(name);
    let defaults = catalog.defaults();
    let held: Vec<&str> = defaults
        .iter()
        .filter(|s| catalog.is_resource_scope(s))
        .collect();
    let scope = match need {
        Some(need) => catalog.challenge_scope(&held, need),
        None => held.join(" "),
    };
    let description = format!("the {name} tool needs sign-in");
    let text =
        format!("{name} needs you to sign in: connect this app to your account, then try again.");
    sign_in(scope, description, &text, resource_metadata)
}

fn sign_in(scope: String, description: String, text: &str, resource_metadata: &str) -> SignIn {
    let challenge = format!(
        "Bearer resource_metadata=\"{resource_metadata}\", error=\"insufficient_scope\", \
         scope=\"{scope}\", error_description=\"{description}\""
    );
    let mut result = failure(text);
    crate::json::set(
        &mut result,
        "_meta",
        json!({ "mcp/www_authenticate": [challenge] }),
    );
    SignIn {
        scope,
        description,
        result,
    }
}

/// A name as it may stand inside a quoted challenge parameter: a name the client sent
/// (an unknown tool's) can hold anything, and a quote or a line break would end the
/// parameter or the header.
fn header_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.:/ ".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// A note's page on this Worker, shown to its signed-in owner only.
pub fn note_url(base_url: &str, id: &str) -> String {
    format!("{base_url}/notes/{id}")
}

/// Unix seconds as an RFC 3339 UTC timestamp (kept in `util::time`, which the console's
/// audit export shares without depending on the MCP room).
pub use crate::util::time::timestamp;

/// The arguments of the tools that take one note: its id.
pub fn note_id_schema() -> &'static str {
    r#"{
        "type": "object",
        "properties": {
            "id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "The note's id."
            }
        },
        "required": ["id"],
        "additionalProperties": false
    }"#
}

/// What a tool says for an id that is not one of the caller's notes (also when it is
/// someone else's: the answer must not tell the two apart).
pub fn no_such_note(id: &str) -> String {
    format!(
        "There is no note with id '{}'.",
        crate::util::text::truncate(id, 100)
    )
}

/// A string argument, already checked against the schema.
pub fn arg_str<'v>(args: &'v Value, name: &str) -> Option<&'v str> {
    args.get(name).and_then(Value::as_str)
}

#[cfg(test)]
pub(crate) mod tests;
