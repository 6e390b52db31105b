//! Expectation files (the web-platform-tests idea): per client target, the
//! scenarios known to fail, each with the D-number that explains it, so a
//! known bug keeps CI green while a new failure or an unexpected pass is
//! reported. `conformance/expectations/<target>.toml`:
//!
//! ```toml
//! tombstones = "fail"  # D4, D5
//! ```

use std::collections::BTreeMap;
use std::path::Path;

/// What a target is expected to do in a scenario (absent: pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Pass,
    Fail,
}

#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("{path}: scenario {scenario:?}: {value:?} is neither \"pass\" nor \"fail\"")]
    Value {
        path: String,
        scenario: String,
        value: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The expectations of one target: scenario → expected result, and the
/// comment on each scenario's line (`# D4 (deletes never propagate), D5`):
/// the reason a known failure is known, which the report shows beside it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expectations {
    pub expected: BTreeMap<String, Expected>,
    pub notes: BTreeMap<String, String>,
}

impl Expectations {
    pub fn parse(text: &str, path: &str) -> Result<Self, ExpectError> {
        let table: BTreeMap<String, String> =
            toml::from_str(text).map_err(|source| ExpectError::Parse {
                path: path.to_string(),
                source,
            })?;
        let mut out = BTreeMap::new();
        for (scenario, value) in table {
            let e = match value.as_str() {
                "fail" => Expected::Fail,
                "pass" => Expected::Pass,
                _ => {
                    return Err(ExpectError::Value {
                        path: path.to_string(),
                        scenario,
                        value,
                    })
                }
            };
            out.insert(scenario, e);
        }
        let notes = line_notes(text)
            .filter(|(k, _)| out.contains_key(k))
            .collect();
        Ok(Self {
            expected: out,
            notes,
        })
    }

    /// `DIR/<name>.toml`, or no expectations when there is no such file.
    pub fn load(dir: &Path, name: &str) -> Result<Self, ExpectError> {
        let path = dir.join(format!("{}.toml", file_name(name)));
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &shown),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ExpectError::Io {
                path: shown,
                source,
            }),
        }
    }

    pub fn get(&self, scenario: &str) -> Expected {
        self.expected
            .get(scenario)
            .copied()
            .unwrap_or(Expected::Pass)
    }

    /// The comment on a scenario's line, if it has one.
    pub fn note(&self, scenario: &str) -> Option<&str> {
        self.notes.get(scenario).map(String::as_str)
    }
}

/// `(key, comment)` of every `key = "value"  # comment` line. The TOML
/// parser drops comments, and these files keep their reasons there (one
/// line per scenario, so a reason is where the expectation is); keys and
/// values never hold a `#`, so the first one starts the comment.
fn line_notes(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.lines().filter_map(|line| {
        let (entry, note) = line.split_once('#')?;
        let (key, _) = entry.split_once('=')?;
        let key = key.trim().trim_matches('"').trim();
        let note = note.trim();
        (!key.is_empty() && !note.is_empty()).then(|| (key.to_string(), note.to_string()))
    })
}

/// A target name as a file name: letters, digits, `-` and `_` kept.
pub fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_failures_with_their_d_numbers() {
        let e = Expectations::parse(
            "tombstones = \"fail\"  # D4, D5\n\"delete-propagation\" = \"fail\"\n",
            "x.toml",
        )
        .unwrap();
        assert_eq!(e.get("tombstones"), Expected::Fail);
        assert_eq!(e.get("delete-propagation"), Expected::Fail);
        assert_eq!(e.get("dedup"), Expected::Pass);
        assert_eq!(e.note("tombstones"), Some("D4, D5"));
        assert_eq!(e.note("delete-propagation"), None);
        assert!(Expectations::parse("dedup = \"maybe\"", "x.toml").is_err());
        assert_eq!(file_name("driver:node a/b.mjs"), "driver-node-a-b-mjs");
    }
}
