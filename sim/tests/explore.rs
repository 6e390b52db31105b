//! `sim::explore` and `sim::report` as a library: what `peek-sim explore`
//! and `peek-sim run` print is built from these types, so any caller gets
//! the same answer.

use std::sync::Mutex;
use std::time::Duration;

use engine::Model;
use sim::config::Options;
use sim::explore::{self, Plan, Progress, SeedReport, Timing, Verdict};
use sim::report::{self, Failure};
use sim::run;

/// Records the seeds in the order the workers finished them.
#[derive(Default)]
struct Heard(Mutex<Vec<u64>>);

impl Progress for Heard {
    fn seed_done(&self, r: &SeedReport) {
        self.0.lock().unwrap().push(r.seed);
    }
}

fn plan(models: Vec<Model>, jobs: usize) -> Plan {
    Plan {
        from: 3,
        seeds: 10,
        jobs,
        options: Options {
            steps: 60,
            models,
            ..Options::default()
        },
        shard: None,
    }
}

/// A fixed timing, so that rendered summaries can be compared as text.
fn timing() -> Timing {
    Timing {
        elapsed: Duration::from_secs(2),
        busy: 1,
    }
}

#[test]
fn one_or_two_workers_give_the_same_summary_sorted_by_seed() {
    // Reference and Electron devices: some seeds pass, some fail.
    let models = vec![Model::Reference, Model::Electron];
    let heard = Heard::default();
    let one = explore::explore(&plan(models.clone(), 1), &heard).unwrap();
    let two = explore::explore(&plan(models, 2), &()).unwrap();
    assert_eq!(one, two);
    let seeds: Vec<u64> = one.seeds.iter().map(|s| s.seed).collect();
    assert_eq!(seeds, (3..13).collect::<Vec<_>>());
    let mut heard = heard.0.into_inner().unwrap();
    heard.sort_unstable();
    assert_eq!(heard, seeds, "progress hears of every seed once");
    assert!(one.exchanges() > 0);
    assert!(one.failed() > 0, "no Electron world failed: {one:?}");
    assert_eq!(one.passed() + one.failed(), 10);
    let failing: Vec<u64> = one.failures().map(|s| s.seed).collect();
    assert!(failing.windows(2).all(|w| w[0] < w[1]), "{failing:?}");
    assert_eq!(
        one.render(timing()).to_string(),
        two.render(timing()).to_string()
    );
}

#[test]
fn an_electron_exploration_fails_and_ends_in_repro_lines() {
    let summary = explore::explore(&plan(vec![Model::Electron], 2), &()).unwrap();
    assert!(!summary.ok());
    let first = summary.failures().next().unwrap();
    let Verdict::Failed { invariant, .. } = &first.verdict else {
        panic!(
            "seed {} did not break an invariant: {:?}",
            first.seed, first.verdict
        );
    };
    assert_eq!(summary.by_group()[invariant][0], first.seed);
    let text = summary.render(timing()).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.last().copied(),
        Some(format!("{} passed, {} failed", summary.passed(), summary.failed()).as_str())
    );
    let repro = format!(
        "repro: peek-sim run --seed {} --devices 4 --steps 60 --models electron",
        first.seed
    );
    assert!(lines.contains(&repro.as_str()), "{text}");
    assert!(text.contains(&format!("| {invariant} |")), "{text}");
}

#[test]
fn a_failure_report_shrinks_and_names_the_invariant() {
    let opts = plan(vec![Model::Electron], 1).options;
    let (cfg, events, outcome) = (0..50)
        .map(|seed| run::run_seed(seed, &opts, false).unwrap())
        .find(|(_, _, o)| !o.ok())
        .expect("an Electron world fails within 50 seeds");
    let failure = Failure::of(&outcome).unwrap();
    assert_eq!(Some(failure.invariant), outcome.first());
    let head = failure.to_string();
    assert!(
        head.starts_with(&format!("FAIL invariant={} (", failure.invariant)),
        "{head}"
    );
    let minimized = failure.minimize(&cfg, &events, 40);
    assert!(minimized.shrunk.events.len() < events.len());
    let diagnosed = minimized.diagnoses();
    assert!(!diagnosed.is_empty());
    assert!(diagnosed
        .iter()
        .all(|(v, _)| v.invariant == failure.invariant));
    let body = minimized.to_string();
    assert!(body.starts_with("minimized to "), "{body}");
    assert!(
        body.contains(&format!("  -> {}: ", failure.invariant)),
        "{body}"
    );
    assert_eq!(
        report::repro_line(outcome.seed, &opts),
        format!(
            "repro: peek-sim run --seed {} --devices 4 --steps 60 --models electron",
            outcome.seed
        )
    );
}

