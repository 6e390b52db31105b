//! Running worlds: one seed, a given event list, shrinking a failure to a
//! minimal event list, and the determinism check.

use serde::Serialize;

use crate::cast::Cast;
use crate::check::{self, Invariant, Violation};
use crate::config::{Options, WorldConfig};
use crate::diagnose::Diagnosis;
use crate::event::{self, Event};
use crate::observe::Observation;
use crate::trace::{TraceEvent, TraceMode};
use crate::transfer::{Cost, Moved};
use crate::world::{Stats, World, WorldError};

pub use crate::world::HEAL_ROUNDS;

/// What one run found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub seed: u64,
    pub violations: Vec<Violation>,
    /// `None` when the run's trace was off (`TraceMode::Off`).
    pub trace_hash: Option<String>,
    pub trace_lines: u64,
    #[serde(skip)]
    pub stats: Stats,
    /// What moved on every device's wire, and the local changes it was
    /// for (`crate::transfer`).
    #[serde(skip)]
    pub cost: Cost,
    /// The trace, when asked for.
    #[serde(skip)]
    pub trace: Option<Vec<u8>>,
    /// A failing world's external clients' last log lines, by device.
    #[serde(skip)]
    pub logs: Vec<(String, String)>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
    /// The trace hash as printed: `off` when the trace was off.
    pub fn hash(&self) -> &str {
        self.trace_hash.as_deref().unwrap_or("off")
    }
    /// The first broken invariant's name.
    pub fn first(&self) -> Option<Invariant> {
        self.violations.first().map(|v| v.invariant)
    }
}

/// Runs `events` in the world `cfg`, heals, checks. `trace`: a
/// [`TraceMode`], or `true` (keep) / `false` (hash only).
pub fn run_events(
    cfg: &WorldConfig,
    events: &[Event],
    trace: impl Into<TraceMode>,
) -> Result<Outcome, WorldError> {
    run_cast(cfg, events, trace, &Cast::default())
}

/// Runs `events` in the world `cfg` played by `cast`, heals, checks.
pub fn run_cast(
    cfg: &WorldConfig,
    events: &[Event],
    trace: impl Into<TraceMode>,
    cast: &Cast,
) -> Result<Outcome, WorldError> {
    let mut w = World::with_cast(cfg, trace, cast)?;
    let stability = w.play(events)?;
    let violations = check::check(&Observation::of(&w, &stability));
    for v in &violations {
        w.trace.emit(&TraceEvent::Violation {
            invariant: v.invariant,
            detail: v.detail.clone(),
            items: v.items.clone(),
        });
    }
    let logs = if violations.is_empty() {
        Vec::new()
    } else {
        w.devices
            .iter()
            .filter_map(|d| Some((d.device.name().to_string(), d.device.log_tail()?)))
            .collect()
    };
    let mut moved = Moved::default();
    for d in &w.devices {
        moved.add(&d.ledger.moved);
    }
    let cost = Cost {
        moved,
        changes: w.writes.len() as u64,
    };
    Ok(Outcome {
        seed: cfg.seed,
        cost,
        logs,
        violations,
        trace_hash: w.trace.hash(),
        trace_lines: w.trace.lines(),
        stats: w.stats,
        trace: w.trace.bytes().map(<[u8]>::to_vec),
    })
}

/// Runs the world a seed describes.
pub fn run_seed(
    seed: u64,
    opts: &Options,
    trace: impl Into<TraceMode>,
) -> Result<(WorldConfig, Vec<Event>, Outcome), WorldError> {
    let cfg = WorldConfig::from_seed(seed, opts);
    let events = event::generate(&cfg, opts.steps);
    let out = run_events(&cfg, &events, trace)?;
    Ok((cfg, events, out))
}

/// A failure cut down to what still breaks the same invariant.
/// `peek-sim replay FILE` runs the world it describes again.
#[derive(Debug, Clone, Serialize)]
pub struct Shrunk {
    pub invariant: Invariant,
    pub config: WorldConfig,
    pub events: Vec<Event>,
    pub violations: Vec<Violation>,
    pub runs: usize,
    /// What the shrunk run's evidence points to (`diagnose`).
    pub likely: Vec<Diagnosis>,
}

/// The part of a minimized-world file that `peek-sim replay` needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Replay {
    pub config: WorldConfig,
    pub events: Vec<Event>,
}

/// Shrinks a failing world: removes chunks of events (ddmin-style), drops
/// faults from steps, and halves clock offsets, keeping each change only
/// while the same invariant still fails. `budget` bounds the runs.
pub fn shrink(cfg: &WorldConfig, events: &[Event], invariant: Invariant, budget: usize) -> Shrunk {
    let mut cfg = cfg.clone();
    let mut evs = events.to_vec();
    let mut runs = 0;
    let mut last = Vec::new();
    let still_fails =
        |cfg: &WorldConfig, evs: &[Event], runs: &mut usize, last: &mut Vec<Violation>| -> bool {
            *runs += 1;
            match run_events(cfg, evs, TraceMode::Off) {
                Ok(o) if o.violations.iter().any(|v| v.invariant == invariant) => {
                    *last = o.violations;
                    true
                }
                _ => false,
            }
        };
    // 1. Remove chunks, from large to single events.
    let mut chunk = evs.len().div_ceil(2).max(1);
    while chunk >= 1 && runs < budget {
        let mut i = 0;
        let mut removed_any = false;
        while i < evs.len() && runs < budget {
            let mut trial = evs.clone();
            trial.drain(i..(i + chunk).min(trial.len()));
            if still_fails(&cfg, &trial, &mut runs, &mut last) {
                evs = trial;
                removed_any = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        chunk = if chunk == 1 { 1 } else { chunk / 2 };
    }
    // 2. Faults off, and answers no longer in flight, one step at a time.
    for i in 0..evs.len() {
        if runs >= budget {
            break;
        }
        let simpler = match evs[i] {
            Event::Step {
                dev,
                fault: Some(_),
            } => Event::Step { dev, fault: None },
            Event::Send { dev, fault } => Event::Step { dev, fault },
            _ => continue,
        };
        let mut trial = evs.clone();
        trial[i] = simpler;
        if still_fails(&cfg, &trial, &mut runs, &mut last) {
            evs = trial;
        }
    }
    // A step made plain may still carry a fault.
    for i in 0..evs.len() {
        if runs >= budget {
            break;
        }
        if let Event::Step {
            dev,
            fault: Some(_),
        } = evs[i]
        {
            let mut trial = evs.clone();
            trial[i] = Event::Step { dev, fault: None };
            if still_fails(&cfg, &trial, &mut runs, &mut last) {
                evs = trial;
            }
        }
    }
    // 3. Clocks toward true time.
    for d in 0..cfg.devices.len() + 1 {
        while runs < budget {
            let shape = if d < cfg.devices.len() {
                &cfg.devices[d].clock
            } else {
                &cfg.server_clock
            };
            let Some(next) = shape.halved() else { break };
            let mut trial = cfg.clone();
            if d < trial.devices.len() {
                trial.devices[d].clock = next;
            } else {
                trial.server_clock = next;
            }
            if still_fails(&trial, &evs, &mut runs, &mut last) {
                cfg = trial;
            } else {
                break;
            }
        }
    }
    if last.is_empty() {
        if let Ok(o) = run_events(&cfg, &evs, TraceMode::Off) {
            last = o.violations;
        }
    }
    let likely = crate::diagnose::explain(&cfg, &evs).unwrap_or_default();
    Shrunk {
        invariant,
        config: cfg,
        events: evs,
        violations: last,
        runs,
        likely,
    }
}
