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
pub use process::{log_tail, DriverClient, DriverError, STDERR_LOG};

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
    /// Which implementation this is, and where it keeps its state.
    /// Reply: [`Hello`]. A protocol-1 driver ignores both arguments.
    #[serde(rename_all = "camelCase")]
    Hello {
        #[serde(default = "protocol_1")]
        protocol: u32,
        /// The device's own directory: empty at first start, the same on
        /// every re-exec, so the client's files survive a restart there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_dir: Option<String>,
    },
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
    /// A row put straight into the client's database, as the original's
    /// e2e scripts seed one (no app code path). Reply: `{"id": local id}`.
    #[serde(rename_all = "camelCase")]
    SeedRow {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        sync_id: String,
    },
    Restart,
    Shutdown,
}

fn full() -> String {
    "full".into()
}

fn protocol_1() -> u32 {
    1
}

/// How much of a driver's stderr a failure report keeps (a failing world
/// here, a failing scenario in the conformance suite).
pub const LOG_LINES: usize = 60;

/// The protocol this suite speaks.
pub const PROTOCOL: u32 = 2;

/// A `hello` reply: who the driver is, what it was built from and what it
/// can do. Protocol-1 drivers answer with a name only; the defaults are
/// what such a driver was assumed to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    pub name: String,
    #[serde(default = "protocol_1")]
    pub protocol: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default)]
    pub capabilities: Capabilities,
}

/// What a driver was built from: the original commit and a hash of the
/// files compiled, so a matrix says which code it judged.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Source {
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub files: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
}

/// How a driver restarts its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartKind {
    /// The suite ends the process and starts it again on the same data
    /// directory: what a device's restart is for clients with process
    /// state (statics, caches).
    Reexec,
    /// The driver's `restart` command rebuilds the client in its process.
    InProcess,
    /// It cannot restart: scenarios that restart are n/a.
    None,
}

/// What a driver can do (`hello`'s `capabilities`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Capabilities {
    pub restart: RestartKind,
    /// The `sync` modes it runs natively (`full`, `pull`, `push`).
    pub sync_modes: Vec<String>,
    /// `offset` if `set_clock` shifts the client's clock, `none` if not.
    pub clock: String,
    /// How `serverProfileId` reaches the server: `id`, `slug` or
    /// `default-only`.
    pub profiles: String,
    /// Keeps `create`'s metadata and syncs it.
    pub metadata: bool,
    /// Answers commands while a `sync` is outstanding.
    pub concurrent: bool,
    /// Supports `seed_row`.
    pub seed: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            restart: RestartKind::InProcess,
            sync_modes: vec!["full".into(), "pull".into(), "push".into()],
            clock: "offset".into(),
            profiles: "id".into(),
            metadata: false,
            concurrent: false,
            seed: false,
        }
    }
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
        let h = Envelope {
            id: 1,
            cmd: Command::Hello {
                protocol: PROTOCOL,
                data_dir: Some("/d/data".into()),
            },
        };
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            r#"{"id":1,"cmd":"hello","protocol":2,"dataDir":"/d/data"}"#
        );
    }

    #[test]
    fn a_protocol_1_hello_gets_the_old_assumptions() {
        let h: Hello = serde_json::from_str(r#"{"name":"old 1","protocol":1}"#).unwrap();
        assert_eq!(h.protocol, 1);
        assert_eq!(h.capabilities.restart, RestartKind::InProcess);
        assert!(!h.capabilities.concurrent);
        let h: Hello = serde_json::from_str(
            r#"{"name":"new","protocol":2,"capabilities":{"restart":"reexec","seed":true},
                "source":{"commit":"abc","files":"sha256:00","paths":["a.ts"]}}"#,
        )
        .unwrap();
        assert_eq!(h.capabilities.restart, RestartKind::Reexec);
        assert!(h.capabilities.seed);
        assert_eq!(
            h.capabilities.sync_modes.len(),
            3,
            "unnamed fields keep their defaults"
        );
        assert_eq!(h.source.unwrap().commit.as_deref(), Some("abc"));
    }
}
