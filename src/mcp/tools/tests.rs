//! The tools, and the notes as resources, through `Server` on the in-memory note store:
//! scopes, argument checks, result shapes, isolation between users.

use crate::mcp::server::{Caller, Failure, Server, DEFAULT_PAGE_SIZE};
use crate::mcp::tools::{Progress, Public, TOOLS};
use crate::oauth::catalog::Catalog;
use crate::store::memory::{block_on, MemoryNotes};
use serde_json::{json, Map, Value};

/// The catalog without `SCOPES`: `mcp:read` and `mcp:write`.
pub(crate) static DEFAULT_CATALOG: std::sync::LazyLock<Catalog> =
    std::sync::LazyLock::new(Catalog::default);

/// A server for `user` with `scopes` on `notes` (the differential tests use it too).
pub(crate) fn server<'a>(notes: &'a MemoryNotes, user: &'a str, scopes: &[&'a str]) -> Server<'a> {
    server_with(notes, user, scopes, &DEFAULT_CATALOG)
}

/// The same, with the operator's own scopes.
pub(crate) fn server_with<'a>(
    notes: &'a MemoryNotes,
    user: &'a str,
    scopes: &[&'a str],
    catalog: &'a Catalog,
) -> Server<'a> {
    Server {
        catalog,
        caller: Caller {
            user: Some(user),
            scopes: scopes.to_vec(),
        },
        notes,
        base_url: "https://mcp.example.com",
        resource_metadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
        product_name: "Test",
        now: 1_700_000_000,
        page_size: DEFAULT_PAGE_SIZE,
        public: Public::NONE,
        builtin: true,
        gateway: None,
        upstreams_configured: false,
    }
}

const RW: [&str; 2] = ["mcp:read", "mcp:write"];

fn call(s: &Server, version: &str, name: &str, args: Value) -> Value {
    let params: Map<String, Value> = json!({ "name": name, "arguments": args })
        .as_object()
        .cloned()
        .unwrap();
    match block_on(s.request(version, "tools/call", &params, &Progress::default())) {
        Ok(v) => v,
        Err(Failure::Rpc(e)) => panic!("rpc error {e:?}"),
        Err(Failure::Internal(e)) => panic!("internal {e}"),
        Err(Failure::Scope(scope)) => panic!("needs {scope}"),
        // ChatGPT's shape: the edge picks it or the HTTP one (tests/sign-in-on-demand).
        Err(Failure::SignIn(s)) => {
            let challenge = s.result["_meta"]["mcp/www_authenticate"][0]
                .as_str()
                .unwrap();
            assert!(
                challenge.contains(&format!("scope=\"{}\"", s.scope)),
                "{challenge}"
            );
            assert!(challenge.contains(&s.description), "{challenge}");
            s.result
        }
    }
}

fn structured(result: &Value) -> Value {
    assert_eq!(result["isError"], false, "{result}");
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, result["structuredContent"]);
    text
}

#[test]
fn store_search_fetch_list_delete() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    let v = "2025-06-18";
    let stored = structured(&call(
        &s,
        v,
        "memory_store",
        json!({"text": "Dentist on Tuesday at 9\nbring the form", "tags": ["Health"]}),
    ));
    let id = stored["id"].as_str().unwrap().to_string();
    assert_eq!(stored["title"], "Dentist on Tuesday at 9");
    assert_eq!(stored["url"], format!("https://mcp.example.com/notes/{id}"));
    structured(&call(
        &s,
        v,
        "memory_store",
        json!({"text": "Groceries: milk", "title": "Shopping"}),
    ));

    let found = structured(&call(
        &s,
        v,
        "search",
        json!({"query": "when is the DENTIST?"}),
    ));
    assert_eq!(found["results"].as_array().unwrap().len(), 1);
    assert_eq!(found["results"][0]["id"], id.as_str());

    let note = structured(&call(&s, v, "fetch", json!({"id": id})));
    assert_eq!(note["text"], "Dentist on Tuesday at 9\nbring the form");
    assert_eq!(note["metadata"]["tags"], json!(["health"]));
    assert_eq!(note["metadata"]["created_at"], "2023-11-14T22:13:20Z");

    let listed = structured(&call(&s, v, "memory_list", json!({"tag": "health"})));
    assert_eq!(listed["notes"].as_array().unwrap().len(), 1);
    assert!(listed.get("nextCursor").is_none());

    assert_eq!(
        structured(&call(&s, v, "memory_delete", json!({"id": id})))["deleted"],
        true
    );
    let again = call(&s, v, "memory_delete", json!({"id": id}));
    assert_eq!(again["isError"], true);
    assert_eq!(call(&s, v, "fetch", json!({"id": id}))["isError"], true);
}

