//! The simulator's own acceptance, at a size `cargo test` can afford.
//! `PEEK_SIM_SEEDS` raises the seed count (`peek-sim explore` runs 1,000).

use engine::Model;
use sim::config::Options;
use sim::run;

fn seeds() -> u64 {
    std::env::var("PEEK_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40)
}

#[test]
fn reference_engine_holds_every_invariant_under_all_faults() {
    let opts = Options {
        steps: 150,
        ..Options::default()
    };
    let mut failures = Vec::new();
    let mut faults = 0;
    let mut restores = 0;
    for seed in 0..seeds() {
        let (_, _, o) = run::run_seed(seed, &opts, false).expect("world runs");
        faults += o.stats.faults;
        restores += o.stats.restores;
        if !o.ok() {
            failures.push(format!("seed {seed}: {:?}", o.violations.first()));
        }
    }
    assert!(faults > 0, "the fault schedule injected nothing");
    assert!(restores > 0, "no world restored a server from a backup");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn same_seed_same_trace_in_any_thread() {
    let opts = Options {
        steps: 120,
        ..Options::default()
    };
    let (_, _, a) = run::run_seed(7, &opts, true).unwrap();
    let (_, _, b) = run::run_seed(7, &opts, false).unwrap();
    let other = std::thread::spawn(move || run::run_seed(7, &opts, false).unwrap().2.trace_hash)
        .join()
        .unwrap();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.trace_hash, other);
    let (_, _, c) = run::run_seed(
        8,
        &Options {
            steps: 120,
            ..Options::default()
        },
        false,
    )
    .unwrap();
    assert_ne!(a.trace_hash, c.trace_hash);
    let trace = String::from_utf8(a.trace.unwrap()).unwrap();
    assert!(
        trace.lines().count() as u64 == a.trace_lines && trace.contains("\"kind\":\"exchange\"")
    );
}

/// Each model of an original client breaks an invariant within 200 seeds,
/// and the failure shrinks to a smaller world that still breaks it.
#[test]
fn every_platform_model_fails_and_shrinks() {
    for model in [
        Model::JsEngine,
        Model::Electron,
        Model::TauriDesktop,
        Model::TauriMobile,
        Model::Extension,
    ] {
        let opts = Options {
            steps: 60,
            models: vec![model],
            ..Options::default()
        };
        let found = (0..200).find_map(|seed| {
            let (cfg, events, o) = run::run_seed(seed, &opts, false).unwrap();
            o.first().map(|inv| (cfg, events, inv))
        });
        let (cfg, events, inv) = found.unwrap_or_else(|| panic!("{} never failed", model.name()));
        let small = run::shrink(&cfg, &events, inv, 60);
        assert!(
            small.events.len() < events.len(),
            "{}: no shrink",
            model.name()
        );
        assert!(
            small.violations.iter().any(|v| v.invariant == inv),
            "{}: shrunk world lost the failure",
            model.name()
        );
        // The minimized-world file (`--minimized-out`) replays to the same failure.
        let file = serde_json::to_vec(&small).unwrap();
        let back: run::Replay = serde_json::from_slice(&file).unwrap();
        assert_eq!(back.config, small.config);
        let again = run::run_events(&back.config, &back.events, false).unwrap();
        assert!(
            again.violations.iter().any(|v| v.invariant == inv),
            "{}: replay lost the failure",
            model.name()
        );
    }
}
