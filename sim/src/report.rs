//! The failure report of one seed: what broke ([`Failure`]), the world
//! shrunk to the fewest events that still break the same invariant, with
//! the likely D-numbers ([`Minimized`]), and the `repro:` line that ends
//! every report. Typed, so a caller can inspect it; `Display` gives the
//! text `peek-sim run` prints.

use std::fmt;
use std::path::Path;

use crate::check::{Invariant, Violation};
use crate::config::{Options, WorldConfig};
use crate::event::Event;
use crate::run::{self, Outcome, Shrunk};

/// Violations shown in the first part of a report.
const SHOWN: usize = 5;
/// Violations of the shrunk world shown, each with its diagnosis.
const SHOWN_MINIMIZED: usize = 3;

/// How this process's commands are typed, for repro lines: `peek-sim`
/// unless the binary said otherwise ([`set_program`]).
static PROGRAM: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the words repro lines start with: what reruns this binary when
/// pasted into the shell it was started from (`target/release/peek-sim`,
/// `cargo run --release -p sim --`, or `peek-sim` when it is on the
/// PATH). Set once, by the binary, before any line is printed.
pub fn set_program(program: impl Into<String>) {
    let _ = PROGRAM.set(program.into());
}

/// The words a command line of this process starts with.
pub fn program() -> &'static str {
    PROGRAM.get().map_or("peek-sim", String::as_str)
}

/// The line that reruns seed `seed` with `options`: the last line of every
/// report, so that a log ends in what to type.
pub fn repro_line(seed: u64, options: &Options) -> String {
    format!("repro: {} run --seed {seed} {}", program(), options.flags())
}

/// A seed whose world broke at least one invariant.
#[derive(Debug, Clone)]
pub struct Failure {
    pub seed: u64,
    /// The first broken invariant: what shrinking keeps broken.
    pub invariant: Invariant,
    pub violations: Vec<Violation>,
}

impl Failure {
    /// The failure in `outcome`, if any invariant broke.
    pub fn of(outcome: &Outcome) -> Option<Self> {
        Some(Self {
            seed: outcome.seed,
            invariant: outcome.first()?,
            violations: outcome.violations.clone(),
        })
    }

    /// Shrinks the failing world (`config`, `events`: what `run_seed`
    /// gave) within `budget` runs.
    pub fn minimize(&self, config: &WorldConfig, events: &[Event], budget: usize) -> Minimized {
        Minimized {
            shrunk: run::shrink(config, events, self.invariant, budget),
        }
    }
}

/// `FAIL invariant=… (n violation(s))` and the first few violations.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "FAIL invariant={} ({} violation(s))",
            self.invariant,
            self.violations.len()
        )?;
        for v in self.violations.iter().take(SHOWN) {
            writeln!(f, "  {}: {} items={:?}", v.invariant, v.detail, v.items)?;
        }
        Ok(())
    }
}

/// A failure shrunk to a minimal world.
#[derive(Debug, Clone)]
pub struct Minimized {
    pub shrunk: Shrunk,
}

impl Minimized {
    /// The shrunk world's violations of the shrunk invariant, each with
    /// the likely D-numbers the evidence of the run points to (none for
    /// the reference engine).
    pub fn diagnoses(&self) -> Vec<(&Violation, Vec<&crate::diagnose::Diagnosis>)> {
        self.shrunk
            .violations
            .iter()
            .filter(|v| v.invariant == self.shrunk.invariant)
            .take(SHOWN_MINIMIZED)
            .map(|v| (v, crate::diagnose::for_violation(&self.shrunk.likely, v)))
            .collect()
    }

    /// Writes the minimized world (JSON) for `peek-sim replay FILE`.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.shrunk)?;
        std::fs::write(path, bytes)
    }
}

/// The shrunk world: its devices' models and clocks, the server clock, its
/// events, and the violations with their diagnoses.
impl fmt::Display for Minimized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shrunk;
        writeln!(
            f,
            "minimized to {} events after {} runs:",
            s.events.len(),
            s.runs
        )?;
        for (i, d) in s.config.devices.iter().enumerate() {
            writeln!(
                f,
                "  device d{i}: model={} clock={}",
                d.model.name(),
                serde_json::to_string(&d.clock).unwrap_or_default()
            )?;
        }
        writeln!(
            f,
            "  server clock={}",
            serde_json::to_string(&s.config.server_clock).unwrap_or_default()
        )?;
        for e in &s.events {
            writeln!(f, "  {}", e.line())?;
        }
        for (v, ds) in self.diagnoses() {
            writeln!(f, "  -> {}: {} items={:?}", v.invariant, v.detail, v.items)?;
            for d in ds {
                writeln!(f, "     {d}")?;
            }
        }
        Ok(())
    }
}
