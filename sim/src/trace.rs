//! The run's trace: a session (`crate::session`, `docs/session-format.md`)
//! with one line per exchange (request, response, device clock, server
//! clock, fault) and one per other event (local writes, crashes, checks),
//! in the order they happened. Its SHA-256 is the run's fingerprint: same
//! seed and same code, same hash. Being a session, it replays as one.

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::session::Line;

/// Collects trace lines, hashes them, and optionally keeps them for a file.
pub struct Trace {
    sink: Sink,
    lines: u64,
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
    /// `keep`: hold the lines in memory so they can be written to a file.
    pub fn new(keep: bool) -> Self {
        Self {
            sink: Sink {
                hasher: Sha256::new(),
                keep: keep.then(Vec::new),
            },
            lines: 0,
        }
    }

    /// Appends one line.
    pub fn line(&mut self, line: &Line) {
        if let Err(e) = serde_json::to_writer(&mut self.sink, line) {
            let _ = write!(
                self.sink,
                "{{\"kind\":\"event\",\"ev\":\"unserializable\",\"error\":\"{e}\"}}"
            );
        }
        let _ = self.sink.write_all(b"\n");
        self.lines += 1;
    }

    /// Appends an event line; `ev` should be a JSON object (anything else
    /// is wrapped as `{"value": ev}`).
    pub fn event(&mut self, ev: serde_json::Value) {
        let map = match ev {
            serde_json::Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        self.line(&Line::Event(map));
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The hex SHA-256 of every line so far.
    pub fn hash(&self) -> String {
        hex::encode(self.sink.hasher.clone().finalize())
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
    use serde_json::json;

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
