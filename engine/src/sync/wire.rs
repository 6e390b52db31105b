//! The reference push body and the parsing of pulled pages: the JSON the
//! reference sends and reads (§1.3, §1.4, the conflict extension).

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::model::{parse_server_item, LocalItem, ServerItem, TimestampKeys};
use crate::rules::push as push_rules;
use crate::store::links::{Link, Pending};
use crate::store::Store;

/// One pushed item. The sync id is the local id until the server has
/// answered once, then the server id (§3.1 steps 1–2); both spellings are
/// sent. Tombstones carry `deletedAt` (D3, D4). With `edit-conflicts`:
/// `baseVersion` (the last server version seen) and `editedAt` (the local
/// edit time).
pub(crate) fn push_body(store: &Store, p: &Pending, edit_conflicts: bool) -> Result<Value> {
    let it = &p.item;
    let mut o = Map::new();
    o.insert("type".into(), json!(it.kind.as_str()));
    o.insert("content".into(), json!(it.content));
    o.insert("tags".into(), json!(it.tags));
    if let Some(m) = &it.metadata {
        o.insert(
            "metadata".into(),
            serde_json::from_str(m).unwrap_or_else(|_| json!(m)),
        );
    }
    let sid = push_rules::identity(it);
    let link = p.link.as_ref().map(Link::state);
    o.insert("syncId".into(), json!(sid));
    o.insert("sync_id".into(), json!(sid));
    if !it.is_live() {
        o.insert("deletedAt".into(), json!(it.deleted_at));
    }
    if push_rules::carries_bytes(it.kind, link.as_ref()) {
        if let Some(data) = store.blob(&it.id)? {
            o.insert(
                "content".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(data)),
            );
            o.insert("filename".into(), json!(it.content));
            let mime = it
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
                .and_then(|m| m.get("mime").and_then(Value::as_str).map(str::to_string));
            o.insert("mime".into(), json!(mime));
        }
    }
    if edit_conflicts {
        o.insert(
            "baseVersion".into(),
            json!(push_rules::base_version(link.as_ref())),
        );
        o.insert("editedAt".into(), json!(it.updated_at.max(1)));
    }
    Ok(Value::Object(o))
}

pub(crate) fn parse_items(body: &Value) -> Result<Vec<ServerItem>> {
    body.get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Malformed("answer without items".into()))?
        .iter()
        .map(|v| parse_server_item(v, TimestampKeys::Lenient))
        .collect()
}

pub(crate) fn tombstone_of(
    local: &LocalItem,
    server_id: &str,
    version: Option<i64>,
    now: i64,
) -> ServerItem {
    ServerItem {
        id: server_id.to_string(),
        kind: local.kind,
        content: local.content.clone(),
        metadata: local.metadata.clone(),
        tags: local.tags.clone(),
        created_at: local.created_at,
        updated_at: now,
        deleted_at: if local.deleted_at > 0 {
            local.deleted_at
        } else {
            now.max(1)
        },
        version,
        edited_at: None,
        sync_id: None,
    }
}
