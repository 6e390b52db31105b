//! `peek-conform`: runs the conformance scenarios against the chosen
//! server and clients and writes the compliance matrix. Thin: parses
//! arguments, calls `conformance::matrix`, prints.

use std::path::PathBuf;

use clap::Parser;
use conformance::expect::Expectations;
use conformance::matrix::{self, Row, Settings, Target};
use conformance::report::{Report, RunInfo};
use conformance::server::ServerSpec;
use conformance::spec::ClientSpec;
use engine::Model;
use server::clock::OsIds;
use sim::account::Scratch;

#[derive(Parser)]
#[command(
    name = "peek-conform",
    version,
    about = "Peek Sync conformance suite: every scenario against every target, as a compliance matrix",
    after_help = "Exit status: 0 when every result matches the expectations, 1 on an unexpected failure or pass, 2 on bad arguments."
)]
struct Cli {
    /// Base URL of a running server (default: the in-process server). The
    /// run works in scratch profiles of the key's account
    /// (peek-scratch-conform-<run id> …), deleted when it ends.
    #[arg(long, requires = "key")]
    server: Option<String>,
    /// API key for --server (PEEK_KEY, the old name, still works).
    #[arg(long, env = "PEEK_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Keep the scratch profiles made on --server (their ids are
    /// printed), to look at them after the run.
    #[arg(long, requires = "server")]
    keep_scratch: bool,
    /// Client under test: `reference`, a model (`js-engine`, `electron`,
    /// `tauri-desktop`, `tauri-mobile`, `extension`), `models` (all six),
    /// or `driver:CMD` (docs/driver-protocol.md). Repeatable.
    #[arg(long = "client", default_value = "reference")]
    clients: Vec<String>,
    /// Only these scenarios (repeatable).
    #[arg(long)]
    only: Vec<String>,
    /// Worlds per property (default: PEEK_CONFORM_CASES, PROPTEST_CASES, 256).
    #[arg(long)]
    cases: Option<u32>,
    /// Seed of the property runs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Most shrinking steps per failing property.
    #[arg(long, default_value_t = 256)]
    shrink_iters: u32,
    /// Worlds per property for drivers and servers by URL.
    #[arg(long, default_value_t = 16)]
    portable_cases: u32,
    /// Most shrinking steps per failing property for drivers and URLs.
    #[arg(long, default_value_t = 32)]
    portable_shrink_iters: u32,
    /// Directory of expectation files (`<target>.toml`).
    #[arg(long)]
    expectations: Option<PathBuf>,
    /// Write matrix.md, matrix.json, matrix.html and counterexamples here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write a JUnit XML report for CI: a test case per cell (known
    /// failures and n/a as skipped, unexpected results as failures with
    /// the command that replays them).
    #[arg(long)]
    junit: Option<PathBuf>,
}

fn clients(args: &[String]) -> Result<Vec<ClientSpec>, String> {
    let mut out = Vec::new();
    for a in args {
        if a == "models" {
            out.extend(Model::ALL.into_iter().map(ClientSpec::Engine));
            continue;
        }
        out.push(ClientSpec::parse(a).ok_or_else(|| format!("unknown client {a:?}"))?);
    }
    Ok(out)
}

/// Every tool reads the API key from `PEEK_API_KEY`; this one used to read
/// `PEEK_KEY`, which still works (with a warning) so that no script
/// breaks. Runs first, while the process has one thread.
fn deprecated_key_env(tool: &str) {
    if std::env::var_os("PEEK_API_KEY").is_none() {
        if let Some(v) = std::env::var_os("PEEK_KEY") {
            eprintln!("{tool}: PEEK_KEY is deprecated, set PEEK_API_KEY instead");
            std::env::set_var("PEEK_API_KEY", v);
        }
    }
}

