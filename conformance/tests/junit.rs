//! `peek-conform --junit`: the matrix as the JUnit report CI reads, read
//! back with an XML parser. One case per cell (classname the target, name
//! the scenario); a known failure is skipped with its D-numbers, an
//! unexpected failure or pass is a failure carrying the replay command,
//! and the report is red exactly when the run is.

#[path = "../../sim/tests/support/junit_shape.rs"]
mod junit_shape;

use conformance::expect::Expectations;
use conformance::matrix::{self, Judgement, Row, Settings, Target};
use conformance::server::ServerSpec;
use conformance::spec::ClientSpec;
use engine::Model;

fn row(name: &str) -> Row {
    Row::all()
        .into_iter()
        .find(|r| r.name() == name)
        .expect("a scenario of that name")
}

fn target(m: Model, expectations: &str) -> Target {
    Target {
        client: ClientSpec::Engine(m),
        server: ServerSpec::InProcess,
        name: m.name().to_string(),
        expectations: Expectations::parse(expectations, "test.toml").unwrap(),
        source: None,
    }
}

#[test]
fn every_cell_is_a_case_judged_as_the_run_judges_it() {
    let settings = Settings {
        cases: 8,
        seed: 0,
        shrink_iters: 4,
        portable_cases: 4,
        portable_shrink_iters: 4,
        report_dir: None,
    };
    // Electron: echo-stability is a known failure (D10), delete-propagation
    // fails without being expected to; the reference engine passes both,
    // one of them against an expectation that it fails.
    let targets = [
        target(
            Model::Electron,
            "\"echo-stability\" = \"fail\"  # D10: pushed items come back\n",
        ),
        target(
            Model::Reference,
            "\"delete-propagation\" = \"fail\"  # D4 (was)\n",
        ),
    ];
    let rows = [row("echo-stability"), row("delete-propagation")];
    let mut cells = Vec::new();
    for t in &targets {
        for &r in &rows {
            cells.push(matrix::run_cell(r, t, &settings));
        }
    }
    let judged: Vec<Judgement> = cells.iter().map(|c| c.judgement).collect();
    assert_eq!(
        judged,
        [
            Judgement::KnownFailure,
            Judgement::UnexpectedFailure,
            Judgement::Ok,
            Judgement::UnexpectedPass
        ],
        "{cells:#?}"
    );
    let xml = conformance::junit::render(&cells, &targets);
    let cases = junit_shape::read(&xml);
    assert_eq!(cases.len(), 4);
    let suites: Vec<&str> = cases.iter().map(|c| c.suite.as_str()).collect();
    assert_eq!(suites, ["electron", "electron", "reference", "reference"]);
    for (case, cell) in cases.iter().zip(&cells) {
        assert_eq!(case.classname, cell.target);
        assert_eq!(case.name, cell.scenario);
    }
    let [known, unexpected, ok, unexpected_pass] = &cases[..] else {
        unreachable!()
    };
    assert_eq!(known.outcome, "skipped");
    assert_eq!(known.message, "known failure: D10: pushed items come back");
    assert_eq!(unexpected.outcome, "failure");
    assert_eq!(unexpected.kind, "unexpected-failure");
    assert!(unexpected.text.contains(&cells[1].detail), "{unexpected:?}");
    assert!(
        unexpected
            .text
            .contains("replay: peek-conform --client electron --only delete-propagation"),
        "{unexpected:?}"
    );
    assert_eq!(ok.outcome, "passed");
    assert_eq!(unexpected_pass.outcome, "failure");
    assert_eq!(unexpected_pass.kind, "unexpected-pass");
    assert!(
        unexpected_pass
            .message
            .contains("expectations/reference.toml expects delete-propagation to fail (D4 (was))"),
        "{unexpected_pass:?}"
    );
    // Red exactly when the run is: failures count the unexpected cells.
    let totals = matrix::Totals::of(&cells);
    let red = cases
        .iter()
        .filter(|c| c.outcome == "failure" || c.outcome == "error")
        .count();
    assert_eq!(red, totals.unexpected());
}
