//! The built-in notes as MCP resources: `note://<id>`, listed newest first in pages and
//! readable by their owner only (the store's rule: every query names the owner, so another
//! person's id reads as not found). What `resources/list`, `resources/templates/list` and
//! `resources/read` answer for the notes; the gateway adds the upstreams' beside them.

use super::error::{RpcError, RESOURCE_NOT_FOUND};
use super::server::{cache_hints, Failure, Server, GATEWAY_TOOLS_TTL_MS, TOOLS_TTL_MS};
use crate::encoding::{b64url, b64url_decode};
use crate::gateway::client::UpstreamError;
use crate::store::notes::NoteStore;
use crate::store::StoreError;
use serde_json::{json, Map, Value};

pub const SCHEME: &str = "note://";
/// The longest URI `resources/read` takes (far above any real one).
const MAX_READ_URI: usize = 2048;
/// Notes per `resources/list` page.
pub const PAGE: usize = 50;

/// The one template: a note by id.
pub fn template() -> Value {
    json!({
        "uriTemplate": "note://{id}",
        "name": "note",
        "title": "A note",
        "description": "One of your notes, by its id (as search and memory_list give it).",
        "mimeType": "text/plain"
    })
}

/// A page of `user`'s notes as resources, and the cursor of the next page.
pub async fn list(
    notes: &dyn NoteStore,
    user: &str,
    cursor: Option<&str>,
) -> Result<Result<(Vec<Value>, Option<String>), RpcError>, StoreError> {
    let before = match cursor {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(seq) => Some(seq),
            None => return Ok(Err(RpcError::invalid_params("unknown cursor"))),
        },
    };
    let mut page = notes.list(user, None, before, PAGE + 1).await?;
    let next = if page.len() > PAGE {
        page.truncate(PAGE);
        page.last().map(|n| encode_cursor(n.seq))
    } else {
        None
    };
    let entries = page
        .iter()
        .map(|n| {
            json!({
                "uri": format!("{SCHEME}{}", n.id),
                "name": n.title,
                "title": n.title,
                "mimeType": "text/plain",
            })
        })
        .collect();
    Ok(Ok((entries, next)))
}

/// `resources/read` of a `note://` URI: the owner's note, or not found.
pub async fn read(
    notes: &dyn NoteStore,
    user: &str,
    uri: &str,
    version: &str,
) -> Result<Result<Value, RpcError>, StoreError> {
    let id = uri.strip_prefix(SCHEME).unwrap_or_default();
    let usable = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let found = if usable {
        notes.get(user, id).await?
    } else {
        None
    };
    Ok(match found {
        Some(note) => Ok(json!({
            "contents": [{ "uri": uri, "mimeType": "text/plain", "text": note.text }]
        })),
        None => Err(not_found(uri, version)),
    })
}

