//! The compliance matrix as Markdown, JSON and HTML: rows are scenarios,
//! columns are targets, each cell pass / fail / n/a with its judgement
//! against the expectations; failures are listed below the table with the
//! minimal counterexample and the command that replays it. The HTML page
//! (`html`) is the one meant for people and paper; `dref` reads D-numbers.

mod dref;
mod html;

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::matrix::{Cell, Judgement, Status, Totals};

pub use dref::{d_numbers, title as d_title};
pub use html::{cell_ds, look, noteworthy};

/// Where a D-number link points when the caller names no account: the
/// repository's own, by the path the crate was built from.
pub const DEFAULT_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/original-system.md");

/// What was run, for the report's head. Given by the caller: the library
/// reads neither the clock nor the repository.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunInfo {
    /// When the run happened (`2026-01-27 10:00 UTC`).
    pub date: String,
    /// The commit of the code that ran (`git describe --always --dirty`).
    pub commit: String,
    /// The command line.
    pub command: String,
    /// The server every target ran against.
    pub server: String,
    pub seed: u64,
    pub cases: u32,
    pub portable_cases: u32,
    pub shrink_iters: u32,
    pub portable_shrink_iters: u32,
    /// The href of `docs/original-system.md` for D-number links.
    pub doc: String,
}

impl RunInfo {
    /// A date from Unix milliseconds, as the report shows it.
    pub fn date_of(ms: i64) -> String {
        let iso = protocol::timestamp::format_iso(ms);
        format!("{} UTC", iso.get(..16).unwrap_or(&iso).replace('T', " "))
    }
}

/// A finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub targets: Vec<String>,
    pub scenarios: Vec<String>,
    pub cells: Vec<Cell>,
    pub totals: Totals,
    /// What each driver column was built from, by column label.
    pub sources: Vec<(String, String)>,
    /// What was run, when the caller says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
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
            run: None,
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
            expectation: None,
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
        assert!(r.html().contains("class=\"c known\""));
    }

    /// A run with every kind of verdict: the page has a section per
    /// failing cell, the D-numbers of every known failure (in the cell, and
    /// with their titles and anchors in its section), the replay commands
    /// and reasons in plain sight, the run's metadata and a line per
    /// scenario saying what it checks.
    #[test]
    fn the_html_page_reads_on_paper() {
        let mut known = cell(
            "tombstones",
            "js-engine",
            Status::Fail,
            Judgement::KnownFailure,
        );
        known.expectation = Some("D4 (deletes never propagate), D5 (resurrection)".into());
        known.counterexample = Some(serde_json::json!({
            "config": {"devices": [{"name": "d0", "model": "js-engine", "clock": {"shape": "offset", "offset_ms": 0}, "profile": 0}], "servers": 1, "server_clock": {"shape": "offset", "offset_ms": 0}},
            "events": [
                {"op": "create", "dev": 0, "kind": "url", "tags": [], "unicode": false},
                {"op": "wait", "ms": 1}, {"op": "step", "dev": 0, "fault": null},
                {"op": "wait", "ms": 1}, {"op": "step", "dev": 0, "fault": null},
                {"op": "wait", "ms": 1}, {"op": "step", "dev": 0, "fault": "response-lost"},
            ]
        }));
        let mut unexpected = cell(
            "tombstones",
            "electron",
            Status::Fail,
            Judgement::UnexpectedFailure,
        );
        unexpected.detail = "no-resurrection: d1 brought back d0-c1".into();
        unexpected.likely =
            vec!["likely D8 (the cursor was taken from the device's clock): …".into()];
        unexpected.replay = "peek-sim replay out/cases/electron--tombstones.json".into();
        let mut upass = cell(
            "delete-propagation",
            "js-engine",
            Status::Pass,
            Judgement::UnexpectedPass,
        );
        upass.expectation = Some("D4: deletes never pushed".into());
        let mut documented = cell(
            "delete-propagation",
            "electron",
            Status::Fail,
            Judgement::KnownFailure,
        );
        documented.expectation = Some("D4 (deletes never pushed nor applied), D5".into());
        documented.counterexample = None;
        documented.replay = "peek-conform --client electron --only delete-propagation".into();
        let mut r = Report::new(
            vec!["js-engine".into(), "electron".into(), "reference".into()],
            vec!["tombstones".into(), "delete-propagation".into()],
            vec![
                known,
                unexpected,
                cell("tombstones", "reference", Status::Pass, Judgement::Ok),
                upass,
                documented,
                cell(
                    "delete-propagation",
                    "reference",
                    Status::NotApplicable,
                    Judgement::NotRun,
                ),
            ],
        );
        r.run = Some(RunInfo {
            date: RunInfo::date_of(1_769_508_000_000),
            commit: "4a46644-dirty".into(),
            command: "peek-conform --client models --report out".into(),
            server: "in-process".into(),
            seed: 7,
            cases: 256,
            portable_cases: 16,
            shrink_iters: 256,
            portable_shrink_iters: 32,
            doc: "../docs/original-system.md".into(),
        });
        let html = r.html();
        // A section per failing cell (and one for the unexpected pass).
        let failing = r.cells.iter().filter(|c| noteworthy(c)).count();
        assert_eq!(failing, 4);
        for n in 1..=failing {
            assert!(
                html.contains(&format!("<section class=\"failure\" id=\"f{n}\">")),
                "f{n}"
            );
            assert!(html.contains(&format!("href=\"#f{n}\"")), "link to f{n}");
        }
        assert!(!html.contains(&format!("id=\"f{}\"", failing + 1)));
        // Known failures show their D-numbers, linked, with titles.
        assert!(html.contains("<span class=\"ds\">D4 D5</span>"), "{html}");
        assert!(html.contains("href=\"../docs/original-system.md#d4\""));
        assert!(
            html.contains("<b>D4</b></a> — deletes never propagate (H)"),
            "{html}"
        );
        assert!(html.contains("<b>D5</b></a> — local deletes come back on the next pull (H)"));
        // The unexpected failure: its diagnosis' D-number, reason and replay.
        assert_eq!(cell_ds(&r.cells[1]), vec![8]);
        assert!(html.contains("<code>peek-sim replay out/cases/electron--tombstones.json</code>"));
        assert!(html.contains("<td class=\"r\">no-resurrection: d1 brought back d0-c1</td>"));
        // Distinct symbols for every verdict.
        for sym in ["✓", "◐", "✗", "★", "–"] {
            assert!(
                html.contains(&format!("<span class=\"sym\">{sym}</span>")),
                "{sym}"
            );
        }
        // The minimal counterexample in words, runs folded.
        assert!(html.contains("d0 creates a url"));
        assert!(html.contains("(wait 1 ms; d0 sync step) ×2"));
        assert!(html.contains("d0 sync step — fault: response-lost"));
        assert!(html.contains("a documented scenario: fixed steps"));
        // The run's metadata.
        for m in [
            "2026-01-27 10:00 UTC",
            "4a46644-dirty",
            "peek-conform --client models --report out",
            "256 worlds per property in-process, 16 for drivers",
        ] {
            assert!(html.contains(m), "{m}");
        }
        // What each scenario checks.
        for row in crate::matrix::Row::all()
            .into_iter()
            .filter(|r| r.name() == "tombstones" || r.name() == "delete-propagation")
        {
            assert!(
                html.contains(&super::html::esc_for_test(row.what())),
                "{}",
                row.name()
            );
        }
        // A print stylesheet.
        assert!(html.contains("@media print"));
        assert_eq!(html, r.html(), "the same report, the same page");
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
