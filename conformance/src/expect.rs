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
/// comment written beside each entry (its D-numbers: what a report says a
/// known failure is).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expectations {
    pub expected: BTreeMap<String, Expected>,
    pub reasons: BTreeMap<String, String>,
}

/// The comment after an entry line (`key = "fail"  # D4, D5`), with the
/// entry's key unquoted: TOML parsers drop comments, and the comment is
/// where the D-numbers are.
fn entry_comment(line: &str) -> Option<(String, String)> {
    let mut quoted = false;
    let mut hash = None;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => {
                hash = Some(i);
                break;
            }
            _ => {}
        }
    }
    let (entry, comment) = line.split_at(hash?);
    let (key, _) = entry.split_once('=')?;
    let key = key.trim().trim_matches('"').to_string();
    let comment = comment.trim_start_matches('#').trim().to_string();
    (!key.is_empty() && !comment.is_empty()).then_some((key, comment))
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
        let reasons = text
            .lines()
            .filter_map(entry_comment)
            .filter(|(k, _)| out.contains_key(k))
            .collect();
        Ok(Self {
            expected: out,
            reasons,
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

    /// The comment beside a scenario's entry, if any.
    pub fn reason(&self, scenario: &str) -> Option<&str> {
        self.reasons.get(scenario).map(String::as_str)
    }
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
        assert_eq!(e.reason("tombstones"), Some("D4, D5"));
        assert_eq!(e.reason("delete-propagation"), None);
        let quoted = Expectations::parse(
            "# header\n\"clock-skew\" = \"fail\"  # D10 (echo), D11\n",
            "x.toml",
        )
        .unwrap();
        assert_eq!(quoted.reason("clock-skew"), Some("D10 (echo), D11"));
        assert!(Expectations::parse("dedup = \"maybe\"", "x.toml").is_err());
        assert_eq!(file_name("driver:node a/b.mjs"), "driver-node-a-b-mjs");
    }
}