#[test]
fn one_user_never_sees_another_users_notes() {
    let notes = MemoryNotes::default();
    let alice = server(&notes, "alice", &RW);
    let bob = server(&notes, "bob", &RW);
    let id = structured(&call(
        &alice,
        "2025-11-25",
        "memory_store",
        json!({"text": "alice secret plan"}),
    ))["id"]
        .clone();
    assert_eq!(
        structured(&call(
            &bob,
            "2025-11-25",
            "search",
            json!({"query": "secret"})
        ))["results"],
        json!([])
    );
    assert_eq!(
        call(&bob, "2025-11-25", "fetch", json!({"id": id}))["isError"],
        true
    );
    assert_eq!(
        call(&bob, "2025-11-25", "memory_delete", json!({"id": id}))["isError"],
        true
    );
    assert_eq!(
        structured(&call(&bob, "2025-11-25", "memory_list", json!({})))["notes"],
        json!([])
    );
    assert_eq!(
        structured(&call(&alice, "2025-11-25", "fetch", json!({"id": id})))["id"],
        id
    );
}

#[test]
fn a_missing_scope_is_a_tool_error_with_a_challenge() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &["mcp:read"]);
    let r = call(&s, "2025-06-18", "memory_store", json!({"text": "x"}));
    assert_eq!(r["isError"], true);
    let challenge = r["_meta"]["mcp/www_authenticate"][0].as_str().unwrap();
    assert!(challenge.starts_with("Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""));
    assert!(challenge.contains("error=\"insufficient_scope\""));
    assert!(challenge.contains("scope=\"mcp:read mcp:write\""));
    // Reading is allowed with mcp:read alone.
    assert_eq!(
        call(&s, "2025-06-18", "search", json!({"query": "x"}))["isError"],
        false
    );
}

#[test]
fn bad_arguments_are_tool_errors_that_say_what_is_wrong() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    let cases = [
        ("memory_store", json!({}), "text is required"),
        (
            "memory_store",
            json!({"text": "   "}),
            "text must not be blank",
        ),
        (
            "memory_store",
            json!({"text": "x".repeat(50_001)}),
            "at most 50000 characters",
        ),
        (
            "memory_store",
            json!({"text": "x", "tags": ["a b"]}),
            "tags[0] may only contain",
        ),
        (
            "memory_store",
            json!({"text": "x", "colour": "red"}),
            "unknown argument 'colour'",
        ),
        ("fetch", json!({"id": 42}), "id must be a string"),
        (
            "memory_list",
            json!({"cursor": "garbage"}),
            "cursor is not one this tool gave out",
        ),
    ];
    for (tool, args, message) in cases {
        let r = call(&s, "2025-06-18", tool, args);
        assert_eq!(r["isError"], true, "{tool}");
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(text.contains(message), "{tool}: {text}");
    }
}

#[test]
fn arguments_that_are_not_an_object_are_invalid_params() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    for args in [json!("x"), json!(5), json!([1]), json!(true)] {
        let params: Map<String, Value> = json!({ "name": "search", "arguments": args })
            .as_object()
            .cloned()
            .unwrap();
        match block_on(s.request("2025-06-18", "tools/call", &params, &Progress::default())) {
            Err(Failure::Rpc(e)) => assert_eq!(e.code, -32602, "{args}"),
            Ok(v) => panic!("{args}: a result {v}"),
            Err(Failure::Internal(e)) => panic!("{args}: internal {e}"),
            Err(Failure::Scope(scope)) => panic!("{args}: needs {scope}"),
            Err(Failure::SignIn(s)) => panic!("{args}: needs {}", s.scope),
        }
    }
}

