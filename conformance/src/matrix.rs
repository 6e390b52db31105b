//! Runs every scenario (rows) against every target (columns) and judges
//! each cell against the target's expectations. The binary only parses
//! arguments and prints; this is the whole run.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::documented::{self, Failure};
use crate::expect::{Expectations, Expected};
use crate::property::{self, Group, Verdict};
use crate::server::ServerSpec;
use crate::spec::ClientSpec;

/// One column: a client against a server, with its expectations.
#[derive(Debug, Clone)]
pub struct Target {
    pub client: ClientSpec,
    pub server: ServerSpec,
    /// The expectation file's name: the model's name, or the driver's
    /// `hello` name.
    pub name: String,
    pub expectations: Expectations,
    /// What a driver said it was built from (`hello`'s `source`).
    pub source: Option<String>,
}

impl Target {
    pub fn label(&self) -> String {
        match self.server {
            ServerSpec::InProcess => self.name.clone(),
            _ => format!("{} @ {}", self.name, self.server.label()),
        }
    }
}

/// One row.
#[derive(Debug, Clone, Copy)]
pub enum Row {
    Property(Group),
    Documented(usize),
}

impl Row {
    pub fn all() -> Vec<Row> {
        let mut v: Vec<Row> = Group::ALL.into_iter().map(Row::Property).collect();
        v.extend((0..documented::ALL.len()).map(Row::Documented));
        v
    }

    pub fn name(self) -> &'static str {
        match self {
            Row::Property(g) => g.name(),
            Row::Documented(i) => documented::ALL[i].name,
        }
    }

    /// One line saying what the row checks.
    pub fn what(self) -> &'static str {
        match self {
            Row::Property(g) => g.what(),
            Row::Documented(i) => documented::ALL[i].what,
        }
    }

    /// Where it comes from in `docs/original-system.md` (documented rows).
    pub fn section(self) -> Option<&'static str> {
        match self {
            Row::Property(_) => None,
            Row::Documented(i) => Some(documented::ALL[i].section),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Row::Property(_) => "property",
            Row::Documented(_) => "documented",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// The scenario cannot run against this target.
    NotApplicable,
    /// The harness failed (setup); neither pass nor fail.
    Error,
}

/// How a cell compares with its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judgement {
    Ok,
    KnownFailure,
    UnexpectedFailure,
    UnexpectedPass,
    NotRun,
}

/// One cell of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub scenario: String,
    pub target: String,
    pub status: Status,
    pub judgement: Judgement,
    pub detail: String,
    /// Likely D-numbers (platform models, property groups).
    pub likely: Vec<String>,
    /// The minimal counterexample (a `peek-sim replay` world), or the
    /// documented scenario's redacted outcome.
    pub counterexample: Option<Value>,
    /// The command that replays this cell.
    pub replay: String,
    pub seconds: f64,
    /// The comment on this scenario in the target's expectation file (the
    /// D-numbers that make a known failure known), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expectation: Option<String>,
}

/// Run-wide settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub cases: u32,
    pub seed: u64,
    pub shrink_iters: u32,
    /// Worlds per property, and shrinking steps, for targets outside the
    /// simulator (drivers, servers by URL): every world starts processes
    /// or touches a real server.
    pub portable_cases: u32,
    pub portable_shrink_iters: u32,
    /// Where counterexample files go (`--report DIR`).
    pub report_dir: Option<PathBuf>,
}

fn judge(status: Status, expected: Expected) -> Judgement {
    match (status, expected) {
        (Status::Pass, Expected::Pass) => Judgement::Ok,
        (Status::Pass, Expected::Fail) => Judgement::UnexpectedPass,
        (Status::Fail | Status::Error, Expected::Fail) => Judgement::KnownFailure,
        (Status::Fail | Status::Error, Expected::Pass) => Judgement::UnexpectedFailure,
        (Status::NotApplicable, _) => Judgement::NotRun,
    }
}

/// The flags that select a target on the command line.
fn target_flags(t: &Target) -> String {
    let client = match &t.client {
        ClientSpec::Engine(m) => m.name().to_string(),
        ClientSpec::Driver(cmd) => format!("'driver:{cmd}'"),
    };
    match &t.server {
        ServerSpec::InProcess => format!("--client {client}"),
        ServerSpec::Url(s) => {
            format!(
                "--server {} --key \"$PEEK_API_KEY\" --client {client}",
                s.base()
            )
        }
    }
}

/// Said in a cell's detail when shrinking stopped at its limit (what
/// proptest would have printed to stderr): the counterexample may not be
/// minimal.
fn capped_note(s: crate::property::search::Shrinking, flag: &str) -> String {
    if s.capped {
        format!(
            " (shrinking stopped after {} steps, maybe short of the smallest case: {flag} raises the limit)",
            s.steps
        )
    } else {
        String::new()
    }
}

