//! The invariants' names and what a broken one reports: the vocabulary
//! that checks, traces, reports, tests and the conformance matrix share.
//! A leaf module, so that the trace (which records violations) and the
//! checks (which find them) both stand on it without standing on each
//! other.

use serde::{Deserialize, Serialize};

/// An invariant, by the name that reports, traces, tests and the
/// conformance matrix share (`docs/architecture.md`). Declared in the
/// alphabetical order of the names, so sorting by it sorts by name (the
/// order violations have always been reported and traced in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// Every device holds what its server profile holds.
    Convergence,
    /// The reference engine's feed cursor never passes what it has not applied.
    CursorCompleteness,
    /// Every local write reaches the server.
    NoLostWrite,
    /// Nothing a device was handed is applied again as news, and a healed
    /// world moves nothing.
    NoRedundantTransfer,
    /// A delete that is the last write stays deleted.
    NoResurrection,
    /// One live row per origin, on every device and server profile.
    NoSyncDuplicates,
    /// Items reach only the server profiles they were meant for.
    ProfileIsolation,
    /// After healing, one more sync does nothing.
    Stability,
}

impl Invariant {
    /// Every invariant, in name order.
    pub const ALL: [Invariant; 8] = [
        Invariant::Convergence,
        Invariant::CursorCompleteness,
        Invariant::NoLostWrite,
        Invariant::NoRedundantTransfer,
        Invariant::NoResurrection,
        Invariant::NoSyncDuplicates,
        Invariant::ProfileIsolation,
        Invariant::Stability,
    ];

    /// The report name (the serde name).
    pub const fn name(self) -> &'static str {
        match self {
            Invariant::Convergence => "convergence",
            Invariant::CursorCompleteness => "cursor-completeness",
            Invariant::NoLostWrite => "no-lost-write",
            Invariant::NoRedundantTransfer => "no-redundant-transfer",
            Invariant::NoResurrection => "no-resurrection",
            Invariant::NoSyncDuplicates => "no-sync-duplicates",
            Invariant::ProfileIsolation => "profile-isolation",
            Invariant::Stability => "stability",
        }
    }

    /// What it requires, in one line (for reports and `--help`).
    pub const fn what(self) -> &'static str {
        match self {
            Invariant::Convergence => {
                "after healing, every device holds the live items, content, tags and tombstones of its server profile"
            }
            Invariant::CursorCompleteness => {
                "the reference engine's feed cursor never passes a server version it has not applied"
            }
            Invariant::NoLostWrite => {
                "every local create or edit reaches the server, unless a newer write replaced it"
            }
            Invariant::NoRedundantTransfer => {
                "no device applies as news an item version it was already handed, and after healing one more round moves no item on the wire"
            }
            Invariant::NoResurrection => {
                "an item whose last (and newest) write is a delete stays deleted everywhere"
            }
            Invariant::NoSyncDuplicates => {
                "sync never makes a second live copy of one item, on a device or a server profile"
            }
            Invariant::ProfileIsolation => {
                "a server profile holds only items created for it or carried to it by a device that switched to it"
            }
            Invariant::Stability => "after healing, one more sync of every device pushes and pulls nothing",
        }
    }
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Invariant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Invariant::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .ok_or_else(|| format!("no invariant named {s:?}"))
    }
}

/// A broken invariant: which, what is wrong, and the items involved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub invariant: Invariant,
    pub detail: String,
    pub items: Vec<String>,
}

impl Violation {
    pub(crate) fn new(invariant: Invariant, detail: String, items: Vec<String>) -> Self {
        Self {
            invariant,
            detail,
            items,
        }
    }
}