#[test]
fn a_passing_outcome_is_no_failure() {
    let opts = Options {
        steps: 40,
        ..Options::default()
    };
    let (_, _, o) = run::run_seed(1, &opts, false).unwrap();
    assert!(o.ok());
    assert!(Failure::of(&o).is_none());
    let r = explore::run_one(1, &opts);
    assert_eq!(r.verdict, Verdict::Passed);
    assert_eq!(r.exchanges, o.stats.exchanges);
}

/// The shards of an exploration, run apart and merged, are the one
/// exploration: the same seeds, verdicts and exchanges.
#[test]
fn shards_merged_equal_the_whole_run() {
    use sim::explore::{explore, merge, Results, Shard};
    let whole = explore(&plan(vec![Model::Reference, Model::Electron], 2), &()).unwrap();
    let files: Vec<(String, Results)> = (1..=3)
        .map(|k| {
            let shard = Shard { index: k, count: 3 };
            let mut p = plan(vec![Model::Reference, Model::Electron], 1);
            p.shard = Some(shard);
            let part = explore(&p, &()).unwrap();
            assert!(part.seeds.iter().all(|s| shard.holds(s.seed, 3)));
            let t = Timing::new(Duration::from_secs(1), 1);
            let r = Results::new(&part, 3, 10, shard, t);
            let text = serde_json::to_string(&r).unwrap();
            (format!("shard {k}"), Results::parse(&text).unwrap())
        })
        .collect();
    let (merged, _) = merge(&files, false).unwrap();
    assert_eq!(merged.seeds, whole.seeds);
    assert_eq!(merged.repro_lines(), whole.repro_lines());
}

/// The summary says what the worlds went through, from counters kept as
/// they ran (the trace is off): per seed, the faults by kind add up to
/// the seed's fault count, which is the world's own `Stats.faults`; the
/// kinds that fired show nonzero; every device and server clock is
/// counted once; every invariant is listed.
#[test]
fn the_summary_counts_what_fired_and_adds_up() {
    let opts = Options {
        steps: 120,
        ..Options::default()
    };
    let p = Plan {
        from: 0,
        seeds: 6,
        jobs: 2,
        options: opts.clone(),
        shard: None,
    };
    let summary = explore::explore(&p, &()).unwrap();
    for s in &summary.seeds {
        let (cfg, _, o) = run::run_seed(s.seed, &opts, false).unwrap();
        assert_eq!(s.faults, o.stats.faults, "seed {}", s.seed);
        assert_eq!(
            s.exercised.faults.total(),
            o.stats.faults,
            "seed {}",
            s.seed
        );
        assert_eq!(s.exercised.crashes, o.stats.crashes);
        assert_eq!(s.exercised.restores, o.stats.restores);
        assert_eq!(s.exercised.device_clocks.total(), cfg.devices.len() as u64);
        assert_eq!(s.exercised.server_clocks.total(), 1);
    }
    let ex = summary.exercised();
    let faults: u64 = summary.seeds.iter().map(|s| s.faults).sum();
    assert!(faults > 0, "no fault fired in 6 faulty worlds");
    assert_eq!(ex.faults.total(), faults);
    for f in [
        sim::session::AppliedFault::RequestLost,
        sim::session::AppliedFault::ResponseLost,
        sim::session::AppliedFault::Duplicate,
    ] {
        assert!(ex.faults.get(f) > 0, "{} never fired: {ex:?}", f.name());
    }
    assert!(ex.crashes + ex.partitions > 0, "{ex:?}");
    assert!(ex.backups + ex.restarts > 0, "{ex:?}");
    assert_eq!(summary.checked(), 6);
    let text = summary.render(timing()).to_string();
    assert!(
        text.contains(&format!(
            "request faults  {faults:>7} requests: request-lost {}",
            ex.faults.request_lost
        )),
        "{text}"
    );
    for i in sim::check::Invariant::ALL {
        assert!(
            text.contains(&format!("    {}: {}", i.name(), i.what())),
            "{text}"
        );
    }
    // The closing line stays the last.
    assert_eq!(text.lines().last(), Some("6 passed, 0 failed"));
}
