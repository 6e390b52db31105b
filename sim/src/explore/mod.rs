//! Exploring many seeds: each seed's world run on a pool of `jobs` worker
//! threads, and a typed [`Summary`] back, sorted by seed whichever worker
//! finished first, so that the tables and repro lines printed from it are
//! the same on every run. `peek-sim explore` is one caller; the conformance
//! suite or a test can be another.
//!
//! The pool is rayon's, local to one exploration (the `--jobs` threads, not
//! the process-wide pool), one seed per task so that a slow world does not
//! hold back a batch. Watching the run is left to a [`Progress`] the caller
//! passes in: this module never reads the wall clock or draws on a
//! terminal; the shell does (see `peek-sim`'s progress bar).

pub mod exercised;
pub mod shard;

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use exercised::Exercised;
pub use shard::{merge, MergeError, Results, Shard};

use crate::config::Options;
use crate::report;
use crate::run;
use crate::trace::TraceMode;
use crate::transfer::Cost;

/// What to explore: `seeds` seeds from `from` on, each a world described
/// by `options`, on `jobs` worker threads; with a `shard`, only that
/// shard's share of them (`Shard::holds`).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub from: u64,
    pub seeds: u64,
    /// Worker threads (at least one is used).
    pub jobs: usize,
    pub options: Options,
    pub shard: Option<Shard>,
}

/// How one seed's world ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Every invariant held.
    Passed,
    /// At least one invariant broke; `invariant` is the first.
    Failed {
        invariant: String,
        violations: usize,
    },
    /// The world could not be set up or run (a `WorldError`): not an
    /// invariant, but a seed that proves nothing, so it counts as failing.
    WorldError { error: String },
    /// The run panicked (a bug in the engine, a model or the simulator).
    /// The other seeds go on; the panic message was printed by the hook.
    Panicked { message: String },
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed)
    }

    /// The row of the failure table this verdict is counted in: the broken
    /// invariant's name, or what stopped the world.
    pub fn group(&self) -> Option<String> {
        match self {
            Verdict::Passed => None,
            Verdict::Failed { invariant, .. } => Some(invariant.clone()),
            Verdict::WorldError { error } => Some(format!("world error: {error}")),
            Verdict::Panicked { message } => Some(format!("panic: {message}")),
        }
    }
}

/// One explored seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedReport {
    pub seed: u64,
    pub verdict: Verdict,
    /// Request/response exchanges the world made (0 when it did not run).
    pub exchanges: u64,
    /// Faults injected.
    pub faults: u64,
    /// What the world went through (nothing when it did not run). Absent
    /// from results files written before it existed: read as zeros.
    #[serde(default)]
    pub exercised: Exercised,
    /// What moved on the wire, and for how many local changes (zeros in
    /// files written before it existed).
    #[serde(default)]
    pub cost: Cost,
}

/// Told about each seed as soon as its world is done, from the worker
/// thread that ran it (so in no particular order). For progress bars and
/// logs; the order-independent result is the [`Summary`].
pub trait Progress: Sync {
    fn seed_done(&self, report: &SeedReport);
}

/// No progress reporting.
impl Progress for () {
    fn seed_done(&self, _: &SeedReport) {}
}

/// The worker pool could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {jobs} worker thread(s): {source}")]
pub struct PoolError {
    jobs: usize,
    #[source]
    source: rayon::ThreadPoolBuildError,
}

/// Runs every seed of `plan`; `progress` hears of each as it finishes.
pub fn explore(plan: &Plan, progress: &dyn Progress) -> Result<Summary, PoolError> {
    let jobs = plan.jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("peek-sim-explore-{i}"))
        .build()
        .map_err(|source| PoolError { jobs, source })?;
    let end = plan.from.saturating_add(plan.seeds);
    // A list rather than the range itself: rayon indexes only `usize`-sized
    // ranges, and an indexed iterator is what lets `collect` keep the
    // seeds' order however they were spread over the workers.
    let todo: Vec<u64> = (plan.from..end)
        .filter(|&s| plan.shard.is_none_or(|sh| sh.holds(s, plan.from)))
        .collect();
    let seeds = pool.install(|| {
        todo.into_par_iter()
            .with_max_len(1)
            .map(|seed| {
                let r = run_one(seed, &plan.options);
                progress.seed_done(&r);
                r
            })
            .collect()
    });
    Ok(Summary {
        options: plan.options.clone(),
        seeds,
    })
}

