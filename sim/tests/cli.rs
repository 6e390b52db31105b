//! `peek-sim` as a person runs it: the output's shape (VOPR style: the
//! `seed=` line first, `repro:` lines last) and exit codes, which the
//! library-level tests in `explore.rs` cannot see.

use std::process::{Command, Output};

fn peek_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peek-sim"))
        .args(args)
        .output()
        .expect("peek-sim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_failing_run_starts_with_its_seed_and_ends_with_its_repro_line() {
    let o = peek_sim(&[
        "run",
        "--seed",
        "7",
        "--models",
        "electron",
        "--steps",
        "60",
        "--shrink-budget",
        "20",
    ]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_eq!(lines.first().copied(), Some("seed=7"));
    assert!(
        lines.iter().any(|l| l.starts_with("FAIL invariant=")),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("minimized to ")),
        "{out}"
    );
    // Started by its path, it prints that path: the line pastes as is.
    let want = format!(
        "repro: {} run --seed 7 --devices 4 --steps 60 --models electron",
        env!("CARGO_BIN_EXE_peek-sim")
    );
    assert_eq!(lines.last().copied(), Some(want.as_str()));
}

/// A repro line is a command that works: run as printed, it reruns the
/// same world and fails the same way.
#[test]
fn a_repro_line_runs_as_printed() {
    let o = peek_sim(&[
        "run", "--seed", "7", "--models", "electron", "--steps", "60",
    ]);
    let out = stdout(&o);
    let repro = out
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("repro: "))
        .expect("repro line");
    let words: Vec<&str> = repro.split_whitespace().collect();
    let again = Command::new(words[0])
        .args(&words[1..])
        .output()
        .expect("runs");
    assert_eq!(again.status.code(), Some(1));
    let first_fail = |o: &str| {
        o.lines()
            .find(|l| l.starts_with("FAIL invariant="))
            .map(str::to_string)
    };
    assert_eq!(first_fail(&stdout(&again)), first_fail(&out));
    assert!(first_fail(&out).is_some(), "{out}");
}

#[test]
fn explore_output_is_the_same_with_one_or_two_jobs() {
    let run = |jobs: &str| {
        let o = peek_sim(&[
            "explore",
            "--seeds",
            "6",
            "--steps",
            "40",
            "--models",
            "reference,electron",
            "--jobs",
            jobs,
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        // The throughput row holds timings; every other line is fixed.
        let out = stdout(&o);
        let lines: Vec<String> = out
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, l)| l.to_string())
            .collect();
        (out, lines)
    };
    let (one, a) = run("1");
    let (_, b) = run("2");
    assert_eq!(a, b, "{one}");
    assert!(a.last().unwrap().ends_with(" failed"), "{one}");
    assert!(
        a.iter().any(|l| l.starts_with(&format!(
            "repro: {} run --seed ",
            env!("CARGO_BIN_EXE_peek-sim")
        ))),
        "{one}"
    );
}

#[path = "support/junit_shape.rs"]
mod junit_shape;

/// `explore --junit` and `merge --junit` write what CI reads: one case per
/// failing seed, its failure naming the invariant and carrying the repro
/// command, one case for the seeds that passed with what they exercised;
/// the shards merged give the one-machine report.
#[test]
fn explore_and_merge_write_junit_reports_with_repro_commands() {
    let dir = tempfile::tempdir().unwrap();
    let world = [
        "--seeds",
        "6",
        "--steps",
        "40",
        "--models",
        "reference,electron",
    ];
    let whole = dir.path().join("whole.xml");
    let mut args = vec!["explore"];
    args.extend(world);
    args.extend(["--junit", whole.to_str().unwrap()]);
    let o = peek_sim(&args);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("repro: ")).collect();
    let cases = junit_shape::read(&std::fs::read_to_string(&whole).unwrap());
    let passed = cases
        .iter()
        .filter(|c| c.outcome == "passed")
        .collect::<Vec<_>>();
    assert_eq!(passed.len(), 1, "{cases:#?}");
    assert!(passed[0].name.ends_with(" seeds passed"), "{cases:#?}");
    assert!(passed[0].output.contains("request faults"), "{cases:#?}");
    let failures: Vec<_> = cases.iter().filter(|c| c.outcome == "failure").collect();
    assert!(!failures.is_empty());
    let closing = out.lines().last().unwrap();
    assert_eq!(
        closing,
        format!(
            "{} passed, {} failed",
            passed[0].name.trim_end_matches(" seeds passed"),
            failures.len()
        )
    );
    for f in &failures {
        let seed = f.name.strip_prefix("seed ").expect("named by seed");
        let repro = format!(
            "repro: {} run --seed {seed} --devices 4 --steps 40 --models reference,electron",
            env!("CARGO_BIN_EXE_peek-sim")
        );
        assert!(f.text.contains(&repro), "{f:?}");
        assert!(out.contains(&format!("| {} |", f.kind)), "{f:?}");
    }
    // Every repro line printed belongs to a failing case.
    for line in failed {
        assert!(failures.iter().any(|f| f.text.contains(line)), "{line}");
    }
    // Two shards, merged, give the same cases.
    let mut files = Vec::new();
    for k in 1..=2 {
        let file = dir.path().join(format!("shard-{k}.json"));
        let shard = format!("{k}/2");
        let mut args = vec!["explore"];
        args.extend(world);
        args.extend(["--shard", &shard, "--out", file.to_str().unwrap()]);
        peek_sim(&args);
        files.push(file);
    }
    let merged = dir.path().join("merged.xml");
    let mut args = vec!["merge"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.extend(["--junit", merged.to_str().unwrap()]);
    let m = peek_sim(&args);
    assert_eq!(m.status.code(), Some(1), "{}", stdout(&m));
    let again = junit_shape::read(&std::fs::read_to_string(&merged).unwrap());
    let names = |c: &[junit_shape::ReadCase]| -> Vec<(String, String, String)> {
        c.iter()
            .map(|c| (c.name.clone(), c.outcome.clone(), c.text.clone()))
            .collect()
    };
    assert_eq!(names(&again), names(&cases));
}
