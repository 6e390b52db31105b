//! What an exploration's worlds went through: the faults that fired by
//! kind, the device and server events, the kinds of clock, and the
//! invariants checked. A summary of "N passed" says nothing of how hard
//! the seeds pushed; this does. Counted from each world's [`Stats`] and
//! configuration (exploration runs with the trace off), kept per seed in
//! the results file so that `merge` adds them up like the verdicts.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::WorldConfig;
use crate::invariant::Invariant;
use crate::upstream::{FaultCounts, Stats};
use crate::vclock::{ClockKind, ClockShape};

/// One world's (or, added up, many worlds') counts. Zero counts are left
/// out of the results file, so a seed's record stays short.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Exercised {
    /// Requests that met a fault, by kind (they add up to the seed's
    /// `faults`).
    #[serde(skip_serializing_if = "is_default")]
    pub faults: FaultCounts,
    #[serde(skip_serializing_if = "is_zero")]
    pub crashes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub partitions: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub restarts: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub backups: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub restores: u64,
    /// Requests whose answer stayed in flight while other events ran.
    #[serde(skip_serializing_if = "is_zero")]
    pub in_flight: u64,
    /// Writes outside the sync path, and changes to the account.
    #[serde(skip_serializing_if = "is_zero")]
    pub api_writes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub account_changes: u64,
    #[serde(skip_serializing_if = "is_default")]
    pub device_clocks: ClockCounts,
    #[serde(skip_serializing_if = "is_default")]
    pub server_clocks: ClockCounts,
}

/// Clocks by [`ClockKind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockCounts {
    #[serde(skip_serializing_if = "is_zero")]
    pub exact: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub offset: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub drift: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub jump: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub periodic: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub noisy: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl ClockCounts {
    fn slot(&mut self, k: ClockKind) -> &mut u64 {
        match k {
            ClockKind::Exact => &mut self.exact,
            ClockKind::Offset => &mut self.offset,
            ClockKind::Drift => &mut self.drift,
            ClockKind::Jump => &mut self.jump,
            ClockKind::Periodic => &mut self.periodic,
            ClockKind::Noisy => &mut self.noisy,
        }
    }

    pub fn add(&mut self, shape: &ClockShape) {
        *self.slot(shape.kind()) += 1;
    }

    pub fn get(&self, k: ClockKind) -> u64 {
        match k {
            ClockKind::Exact => self.exact,
            ClockKind::Offset => self.offset,
            ClockKind::Drift => self.drift,
            ClockKind::Jump => self.jump,
            ClockKind::Periodic => self.periodic,
            ClockKind::Noisy => self.noisy,
        }
    }

    pub fn total(&self) -> u64 {
        ClockKind::ALL.into_iter().map(|k| self.get(k)).sum()
    }

    fn merge(&mut self, other: &ClockCounts) {
        for k in ClockKind::ALL {
            *self.slot(k) += other.get(k);
        }
    }
}

impl Exercised {
    /// What one world, configured by `cfg`, went through (`stats`).
    pub fn of(cfg: &WorldConfig, stats: &Stats) -> Self {
        let mut device_clocks = ClockCounts::default();
        for d in &cfg.devices {
            device_clocks.add(&d.clock);
        }
        let mut server_clocks = ClockCounts::default();
        server_clocks.add(&cfg.server_clock);
        Self {
            faults: stats.by_fault,
            crashes: stats.crashes,
            partitions: stats.partitions,
            restarts: stats.restarts,
            backups: stats.backups,
            restores: stats.restores,
            in_flight: stats.in_flight,
            api_writes: stats.api_writes,
            account_changes: stats.account_changes,
            device_clocks,
            server_clocks,
        }
    }