/// Runs one seed's world and says how it ended.
pub fn run_one(seed: u64, options: &Options) -> SeedReport {
    let ran = panic::catch_unwind(AssertUnwindSafe(|| {
        run::run_seed(seed, options, TraceMode::Off)
    }));
    let (verdict, stats, exercised, cost) = match ran {
        Ok(Ok((cfg, _, o))) => {
            let verdict = match o.violations.first() {
                None => Verdict::Passed,
                Some(v) => Verdict::Failed {
                    invariant: v.invariant.to_string(),
                    violations: o.violations.len(),
                },
            };
            (verdict, o.stats, Exercised::of(&cfg, &o.stats), o.cost)
        }
        Ok(Err(e)) => (
            Verdict::WorldError {
                error: e.to_string(),
            },
            Default::default(),
            Exercised::default(),
            Cost::default(),
        ),
        Err(p) => (
            Verdict::Panicked {
                message: panic_message(&*p),
            },
            Default::default(),
            Exercised::default(),
            Cost::default(),
        ),
    };
    SeedReport {
        seed,
        verdict,
        exchanges: stats.exchanges,
        faults: stats.faults,
        exercised,
        cost,
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// The result of an exploration: every seed, sorted by seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub options: Options,
    pub seeds: Vec<SeedReport>,
}

/// Repro lines printed per failure group, so that a run with hundreds of
/// failures still ends in a few lines to copy.
const REPROS_PER_GROUP: usize = 3;
/// Seeds listed per row of the failure table.
const SEEDS_PER_ROW: usize = 8;

impl Summary {
    /// Exchanges made by every world that ran.
    pub fn exchanges(&self) -> u64 {
        self.seeds.iter().map(|s| s.exchanges).sum()
    }

    /// What every world moved, for how many local changes, added up.
    pub fn cost(&self) -> Cost {
        let mut sum = Cost::default();
        for s in &self.seeds {
            sum.add(&s.cost);
        }
        sum
    }

    /// The seed that moved the most items per local change, if any ran.
    pub fn costliest(&self) -> Option<&SeedReport> {
        self.seeds
            .iter()
            .filter(|s| s.cost.changes > 0)
            .max_by(|a, b| a.cost.per_change().1.total_cmp(&b.cost.per_change().1))
    }

    /// What every world that ran went through, added up.
    pub fn exercised(&self) -> Exercised {
        let mut sum = Exercised::default();
        for s in &self.seeds {
            sum.merge(&s.exercised);
        }
        sum
    }

    /// Worlds that ran to their invariant check (passed, or broke one):
    /// not those that could not be set up or panicked.
    pub fn checked(&self) -> usize {
        self.seeds
            .iter()
            .filter(|s| matches!(s.verdict, Verdict::Passed | Verdict::Failed { .. }))
            .count()
    }

    /// The seeds that did not pass, in seed order.
    pub fn failures(&self) -> impl Iterator<Item = &SeedReport> {
        self.seeds.iter().filter(|s| !s.verdict.passed())
    }

    pub fn failed(&self) -> usize {
        self.failures().count()
    }

    pub fn passed(&self) -> usize {
        self.seeds.len() - self.failed()
    }

    pub fn ok(&self) -> bool {
        self.failed() == 0
    }

    /// Failing seeds by what broke (the first invariant, or what stopped
    /// the world), in name order, each list in seed order.
    pub fn by_group(&self) -> BTreeMap<String, Vec<u64>> {
        let mut by: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for s in &self.seeds {
            if let Some(g) = s.verdict.group() {
                by.entry(g).or_default().push(s.seed);
            }
        }
        by
    }

    /// `repro:` lines for the first few seeds of each failure group.
    pub fn repro_lines(&self) -> Vec<String> {
        self.by_group()
            .values()
            .flat_map(|seeds| seeds.iter().take(REPROS_PER_GROUP))
            .map(|&s| report::repro_line(s, &self.options))
            .collect()
    }

    /// The printed summary: the throughput table, what the worlds went
    /// through, the failure table and the repro lines, and the closing
    /// `N passed, M failed` line.
    /// `timing` comes from the caller, who holds the clock.
    pub fn render(&self, timing: Timing) -> Rendered<'_> {
        Rendered {
            summary: self,
            timing,
        }
    }
}

