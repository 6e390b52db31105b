//! The event lines of a session: what the world did and found besides
//! exchanges, typed, so the timeline, replay and playback read the same
//! names the world writes (`docs/session-format.md`).

use serde::ser::{Error as _, SerializeMap};
use serde::{Deserialize, Serialize, Serializer};

use crate::event::Event;
use crate::invariant::Invariant;

/// A fault that holds a device for a while, rather than one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceFault {
    /// Cut off from every server for `ms`.
    Partition,
}

impl std::fmt::Display for DeviceFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceFault::Partition => "partition",
        })
    }
}

/// A trace line other than an exchange: what the world did and found, with
/// the true time `t` (ms since the world began). The `ev` field names the
/// variant. Readers (`timeline`, `session::replay`, `session::playback`)
/// match on this type; lines of other tools, or of a newer simulator, read
/// as `Other` and are kept as they stand.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum TraceEvent {
    /// A workload event is about to run.
    Event {
        t: i64,
        event: Event,
    },
    /// The engine refused a local operation (a user action that did not happen).
    Refused {
        t: i64,
        error: String,
    },
    /// The device's process was killed; its running sync is gone.
    Crash {
        t: i64,
        dev: usize,
    },
    /// A fault on the device for `ms`.
    Fault {
        t: i64,
        dev: usize,
        fault: DeviceFault,
        ms: i64,
    },
    /// The device now syncs with another server or server profile.
    Switch {
        t: i64,
        dev: usize,
        server: usize,
        profile: usize,
    },
    ServerRestart {
        t: i64,
        server: usize,
    },
    /// A backup taken at server time `at`.
    ServerBackup {
        t: i64,
        at: i64,
        server: usize,
        backup: String,
    },
    /// The server went back to its newest backup.
    ServerRestore {
        t: i64,
        server: usize,
        backup: String,
    },
    /// A sync ended with an error.
    SyncError {
        t: i64,
        dev: usize,
        error: String,
    },
    /// A sync finished; `summary` is its `Display`.
    SyncDone {
        t: i64,
        dev: usize,
        summary: String,
    },
    /// The fault phase ends: partitions heal, every device syncs.
    Heal {
        t: i64,
    },
    /// A broken invariant, after healing.
    Violation {
        invariant: Invariant,
        detail: String,
        items: Vec<String>,
    },
    /// Any other event line, as it stands.
    #[serde(untagged)]
    Other(serde_json::Map<String, serde_json::Value>),
}

/// Writes the keys in sorted order, `ev` among them: the order trace
/// lines have always had (they were `serde_json::Map`s, which sort), so
/// the trace hash of a seed does not change with the type.
impl Serialize for TraceEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let TraceEvent::Other(m) = self {
            return m.serialize(s);
        }
        let mut m = s.serialize_map(None)?;
        match self {
            TraceEvent::Event { t, event } => {
                // Nested keys sorted too, as a `Value` writes them.
                let event = serde_json::to_value(event).map_err(S::Error::custom)?;
                m.serialize_entry("ev", "event")?;
                m.serialize_entry("event", &event)?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::Refused { t, error } => {
                m.serialize_entry("error", error)?;
                m.serialize_entry("ev", "refused")?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::Crash { t, dev } => {
                m.serialize_entry("dev", dev)?;
                m.serialize_entry("ev", "crash")?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::Fault { t, dev, fault, ms } => {
                m.serialize_entry("dev", dev)?;
                m.serialize_entry("ev", "fault")?;
                m.serialize_entry("fault", fault)?;
                m.serialize_entry("ms", ms)?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::Switch {
                t,
                dev,
                server,
                profile,
            } => {
                m.serialize_entry("dev", dev)?;
                m.serialize_entry("ev", "switch")?;
                m.serialize_entry("profile", profile)?;
                m.serialize_entry("server", server)?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::ServerRestart { t, server } => {
                m.serialize_entry("ev", "server-restart")?;
                m.serialize_entry("server", server)?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::ServerBackup {
                t,
                at,
                server,
                backup,
            } => {
                m.serialize_entry("at", at)?;
                m.serialize_entry("backup", backup)?;
                m.serialize_entry("ev", "server-backup")?;
                m.serialize_entry("server", server)?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::ServerRestore { t, server, backup } => {
                m.serialize_entry("backup", backup)?;
                m.serialize_entry("ev", "server-restore")?;
                m.serialize_entry("server", server)?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::SyncError { t, dev, error } => {
                m.serialize_entry("dev", dev)?;
                m.serialize_entry("error", error)?;
                m.serialize_entry("ev", "sync-error")?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::SyncDone { t, dev, summary } => {
                m.serialize_entry("dev", dev)?;
                m.serialize_entry("ev", "sync-done")?;
                m.serialize_entry("summary", summary)?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::Heal { t } => {
                m.serialize_entry("ev", "heal")?;
                m.serialize_entry("t", t)?;
            }
            TraceEvent::Violation {
                invariant,
                detail,
                items,
            } => {
                m.serialize_entry("detail", detail)?;
                m.serialize_entry("ev", "violation")?;
                m.serialize_entry("invariant", invariant)?;
                m.serialize_entry("items", items)?;
            }
            TraceEvent::Other(_) => unreachable!("handled above"),
        }
        m.end()
    }
}
