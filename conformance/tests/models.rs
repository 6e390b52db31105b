//! The compliance matrix of the platform models (`docs/platform-models.md`):
//! every cell matches the model's expectation file
//! (`conformance/expectations/<model>.toml`), and the documented bugs show
//! as failures that name their D-numbers (D4/D5, D6, D10, D11, D13, D15).

use std::collections::BTreeSet;
use std::path::Path;

use conformance::expect::Expectations;
use conformance::matrix::{self, Cell, Judgement, Row, Settings, Status, Target};
use conformance::property::Group;
use conformance::server::ServerSpec;
use conformance::spec::ClientSpec;
use engine::Model;

fn target(m: Model) -> Target {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("expectations");
    Target {
        client: ClientSpec::Engine(m),
        server: ServerSpec::InProcess,
        name: m.name().to_string(),
        expectations: Expectations::load(&dir, m.name()).unwrap(),
        source: None,
    }
}

/// Few worlds and little shrinking: the models fail within the first
/// cases, and this test only checks the verdicts (peek-conform runs 256).
fn settings() -> Settings {
    Settings {
        cases: 64,
        seed: 0,
        shrink_iters: 16,
        portable_cases: 8,
        portable_shrink_iters: 8,
        report_dir: None,
    }
}

fn cells(rows: &[Row]) -> Vec<Cell> {
    let mut out = Vec::new();
    for m in Model::ALL {
        let t = target(m);
        for &r in rows {
            out.push(matrix::run_cell(r, &t, &settings()));
        }
    }
    let unexpected: Vec<String> = out
        .iter()
        .filter(|c| !matches!(c.judgement, Judgement::Ok | Judgement::KnownFailure))
        .map(|c| {
            format!(
                "{} × {}: {:?} — {}",
                c.target, c.scenario, c.judgement, c.detail
            )
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    out
}

fn failure<'a>(cells: &'a [Cell], target: &str, scenario: &str) -> &'a Cell {
    let c = cells
        .iter()
        .find(|c| c.target == target && c.scenario == scenario)
        .unwrap();
    assert_eq!(c.status, Status::Fail, "{target} × {scenario}");
    c
}

#[test]
fn documented_scenarios_match_the_expectations_and_name_the_bugs() {
    let rows: Vec<Row> = Row::all()
        .into_iter()
        .filter(|r| matches!(r, Row::Documented(_)))
        .collect();
    let cells = cells(&rows);
    for model in ["js-engine", "electron", "extension"] {
        assert!(failure(&cells, model, "delete-propagation")
            .detail
            .contains("D4"));
        assert!(failure(&cells, model, "echo-stability")
            .detail
            .contains("D10"));
        assert!(failure(&cells, model, "skew-ping-pong")
            .detail
            .contains("D11"));
        assert!(failure(&cells, model, "return-to-server")
            .detail
            .contains("D15"));
    }
    assert!(failure(&cells, "tauri-mobile", "write-during-sync")
        .detail
        .contains("D6"));
    assert!(failure(&cells, "tauri-desktop", "profile-isolation")
        .detail
        .contains("D16"));
    // The reference passes everything.
    assert!(cells
        .iter()
        .filter(|c| c.target == "reference")
        .all(|c| c.status == Status::Pass));
}

fn property_cells(groups: &[Group]) -> Vec<Cell> {
    let rows: Vec<Row> = groups.iter().map(|&g| Row::Property(g)).collect();
    cells(&rows)
}

fn likely(cells: &[Cell]) -> BTreeSet<String> {
    cells
        .iter()
        .flat_map(|c| {
            // "likely D8 (…): …": the D-number is the word after "likely".
            c.likely
                .iter()
                .filter_map(|d| d.split(' ').nth(1).map(str::to_string))
        })
        .collect()
}

#[test]
fn dedup_and_tombstone_properties_fail_for_every_model() {
    let cells = property_cells(&[Group::Dedup, Group::Tombstones]);
    let ds = likely(&cells);
    // From the evidence (sim::diagnose): deletes never sent or undone by a
    // pull, and mobile's end-time cursor. (The old per-model table also
    // named D13 for any convergence failure; nothing in these runs shows
    // an unpushed conflict winner.)
    for d in ["D4", "D5", "D6"] {
        assert!(ds.contains(d), "{d} not among {ds:?}");
    }
}

#[test]
fn switching_and_clock_properties_fail_for_every_model() {
    let cells = property_cells(&[Group::ServerSwitching, Group::ClockSkew]);
    let ds = likely(&cells);
    // Re-pushes with the server's clock ahead (the old table named D10
    // and D11 for any stability failure; no run here shows an echo pull).
    assert!(ds.contains("D11"), "D11 not among {ds:?}");
}
