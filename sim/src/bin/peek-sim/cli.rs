use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use engine::Model;
use sim::config::Options;
use sim::run::{self, Outcome};

#[derive(Parser)]
#[command(
    name = "peek-sim",
    version,
    about = "Deterministic simulator of Peek Sync: virtual devices with their own clocks against the real server, in-process, under faults",
    long_about = "Deterministic simulator of Peek Sync.\n\nEach world is derived from one seed: K devices (reference engine or models of the original clients) with skewed, drifting or jumping clocks, one or two real servers (the production router over real SQLite files, in-process), a workload of creates/edits/deletes/tags/syncs, and a fault schedule (lost requests, lost responses after commit, duplicates, 5xx, partitions, device crashes, server restarts, server backups and restores from older backups, server and profile switches). After the fault phase everything heals, every device syncs, and the invariants are checked: convergence, no-lost-write, no-resurrection, no-sync-duplicates, stability, profile-isolation, cursor-completeness.\n\nThe same seed and code give a byte-identical trace. A failure is shrunk to a minimal event list and ends with a `repro:` line.\n\nExamples:\n  peek-sim explore --seeds 200            # many worlds, summary table\n  peek-sim run --seed 42 --trace t.jsonl  # one world, full trace\n  peek-sim run --seed 7 --models electron # what today's Electron app does\n  peek-sim timeline t.jsonl --out run.svg # picture of a trace\n  peek-sim replay t.jsonl                 # a trace is a session: replay it against a fresh server\n  peek-sim record --upstream https://peek.example --out s.jsonl  # record a real app's sync\n\nSessions (traces, recordings, HAR imports) are described in docs/session-format.md.\n\nWorlds keep their SQLite files in /dev/shm when it is usable (PEEK_SIM_TMPDIR overrides)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct WorldArgs {
    /// Number of devices.
    #[arg(long, default_value_t = 4)]
    devices: usize,
    /// Workload steps before healing.
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Device models, assigned round-robin: reference, js-engine, electron, tauri-desktop, tauri-mobile, extension.
    #[arg(long, value_delimiter = ',', default_value = "reference")]
    models: Vec<String>,
    /// Turn network, crash and restart faults off.
    #[arg(long)]
    no_faults: bool,
    /// Largest device clock offset in ms (default two days).
    #[arg(long, default_value_t = 2 * 86_400_000)]
    max_skew_ms: i64,
    /// Leave image items (with bytes) out of the workload.
    #[arg(long)]
    no_images: bool,
}

