//! `peek-sim`'s arguments (clap). The library knows nothing of them: each
//! command's arguments turn into the library's own types (`Options`,
//! `explore::Plan`) here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use engine::Model;
use sim::config::Options;

#[derive(Parser)]
#[command(
    name = "peek-sim",
    version,
    about = "Deterministic simulator of Peek Sync: virtual devices with their own clocks against the real server, in-process, under faults",
    long_about = "Deterministic simulator of Peek Sync.\n\nEach world is derived from one seed: K devices (reference engine or models of the original clients) with skewed, drifting or jumping clocks, one or two real servers (the production router over real SQLite files, in-process), a workload of creates/edits/deletes/tags/syncs (some edits made while the device's own request is in flight), and a fault schedule (lost requests, lost responses after commit, duplicates, 5xx, partitions, device crashes, server restarts, server backups and restores from older backups, server and profile switches). After the fault phase everything heals, every device syncs, and the invariants are checked: convergence, no-lost-write, no-resurrection, no-sync-duplicates, stability, profile-isolation, cursor-completeness, no-redundant-transfer (judged on the wire: nothing applied twice as news, nothing moved once healed). The summary ends with the run's cost: requests, items and bytes moved per local change (`--max-cost` fails a run over a budget).\n\nThe same seed and code give a byte-identical trace. A failure is shrunk to a minimal event list and ends with a `repro:` line.\n\nExamples:\n  peek-sim explore --seeds 200            # many worlds, summary table\n  peek-sim run --seed 42 --trace t.jsonl  # one world, full trace\n  peek-sim run --seed 7 --models electron # what today's Electron app does\n  peek-sim timeline t.jsonl --out run.html # picture of a trace (HTML; .svg for SVG)\n  peek-sim replay t.jsonl                 # a trace is a session: replay it against a fresh server\n  peek-sim record --upstream https://peek.example --out s.jsonl  # record a real app's sync\n\nSessions (traces, recordings, HAR imports) are described in docs/session-format.md.\n\nWorlds keep their SQLite files in /dev/shm when it is usable (PEEK_SIM_TMPDIR overrides)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args, Clone)]
pub struct WorldArgs {
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
    /// The world options these flags describe.
    pub fn options(&self) -> Result<Options, String> {
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
pub enum Cmd {
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
    #[command(after_help = "Examples:\n  \
        peek-sim explore --seeds 1000 --jobs 2\n  \
        peek-sim explore --seeds 200 --max-cost requests=4,items=2   # fail if sync moves more\n  \
        peek-sim explore --seeds 100000 --shard 3/8 --out shard-3.json   # one of 8 machines\n  \
        peek-sim merge shard-*.json --junit explore.xml                   # one summary, one list of repros")]
    Explore {
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// First seed.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Run only shard K of N (1-based; seeds dealt round-robin), e.g.
        /// from a CI matrix or a Kubernetes indexed Job.
        #[arg(long, value_parser = sim::explore::Shard::parse)]
        shard: Option<sim::explore::Shard>,
        /// Also write the results as JSON, for `peek-sim merge`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write a JUnit XML report for CI: a test case per failing
        /// seed (its repro command in the failure) and one for the seeds
        /// that passed.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Fail (exit 1) when the run moves more than this per local
        /// change, over all seeds: e.g. `requests=4,items=2.5,bytes=3000`
        /// (any of the three). The summary's `cost:` line shows the figures.
        #[arg(long, value_name = "LIMITS", value_parser = sim::transfer::Budget::parse)]
        max_cost: Option<sim::transfer::Budget>,
        #[command(flatten)]
        world: WorldArgs,
    },
    /// Fold the result files of `explore --shard K/N --out FILE` into one
    /// summary: the table and repro lines one machine would have printed.
    /// Exit 1 if any seed failed, 2 if the files do not make one run.
    Merge {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Merge even if some shards are missing (they are named).
        #[arg(long)]
        partial: bool,
        /// Also write the merged summary as a JUnit XML report (as
        /// `explore --junit`).
        #[arg(long)]
        junit: Option<PathBuf>,
        /// As `explore --max-cost`, over the merged seeds.
        #[arg(long, value_name = "LIMITS", value_parser = sim::transfer::Budget::parse)]
        max_cost: Option<sim::transfer::Budget>,
    },
    /// Replay a file: a session (a trace, a recording, an imported HAR)
    /// against servers, or a minimized world (`run --minimized-out`).
    ///
    /// A session's requests are sent in order to a fresh in-process server
    /// (default) or to each `--server URL --key KEY`; recorded server ids are
    /// mapped to the new ones, time stamps compared by kind, and every answer
    /// compared with the recorded one (status, keys, items and tags as sets).
    /// Two servers give a differential report. Exit 1 only with --strict.
    ///
    /// A server by URL is replayed into a scratch space of the key's account:
    /// fresh profiles named peek-scratch-replay-<run id> …, one per profile
    /// the session used (its default profile too), every request addressed
    /// to one by UUID with strictProfile; they are deleted at the end (also
    /// on Ctrl-C). The account's own profiles are never written to.
    Replay {
        file: PathBuf,
        /// A server to replay against (`in-process` or a base URL); repeat
        /// for a differential run.
        #[arg(long)]
        server: Vec<String>,
        /// The API key for each URL given with --server, in order.
        #[arg(long, env = "PEEK_API_KEY", hide_env_values = true)]
        key: Vec<String>,
        /// Fail (exit 1) on any divergence and show only the first.
        #[arg(long)]
        strict: bool,
        /// Keep the scratch profiles made on each --server URL (their ids
        /// are printed), to look at them after the run.
        #[arg(long)]
        keep_scratch: bool,
        /// Minimized worlds: write the JSON-lines trace here.
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// Replay a simulator session against the client: each device is
    /// re-created and served its recorded answers (wiremock, real HTTP);
    /// its requests are compared with the recorded ones.
    #[command(after_help = "Examples:\n  \
        peek-sim replay-client t.jsonl\n  \
        peek-sim replay-client t.jsonl --model electron\n  \
        peek-sim replay-client t.jsonl --client 'driver:node target/drivers/electron/driver.mjs'")]
    ReplayClient {
        file: PathBuf,
        /// Run every device as this model instead of the recorded ones.
        #[arg(long, conflicts_with = "client")]
        model: Option<String>,
        /// Run every device through a driver (`driver:CMD`,
        /// docs/driver-protocol.md): the real clients' code, or any other.
        #[arg(long)]
        client: Option<String>,
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
    /// Draw a trace: devices and servers as lanes, time down the page,
    /// requests and answers as arrows with status and body, local writes,
    /// faults and clock jumps on the lanes, violations at their items.
    /// HTML (self-contained, folded for long traces) unless --format svg
    /// or an --out ending in .svg.
    Timeline {
        trace: PathBuf,
        #[arg(long, default_value = "run.html")]
        out: PathBuf,
        /// `html` or `svg` (default: from --out's extension, else html).
        #[arg(long, value_parser = ["html", "svg"])]
        format: Option<String>,
    },
}
