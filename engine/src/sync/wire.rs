//! The reference push body and the parsing of pulled pages: the JSON the
//! reference sends and reads (§1.3, §1.4, the conflict extension).

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::model::{parse_server_item, ItemType, LocalItem, ServerItem, TimestampKeys};
use crate::store::links::Pending;
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
    // The item's identity: the sync id it was first pushed with (its
    // creator's local id, recorded on push and learnt on pull), else, for
    // an item never pushed, this device's local id.
    let identity = if it.sync_id.is_empty() {
        it.id.as_str()
    } else {
        it.sync_id.as_str()
    };
    // Always the identity, never this server's row id: the server matches
    // it against the row's `syncId` (which is this identity), and if the
    // row is gone (a restore) every device recreates one row under the
    // same key instead of each under its own (found by the simulator).
    let sid = identity;
    // A link marked by a restore (`pushedRev` -1) has no trustworthy
    // version: judge the push by edit time.
    let link = p.link.as_ref().filter(|l| l.pushed_rev >= 0);
    o.insert("syncId".into(), json!(sid));
    o.insert("sync_id".into(), json!(sid));
    if !it.is_live() {
        o.insert("deletedAt".into(), json!(it.deleted_at));
    }
    // An image's bytes go with its first push to a server, and again after
    // a restore (`pushedRev` -1): the restored server may have lost the
    // row, and without the bytes it cannot recreate it (found by the
    // simulator).
    if it.kind == ItemType::Image && p.link.as_ref().is_none_or(|l| l.pushed_rev < 0) {
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
        // 0 when this server never gave us the item: any concurrent row
        // there is then judged by edit time, so a stale copy brought from
        // another server cannot overwrite a newer edit (found by the
        // simulator: two devices switching servers).
        let base = link.and_then(|l| l.server_version).unwrap_or(0);
        o.insert("baseVersion".into(), json!(base));
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