    /// Adds another world's counts.
    pub fn merge(&mut self, other: &Exercised) {
        self.faults.merge(&other.faults);
        self.crashes += other.crashes;
        self.partitions += other.partitions;
        self.restarts += other.restarts;
        self.backups += other.backups;
        self.restores += other.restores;
        self.in_flight += other.in_flight;
        self.api_writes += other.api_writes;
        self.account_changes += other.account_changes;
        self.device_clocks.merge(&other.device_clocks);
        self.server_clocks.merge(&other.server_clocks);
    }

    /// The summary's "exercised" block; `checked`: the worlds that ran to
    /// their invariant check.
    pub fn render(&self, checked: usize) -> Block<'_> {
        Block {
            counts: self,
            checked,
        }
    }
}

/// [`Exercised::render`]'s text.
pub struct Block<'a> {
    counts: &'a Exercised,
    checked: usize,
}

/// `total: a 3, b 0, …`: every kind shown, zeros too, so a kind that never
/// fired is visible as such.
fn line(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    parts: &[(&str, u64)],
    noun: Option<&str>,
) -> fmt::Result {
    let total: u64 = parts.iter().map(|(_, n)| n).sum();
    let list: Vec<String> = parts.iter().map(|(k, n)| format!("{k} {n}")).collect();
    match noun {
        Some(noun) => writeln!(f, "  {what:<15} {total:>7} {noun}: {}", list.join(", ")),
        None => writeln!(f, "  {what:<15} {total:>7}: {}", list.join(", ")),
    }
}

impl fmt::Display for Block<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.counts;
        writeln!(f, "exercised:")?;
        let faults: Vec<(&str, u64)> = c.faults.iter().map(|(k, n)| (k.name(), n)).collect();
        line(f, "request faults", &faults, Some("requests"))?;
        line(
            f,
            "device faults",
            &[("crash", c.crashes), ("partition", c.partitions)],
            None,
        )?;
        line(
            f,
            "interleavings",
            &[("answer in flight", c.in_flight)],
            None,
        )?;
        line(
            f,
            "outside sync",
            &[
                ("api write", c.api_writes),
                ("account change", c.account_changes),
            ],
            None,
        )?;
        line(
            f,
            "server events",
            &[
                ("restart", c.restarts),
                ("backup", c.backups),
                ("restore", c.restores),
            ],
            None,
        )?;
        for (what, clocks) in [
            ("device clocks", &c.device_clocks),
            ("server clocks", &c.server_clocks),
        ] {
            let parts: Vec<(&str, u64)> = ClockKind::ALL
                .into_iter()
                .map(|k| (k.name(), clocks.get(k)))
                .collect();
            line(f, what, &parts, None)?;
        }
        writeln!(
            f,
            "  invariants checked in each of the {} world(s) that ran:",
            self.checked
        )?;
        for i in Invariant::ALL {
            writeln!(f, "    {}: {}", i.name(), i.what())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::AppliedFault;

    #[test]
    fn counts_add_up_and_zeros_stay_out_of_the_file() {
        let mut a = Exercised::default();
        a.faults.add(AppliedFault::Duplicate);
        a.faults.add(AppliedFault::Duplicate);
        a.crashes = 1;
        a.device_clocks.add(&ClockShape::Offset { offset_ms: 0 });
        a.device_clocks.add(&ClockShape::Offset { offset_ms: 5 });
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(
            text,
            r#"{"faults":{"duplicate":2},"crashes":1,"device_clocks":{"exact":1,"offset":1}}"#
        );
        let back: Exercised = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        let mut sum = a;
        sum.merge(&a);
        assert_eq!(sum.faults.total(), 4);
        assert_eq!(sum.device_clocks.total(), 4);
        let shown = sum.render(2).to_string();
        assert!(
            shown.contains("request faults        4 requests: request-lost 0, response-lost 0, duplicate 4, server-error 0, partitioned 0"),
            "{shown}"
        );
        assert!(shown.contains("crash 2, partition 0"), "{shown}");
        assert!(shown.contains("each of the 2 world(s)"), "{shown}");
        for i in Invariant::ALL {
            assert!(shown.contains(&format!("    {}: {}", i.name(), i.what())));
        }
    }
}