#[test]
fn memory_list_pages_with_its_cursor() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    for i in 0..45 {
        structured(&call(
            &s,
            "2025-06-18",
            "memory_store",
            json!({"text": format!("note {i}")}),
        ));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let args = cursor.as_ref().map_or(json!({}), |c| json!({"cursor": c}));
        let page = structured(&call(&s, "2025-06-18", "memory_list", args));
        seen.extend(
            page["notes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["title"].as_str().unwrap().to_string()),
        );
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 45);
    assert_eq!(seen[0], "note 44");
    assert_eq!(seen[44], "note 0");
}

#[test]
fn tools_list_pages_and_describes_each_tool_for_its_revision() {
    let notes = MemoryNotes::default();
    let mut s = server(&notes, "alice", &RW);
    s.page_size = 2;
    let mut names = Vec::new();
    let mut params = Map::new();
    loop {
        let Ok(page) =
            block_on(s.request("2025-06-18", "tools/list", &params, &Progress::default()))
        else {
            panic!()
        };
        for t in page["tools"].as_array().unwrap() {
            names.push(t["name"].as_str().unwrap().to_string());
            assert_eq!(t["securitySchemes"], t["_meta"]["securitySchemes"]);
            assert_eq!(t["securitySchemes"][0]["type"], "oauth2");
            assert!(t["outputSchema"].is_object() && t["title"].is_string());
        }
        match page.get("nextCursor") {
            Some(c) => {
                params.insert("cursor".into(), c.clone());
            }
            None => break,
        }
    }
    assert_eq!(
        names,
        [
            "search",
            "fetch",
            "memory_store",
            "memory_list",
            "memory_delete",
            "about"
        ]
    );
    let bad: Map<String, Value> = json!({"cursor": "nope"}).as_object().cloned().unwrap();
    assert!(
        matches!(block_on(s.request("2025-06-18", "tools/list", &bad, &Progress::default())), Err(Failure::Rpc(e)) if e.code == -32602)
    );
    // 2025-03-26 knows neither outputSchema nor structuredContent.
    let Ok(old) = block_on(s.request(
        "2025-03-26",
        "tools/list",
        &Map::new(),
        &Progress::default(),
    )) else {
        panic!()
    };
    assert!(old["tools"][0].get("outputSchema").is_none());
    // 2026-07-28: resultType, caching hints, the server's identity in _meta.
    let Ok(new) = block_on(s.request(
        "2026-07-28",
        "tools/list",
        &Map::new(),
        &Progress::default(),
    )) else {
        panic!()
    };
    assert_eq!(new["resultType"], "complete");
    assert_eq!(new["cacheScope"], "public");
    assert!(new["ttlMs"].is_u64());
    assert_eq!(
        new["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-oauth-worker"
    );
}

#[test]
fn every_input_schema_uses_only_what_the_validator_understands() {
    fn walk(v: &Value) {
        if let Some(o) = v.as_object() {
            for k in o.keys() {
                assert!(
                    [
                        "type",
                        "properties",
                        "required",
                        "additionalProperties",
                        "minLength",
                        "maxLength",
                        "items",
                        "maxItems",
                        "minimum",
                        "maximum",
                        "description"
                    ]
                    .contains(&k.as_str()),
                    "unsupported keyword {k}"
                );
            }
            if let Some(p) = o.get("properties").and_then(Value::as_object) {
                p.values().for_each(walk);
            }
            if let Some(i) = o.get("items") {
                walk(i);
            }
        }
    }
    for t in TOOLS {
        walk(&super::input_schema(t));
        let name = t.name();
        assert!(
            name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b))
        );
    }
}

#[test]
fn methods_by_revision() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    let p = Map::new();
    assert!(block_on(s.request("2025-06-18", "ping", &p, &Progress::default())).is_ok());
    assert!(
        matches!(block_on(s.request("2026-07-28", "ping", &p, &Progress::default())), Err(Failure::Rpc(e)) if e.code == -32601)
    );
    assert!(
        matches!(block_on(s.request("2025-06-18", "server/discover", &p, &Progress::default())), Err(Failure::Rpc(e)) if e.code == -32601)
    );
    let Ok(d) = block_on(s.request("2026-07-28", "server/discover", &p, &Progress::default()))
    else {
        panic!()
    };
    assert_eq!(
        d["supportedVersions"].as_array().unwrap().last().unwrap(),
        "2026-07-28"
    );
    assert_eq!(d["resultType"], "complete");
    assert!(d["capabilities"]["tools"].is_object());
    let unknown: Map<String, Value> = json!({"name": "nope"}).as_object().cloned().unwrap();
    assert!(
        matches!(block_on(s.request("2025-06-18", "tools/call", &unknown, &Progress::default())), Err(Failure::Rpc(e)) if e.code == -32602)
    );
}

