//! The world commands: `run` one seed, `explore` many, `replay` a
//! minimized world. Each calls the library (`sim::run`, `sim::explore`,
//! `sim::report`), times it, and prints; exit codes are 0 (every invariant
//! holds), 1 (one broke) and 2 (the command could not run).

use std::path::Path;
use std::time::Instant;

use sim::config::Options;
use sim::explore::{self, Plan, Shard, Timing};
use sim::report::{self, Failure};
use sim::run;
use sim::transfer::Budget;

use crate::progress::Watch;

/// `peek-sim run --seed N`: the `seed=` line first, the `repro:` line last.
pub fn cmd_run(
    seed: u64,
    opts: &Options,
    trace: Option<&Path>,
    determinism: bool,
    budget: usize,
    min_out: Option<&Path>,
) -> i32 {
    println!("seed={seed}");
    let started = Instant::now();
    let (cfg, events, o) = match run::run_seed(seed, opts, trace.is_some()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("peek-sim: world could not run: {e}");
            return 2;
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "exchanges={} faults={} syncs={} (failed {}) trace_lines={} trace_hash={} time={secs:.2}s",
        o.stats.exchanges,
        o.stats.faults,
        o.stats.syncs_done,
        o.stats.syncs_failed,
        o.trace_lines,
        o.hash()
    );
    if let (Some(path), Some(bytes)) = (trace, o.trace.as_ref()) {
        if let Err(e) = std::fs::write(path, bytes) {
            eprintln!("peek-sim: cannot write trace {}: {e}", path.display());
        } else {
            println!("trace written to {}", path.display());
        }
    }
    let mut code = 0;
    if determinism {
        match run::run_seed(seed, opts, false) {
            Ok((_, _, again)) if again.trace_hash == o.trace_hash => {
                println!("determinism: ok (same trace hash twice)")
            }
            Ok((_, _, again)) => {
                println!("determinism: FAILED ({} vs {})", o.hash(), again.hash());
                code = 1;
            }
            Err(e) => {
                println!("determinism: second run failed: {e}");
                code = 1;
            }
        }
    }
    match Failure::of(&o) {
        None => println!("ok: every invariant holds"),
        Some(failure) => {
            print!("{failure}");
            eprintln!(
                "shrinking {} events (budget {budget} runs)...",
                events.len()
            );
            let minimized = failure.minimize(&cfg, &events, budget);
            print!("{minimized}");
            if let Some(path) = min_out {
                match minimized.save(path) {
                    Ok(()) => {
                        println!("minimized world written to {}", path.display());
                        println!(
                            "repro (minimized): {} replay {}",
                            sim::report::program(),
                            path.display()
                        );
                    }
                    Err(e) => println!("could not write {}: {e}", path.display()),
                }
            }
            code = 1;
        }
    }
    println!("{}", report::repro_line(seed, opts));
    code
}

/// The files `explore` writes besides its summary.
pub struct Outputs<'a> {
    /// `--out`: the results, for `peek-sim merge`.
    pub results: Option<&'a Path>,
    /// `--junit`: the JUnit XML report.
    pub junit: Option<&'a Path>,
    /// `--max-cost`: what the run may move per local change.
    pub max_cost: Option<Budget>,
}

/// Says which `--max-cost` limits the summary's cost exceeds; `true`
/// when within them (or there are none).
fn within_budget(summary: &explore::Summary, budget: Option<Budget>) -> bool {
    let Some(b) = budget else { return true };
    let over = b.exceeded(&summary.cost());
    for line in &over {
        println!("cost over --max-cost: {line}");
    }
    over.is_empty()
}

/// Writes the summary's JUnit report to `path`; false (said on stderr)
/// when it cannot.
fn write_junit(path: &Path, summary: &explore::Summary, timing: Timing) -> bool {
    match std::fs::write(path, summary.junit(timing)) {
        Ok(()) => {
            eprintln!("JUnit report written to {}", path.display());
            true
        }
        Err(e) => {
            eprintln!("peek-sim: cannot write {}: {e}", path.display());
            false
        }
    }
}