/// Runs one cell.
pub fn run_cell(row: Row, t: &Target, s: &Settings) -> Cell {
    // How long a cell took is shown in the report; it never reaches a
    // verdict, a world or a trace.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let mut replay = format!("peek-conform {} --only {}", target_flags(t), row.name());
    let (status, detail, likely, counterexample) = match row {
        Row::Property(g) => {
            replay.push_str(&format!(" --cases {} --seed {}", s.cases, s.seed));
            match (&t.client, &t.server) {
                (ClientSpec::Engine(model), ServerSpec::InProcess) => {
                    match property::run(g, *model, s.cases, s.seed, s.shrink_iters) {
                        Verdict::Pass { cases } => {
                            (Status::Pass, format!("{cases} worlds"), Vec::new(), None)
                        }
                        Verdict::Fail {
                            case,
                            violations,
                            likely,
                            shrinking,
                            ..
                        } => {
                            let mut detail = violations
                                .iter()
                                .take(3)
                                .map(|v| format!("{}: {}", v.invariant, v.detail))
                                .collect::<Vec<_>>()
                                .join("; ");
                            detail.push_str(&capped_note(shrinking, "--shrink-iters"));
                            let value = serde_json::to_value(&case).unwrap_or(Value::Null);
                            if let Some(file) = write_case(s, t, row, &value) {
                                replay = format!("peek-sim replay {file}");
                            }
                            (
                                Status::Fail,
                                detail,
                                likely.iter().map(|d| d.to_string()).collect(),
                                Some(value),
                            )
                        }
                        Verdict::Error(e) => (Status::Error, e, Vec::new(), None),
                    }
                }
                (client, server) => {
                    replay = format!(
                        "peek-conform {} --only {} --portable-cases {} --seed {}",
                        target_flags(t),
                        row.name(),
                        s.portable_cases,
                        s.seed
                    );
                    let v = property::run_target(
                        g,
                        client,
                        server,
                        s.portable_cases,
                        s.seed,
                        s.portable_shrink_iters,
                    );
                    match v {
                        Verdict::Pass { cases } => (
                            Status::Pass,
                            format!("{cases} worlds (stepped sync by sync; request faults at the HTTP front)"),
                            Vec::new(),
                            None,
                        ),
                        Verdict::Fail {
                            case,
                            violations,
                            logs,
                            shrinking,
                            ..
                        } => {
                            let mut detail = violations
                                .iter()
                                .take(3)
                                .map(|v| format!("{}: {}", v.invariant, v.detail))
                                .collect::<Vec<_>>()
                                .join("; ");
                            detail.push_str(&capped_note(shrinking, "--portable-shrink-iters"));
                            if let Some(dir) = write_logs(s, t, row, &logs) {
                                detail.push_str(&format!(" (driver logs: {dir})"));
                            }
                            (
                                Status::Fail,
                                detail,
                                Vec::new(),
                                serde_json::to_value(&case).ok(),
                            )
                        }
                        Verdict::Error(e) => (Status::Error, e, Vec::new(), None),
                    }
                }
            }
        }
        Row::Documented(i) => {
            let sc = &documented::ALL[i];
            let (r, logs) =
                documented::run_logged(sc, &t.client, &t.server, s.seed.wrapping_add(i as u64));
            let kept = write_logs(s, t, row, &logs);
            let with_logs = |m: String| match &kept {
                Some(dir) => format!("{m} (driver logs: {dir})"),
                None => m,
            };
            match r {
                Ok(v) => (Status::Pass, sc.section.to_string(), Vec::new(), Some(v)),
                Err(Failure::Fail(m)) => (Status::Fail, with_logs(m), Vec::new(), None),
                Err(Failure::NotApplicable(m)) => (Status::NotApplicable, m, Vec::new(), None),
                Err(Failure::Setup(m)) => (Status::Error, with_logs(m), Vec::new(), None),
            }
        }
    };
    let expected = t.expectations.get(row.name());
    #[allow(clippy::disallowed_methods)]
    let seconds = started.elapsed().as_secs_f64();
    Cell {
        scenario: row.name().to_string(),
        target: t.label(),
        status,
        judgement: judge(status, expected),
        detail,
        likely,
        counterexample,
        replay,
        seconds,
        expectation: t.expectations.reason(row.name()).map(str::to_string),
    }
}

/// Keeps a failing cell's driver logs in the report directory, one file
/// per device; returns the directory.
fn write_logs(s: &Settings, t: &Target, row: Row, logs: &[(String, String)]) -> Option<String> {
    if logs.is_empty() {
        return None;
    }
    let dir = s.report_dir.as_ref()?.join("logs").join(format!(
        "{}--{}",
        crate::expect::file_name(&t.label()),
        row.name()
    ));
    std::fs::create_dir_all(&dir).ok()?;
    for (device, text) in logs {
        std::fs::write(dir.join(format!("{device}.stderr.log")), text).ok()?;
    }
    Some(dir.display().to_string())
}

/// Writes a counterexample world as a `peek-sim replay` file.
fn write_case(s: &Settings, t: &Target, row: Row, case: &Value) -> Option<String> {
    let dir = s.report_dir.as_ref()?.join("cases");
    std::fs::create_dir_all(&dir).ok()?;
    let file = dir.join(format!(
        "{}--{}.json",
        crate::expect::file_name(&t.label()),
        row.name()
    ));
    let text = serde_json::to_string_pretty(case).ok()?;
    std::fs::write(&file, text).ok()?;
    Some(file.display().to_string())
}

/// Counts for the closing line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub known: usize,
    pub unexpected_failures: usize,
    pub unexpected_passes: usize,
    pub not_applicable: usize,
}

impl Totals {
    pub fn of(cells: &[Cell]) -> Self {
        let mut t = Totals::default();
        for c in cells {
            match c.status {
                Status::Pass => t.passed += 1,
                Status::Fail | Status::Error => t.failed += 1,
                Status::NotApplicable => t.not_applicable += 1,
            }
            match c.judgement {
                Judgement::KnownFailure => t.known += 1,
                Judgement::UnexpectedFailure => t.unexpected_failures += 1,
                Judgement::UnexpectedPass => t.unexpected_passes += 1,
                Judgement::Ok | Judgement::NotRun => {}
            }
        }
        t
    }

    /// Anything the expectations did not predict.
    pub fn unexpected(&self) -> usize {
        self.unexpected_failures + self.unexpected_passes
    }

    /// The closing line.
    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed ({} known, {} unexpected failures, {} unexpected passes, {} n/a)",
            self.passed,
            self.failed,
            self.known,
            self.unexpected_failures,
            self.unexpected_passes,
            self.not_applicable
        )
    }
}