#[test]
fn search_reports_progress_when_asked() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    let progress = Progress::for_token(Some(json!("tok-1")));
    let params: Map<String, Value> = json!({"name": "search", "arguments": {"query": "x"}})
        .as_object()
        .cloned()
        .unwrap();
    assert!(block_on(s.request("2025-06-18", "tools/call", &params, &progress)).is_ok());
    let sent = progress.take();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0]["params"]["progressToken"], "tok-1");
    let steps: Vec<u64> = sent
        .iter()
        .map(|n| n["params"]["progress"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [0, 1, 2]);
    let silent = Progress::default();
    assert!(block_on(s.request("2025-06-18", "tools/call", &params, &silent)).is_ok());
    assert!(silent.take().is_empty());
}

#[test]
fn fts_queries_cannot_be_syntax() {
    use crate::mcp::tools::search::fts_query;
    assert_eq!(
        fts_query("Hello, \"world\" OR NEAR(x)*").as_deref(),
        Some("\"hello\"* OR \"world\"* OR \"or\"* OR \"near\"*")
    );
    assert_eq!(fts_query("  ?!  "), None);
    // Non-ASCII letters keep their case: FTS5's unicode61 tokenizer folds it.
    assert_eq!(
        fts_query("Café Ünïcode").as_deref(),
        Some("\"café\"* OR \"Ünïcode\"*")
    );
    assert_eq!(fts_query(&"w ".repeat(100)).as_deref(), Some("\"w\"*"));
    assert_eq!(fts_query("a plan b").as_deref(), Some("\"plan\"*"));
}

#[test]
fn timestamps_are_rfc3339() {
    use crate::mcp::tools::timestamp;
    assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
    assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
}

#[test]
fn storage_is_bounded_in_bytes_per_note_and_per_person() {
    use crate::store::notes::{Note, NoteStore, Stored, MAX_BYTES_PER_USER, MAX_NOTE_BYTES};
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    // 50,000 characters of four bytes each: within the characters the schema allows,
    // far past the bytes one note may hold.
    let wide = "\u{1F600}".repeat(50_000);
    let refused = call(&s, "2025-06-18", "memory_store", json!({ "text": wide }));
    assert_eq!(refused["isError"], true);
    let why = refused["content"][0]["text"].as_str().unwrap();
    assert!(
        why.contains(&format!("at most {MAX_NOTE_BYTES} bytes")),
        "{why}"
    );
    // The same characters in ASCII fit.
    let narrow = "x".repeat(50_000);
    assert_eq!(
        call(&s, "2025-06-18", "memory_store", json!({ "text": narrow }))["isError"],
        false
    );
    // Fill the account to just under its bound, then one more note does not fit.
    let big = |i: u64| Note {
        id: format!("big_{i}"),
        title: String::new(),
        text: "y".repeat(MAX_NOTE_BYTES as usize),
        tags: vec![],
        created_at: 0,
        updated_at: 0,
    };
    let mut i = 0;
    while block_on(notes.insert("alice", &big(i))).unwrap() == Stored::Yes {
        i += 1;
    }
    assert_eq!(i, (MAX_BYTES_PER_USER - 50_000) / MAX_NOTE_BYTES);
    let full = call(
        &s,
        "2025-06-18",
        "memory_store",
        json!({ "text": "\u{20ac}".repeat(20_000) }),
    );
    assert_eq!(full["isError"], true);
    let why = full["content"][0]["text"].as_str().unwrap();
    assert!(why.contains("50 MB"), "{why}");
    // Someone else is not affected.
    let bob = server(&notes, "bob", &RW);
    assert_eq!(
        call(&bob, "2025-06-18", "memory_store", json!({"text": "mine"}))["isError"],
        false
    );
}