impl Server<'_> {
    /// Whether the caller's token passes what reading `uri` needs (`SCOPES.resources`).
    fn may_read(&self, uri: Option<&Value>) -> bool {
        uri.and_then(Value::as_str).is_some_and(|u| {
            self.catalog
                .satisfies(&self.caller.scopes, &self.catalog.resource_need(u))
        })
    }

    /// `resources/list`: a page of the person's notes (when the built-in tools are on),
    /// with every upstream's resources on the first page.
    pub(super) async fn list_resources(
        &self,
        version: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, Failure> {
        let user = self.person_with(&self.catalog.listing_need(false))?;
        let cursor = match params.get("cursor") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.as_str()),
            Some(_) => return Err(RpcError::invalid_params("cursor must be a string").into()),
        };
        let (mut page, next) = if self.builtin {
            list(self.notes, user, cursor)
                .await
                .map_err(|e| Failure::Internal(e.0))??
        } else if cursor.is_some() {
            return Err(RpcError::invalid_params("unknown cursor").into());
        } else {
            (Vec::new(), None)
        };
        if let (None, Some(gw)) = (cursor, self.gateway) {
            page.extend(gw.resources().await);
        }
        // Only what this token may read: a name and description are already something.
        page.retain(|r| self.may_read(r.get("uri")));
        let mut result = json!({ "resources": page });
        if let Some(next) = next {
            crate::json::set(&mut result, "nextCursor", json!(next));
        }
        // A person's own notes, which change whenever they write one.
        cache_hints(&mut result, version, 0, "private");
        Ok(result)
    }

    pub(super) async fn list_templates(&self, version: &str) -> Result<Value, Failure> {
        self.person_with(&self.catalog.listing_need(false))?;
        let mut templates = Vec::new();
        if self.builtin {
            templates.push(template());
        }
        match self.gateway {
            Some(gw) => {
                templates.extend(gw.templates().await);
                templates.retain(|t| self.may_read(t.get("uriTemplate")));
                let mut result = json!({ "resourceTemplates": templates });
                cache_hints(&mut result, version, GATEWAY_TOOLS_TTL_MS, "private");
                Ok(result)
            }
            None => {
                let mut result = json!({ "resourceTemplates": templates });
                cache_hints(&mut result, version, TOOLS_TTL_MS, "public");
                Ok(result)
            }
        }
    }

    /// `resources/read`: a note of the person's, or the upstream resource that an
    /// upstream's list or template names. Anything else is "not found" (`not_found`), as
    /// is another person's note.
    pub(super) async fn read_resource(
        &self,
        version: &str,
        params: &Map<String, Value>,
    ) -> Result<Value, Failure> {
        let uri = params.get("uri").and_then(Value::as_str);
        // Bounded before it is matched against the operator's globs.
        if uri.is_some_and(|u| u.len() > MAX_READ_URI) {
            return Err(RpcError::invalid_params("uri is longer than 2048 bytes").into());
        }
        let user = self.person_with(&self.catalog.resource_need(uri.unwrap_or("")))?;
        let Some(uri) = uri else {
            return Err(RpcError::invalid_params("uri must be a string").into());
        };
        let mut result = if uri == super::apps::NOTES_VIEW && self.builtin {
            super::apps::read()
        } else if uri.starts_with(SCHEME) && self.builtin {
            read(self.notes, user, uri, version)
                .await
                .map_err(|e| Failure::Internal(e.0))??
        } else {
            match self
                .gateway
                .filter(|_| !crate::gateway::policy::is_note_uri(uri))
            {
                None => return Err(not_found(uri, version).into()),
                Some(gw) => match gw.read(uri).await {
                    None => return Err(not_found(uri, version).into()),
                    Some((_, Ok(contents))) => contents,
                    Some((_, Err(UpstreamError::Rpc(RESOURCE_NOT_FOUND)))) => {
                        return Err(not_found(uri, version).into())
                    }
                    Some((name, Err(e))) => return Err(upstream_failure(&name, &e).into()),
                },
            }
        };
        cache_hints(&mut result, version, 0, "private");
        Ok(result)
    }
}

/// An upstream's failure as the client's JSON-RPC error, in this server's words.
pub fn upstream_failure(upstream: &str, e: &UpstreamError) -> RpcError {
    let code = match e {
        UpstreamError::Rpc(code) => Some(*code),
        _ => None,
    };
    RpcError::upstream(code, e.describe(upstream))
}

/// A URI that names no resource of the caller's: -32002 until 2026-07-28, which
/// standardizes on -32602 (SEP-2164); the URI in `data` either way.
pub fn not_found(uri: &str, version: &str) -> RpcError {
    RpcError {
        code: if version == super::version::STATELESS {
            super::error::INVALID_PARAMS
        } else {
            RESOURCE_NOT_FOUND
        },
        message: "Resource not found".into(),
        data: Some(json!({ "uri": crate::util::text::truncate(uri, 200) })),
    }
}

fn encode_cursor(seq: u64) -> String {
    b64url(format!("resources-before:{seq}").as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let text = String::from_utf8(b64url_decode(cursor)?).ok()?;
    text.strip_prefix("resources-before:")?.parse().ok()
}
