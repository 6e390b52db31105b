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