#[test]
fn one_account_keeps_at_most_max_notes() {
    use crate::store::notes::{Note, NoteStore, MAX_NOTES_PER_USER};
    let notes = MemoryNotes::default();
    for i in 0..MAX_NOTES_PER_USER {
        let note = Note {
            id: format!("n_{i}"),
            title: String::new(),
            text: String::new(),
            tags: vec![],
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(
            block_on(notes.insert("alice", &note)).unwrap(),
            crate::store::notes::Stored::Yes
        );
    }
    let s = server(&notes, "alice", &RW);
    let full = call(
        &s,
        "2025-06-18",
        "memory_store",
        json!({"text": "one more"}),
    );
    assert_eq!(full["isError"], true);
    assert!(full["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Delete some"));
    // Someone else is not affected.
    let bob = server(&notes, "bob", &RW);
    assert_eq!(
        call(&bob, "2025-06-18", "memory_store", json!({"text": "mine"}))["isError"],
        false
    );
}

#[test]
fn every_schema_is_a_json_object_and_the_limits_match_the_code() {
    for t in TOOLS {
        for (kind, text) in [("input", t.input_schema()), ("output", t.output_schema())] {
            let v: Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{} {kind} schema: {e}", t.name()));
            assert_eq!(v["type"], "object", "{} {kind} schema", t.name());
        }
    }
    use super::memory_store::{MAX_TAG, MAX_TAGS, MAX_TEXT, MAX_TITLE};
    let store = super::input_schema(&super::memory_store::MemoryStore);
    let p = &store["properties"];
    assert_eq!(p["text"]["maxLength"], MAX_TEXT);
    assert_eq!(p["title"]["maxLength"], MAX_TITLE);
    assert_eq!(p["tags"]["maxItems"], MAX_TAGS);
    assert_eq!(p["tags"]["items"]["maxLength"], MAX_TAG);
    let list = super::input_schema(&super::memory_list::MemoryList);
    assert_eq!(list["properties"]["tag"]["maxLength"], MAX_TAG);
}

fn anonymous<'a>(notes: &'a MemoryNotes, public: Public) -> Server<'a> {
    let mut s = server(notes, "nobody", &[]);
    s.caller.user = None;
    s.public = public;
    s
}

