//! Item JSON on the wire, both directions.
//!
//! Out: the deployed camelCase keys (`createdAt`, `updatedAt`, `deletedAt`
//! as integer ms) **and** snake_case aliases as ISO strings with
//! milliseconds (`created_at`, `updated_at`, `deleted_at`). Every client
//! generation reads the snake keys (D1) and Tauri desktop types them as
//! `String` (D2); an ISO string is the one value all five parse. `version`
//! (the change-feed position) is additive.
//!
//! In: `syncId` or `sync_id`, `deletedAt` or `deleted_at` (D3), integer or
//! ISO timestamps; wrong types are a 400 naming the field (D30).

use base64::Engine as _;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::store::items::{Item, ItemType, ItemWrite, TYPE_ERROR};
use crate::timestamp::{self, Iso};

/// Serialized form of an item.
#[derive(Serialize)]
pub struct ItemOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    content: Option<&'a str>,
    #[serde(rename = "createdAt")]
    created_at: i64,
    #[serde(rename = "updatedAt")]
    updated_at: i64,
    #[serde(rename = "deletedAt", skip_serializing_if = "Option::is_none")]
    deleted_at: Option<i64>,
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    #[serde(rename = "created_at")]
    created_iso: Iso,
    #[serde(rename = "updated_at")]
    updated_iso: Iso,
    #[serde(rename = "deleted_at", skip_serializing_if = "Option::is_none")]
    deleted_iso: Option<Option<Iso>>,
    version: i64,
    /// Edit time of this version (the pushing client's `editedAt`, else the
    /// server time it arrived): what the conflict rule compares.
    #[serde(rename = "editedAt")]
    edited_at: i64,
    /// The sync id the item was first pushed with (`""` for items created
    /// off the sync path): its identity across servers, so two devices
    /// carrying it to a new server make one row there.
    #[serde(rename = "syncId")]
    sync_id: &'a str,
}

/// Stored metadata: passed through as JSON when it is JSON, else as the
/// string it is (the Node server threw a 500 on such rows).
#[derive(Serialize)]
#[serde(untagged)]
enum Metadata<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

impl<'a> ItemOut<'a> {
    /// `with_deleted`: list and since responses carry `deletedAt`;
    /// `GET /items/:id` does not (§1.3).
    pub fn new(item: &'a Item, with_deleted: bool) -> Self {
        let metadata = item.metadata.as_deref().map(|m| {
            serde_json::from_str::<&RawValue>(m)
                .map(Metadata::Json)
                .unwrap_or(Metadata::Text(m))
        });
        Self {
            id: &item.id,
            kind: &item.kind,
            content: item.content.as_deref(),
            created_at: item.created_at,
            updated_at: item.updated_at,
            deleted_at: with_deleted.then_some(item.deleted_at),
            tags: &item.tags,
            metadata,
            created_iso: Iso(item.created_at),
            updated_iso: Iso(item.updated_at),
            deleted_iso: with_deleted
                .then(|| (item.deleted_at != 0).then_some(Iso(item.deleted_at))),
            version: item.version,
            edited_at: if item.edited_at > 0 {
                item.edited_at
            } else {
                item.updated_at
            },
            sync_id: &item.sync_id,
        }
    }
}

fn opt_string(obj: &Map<String, Value>, keys: &[&str], what: &str) -> ApiResult<Option<String>> {
    for k in keys {
        match obj.get(*k) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(_) => return Err(ApiError::bad(format!("{what} must be a string"))),
        }
    }
    Ok(None)
}

/// `tags`: absent or null means none; otherwise an array of strings.
pub fn tags_field(obj: &Map<String, Value>) -> ApiResult<Vec<String>> {
    match obj.get("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| match t {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ApiError::bad("tags must be an array of strings")),
            })
            .collect(),
        Some(_) => Err(ApiError::bad("tags must be an array of strings")),
    }
}

/// `metadata`: any JSON; null or absent means none.
pub fn metadata_field(obj: &Map<String, Value>) -> Option<String> {
    obj.get("metadata")
        .filter(|v| !v.is_null())
        .map(Value::to_string)
}

/// A sync id: a non-empty string (numbers are accepted as their digits).
fn sync_id_field(obj: &Map<String, Value>) -> ApiResult<Option<String>> {
    for k in ["syncId", "sync_id"] {
        match obj.get(k) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if s.is_empty() => continue,
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(Value::Number(n)) => return Ok(Some(n.to_string())),
            Some(_) => return Err(ApiError::bad("syncId must be a string")),
        }
    }
    Ok(None)
}

fn timestamp_field(obj: &Map<String, Value>, keys: &[&str], now: i64) -> ApiResult<Option<i64>> {
    for k in keys {
        let Some(v) = obj.get(*k) else { continue };
        if v == &Value::Bool(true) {
            return Ok(Some(now));
        }
        match timestamp::from_json(v) {
            Ok(None) => continue,
            Ok(Some(ms)) if ms > 0 => return Ok(Some(ms)),
            _ => {
                return Err(ApiError::bad(format!(
                    "{k} must be a positive timestamp (Unix ms or ISO 8601)"
                )))
            }
        }
    }
    Ok(None)
}