impl Summary {
    /// The exploration as a JUnit report (`--junit FILE`): one case per
    /// failing seed, its failure carrying the `repro:` line, and one case
    /// for all the seeds that passed, its output the "exercised" block.
    /// A case per passing seed would make a 100,000-seed run a file CI
    /// chokes on, and each of them says the same thing.
    pub fn junit(&self, timing: Timing) -> String {
        use crate::junit::{Case, Outcome, Suite};
        const CLASS: &str = "peek-sim explore";
        let mut cases = Vec::new();
        let mut passed = Case::new(
            CLASS,
            &format!("{} seeds passed", self.passed()),
            Outcome::Passed,
        );
        passed.output = Some(self.exercised().render(self.checked()).to_string());
        cases.push(passed);
        for s in self.failures() {
            let repro = report::repro_line(s.seed, &self.options);
            let message = s.verdict.group().unwrap_or_default();
            let outcome = match &s.verdict {
                Verdict::Failed {
                    invariant,
                    violations,
                } => Outcome::Failure {
                    message: message.clone(),
                    kind: invariant.clone(),
                    text: format!(
                        "seed {} broke {invariant} ({violations} violation(s))\n{repro}\n",
                        s.seed
                    ),
                },
                Verdict::WorldError { .. } | Verdict::Panicked { .. } | Verdict::Passed => {
                    Outcome::Error {
                        message: message.clone(),
                        kind: if matches!(s.verdict, Verdict::Panicked { .. }) {
                            "panic".into()
                        } else {
                            "world-error".into()
                        },
                        text: format!("seed {}: {message}\n{repro}\n", s.seed),
                    }
                }
            };
            cases.push(Case::new(CLASS, &format!("seed {}", s.seed), outcome));
        }
        let suite = Suite {
            name: format!("{CLASS} {}", self.options.flags()),
            time: Some(timing.elapsed.as_secs_f64()),
            cases,
        };
        crate::junit::render(CLASS, &[suite])
    }
}

/// How long an exploration took, and on how many cores at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub elapsed: Duration,
    /// Workers that could run at once: `min(jobs, cores)`; the divisor of
    /// the per-core figure.
    pub busy: usize,
}

impl Timing {
    /// `jobs` workers on this machine's cores.
    pub fn new(elapsed: Duration, jobs: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            elapsed,
            busy: jobs.clamp(1, cores),
        }
    }
}

/// [`Summary::render`]'s text.
pub struct Rendered<'a> {
    summary: &'a Summary,
    timing: Timing,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.summary;
        let secs = self.timing.elapsed.as_secs_f64();
        let exchanges = s.exchanges();
        let failed = s.failed();
        writeln!(
            f,
            "| seeds | failing | exchanges | exchanges/s | per core | seeds/min | time |"
        )?;
        writeln!(f, "|---:|---:|---:|---:|---:|---:|---:|")?;
        writeln!(
            f,
            "| {} | {failed} | {exchanges} | {:.0} | {:.0} | {:.0} | {secs:.1}s |",
            s.seeds.len(),
            exchanges as f64 / secs,
            exchanges as f64 / secs / self.timing.busy.max(1) as f64,
            s.seeds.len() as f64 * 60.0 / secs
        )?;
        writeln!(f)?;
        write!(f, "{}", s.exercised().render(s.checked()))?;
        let cost = s.cost();
        writeln!(f, "cost: {cost}")?;
        writeln!(f, "  moved: {}", cost.moved)?;
        if let Some(worst) = s.costliest() {
            writeln!(f, "  costliest: seed {}, {}", worst.seed, worst.cost)?;
        }
        let groups = s.by_group();
        if !groups.is_empty() {
            writeln!(f)?;
            writeln!(f, "| invariant | failing seeds | first seeds |")?;
            writeln!(f, "|---|---:|---|")?;
            for (group, seeds) in &groups {
                let first: Vec<String> = seeds
                    .iter()
                    .take(SEEDS_PER_ROW)
                    .map(u64::to_string)
                    .collect();
                writeln!(f, "| {group} | {} | {} |", seeds.len(), first.join(", "))?;
            }
            writeln!(f)?;
            for line in s.repro_lines() {
                writeln!(f, "{line}")?;
            }
        }
        writeln!(f, "{} passed, {failed} failed", s.passed())
    }
}