#[test]
fn public_tools_are_only_those_named_that_need_no_person() {
    let names: Vec<String> = ["about", "search", "nope", "memory_delete"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (public, ignored) = Public::from_names(&names);
    assert!(public.any());
    assert!(public.contains(&super::about::About));
    assert!(!public.contains(&super::search::Search));
    assert_eq!(ignored, ["search", "nope", "memory_delete"]);
    assert!(!Public::from_names(&[]).0.any());
    // No note tool can be made public, whatever the setting says.
    let every: Vec<String> = TOOLS.iter().map(|t| t.name().to_string()).collect();
    let (all, _) = Public::from_names(&every);
    for t in TOOLS {
        assert_eq!(all.contains(t), !t.needs_user(), "{}", t.name());
    }
}

#[test]
fn without_a_token_public_tools_run_and_protected_ones_ask_for_sign_in() {
    let notes = MemoryNotes::default();
    let owner = server(&notes, "alice", &RW);
    call(
        &owner,
        "2025-06-18",
        "memory_store",
        json!({"text": "alice's secret"}),
    );
    let (public, _) = Public::from_names(&["about".to_string()]);
    let s = anonymous(&notes, public);

    let about = structured(&call(&s, "2025-06-18", "about", json!({})));
    assert_eq!(about["signed_in"], false);
    let search_entry = about["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "search")
        .unwrap();
    assert_eq!(search_entry["needs_sign_in"], true);

    for (name, args) in [
        ("search", json!({"query": "secret"})),
        ("memory_list", json!({})),
        ("memory_store", json!({"text": "x"})),
    ] {
        let r = call(&s, "2025-06-18", name, args);
        assert_eq!(r["isError"], true, "{name}");
        let challenge = r["_meta"]["mcp/www_authenticate"][0].as_str().unwrap();
        assert!(
            challenge.starts_with("Bearer resource_metadata=\""),
            "{challenge}"
        );
        assert!(challenge.contains("error=\"insufficient_scope\""));
        assert!(challenge.contains("scope=\"mcp:read mcp:write\""));
        assert!(!r.to_string().contains("alice's secret"));
    }

    // Listed as noauth when public, oauth2 otherwise.
    let list = block_on(s.request(
        "2025-06-18",
        "tools/list",
        &Map::new(),
        &Progress::default(),
    ))
    .ok()
    .unwrap();
    for t in list["tools"].as_array().unwrap() {
        let kind = &t["securitySchemes"][0]["type"];
        let want = if t["name"] == "about" {
            "noauth"
        } else {
            "oauth2"
        };
        assert_eq!(kind, want, "{}", t["name"]);
        assert_eq!(t["_meta"]["securitySchemes"], t["securitySchemes"]);
    }

    // With no public tools, even `about` needs sign-in.
    let closed = anonymous(&notes, Public::NONE);
    assert_eq!(
        call(&closed, "2025-06-18", "about", json!({}))["isError"],
        true
    );
}

#[test]
fn a_tool_that_needs_a_person_refuses_to_run_without_one() {
    // The second wall: even if a note tool were wrongly treated as public, it has no user.
    let notes = MemoryNotes::default();
    let progress = Progress::default();
    let ctx = super::ToolCtx {
        user: None,
        notes: &notes,
        product_name: "Test",
        catalog: &DEFAULT_CATALOG,
        public: Public::NONE,
        base_url: "https://mcp.example.com",
        now: 0,
        progress: &progress,
    };
    for t in TOOLS.iter().filter(|t| t.needs_user()) {
        let args = if t.name() == "memory_store" {
            json!({"text": "x"})
        } else if t.name() == "search" {
            json!({"query": "x"})
        } else {
            json!({"id": "n_x"})
        };
        match block_on(t.call(&ctx, args)) {
            Err(super::ToolError::Rejected(m)) => assert!(m.contains("Sign in"), "{m}"),
            _ => panic!("{} ran without a person", t.name()),
        }
    }
}

fn request(s: &Server, version: &str, method: &str, params: Value) -> Result<Value, Failure> {
    let params = params.as_object().cloned().unwrap();
    block_on(s.request(version, method, &params, &Progress::default()))
}

fn rpc_code(outcome: Result<Value, Failure>) -> i64 {
    match outcome {
        Err(Failure::Rpc(e)) => e.code,
        Ok(v) => panic!("a result {v}"),
        Err(_) => panic!("not a JSON-RPC error"),
    }
}

#[test]
fn notes_are_resources_their_owner_alone_reads() {
    let notes = MemoryNotes::default();
    let alice = server(&notes, "alice", &RW);
    let id = structured(&call(
        &alice,
        "2025-06-18",
        "memory_store",
        json!({"text": "Dentist\nTuesday"}),
    ))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = format!("note://{id}");
    let listed = request(&alice, "2025-06-18", "resources/list", json!({}))
        .ok()
        .unwrap();
    assert_eq!(listed["resources"][0]["uri"], uri.as_str());
    assert_eq!(listed["resources"][0]["name"], "Dentist");
    assert!(listed.get("nextCursor").is_none());
    let read = request(&alice, "2025-06-18", "resources/read", json!({"uri": uri}))
        .ok()
        .unwrap();
    assert_eq!(read["contents"][0]["text"], "Dentist\nTuesday");
    assert_eq!(read["contents"][0]["uri"], uri.as_str());

    let bob = server(&notes, "bob", &RW);
    let theirs = request(&bob, "2025-06-18", "resources/list", json!({}))
        .ok()
        .unwrap();
    assert_eq!(theirs["resources"], json!([]));
    for not_his in [
        uri.clone(),
        "note://".into(),
        "note://../x".into(),
        "docs://x".into(),
    ] {
        let e = request(
            &bob,
            "2025-06-18",
            "resources/read",
            json!({"uri": not_his}),
        );
        assert_eq!(rpc_code(e), -32002);
    }
    assert_eq!(
        rpc_code(request(
            &bob,
            "2025-06-18",
            "resources/read",
            json!({"uri": 5})
        )),
        -32602
    );
    // 2026-07-28 (SEP-2164): -32602, still with the URI.
    match request(&bob, "2026-07-28", "resources/read", json!({"uri": uri})) {
        Err(Failure::Rpc(e)) => {
            assert_eq!(e.code, -32602);
            assert_eq!(e.data.unwrap()["uri"], uri.as_str());
        }
        _ => panic!("another person's note was read"),
    }
}

#[test]
fn resources_and_prompts_need_the_read_scope_and_a_person() {
    let notes = MemoryNotes::default();
    let write_only = server(&notes, "alice", &["mcp:write"]);
    let mut nobody = server(&notes, "alice", &RW);
    nobody.caller.user = None;
    for s in [&write_only, &nobody] {
        for method in [
            "resources/list",
            "resources/templates/list",
            "resources/read",
            "prompts/list",
            "prompts/get",
        ] {
            match request(
                s,
                "2025-06-18",
                method,
                json!({"uri": "note://x", "name": "p"}),
            ) {
                // The challenge names what the token holds and what is missing.
                Err(Failure::Scope(scope)) => assert_eq!(scope, "mcp:read mcp:write", "{method}"),
                _ => panic!("{method} answered without the scope"),
            }
        }
    }
}

#[test]
fn resources_page_by_cursor_newest_first() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    for i in 0..(crate::mcp::resources::PAGE + 7) {
        structured(&call(
            &s,
            "2025-06-18",
            "memory_store",
            json!({"text": format!("note {i}")}),
        ));
    }
    let first = request(&s, "2025-06-18", "resources/list", json!({}))
        .ok()
        .unwrap();
    assert_eq!(
        first["resources"].as_array().unwrap().len(),
        crate::mcp::resources::PAGE
    );
    assert_eq!(
        first["resources"][0]["name"],
        format!("note {}", crate::mcp::resources::PAGE + 6)
    );
    let cursor = first["nextCursor"].clone();
    let second = request(
        &s,
        "2025-06-18",
        "resources/list",
        json!({"cursor": cursor}),
    )
    .ok()
    .unwrap();
    assert_eq!(second["resources"].as_array().unwrap().len(), 7);
    assert_eq!(second["resources"][6]["name"], "note 0");
    assert!(second.get("nextCursor").is_none());
    for bad in [json!("nope"), json!(7)] {
        assert_eq!(
            rpc_code(request(
                &s,
                "2025-06-18",
                "resources/list",
                json!({"cursor": bad})
            )),
            -32602
        );
    }
}

#[test]
fn templates_prompts_and_their_caching_hints() {
    let notes = MemoryNotes::default();
    let s = server(&notes, "alice", &RW);
    let t = request(&s, "2025-06-18", "resources/templates/list", json!({}))
        .ok()
        .unwrap();
    assert_eq!(t["resourceTemplates"][0]["uriTemplate"], "note://{id}");
    assert!(t.get("ttlMs").is_none(), "hints are 2026-07-28's");
    let p = request(&s, "2025-06-18", "prompts/list", json!({}))
        .ok()
        .unwrap();
    assert_eq!(p["prompts"], json!([]));
    assert_eq!(
        rpc_code(request(
            &s,
            "2025-06-18",
            "prompts/get",
            json!({"name": "x"})
        )),
        -32602
    );
    assert_eq!(
        rpc_code(request(&s, "2025-06-18", "prompts/get", json!({}))),
        -32602
    );
    let too_many: Map<String, Value> = (0..40).map(|i| (format!("a{i}"), json!("v"))).collect();
    let e = request(
        &s,
        "2025-06-18",
        "prompts/get",
        json!({"name": "x", "arguments": too_many}),
    );
    assert_eq!(rpc_code(e), -32602);
    for method in ["resources/list", "resources/templates/list", "prompts/list"] {
        let r = request(&s, "2026-07-28", method, json!({})).ok().unwrap();
        assert!(r["ttlMs"].is_u64(), "{method}");
        assert!(
            matches!(r["cacheScope"].as_str(), Some("public" | "private")),
            "{method}"
        );
    }
    assert_eq!(
        request(&s, "2026-07-28", "resources/list", json!({}))
            .ok()
            .unwrap()["cacheScope"],
        "private"
    );
}

#[path = "tests_scopes.rs"]
mod scopes;
