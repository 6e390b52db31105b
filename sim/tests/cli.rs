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
    assert_eq!(
        lines.last().copied(),
        Some("repro: peek-sim run --seed 7 --devices 4 --steps 60 --models electron")
    );
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
        a.iter()
            .any(|l| l.starts_with("repro: peek-sim run --seed ")),
        "{one}"
    );
}
