//! Item and wire types, and lenient parsing of server items.
//!
//! The reference reads either spelling of every timestamp (§0.2, §1.3):
//! camelCase first, then the snake_case alias, each as an integer, a digit
//! string or an ISO string (guarantee 7, fixes D1/D2). The platform models
//! parse the way their originals did (see `platform`).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The four item types (the ground floor's). The engine reads them with
/// `ItemType::parse_lenient`: mobile's `page` is a url (§4.4).
pub use protocol::ItemType;

/// A local item with its tags (sorted by name).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalItem {
    pub id: String,
    pub kind: ItemType,
    pub content: Option<String>,
    /// JSON text, `None` when absent.
    pub metadata: Option<String>,
    pub tags: Vec<String>,
    pub sync_id: String,
    pub sync_source: String,
    pub synced_at: i64,
    pub created_at: i64,
    /// Local edit time (client clock) or, for pulled rows, the server's.
    pub updated_at: i64,
    /// 0 = live.
    pub deleted_at: i64,
    /// Bumped in the same transaction as every local edit: "pending" is
    /// `localRev > pushedRev` and never depends on a clock (D11, D13).
    pub local_rev: i64,
}

impl LocalItem {
    pub fn is_live(&self) -> bool {
        self.deleted_at == 0
    }
}

/// An item as the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerItem {
    pub id: String,
    pub kind: ItemType,
    pub content: Option<String>,
    /// JSON text of `metadata`, `None` when the key is absent or null.
    pub metadata: Option<String>,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// 0 = live. Absent (as in `GET /items/:id`) counts as live.
    pub deleted_at: i64,
    /// The server's change sequence of this version, when it sends one.
    pub version: Option<i64>,
    /// Edit time of this version (`editedAt`, peek-server extension): kept
    /// as the local `updatedAt`, so a copy carried to another server
    /// competes with its real edit time, not the time it was pulled.
    pub edited_at: Option<i64>,
    /// The sync id the item was first pushed with (peek-server extension):
    /// its identity across servers.
    pub sync_id: Option<String>,
}

impl ServerItem {
    /// The item's identity across servers: the sync id it was first
    /// pushed with, else this server's id.
    pub fn identity(&self) -> &str {
        self.sync_id.as_deref().unwrap_or(&self.id)
    }

    /// When this version was edited: `editedAt` if the server sends it,
    /// else its `updatedAt`.
    pub fn edit_time(&self) -> i64 {
        self.edited_at.unwrap_or(self.updated_at).max(0)
    }

    pub fn is_live(&self) -> bool {
        self.deleted_at == 0
    }
}

/// Which keys, and which value shapes, a reader accepts for a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampKeys {
    /// Reference: `createdAt` then `created_at`; int, digits or ISO.
    Lenient,
    /// The originals read only the snake_case keys (D1). A missing key is
    /// `None` (JS `NaN`); `strings_only` mirrors Tauri desktop's `String`
    /// type (D2): an integer is a parse error.
    SnakeOnly { strings_only: bool, required: bool },
}

/// A timestamp value: int, float (truncated), digit string or ISO string.
pub fn timestamp_value(v: &Value) -> Option<i64> {
    match v {
        Value::Null => None,
        other => protocol::timestamp::from_json(other)
            .ok()
            .map(|o| o.unwrap_or(0)),
    }
}

fn read_ts(
    obj: &Map<String, Value>,
    camel: &str,
    snake: &str,
    keys: TimestampKeys,
) -> Result<Option<i64>> {
    match keys {
        TimestampKeys::Lenient => {
            for k in [camel, snake] {
                match obj.get(k) {
                    None | Some(Value::Null) => continue,
                    Some(v) => {
                        return timestamp_value(v)
                            .map(Some)
                            .ok_or_else(|| Error::Malformed(format!("{k} is not a timestamp")))
                    }
                }
            }
            Ok(None)
        }
        TimestampKeys::SnakeOnly {
            strings_only,
            required,
        } => match obj.get(snake) {
            None | Some(Value::Null) if required => {
                Err(Error::Malformed(format!("missing field `{snake}`")))
            }
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(protocol::timestamp::parse_iso(s)),
            Some(Value::Number(_)) if strings_only => Err(Error::Malformed(format!(
                "invalid type: integer, expected a string for `{snake}`"
            ))),
            Some(v) => Ok(timestamp_value(v)),
        },
    }
}