/// The image-only fields of `POST /items`.
#[derive(Debug, Default)]
pub struct ImagePayload {
    pub data: Option<Vec<u8>>,
    pub filename: Option<String>,
    pub mime: Option<String>,
}

/// Parses one pushed item (`POST /items`, one entry of a batch).
pub fn parse_item(v: &Value, now: i64) -> ApiResult<(ItemWrite, ImagePayload)> {
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad("item must be a JSON object"))?;
    let kind = match obj.get("type") {
        Some(Value::String(s)) => {
            Some(ItemType::parse(s).ok_or_else(|| ApiError::bad(TYPE_ERROR))?)
        }
        _ => return Err(ApiError::bad(TYPE_ERROR)),
    };
    let content = opt_string(obj, &["content"], "content")?;
    let base_version = match obj.get("baseVersion").or_else(|| obj.get("base_version")) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some_and(|x| x >= 0) => n.as_i64(),
        Some(_) => return Err(ApiError::bad("baseVersion must be a non-negative integer")),
    };
    let mut image = ImagePayload::default();
    if kind == Some(ItemType::Image) {
        image.filename = opt_string(obj, &["filename"], "filename")?;
        image.mime = opt_string(obj, &["mime"], "mime")?;
        if let Some(c) = content.as_deref().filter(|c| !c.is_empty()) {
            let b64 = c.split_once("base64,").map_or(c, |(_, rest)| rest);
            match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                Ok(data) => image.data = Some(data),
                // Without `filename` this is the update form of a synced
                // image: `content` is its file name, as pulled (D19).
                Err(_) if image.filename.is_none() => {}
                Err(_) => return Err(ApiError::bad("content must be base64 image data")),
            }
        }
    }
    let w = ItemWrite {
        kind,
        content,
        tags: tags_field(obj)?,
        metadata: metadata_field(obj),
        sync_id: sync_id_field(obj)?,
        deleted_at: timestamp_field(obj, &["deletedAt", "deleted_at"], now)?,
        base_version,
        edited_at: timestamp_field(obj, &["editedAt", "edited_at"], now)?,
    };
    Ok((w, image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_are_read_and_camel_case_wins() {
        let (w, _) = parse_item(
            &json!({"type":"url","content":"u","sync_id":"a","syncId":"b","deleted_at":"2026-01-27T10:00:00.5Z"}),
            9,
        )
        .unwrap();
        assert_eq!(w.sync_id.as_deref(), Some("b"));
        assert_eq!(w.deleted_at, Some(1_769_508_000_500));
        let (w, _) = parse_item(&json!({"type":"url","content":"u","deletedAt":true}), 9).unwrap();
        assert_eq!(w.deleted_at, Some(9));
        let (w, _) = parse_item(&json!({"type":"url","content":"u","deletedAt":0}), 9).unwrap();
        assert_eq!(w.deleted_at, None);
    }

    #[test]
    fn wrong_types_are_named() {
        let e = |v: Value| parse_item(&v, 0).unwrap_err().to_string();
        assert_eq!(
            e(json!({"type":"url","content":5})),
            "content must be a string"
        );
        assert_eq!(
            e(json!({"type":"url","tags":"a"})),
            "tags must be an array of strings"
        );
        assert_eq!(
            e(json!({"type":"url","tags":[1]})),
            "tags must be an array of strings"
        );
        assert_eq!(e(json!({"type":"nope"})), TYPE_ERROR);
        assert_eq!(e(json!([])), "item must be a JSON object");
        assert!(e(json!({"type":"url","deletedAt":"soon"})).starts_with("deletedAt must be"));
        assert_eq!(
            e(json!({"type":"url","baseVersion":-1})),
            "baseVersion must be a non-negative integer"
        );
    }

    #[test]
    fn output_carries_both_timestamp_spellings() {
        let item = Item {
            id: "i".into(),
            kind: "url".into(),
            content: Some("u".into()),
            metadata: Some("{\"a\":1}".into()),
            sync_id: String::new(),
            created_at: 1_769_508_000_123,
            updated_at: 1_769_508_000_456,
            deleted_at: 0,
            version: 3,
            edited_at: 0,
            tags: vec!["t".into()],
        };
        let v = serde_json::to_value(ItemOut::new(&item, true)).unwrap();
        assert_eq!(v["createdAt"], 1_769_508_000_123_i64);
        assert_eq!(v["created_at"], "2026-01-27T10:00:00.123Z");
        assert_eq!(v["updated_at"], "2026-01-27T10:00:00.456Z");
        assert_eq!(v["deletedAt"], 0);
        assert_eq!(v["deleted_at"], Value::Null);
        assert_eq!(v["metadata"], json!({"a":1}));
        let v = serde_json::to_value(ItemOut::new(&item, false)).unwrap();
        assert!(v.get("deletedAt").is_none() && v.get("deleted_at").is_none());
    }
}
