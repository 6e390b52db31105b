//! The run's trace: a session (`crate::session`, `docs/session-format.md`)
//! with one line per exchange (request, response, device clock, server
//! clock, fault) and one per other event (local writes, crashes, checks),
//! in the order they happened. Its SHA-256 is the run's fingerprint: same
//! seed and same code, same hash. Being a session, it replays as one.

use std::io::Write;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::session::Line;
pub use crate::session::{DeviceFault, TraceEvent};

/// A line to write, borrowed: `{"kind":"event", …}` without a copy of the event.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum EventLine<'a> {
    Event(&'a TraceEvent),
}

/// What a run does with its trace.
///
/// `Off` exists for speed: a world that is only judged (exploration's
/// first pass, every shrinking run) needs neither the lines nor their hash,
/// and tracing is most of a simulated exchange's cost outside SQLite (each
/// body parsed, re-serialized and hashed). A failure is re-run with its
/// trace kept before anything reads it (`diagnose`, `timeline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceMode {
    /// Nothing is written, counted or hashed.
    Off,
    /// Lines are hashed and counted, not kept.
    Hash,
    /// Lines are hashed, counted and kept for a file.
    Keep,
}

/// `true` keeps the trace, `false` only hashes it: what callers that
/// predate `TraceMode` meant.
impl From<bool> for TraceMode {
    fn from(keep: bool) -> Self {
        if keep {
            TraceMode::Keep
        } else {
            TraceMode::Hash
        }
    }
}

/// Collects trace lines, hashes them, and optionally keeps them for a file.
pub struct Trace {
    sink: Sink,
    lines: u64,
    on: bool,
}