/// `peek-sim explore`: progress on stderr while the seeds run, then the
/// summary (sorted by seed) on stdout, ending in repro lines and the
/// `N passed, M failed` line.
pub fn cmd_explore(
    from: u64,
    seeds: u64,
    jobs: usize,
    shard: Option<Shard>,
    outputs: Outputs<'_>,
    opts: &Options,
) -> i32 {
    let plan = Plan {
        from,
        seeds,
        jobs,
        options: opts.clone(),
        shard,
    };
    let started = Instant::now();
    let mine = match shard {
        Some(sh) => (from..from.saturating_add(seeds))
            .filter(|&s| sh.holds(s, from))
            .count() as u64,
        None => seeds,
    };
    if let Some(sh) = shard {
        eprintln!(
            "shard {sh}: {mine} of seeds {from}..{}",
            from.saturating_add(seeds)
        );
    }
    let watch = Watch::start(mine, started);
    let summary = match explore::explore(&plan, &watch) {
        Ok(s) => s,
        Err(e) => {
            watch.finish();
            eprintln!("peek-sim: {e}");
            return 2;
        }
    };
    let elapsed = started.elapsed();
    watch.finish();
    eprintln!(
        "worlds in {} (set {} to change)",
        sim::scratch::location().display(),
        sim::scratch::ENV
    );
    let timing = Timing::new(elapsed, jobs);
    print!("{}", summary.render(timing));
    if let Some(path) = outputs.junit {
        if !write_junit(path, &summary, timing) {
            return 2;
        }
    }
    if let Some(path) = outputs.results {
        let shard = shard.unwrap_or(Shard { index: 1, count: 1 });
        let results = explore::Results::new(&summary, from, seeds, shard, timing);
        let written = serde_json::to_vec_pretty(&results)
            .map_err(|e| e.to_string())
            .and_then(|b| std::fs::write(path, b).map_err(|e| e.to_string()));
        match written {
            Ok(()) => eprintln!("results written to {} (peek-sim merge)", path.display()),
            Err(e) => {
                eprintln!("peek-sim: cannot write {}: {e}", path.display());
                return 2;
            }
        }
    }
    let within = within_budget(&summary, outputs.max_cost);
    i32::from(!summary.ok() || !within)
}

/// `peek-sim merge FILE...`: the shards' results as one summary.
pub fn cmd_merge(
    files: &[std::path::PathBuf],
    partial: bool,
    junit: Option<&Path>,
    max_cost: Option<Budget>,
) -> i32 {
    let mut read = Vec::new();
    for f in files {
        let parsed = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| explore::Results::parse(&t));
        match parsed {
            Ok(r) => read.push((f.display().to_string(), r)),
            Err(e) => {
                eprintln!("peek-sim: {}: {e}", f.display());
                return 2;
            }
        }
    }
    match explore::merge(&read, partial) {
        Ok((summary, timing)) => {
            eprintln!(
                "merged {} shard file(s): {} seeds",
                read.len(),
                summary.seeds.len()
            );
            print!("{}", summary.render(timing));
            if let Some(path) = junit {
                if !write_junit(path, &summary, timing) {
                    return 2;
                }
            }
            let within = within_budget(&summary, max_cost);
            i32::from(!summary.ok() || !within)
        }
        Err(e) => {
            eprintln!("peek-sim: {e}");
            2
        }
    }
}

/// `peek-sim replay FILE` for a minimized world (`run --minimized-out`).
pub fn cmd_replay(file: &Path, trace: Option<&Path>) -> i32 {
    let world: run::Replay = match std::fs::read(file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!(
                "peek-sim: cannot read minimized world {}: {e}",
                file.display()
            );
            return 2;
        }
    };
    println!("seed={} events={}", world.config.seed, world.events.len());
    let o = match run::run_events(&world.config, &world.events, trace.is_some()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("peek-sim: world could not run: {e}");
            return 2;
        }
    };
    if let (Some(path), Some(bytes)) = (trace, o.trace.as_ref()) {
        if std::fs::write(path, bytes).is_ok() {
            println!("trace written to {}", path.display());
        }
    }
    println!("trace_hash={}", o.hash());
    for v in &o.violations {
        println!("  {}: {} items={:?}", v.invariant, v.detail, v.items);
    }
    if o.ok() {
        println!("ok: every invariant holds");
        0
    } else {
        println!("FAIL invariant={}", o.first().map_or("?", |i| i.name()));
        1
    }
}
