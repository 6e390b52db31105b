//! The compliance matrix as Markdown, JSON and HTML: rows are scenarios,
//! columns are targets, each cell pass / fail / n/a with its judgement
//! against the expectations; failures are listed below the table with the
//! minimal counterexample and the command that replays it.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::matrix::{Cell, Judgement, Status, Totals};

/// A finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub targets: Vec<String>,
    pub scenarios: Vec<String>,
    pub cells: Vec<Cell>,
    pub totals: Totals,
}

impl Report {
    pub fn new(targets: Vec<String>, scenarios: Vec<String>, cells: Vec<Cell>) -> Self {
        let totals = Totals::of(&cells);
        Self {
            targets,
            scenarios,
            cells,
            totals,
        }
    }

    fn cell(&self, scenario: &str, target: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.scenario == scenario && c.target == target)
    }

    /// The short mark of a cell.
    pub fn mark(c: &Cell) -> String {
        let base = match c.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::NotApplicable => "n/a",
            Status::Error => "ERROR",
        };
        match c.judgement {
            Judgement::KnownFailure => format!("{base} (known)"),
            Judgement::UnexpectedFailure => format!("{base} (unexpected)"),
            Judgement::UnexpectedPass => format!("{base} (unexpected pass)"),
            Judgement::Ok | Judgement::NotRun => base.to_string(),
        }
    }

    pub fn markdown(&self) -> String {
        let mut s = String::from("# Peek Sync compliance matrix\n\n");
        let _ = writeln!(s, "| scenario | {} |", self.targets.join(" | "));
        let _ = writeln!(s, "|---|{}", "---|".repeat(self.targets.len()));
        for sc in &self.scenarios {
            let marks: Vec<String> = self
                .targets
                .iter()
                .map(|t| self.cell(sc, t).map_or("—".into(), Self::mark))
                .collect();
            let _ = writeln!(s, "| {sc} | {} |", marks.join(" | "));
        }
        let _ = writeln!(s, "\n{}\n", self.totals.line());
        let failing: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| matches!(c.status, Status::Fail | Status::Error))
            .collect();
        if !failing.is_empty() {
            s.push_str("## Failures\n");
            for c in failing {
                let _ = writeln!(
                    s,
                    "\n### {} × {} — {}\n",
                    c.scenario,
                    c.target,
                    Self::mark(c)
                );
                let _ = writeln!(s, "{}\n", c.detail);
                if !c.likely.is_empty() {
                    let _ = writeln!(s, "Likely: {}\n", c.likely.join("; "));
                }
                if let Some(ce) = &c.counterexample {
                    if let Some(events) = ce.get("events").and_then(|e| e.as_array()) {
                        s.push_str("Minimal counterexample (events):\n\n```\n");
                        for e in events {
                            let _ = writeln!(s, "{e}");
                        }
                        s.push_str("```\n\n");
                    }
                }
                let _ = writeln!(s, "Replay: `{}`", c.replay);
            }
        }
        s
    }

    pub fn html(&self) -> String {
        let esc = |x: &str| {
            x.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut s = String::from(
            "<!doctype html><meta charset=utf-8><title>Peek Sync compliance matrix</title>\
             <style>td,th{border:1px solid #ccc;padding:4px}.pass{background:#dfd}\
             .fail{background:#fdd}.known{background:#ffd}.na{color:#888}</style>\
             <h1>Peek Sync compliance matrix</h1><table><tr><th>scenario</th>",
        );
        for t in &self.targets {
            let _ = write!(s, "<th>{}</th>", esc(t));
        }
        s.push_str("</tr>");
        for sc in &self.scenarios {
            let _ = write!(s, "<tr><td>{}</td>", esc(sc));
            for t in &self.targets {
                match self.cell(sc, t) {
                    Some(c) => {
                        let class = match (c.status, c.judgement) {
                            (_, Judgement::KnownFailure) => "known",
                            (Status::Pass, _) => "pass",
                            (Status::NotApplicable, _) => "na",
                            _ => "fail",
                        };
                        let _ = write!(
                            s,
                            "<td class={class} title=\"{}\">{}</td>",
                            esc(&format!("{}\n{}", c.detail, c.replay)).replace('"', "&quot;"),
                            esc(&Self::mark(c))
                        );
                    }
                    None => s.push_str("<td>—</td>"),
                }
            }
            s.push_str("</tr>");
        }
        let _ = write!(s, "</table><p>{}</p>", esc(&self.totals.line()));
        s
    }

    /// Writes `matrix.md`, `matrix.json` and `matrix.html` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("matrix.md"), self.markdown())?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("matrix.json"), json)?;
        std::fs::write(dir.join("matrix.html"), self.html())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::{Cell, Judgement, Status};

    fn cell(scenario: &str, target: &str, status: Status, judgement: Judgement) -> Cell {
        Cell {
            scenario: scenario.into(),
            target: target.into(),
            status,
            judgement,
            detail: "D4: the delete did not reach the server".into(),
            likely: Vec::new(),
            counterexample: Some(serde_json::json!({"events": [{"op": "sync", "dev": 0}]})),
            replay: "peek-sim replay out/cases/x.json".into(),
            seconds: 0.0,
        }
    }

    #[test]
    fn the_matrix_marks_every_cell_and_lists_failures_with_their_replay() {
        let r = Report::new(
            vec!["reference".into(), "js-engine".into()],
            vec!["tombstones".into()],
            vec![
                cell("tombstones", "reference", Status::Pass, Judgement::Ok),
                cell(
                    "tombstones",
                    "js-engine",
                    Status::Fail,
                    Judgement::KnownFailure,
                ),
            ],
        );
        let md = r.markdown();
        assert!(md.contains("| tombstones | pass | FAIL (known) |"), "{md}");
        assert!(md.contains("1 passed, 1 failed (1 known, 0 unexpected failures"));
        assert!(md.contains("{\"dev\":0,\"op\":\"sync\"}"));
        assert!(md.contains("Replay: `peek-sim replay out/cases/x.json`"));
        assert_eq!(r.totals.unexpected(), 0);
        assert!(r.html().contains("class=known"));
    }
}