/// The report's head: when (`PEEK_REPORT_DATE`, else now), which commit
/// (`PEEK_REPORT_COMMIT`, else `git describe`), how. The shell reads the
/// clock and the repository so that the library does not.
fn run_info(s: &Settings, server: &ServerSpec) -> RunInfo {
    // The report's date stamp only; nothing is decided by it.
    #[allow(clippy::disallowed_methods)]
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let commit = std::env::var("PEEK_REPORT_COMMIT").ok().or_else(|| {
        let out = std::process::Command::new("git")
            .args(["describe", "--always", "--dirty", "--abbrev=12"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    let doc = std::fs::canonicalize("docs/original-system.md")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| conformance::report::DEFAULT_DOC.to_string());
    RunInfo {
        date: std::env::var("PEEK_REPORT_DATE").unwrap_or_else(|_| RunInfo::date_of(now_ms)),
        commit: commit.unwrap_or_else(|| "unknown".into()),
        command: redacted_command(std::env::args()),
        server: server.label(),
        seed: s.seed,
        cases: s.cases,
        portable_cases: s.portable_cases,
        shrink_iters: s.shrink_iters,
        portable_shrink_iters: s.portable_shrink_iters,
        doc,
    }
}

/// The command line as typed, with the API key's value hidden: the report
/// is meant to be shared.
fn redacted_command(args: impl Iterator<Item = String>) -> String {
    let mut out = Vec::new();
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push("***".to_string());
            hide_next = false;
        } else if a == "--key" {
            hide_next = true;
            out.push(a);
        } else if a.starts_with("--key=") {
            out.push("--key=***".to_string());
        } else {
            out.push(a);
        }
    }
    out.join(" ")
}

fn main() {
    deprecated_key_env("peek-conform");
    let cli = Cli::parse();
    let server = match (&cli.server, &cli.key) {
        (Some(base), Some(key)) => {
            match Scratch::open(base, key, "conform", &OsIds, cli.keep_scratch) {
                Ok(s) => ServerSpec::Url(s),
                Err(e) => {
                    eprintln!("{base}: {e}");
                    std::process::exit(2);
                }
            }
        }
        _ => ServerSpec::InProcess,
    };
    let specs = match clients(&cli.clients) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rows: Vec<Row> = Row::all()
        .into_iter()
        .filter(|r| cli.only.is_empty() || cli.only.iter().any(|o| o == r.name()))
        .collect();
    if rows.is_empty() {
        let names: Vec<&str> = Row::all().iter().map(|r| r.name()).collect();
        eprintln!(
            "no scenario matches --only; scenarios: {}",
            names.join(", ")
        );
        std::process::exit(2);
    }
    let exp_dir = cli.expectations.clone().unwrap_or_else(|| {
        let local = PathBuf::from("conformance/expectations");
        if local.is_dir() {
            local
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("expectations")
        }
    });
    let mut targets = Vec::new();
    for client in specs {
        let (name, source) = match client.describe() {
            Ok(n) => n,
            Err(e) => {
                eprintln!("{}: {e}", client.label());
                std::process::exit(2);
            }
        };
        let expectations = match Expectations::load(&exp_dir, &name) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        targets.push(Target {
            client,
            server: server.clone(),
            name,
            expectations,
            source,
        });
    }
    // What the account holds before the run, to warn that the run leaves
    // it alone and to see afterwards whether anything reached it.
    let before = match &server {
        ServerSpec::Url(s) => match s.survey() {
            Ok(survey) => {
                if let Some(w) = survey.warning(s) {
                    eprint!("{w}");
                }
                s.finish_on_interrupt();
                Some(survey)
            }
            Err(e) => {
                eprintln!("{}: cannot list the account's profiles: {e}", s.base());
                std::process::exit(2);
            }
        },
        ServerSpec::InProcess => None,
    };
    let settings = Settings {
        cases: cli
            .cases
            .unwrap_or_else(conformance::property::cases_from_env),
        seed: cli.seed,
        shrink_iters: cli.shrink_iters,
        portable_cases: cli.portable_cases,
        portable_shrink_iters: cli.portable_shrink_iters,
        report_dir: cli.report.clone(),
    };
    println!(
        "peek-conform: {} scenario(s) × {} target(s), server {}, {} worlds per property, seed {}",
        rows.len(),
        targets.len(),
        server.label(),
        settings.cases,
        settings.seed
    );
    let total = rows.len() * targets.len();
    let mut cells = Vec::new();
    for t in &targets {
        for &row in &rows {
            let cell = matrix::run_cell(row, t, &settings);
            println!(
                "[{}/{total}] {} × {}: {} ({:.1}s){}",
                cells.len() + 1,
                t.label(),
                row.name(),
                Report::mark(&cell),
                cell.seconds,
                if matches!(cell.status, matrix::Status::Pass) {
                    String::new()
                } else {
                    format!(" — {}", cell.detail.chars().take(200).collect::<String>())
                }
            );
            cells.push(cell);
        }
    }
    if let (ServerSpec::Url(s), Some(before)) = (&server, &before) {
        print!("{}", s.finish());
        match s.survey() {
            Ok(after) => {
                for change in after.changed_since(before, s) {
                    println!("warning: outside the scratch space, {change}: a client under test wrote where it was not pointed (D16: an unknown profile falls back to the default one)");
                }
            }
            Err(e) => eprintln!("{}: cannot list the account's profiles: {e}", s.base()),
        }
    }
    let mut report = Report::new(
        targets.iter().map(Target::label).collect(),
        rows.iter().map(|r| r.name().to_string()).collect(),
        cells,
    );
    report.sources = targets
        .iter()
        .filter_map(|t| Some((t.label(), t.source.clone()?)))
        .collect();
    report.run = Some(run_info(&settings, &server));
    if let Some(dir) = &cli.report {
        if let Err(e) = report.write(dir) {
            eprintln!("cannot write the report to {}: {e}", dir.display());
        } else {
            println!("report: {}/matrix.md (and .json, .html)", dir.display());
            if !report.pairs().is_empty() {
                println!("model against real: {}/model-vs-real.md", dir.display());
            }
        }
    }
    if let Some(path) = &cli.junit {
        match std::fs::write(path, conformance::junit::render(&report.cells, &targets)) {
            Ok(()) => println!("JUnit report: {}", path.display()),
            Err(e) => eprintln!("cannot write the JUnit report to {}: {e}", path.display()),
        }
    }
    for c in report.cells.iter().filter(|c| {
        matches!(
            c.judgement,
            matrix::Judgement::UnexpectedFailure | matrix::Judgement::UnexpectedPass
        )
    }) {
        println!(
            "unexpected: {} × {}: {}\n  replay: {}",
            c.target,
            c.scenario,
            Report::mark(c),
            c.replay
        );
    }
    println!("{}", report.totals.line());
    std::process::exit(if report.totals.unexpected() > 0 { 1 } else { 0 });
}