impl WorldArgs {
    fn options(&self) -> Result<Options, String> {
        let models = self
            .models
            .iter()
            .map(|m| {
                Model::parse(m).ok_or_else(|| {
                    format!("unknown model {m:?} (try reference, electron, tauri-mobile, ...)")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Options {
            devices: self.devices,
            steps: self.steps,
            models,
            faults: !self.no_faults,
            max_skew_ms: self.max_skew_ms,
            images: !self.no_images,
        })
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one world; exit 0 when every invariant holds.
    Run {
        #[arg(long)]
        seed: u64,
        #[command(flatten)]
        world: WorldArgs,
        /// Write the JSON-lines trace here (and print its hash).
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Run twice and compare the trace hashes.
        #[arg(long)]
        check_determinism: bool,
        /// Most worlds to run while shrinking a failure.
        #[arg(long, default_value_t = 300)]
        shrink_budget: usize,
        /// Where to write the minimized failing world (JSON).
        #[arg(long)]
        minimized_out: Option<PathBuf>,
    },
    /// Run many seeds; print progress and a summary table.
    Explore {
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Replay a file: a session (a trace, a recording, an imported HAR)
    /// against servers, or a minimized world (`run --minimized-out`).
    ///
    /// A session's requests are sent in order to a fresh in-process server
    /// (default) or to each `--server URL --key KEY`; recorded server ids are
    /// mapped to the new ones, time stamps compared by kind, and every answer
    /// compared with the recorded one (status, keys, items and tags as sets).
    /// Two servers give a differential report. Exit 1 only with --strict.
    Replay {
        file: PathBuf,
        /// A server to replay against (`in-process` or a base URL); repeat
        /// for a differential run.
        #[arg(long)]
        server: Vec<String>,
        /// The API key for each URL given with --server, in order.
        #[arg(long, env = "PEEK_API_KEY")]
        key: Vec<String>,
        /// Fail (exit 1) on any divergence and show only the first.
        #[arg(long)]
        strict: bool,
        /// Minimized worlds: write the JSON-lines trace here.
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// Replay a simulator session against the client: each device is
    /// re-created and served its recorded answers (wiremock, real HTTP);
    /// its requests are compared with the recorded ones.
    ReplayClient {
        file: PathBuf,
        /// Run every device as this model instead of the recorded ones.
        #[arg(long)]
        model: Option<String>,
    },
    /// Recording reverse proxy: point an app at --listen; every exchange
    /// with --upstream is appended to --out (secrets redacted). The device
    /// label is X-Peek-Device, else X-Peek-Client.
    Record {
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: String,
        #[arg(long)]
        upstream: String,
        #[arg(long)]
        out: PathBuf,
        /// Stop after this many exchanges (default: until Ctrl-C).
        #[arg(long)]
        exchanges: Option<u64>,
    },
    /// Convert a HAR 1.2 file (Chrome DevTools, Electron, mitmproxy) into a
    /// session.
    ImportHar {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Keep only requests whose URL starts with this.
        #[arg(long)]
        host: Option<String>,
    },
    /// Draw a trace as an SVG: devices as lanes, requests as arrows.
    Timeline {
        trace: PathBuf,
        #[arg(long, default_value = "run.svg")]
        out: PathBuf,
    },
}

fn print_failure(seed: u64, opts: &Options, o: &Outcome, budget: usize, out: Option<&PathBuf>) {
    let Some(inv) = o.first() else { return };
    println!("FAIL invariant={inv} ({} violation(s))", o.violations.len());
    for v in o.violations.iter().take(5) {
        println!("  {}: {} items={:?}", v.invariant, v.detail, v.items);
    }
    let (cfg, events, _) = match run::run_seed(seed, opts, false) {
        Ok(x) => x,
        Err(e) => {
            println!("  (could not re-run for shrinking: {e})");
            return;
        }
    };
    eprintln!(
        "shrinking {} events (budget {budget} runs)...",
        events.len()
    );
    let s = run::shrink(&cfg, &events, inv, budget);
    println!(
        "minimized to {} events after {} runs:",
        s.events.len(),
        s.runs
    );
    for (i, d) in s.config.devices.iter().enumerate() {
        println!(
            "  device d{i}: model={} clock={}",
            d.model.name(),
            serde_json::to_string(&d.clock).unwrap_or_default()
        );
    }
    println!(
        "  server clock={}",
        serde_json::to_string(&s.config.server_clock).unwrap_or_default()
    );
    for e in &s.events {
        println!("  {}", e.line());
    }
    for v in s.violations.iter().filter(|v| v.invariant == inv).take(3) {
        println!("  -> {}: {} items={:?}", v.invariant, v.detail, v.items);
        for d in sim::diagnose::for_violation(&s.likely, v) {
            println!("     {d}");
        }
    }
    if let Some(path) = out {
        match serde_json::to_vec_pretty(&s) {
            Ok(b) if std::fs::write(path, &b).is_ok() => {
                println!("minimized world written to {}", path.display());
                println!("repro (minimized): peek-sim replay {}", path.display());
            }
            _ => println!("could not write {}", path.display()),
        }
    }
}

fn cmd_run(
    seed: u64,
    opts: &Options,
    trace: Option<&PathBuf>,
    determinism: bool,
    budget: usize,
    min_out: Option<&PathBuf>,
) -> i32 {
    println!("seed={seed}");
    let started = Instant::now();
    let (_, _, o) = match run::run_seed(seed, opts, trace.is_some()) {
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
        o.trace_hash
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
                println!(
                    "determinism: FAILED ({} vs {})",
                    o.trace_hash, again.trace_hash
                );
                code = 1;
            }
            Err(e) => {
                println!("determinism: second run failed: {e}");
                code = 1;
            }
        }
    }
    if o.ok() {
        println!("ok: every invariant holds");
    } else {
        print_failure(seed, opts, &o, budget, min_out);
        code = 1;
    }
    println!("repro: peek-sim run --seed {seed} {}", opts.flags());
    code
}

/// One explored seed: its outcome, or why its world could not run.
type SeedResult = (u64, Result<Outcome, String>);

fn cmd_explore(from: u64, seeds: u64, jobs: usize, opts: &Options) -> i32 {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(from));
    let done = Arc::new(AtomicU64::new(0));
    let results: Arc<Mutex<Vec<SeedResult>>> = Arc::new(Mutex::new(Vec::new()));
    let end = from + seeds;
    let workers: Vec<_> = (0..jobs.max(1))
        .map(|_| {
            let (next, done, results, opts) =
                (next.clone(), done.clone(), results.clone(), opts.clone());
            std::thread::spawn(move || loop {
                let seed = next.fetch_add(1, Ordering::SeqCst);
                if seed >= end {
                    break;
                }
                let r = run::run_seed(seed, &opts, false)
                    .map(|(_, _, o)| o)
                    .map_err(|e| e.to_string());
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((seed, r));
                done.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let mut stderr = std::io::stderr();
    // A bar redrawn in place on a terminal; in a log (CI, a pipe), one line
    // per tenth of the run instead of thousands of carriage returns.
    let tty = std::io::IsTerminal::is_terminal(&stderr);
    let mut logged_tenth = 0;
    loop {
        let n = done.load(Ordering::SeqCst);
        let failing = results
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|(_, o)| o.as_ref().map_or(true, |o| !o.ok()))
                    .count()
            })
            .unwrap_or(0);
        let width = 30;
        let filled = (n * width / seeds.max(1)) as usize;
        let tenth = n * 10 / seeds.max(1);
        if tty {
            let _ = write!(
                stderr,
                "\r[{}{}] {n}/{seeds} seeds, {failing} failing, {:.0}s",
                "#".repeat(filled),
                ".".repeat(width as usize - filled),
                started.elapsed().as_secs_f64()
            );
            let _ = stderr.flush();
        } else if tenth > logged_tenth {
            logged_tenth = tenth;
            let _ = writeln!(
                stderr,
                "{n}/{seeds} seeds, {failing} failing, {:.0}s",
                started.elapsed().as_secs_f64()
            );
        }
        if n >= seeds {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    if tty {
        let _ = writeln!(stderr);
    }
    for w in workers {
        let _ = w.join();
    }
    let mut res = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    res.sort_by_key(|(s, _)| *s);
    let secs = started.elapsed().as_secs_f64();
    let exchanges: u64 = res
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok())
        .map(|o| o.stats.exchanges)
        .sum();
    let mut by_inv: std::collections::BTreeMap<String, Vec<u64>> =
        std::collections::BTreeMap::new();
    for (seed, o) in &res {
        match o {
            Ok(o) if o.ok() => {}
            Ok(o) => by_inv
                .entry(o.first().map_or("?", |i| i.name()).to_string())
                .or_default()
                .push(*seed),
            Err(e) => by_inv
                .entry(format!("world error: {e}"))
                .or_default()
                .push(*seed),
        }
    }
    // Per core: the workers that could run at once on this machine.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let busy = jobs.max(1).min(cores) as f64;
    println!("| seeds | failing | exchanges | exchanges/s | per core | seeds/min | time |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let failing: usize = by_inv.values().map(Vec::len).sum();
    println!(
        "| {} | {failing} | {exchanges} | {:.0} | {:.0} | {:.0} | {secs:.1}s |",
        res.len(),
        exchanges as f64 / secs,
        exchanges as f64 / secs / busy,
        res.len() as f64 * 60.0 / secs
    );
    eprintln!(
        "worlds in {} (set {} to change)",
        sim::scratch::location().display(),
        sim::scratch::ENV
    );
    if !by_inv.is_empty() {
        println!();
        println!("| invariant | failing seeds | first seeds |");
        println!("|---|---:|---|");
        for (inv, seeds) in &by_inv {
            let first: Vec<String> = seeds.iter().take(8).map(u64::to_string).collect();
            println!("| {inv} | {} | {} |", seeds.len(), first.join(", "));
        }
        println!();
        for seeds in by_inv.values() {
            for s in seeds.iter().take(3) {
                println!("repro: peek-sim run --seed {s} {}", opts.flags());
            }
        }
    }
    println!("{} passed, {failing} failed", res.len() - failing);
    i32::from(failing > 0)
}

fn cmd_replay(file: &PathBuf, trace: Option<&PathBuf>) -> i32 {
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
    println!("trace_hash={}", o.trace_hash);
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

pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run {
            seed,
            world,
            trace,
            check_determinism,
            shrink_budget,
            minimized_out,
        } => match world.options() {
            Ok(opts) => cmd_run(
                seed,
                &opts,
                trace.as_ref(),
                check_determinism,
                shrink_budget,
                minimized_out.as_ref(),
            ),
            Err(e) => {
                eprintln!("peek-sim: {e}");
                2
            }
        },
        Cmd::Explore {
            seeds,
            from,
            jobs,
            world,
        } => match world.options() {
            Ok(opts) => cmd_explore(from, seeds, jobs, &opts),
            Err(e) => {
                eprintln!("peek-sim: {e}");
                2
            }
        },
        Cmd::Replay {
            file,
            server,
            key,
            strict,
            trace,
        } => {
            if sim::session::Session::sniff(&file) {
                crate::sessions::cmd_replay(&file, &server, &key, strict)
            } else {
                cmd_replay(&file, trace.as_ref())
            }
        }
        Cmd::ReplayClient { file, model } => {
            crate::sessions::cmd_replay_client(&file, model.as_deref())
        }
        Cmd::Record {
            listen,
            upstream,
            out,
            exchanges,
        } => crate::sessions::cmd_record(&listen, &upstream, &out, exchanges),
        Cmd::ImportHar { file, out, host } => {
            crate::sessions::cmd_import_har(&file, &out, host.as_deref())
        }
        Cmd::Timeline { trace, out } => match sim::timeline::render_file(&trace, &out) {
            Ok(n) => {
                println!("{n} exchanges drawn to {}", out.display());
                0
            }
            Err(e) => {
                eprintln!("peek-sim: {e}");
                2
            }
        },
    }
}