/// Parses one server item. `None` timestamps (the originals' `NaN`) are
/// reported as `i64::MIN` so that a model can reproduce NaN comparisons.
pub fn parse_server_item(v: &Value, keys: TimestampKeys) -> Result<ServerItem> {
    let obj = v
        .as_object()
        .ok_or_else(|| Error::Malformed("item is not an object".into()))?;
    let id = match obj.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(Error::Malformed("item without id".into())),
    };
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .and_then(ItemType::parse_lenient)
        .ok_or_else(|| Error::Malformed(format!("item {id}: unknown type")))?;
    let content = match obj.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let metadata = obj
        .get("metadata")
        .filter(|m| !m.is_null())
        .map(Value::to_string);
    let tags = match obj.get("tags") {
        Some(Value::Array(a)) => {
            let mut t: Vec<String> = a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            t.sort();
            t.dedup();
            t
        }
        _ => Vec::new(),
    };
    let created_at = read_ts(obj, "createdAt", "created_at", keys)?.unwrap_or(i64::MIN);
    let updated_at = read_ts(obj, "updatedAt", "updated_at", keys)?.unwrap_or(i64::MIN);
    // The originals never read `deletedAt` (D4); their models ignore it.
    let deleted_at = match keys {
        TimestampKeys::Lenient => read_ts(obj, "deletedAt", "deleted_at", keys)?.unwrap_or(0),
        TimestampKeys::SnakeOnly { .. } => 0,
    };
    let version = obj.get("version").and_then(Value::as_i64);
    let edited_at = obj
        .get("editedAt")
        .and_then(Value::as_i64)
        .filter(|t| *t > 0);
    let sync_id = obj
        .get("syncId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(ServerItem {
        id,
        kind,
        content,
        metadata,
        tags,
        created_at,
        updated_at,
        deleted_at,
        version,
        edited_at,
        sync_id,
    })
}

/// What `GET /` advertises (`features`); unknown names are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    pub changes_feed: bool,
    pub batch_push: bool,
    pub items_paging: bool,
    pub edit_conflicts: bool,
    pub strict_profile: bool,
}

impl Features {
    pub fn from_health(body: &Value) -> Self {
        let has = |name: &str| {
            body.get("features")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|f| f.as_str() == Some(name)))
        };
        Self {
            changes_feed: has("changes-feed"),
            batch_push: has("batch-push"),
            items_paging: has("items-paging"),
            edit_conflicts: has("edit-conflicts"),
            strict_profile: has("strict-profile"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_spellings_and_both_value_shapes_parse() {
        let camel = json!({"id":"a","type":"url","content":"u","createdAt":5,"updatedAt":7,"deletedAt":0,"tags":["b","a"],"version":3});
        let snake = json!({"id":"a","type":"url","content":"u","created_at":"1970-01-01T00:00:00.005Z","updated_at":"7","deleted_at":null,"tags":["a","b"]});
        let a = parse_server_item(&camel, TimestampKeys::Lenient).unwrap();
        let b = parse_server_item(&snake, TimestampKeys::Lenient).unwrap();
        assert_eq!((a.created_at, a.updated_at, a.deleted_at), (5, 7, 0));
        assert_eq!((b.created_at, b.updated_at, b.deleted_at), (5, 7, 0));
        assert_eq!(a.tags, vec!["a", "b"]);
        assert_eq!(a.version, Some(3));
        assert_eq!(b.version, None);
    }

    #[test]
    fn originals_miss_camel_case_and_tauri_rejects_integers() {
        let camel = json!({"id":"a","type":"text","content":"x","createdAt":5,"updatedAt":7});
        let js = TimestampKeys::SnakeOnly {
            strings_only: false,
            required: false,
        };
        assert_eq!(parse_server_item(&camel, js).unwrap().updated_at, i64::MIN);
        let tauri = TimestampKeys::SnakeOnly {
            strings_only: true,
            required: true,
        };
        assert!(parse_server_item(&camel, tauri).is_err());
        let ints = json!({"id":"a","type":"text","content":"x","created_at":5,"updated_at":7});
        assert!(parse_server_item(&ints, tauri).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_server_item(&json!([]), TimestampKeys::Lenient).is_err());
        assert!(parse_server_item(&json!({"id":"a","type":"x"}), TimestampKeys::Lenient).is_err());
        assert!(parse_server_item(
            &json!({"id":"a","type":"url","updatedAt":"soon"}),
            TimestampKeys::Lenient
        )
        .is_err());
    }
}
