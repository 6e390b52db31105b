//! The driver protocol (`docs/driver-protocol.md`): an external client is a
//! subprocess that reads one JSON request per line on stdin and writes one
//! JSON reply per line on stdout. [`DriverClient`] is the world's side of
//! the process; [`DriverDevice`] is such a client as a world's device
//! (stepped sync by sync, its requests through its HTTP front,
//! `crate::front`). A driver's side of the protocol (`conformance`'s
//! `serve`) uses the same types.

mod device;
mod process;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use device::DriverDevice;
pub use process::{DriverClient, DriverError};

/// One request line: `{"id": 7, "cmd": "create", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: u64,
    #[serde(flatten)]
    pub cmd: Command,
}

/// The commands, with their arguments (camelCase on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// Which implementation this is. Reply: `{"name": …}`.
    Hello,
    #[serde(rename_all = "camelCase")]
    Configure {
        server_url: String,
        api_key: String,
        #[serde(default)]
        server_profile_id: Option<String>,
    },
    /// Reply: `{"id": local id}`.
    Create {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
        /// The item's metadata (JSON text), to keep and sync with the
        /// item: how the world's item origins travel. Optional.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<String>,
    },
    /// The item is named by `item` (its local id): `id` is the request's.
    Update {
        #[serde(rename = "item")]
        id: String,
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        tags: Option<Vec<String>>,
    },
    Delete {
        #[serde(rename = "item")]
        id: String,
    },
    Tag {
        #[serde(rename = "item")]
        id: String,
        tag: String,
    },
    /// `mode`: `full`, `pull` or `push`. Reply: `{"pulled": n, "pushed": n}`.
    Sync {
        #[serde(default = "full")]
        mode: String,
    },
    /// Reply: `{"items": [ItemView…]}`.
    #[serde(rename_all = "camelCase")]
    Items {
        #[serde(default)]
        include_deleted: bool,
    },
    #[serde(rename_all = "camelCase")]
    SetClock {
        offset_ms: i64,
    },
    Restart,
    Shutdown,
}

fn full() -> String {
    "full".into()
}

/// One reply line: `{"id": 7, "ok": true, "result": {...}}` or
/// `{"id": 7, "ok": false, "error": {"kind": "sync", "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ReplyError>,
}

/// One local item in an `items` reply (ids are the client's own).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub content: Option<String>,
    pub tags: Vec<String>,
    pub deleted: bool,
    #[serde(rename = "syncId", default)]
    pub sync_id: String,
    /// The metadata given at `create` (or pulled with the item), if the
    /// client keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// The error kinds: `sync` (the sync failed, e.g. a version mismatch or a
/// server error), `refused` (invalid input, unknown item), `unsupported`
/// (the implementation cannot do this), `internal` (anything else).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyError {
    pub kind: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_flat_json_lines() {
        let e = Envelope {
            id: 3,
            cmd: Command::Configure {
                server_url: "http://x".into(),
                api_key: "k".into(),
                server_profile_id: None,
            },
        };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(
            s,
            r#"{"id":3,"cmd":"configure","serverUrl":"http://x","apiKey":"k","serverProfileId":null}"#
        );
        let back: Envelope = serde_json::from_str(r#"{"id":4,"cmd":"sync"}"#).unwrap();
        assert_eq!(
            back.cmd,
            Command::Sync {
                mode: "full".into()
            }
        );
        let d = Envelope {
            id: 6,
            cmd: Command::Delete { id: "x1".into() },
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"id":6,"cmd":"delete","item":"x1"}"#
        );
        let c: Envelope =
            serde_json::from_str(r#"{"id":5,"cmd":"set_clock","offsetMs":-90000}"#).unwrap();
        assert_eq!(c.cmd, Command::SetClock { offset_ms: -90000 });
    }
}
