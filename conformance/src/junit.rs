//! The compliance matrix as a JUnit report (`peek-conform --junit FILE`),
//! so that CI shows a conformance run like any test run: one suite per
//! target (a column), one case per cell (classname: the target, name: the
//! scenario).
//!
//! How each judgement reads, chosen so that the report is red exactly
//! when `peek-conform` exits 1:
//!
//! | cell | JUnit |
//! |---|---|
//! | pass, expected | passed |
//! | fail, expected (a known failure) | `skipped`, message `known failure: <the expectation's comment, its D-numbers>` — not "passed": the scenario does fail, and a skipped case stays visible in every CI view |
//! | n/a | `skipped`, message `n/a: <why>` |
//! | fail, not expected | `failure` (type `unexpected-failure`): the reason, then the command that replays the cell |
//! | harness error, not expected | `error` (type `harness-error`): the same |
//! | pass, expected to fail | `failure` (type `unexpected-pass`): the expectation to remove |

use sim::junit::{self, Case, Outcome, Suite};

use crate::matrix::{Cell, Judgement, Status, Target};

/// The longest message attribute: CI shows it on one line.
const MESSAGE_CHARS: usize = 200;

fn brief(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() <= MESSAGE_CHARS {
        line.to_string()
    } else {
        let head: String = line.chars().take(MESSAGE_CHARS).collect();
        format!("{head}…")
    }
}

/// One cell as a test case; `target`: its column, for the expectation's
/// comment.
pub fn case(cell: &Cell, target: Option<&Target>) -> Case {
    let expectation = || {
        let file = target.map_or_else(
            || "its expectations file".to_string(),
            |t| format!("expectations/{}.toml", crate::expect::file_name(&t.name)),
        );
        let why = target.and_then(|t| t.expectations.reason(&cell.scenario));
        (file, why.map(str::to_string))
    };
    let likely = if cell.likely.is_empty() {
        String::new()
    } else {
        format!("likely: {}\n", cell.likely.join(", "))
    };
    let outcome = match cell.judgement {
        Judgement::Ok => Outcome::Passed,
        Judgement::NotRun => Outcome::Skipped {
            message: format!("n/a: {}", brief(&cell.detail)),
        },
        Judgement::KnownFailure => {
            let (file, why) = expectation();
            Outcome::Skipped {
                message: match why {
                    Some(why) => format!("known failure: {why}"),
                    None if !cell.likely.is_empty() => {
                        format!("known failure: {}", cell.likely.join(", "))
                    }
                    None => format!("known failure (listed in {file})"),
                },
            }
        }
        Judgement::UnexpectedFailure => {
            let text = format!("{}\n{likely}replay: {}\n", cell.detail, cell.replay);
            if cell.status == Status::Error {
                Outcome::Error {
                    message: brief(&cell.detail),
                    kind: "harness-error".into(),
                    text,
                }
            } else {
                Outcome::Failure {
                    message: brief(&cell.detail),
                    kind: "unexpected-failure".into(),
                    text,
                }
            }
        }
        Judgement::UnexpectedPass => {
            let (file, why) = expectation();
            let why = why.map_or_else(String::new, |w| format!(" ({w})"));
            Outcome::Failure {
                message: format!(
                    "unexpected pass: {file} expects {} to fail{why}",
                    cell.scenario
                ),
                kind: "unexpected-pass".into(),
                text: format!(
                    "{}\nIf it is fixed, remove the entry from {file}.\nreplay: {}\n",
                    cell.detail, cell.replay
                ),
            }
        }
    };
    Case {
        classname: cell.target.clone(),
        name: cell.scenario.clone(),
        time: Some(cell.seconds),
        outcome,
        output: None,
    }
}

/// The whole report: a suite per target, in the given column order, each
/// with its cells in row order.
pub fn render(cells: &[Cell], targets: &[Target]) -> String {
    let suites: Vec<Suite> = targets
        .iter()
        .map(|t| {
            let label = t.label();
            Suite {
                name: label.clone(),
                time: None,
                cases: cells
                    .iter()
                    .filter(|c| c.target == label)
                    .map(|c| case(c, Some(t)))
                    .collect(),
            }
        })
        .collect();
    junit::render("peek-conform", &suites)
}
