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
    /// What each driver column was built from, by column label.
    pub sources: Vec<(String, String)>,
}

/// The prefix that names a real client's column beside its model's:
/// `original-electron` is the real code of what `electron` models.
pub const REAL_PREFIX: &str = "original-";

/// One scenario of a model against its real client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agreement {
    /// Both ran and got the same verdict.
    Same,
    /// Both ran and the verdicts differ.
    Differ,
    /// One of the two could not run it (n/a or a harness error).
    Unjudged,
}

impl Report {
    pub fn new(targets: Vec<String>, scenarios: Vec<String>, cells: Vec<Cell>) -> Self {
        let totals = Totals::of(&cells);
        Self {
            targets,
            scenarios,
            cells,
            totals,
            sources: Vec::new(),
        }
    }

    /// The (model, real client) column pairs of this run: `X` and
    /// `original-X`, both present.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.targets
            .iter()
            .filter_map(|real| {
                let model = real.strip_prefix(REAL_PREFIX)?;
                self.targets
                    .iter()
                    .any(|t| t == model)
                    .then(|| (model.to_string(), real.clone()))
            })
            .collect()
    }

    /// Whether a model and its real client agree on one scenario.
    pub fn agreement(&self, scenario: &str, model: &str, real: &str) -> Agreement {
        match (self.cell(scenario, model), self.cell(scenario, real)) {
            (Some(m), Some(r)) => {
                let judged = |c: &Cell| matches!(c.status, Status::Pass | Status::Fail);
                if !judged(m) || !judged(r) {
                    Agreement::Unjudged
                } else if m.status == r.status {
                    Agreement::Same
                } else {
                    Agreement::Differ
                }
            }
            _ => Agreement::Unjudged,
        }
    }

    /// Does each model do what its real client does? Scenario by
    /// scenario, and for every disagreement both sides' details (a
    /// property's counterexample included), so the reason can be looked
    /// for in the original's code.
    pub fn versus_markdown(&self) -> String {
        let mut s = String::from(
            "# Model against real client

",
        );
        s.push_str(
            "Each platform model (`engine/src/platform.rs`, `docs/platform-models.md`) \
             beside the real client it imitates, run through its driver \
             (`conformance/drivers/`), on the same scenarios and server. \
             *same*: both got the same verdict; **DIFFER**: they did not; \
             *unjudged*: one of them could not run it. Property groups run \
             fewer worlds for drivers (`--portable-cases`) than for models \
             in this process (`--cases`), from the same seeds: a bug a model \
             shows only in a later world can pass for its real client by \
             chance, and a driver's wall clock can find a race the model's \
             virtual clock does not.\n\n",
        );
        for (label, source) in &self.sources {
            let _ = writeln!(s, "- `{label}`: {source}");
        }
        if !self.sources.is_empty() {
            s.push('\n');
        }
        for (model, real) in self.pairs() {
            let _ = writeln!(s, "## {model} against {real}\n");
            let _ = writeln!(s, "| scenario | model `{model}` | real `{real}` | |");
            s.push_str("|---|---|---|---|\n");
            let mut differ = Vec::new();
            let mut same = 0;
            for sc in &self.scenarios {
                let mark = |t: &str| self.cell(sc, t).map_or("—".into(), Self::mark);
                let a = self.agreement(sc, &model, &real);
                let word = match a {
                    Agreement::Same => {
                        same += 1;
                        "same"
                    }
                    Agreement::Differ => {
                        differ.push(sc.clone());
                        "**DIFFER**"
                    }
                    Agreement::Unjudged => "unjudged",
                };
                let _ = writeln!(s, "| {sc} | {} | {} | {word} |", mark(&model), mark(&real));
            }
            let _ = writeln!(
                s,
                "\n{same} of {} scenarios agree; {} differ.\n",
                self.scenarios.len(),
                differ.len()
            );
            for sc in differ {
                let _ = writeln!(s, "### {sc}: {model} and {real} differ\n");
                for t in [&model, &real] {
                    if let Some(c) = self.cell(&sc, t) {
                        let _ = writeln!(s, "- `{t}` — {}: {}", Self::mark(c), c.detail);
                        let _ = writeln!(s, "  replay: `{}`", c.replay);
                    }
                }
                s.push('\n');
            }
        }
        s
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
        for (label, source) in &self.sources {
            let _ = writeln!(s, "- `{label}`: {source}");
        }
        if !self.sources.is_empty() {
            s.push('\n');
        }
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
        std::fs::write(dir.join("matrix.html"), self.html())?;
        if !self.pairs().is_empty() {
            std::fs::write(dir.join("model-vs-real.md"), self.versus_markdown())?;
        }
        Ok(())
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

    #[test]
    fn a_model_and_its_real_client_are_compared_scenario_by_scenario() {
        let r = Report::new(
            vec![
                "electron".into(),
                "original-electron".into(),
                "extension".into(),
            ],
            vec!["tombstones".into(), "echo".into(), "restart".into()],
            vec![
                cell(
                    "tombstones",
                    "electron",
                    Status::Fail,
                    Judgement::KnownFailure,
                ),
                cell(
                    "tombstones",
                    "original-electron",
                    Status::Fail,
                    Judgement::Ok,
                ),
                cell("echo", "electron", Status::Pass, Judgement::Ok),
                cell("echo", "original-electron", Status::Fail, Judgement::Ok),
                cell("restart", "electron", Status::Pass, Judgement::Ok),
                cell(
                    "restart",
                    "original-electron",
                    Status::NotApplicable,
                    Judgement::NotRun,
                ),
            ],
        );
        // `extension` has no real column: no pair.
        assert_eq!(
            r.pairs(),
            vec![("electron".into(), "original-electron".into())]
        );
        assert_eq!(
            r.agreement("tombstones", "electron", "original-electron"),
            Agreement::Same
        );
        assert_eq!(
            r.agreement("echo", "electron", "original-electron"),
            Agreement::Differ
        );
        assert_eq!(
            r.agreement("restart", "electron", "original-electron"),
            Agreement::Unjudged
        );
        let md = r.versus_markdown();
        assert!(md.contains("| echo | pass | FAIL | **DIFFER** |"), "{md}");
        assert!(md.contains("1 of 3 scenarios agree; 1 differ."), "{md}");
        assert!(
            md.contains("### echo: electron and original-electron differ"),
            "{md}"
        );
    }
}