/// Where serialized lines go: straight into the hash (and the kept buffer),
/// with no intermediate copy of each line.
struct Sink {
    hasher: Sha256,
    keep: Option<Vec<u8>>,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(buf);
        if let Some(k) = self.keep.as_mut() {
            k.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Trace {
    /// `Keep` holds the lines in memory so they can be written to a file;
    /// `Off` makes every call a no-op.
    pub fn new(mode: impl Into<TraceMode>) -> Self {
        let mode = mode.into();
        Self {
            sink: Sink {
                hasher: Sha256::new(),
                keep: (mode == TraceMode::Keep).then(Vec::new),
            },
            lines: 0,
            on: mode != TraceMode::Off,
        }
    }

    /// Whether lines are recorded at all: callers skip building a line
    /// (parsing bodies) when they are not.
    pub fn on(&self) -> bool {
        self.on
    }

    /// Appends one line.
    pub fn line(&mut self, line: &Line) {
        self.write(line);
    }

    /// Appends an event line.
    pub fn emit(&mut self, ev: &TraceEvent) {
        self.write(&EventLine::Event(ev));
    }

    fn write(&mut self, line: &impl Serialize) {
        if !self.on {
            return;
        }
        if let Err(e) = serde_json::to_writer(&mut self.sink, line) {
            let _ = write!(
                self.sink,
                "{{\"kind\":\"event\",\"ev\":\"unserializable\",\"error\":\"{e}\"}}"
            );
        }
        let _ = self.sink.write_all(b"\n");
        self.lines += 1;
    }

    /// Appends an untyped event line; `ev` should be a JSON object
    /// (anything else is wrapped as `{"value": ev}`). Prefer `emit`.
    pub fn event(&mut self, ev: serde_json::Value) {
        let map = match ev {
            serde_json::Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        self.emit(&TraceEvent::Other(map));
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The hex SHA-256 of every line so far; `None` when the trace is off.
    pub fn hash(&self) -> Option<String> {
        self.on
            .then(|| hex::encode(self.sink.hasher.clone().finalize()))
    }

    /// Writes the kept lines to `path`.
    pub fn write_to(&self, path: &std::path::Path) -> std::io::Result<()> {
        let mut f = std::fs::File::create(path)?;
        f.write_all(self.sink.keep.as_deref().unwrap_or_default())?;
        f.flush()
    }

    /// The kept lines, if any.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.sink.keep.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Kind};
    use crate::invariant::Invariant;
    use serde_json::json;

    /// Every event as `sim/src/world.rs` and `run.rs` wrote it with
    /// `json!` before the type existed (the shapes copied from there), and
    /// the typed event that must write the same bytes.
    fn shapes() -> Vec<(serde_json::Value, TraceEvent, &'static str)> {
        let (t, dev, server, profile, ms, at) =
            (12_i64, 1_usize, 0_usize, 1_usize, 300_i64, 99_i64);
        let ev = Event::Create {
            dev: 1,
            kind: Kind::Url,
            tags: vec!["b".into()],
            unicode: false,
        };
        let (error, summary, name) = ("boom".to_string(), "pushed 1".to_string(), "b1".to_string());
        let v = crate::check::Violation {
            invariant: Invariant::NoLostWrite,
            detail: "gone".into(),
            items: vec!["d0-c1".into()],
        };
        vec![
            (
                json!({"ev": "event", "t": t, "event": ev}),
                TraceEvent::Event {
                    t,
                    event: ev.clone(),
                },
                r#"{"kind":"event","ev":"event","event":{"dev":1,"kind":"url","op":"create","tags":["b"],"unicode":false},"t":12}"#,
            ),
            (
                json!({"ev": "refused", "t": t, "error": error}),
                TraceEvent::Refused {
                    t,
                    error: error.clone(),
                },
                r#"{"kind":"event","error":"boom","ev":"refused","t":12}"#,
            ),
            (
                json!({"ev": "crash", "t": t, "dev": dev}),
                TraceEvent::Crash { t, dev },
                r#"{"kind":"event","dev":1,"ev":"crash","t":12}"#,
            ),
            (
                json!({"ev": "fault", "t": t, "dev": dev, "fault": "partition", "ms": ms}),
                TraceEvent::Fault {
                    t,
                    dev,
                    fault: DeviceFault::Partition,
                    ms,
                },
                r#"{"kind":"event","dev":1,"ev":"fault","fault":"partition","ms":300,"t":12}"#,
            ),
            (
                json!({"ev": "switch", "t": t, "dev": dev, "server": server, "profile": profile}),
                TraceEvent::Switch {
                    t,
                    dev,
                    server,
                    profile,
                },
                r#"{"kind":"event","dev":1,"ev":"switch","profile":1,"server":0,"t":12}"#,
            ),
            (
                json!({"ev": "server-restart", "t": t, "server": server}),
                TraceEvent::ServerRestart { t, server },
                r#"{"kind":"event","ev":"server-restart","server":0,"t":12}"#,
            ),
            (
                json!({"ev": "server-backup", "t": t, "at": at, "server": server, "backup": name}),
                TraceEvent::ServerBackup {
                    t,
                    at,
                    server,
                    backup: name.clone(),
                },
                r#"{"kind":"event","at":99,"backup":"b1","ev":"server-backup","server":0,"t":12}"#,
            ),
            (
                json!({"ev": "server-restore", "t": t, "server": server, "backup": name}),
                TraceEvent::ServerRestore {
                    t,
                    server,
                    backup: name.clone(),
                },
                r#"{"kind":"event","backup":"b1","ev":"server-restore","server":0,"t":12}"#,
            ),
            (
                json!({"ev": "sync-error", "t": t, "dev": dev, "error": error}),
                TraceEvent::SyncError {
                    t,
                    dev,
                    error: error.clone(),
                },
                r#"{"kind":"event","dev":1,"error":"boom","ev":"sync-error","t":12}"#,
            ),
            (
                json!({"ev": "sync-done", "t": t, "dev": dev, "summary": summary}),
                TraceEvent::SyncDone {
                    t,
                    dev,
                    summary: summary.clone(),
                },
                r#"{"kind":"event","dev":1,"ev":"sync-done","summary":"pushed 1","t":12}"#,
            ),
            (
                json!({"ev": "heal", "t": t}),
                TraceEvent::Heal { t },
                r#"{"kind":"event","ev":"heal","t":12}"#,
            ),
            (
                json!({"ev": "violation", "invariant": v.invariant, "detail": v.detail, "items": v.items}),
                TraceEvent::Violation {
                    invariant: v.invariant,
                    detail: v.detail.clone(),
                    items: v.items.clone(),
                },
                r#"{"kind":"event","detail":"gone","ev":"violation","invariant":"no-lost-write","items":["d0-c1"]}"#,
            ),
        ]
    }

    /// The typed events write exactly what the `json!` lines wrote (so
    /// switching an emission line keeps the trace hash), and read back as
    /// themselves, not as `Other`.
    #[test]
    fn typed_events_write_the_json_lines_of_before() {
        for (old, typed, want) in shapes() {
            let mut a = Trace::new(true);
            a.event(old);
            let mut b = Trace::new(true);
            b.emit(&typed);
            let want = format!("{want}\n");
            assert_eq!(String::from_utf8_lossy(a.bytes().unwrap()), want);
            assert_eq!(String::from_utf8_lossy(b.bytes().unwrap()), want);
            assert_eq!(a.hash(), b.hash());
            let back: Line = serde_json::from_str(want.trim_end()).unwrap();
            assert_eq!(back, Line::Event(typed));
        }
        // Every variant but `Other` is covered above.
        assert_eq!(shapes().len(), 12);
    }

    #[test]
    fn unknown_events_are_kept_as_they_stand() {
        // Written back with sorted keys, as every event line always was.
        let text = r#"{"kind":"event","dev":0,"ev":"clock-reading","ms":5}"#;
        let line: Line = serde_json::from_str(text).unwrap();
        assert!(matches!(&line, Line::Event(TraceEvent::Other(m)) if m["ms"] == 5));
        assert_eq!(serde_json::to_string(&line).unwrap(), text);
    }

    #[test]
    fn an_off_trace_writes_counts_and_hashes_nothing() {
        let mut t = Trace::new(TraceMode::Off);
        t.event(json!({"ev":"x"}));
        t.emit(&TraceEvent::Heal { t: 1 });
        assert!(!t.on());
        assert_eq!((t.lines(), t.hash(), t.bytes()), (0, None, None));
        assert!(Trace::new(TraceMode::Hash).on());
    }

    #[test]
    fn hash_depends_on_every_line_and_order() {
        let mut a = Trace::new(true);
        let mut b = Trace::new(false);
        for t in [&mut a, &mut b] {
            t.event(json!({"ev":"x","n":1}));
            t.event(json!({"ev":"y"}));
        }
        assert_eq!(a.hash(), b.hash());
        let mut c = Trace::new(false);
        c.event(json!({"ev":"y"}));
        c.event(json!({"ev":"x","n":1}));
        assert_ne!(a.hash(), c.hash());
        assert_eq!(
            a.bytes().unwrap(),
            b"{\"kind\":\"event\",\"ev\":\"x\",\"n\":1}\n{\"kind\":\"event\",\"ev\":\"y\"}\n"
        );
        assert_eq!(a.lines(), 2);
    }
}
