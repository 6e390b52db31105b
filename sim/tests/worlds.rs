//! The simulator's own acceptance, at a size `cargo test` can afford.
//! `PEEK_SIM_SEEDS` raises the seed count (`peek-sim explore` runs 1,000).

use engine::Model;
use sim::check::Invariant;
use sim::config::Options;
use sim::run;
use sim::trace::TraceMode;

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

/// A world run with its trace off (exploration, shrinking) is judged
/// exactly as with it on: same violations, same exchanges; only the trace
/// is missing.
#[test]
fn a_world_with_its_trace_off_is_judged_the_same() {
    let opts = Options {
        steps: 120,
        models: vec![Model::Electron],
        ..Options::default()
    };
    let mut failed = 0;
    for seed in [7, 8] {
        let (_, _, on) = run::run_seed(seed, &opts, TraceMode::Hash).unwrap();
        let (_, _, off) = run::run_seed(seed, &opts, TraceMode::Off).unwrap();
        assert_eq!(on.violations.len(), off.violations.len(), "seed {seed}");
        for (a, b) in on.violations.iter().zip(&off.violations) {
            assert_eq!(
                (a.invariant, &a.detail, &a.items),
                (b.invariant, &b.detail, &b.items)
            );
        }
        assert_eq!(on.stats.exchanges, off.stats.exchanges);
        assert!(on.trace_hash.is_some() && on.trace_lines > 0);
        assert_eq!((off.trace_hash.as_deref(), off.trace_lines), (None, 0));
        failed += usize::from(!on.ok());
    }
    // Electron's model breaks invariants on seed 7 (see below), so the
    // comparison covers a failing world, not only passing ones.
    assert!(failed > 0);
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

/// The bug each model's first failing seed (60 steps) reproduces, by the
/// model's description in docs/platform-models.md: mobile's end-time
/// cursor (D6), Tauri desktop's local profile id (D16), and for the others
/// the start-time cursor read from the device's clock (D8), which every
/// original shares.
fn expected_bug(model: Model) -> &'static str {
    match model {
        Model::TauriMobile => "D6",
        Model::TauriDesktop => "D16",
        _ => "D8",
    }
}

/// `peek-sim run --seed 7 --models electron` shrinks to one create on d2
/// with d1's clock 139 ms ahead: d1's start-time cursor, read from its own
/// clock, passes the server time of d2's push (D8). The old lookup table
/// said "D13; D12; D7".
#[test]
fn seed_7_electron_is_diagnosed_as_a_device_clock_cursor() {
    let opts = Options {
        models: vec![Model::Electron],
        ..Options::default()
    };
    let mut cfg = sim::config::WorldConfig::from_seed(7, &opts);
    for (i, d) in cfg.devices.iter_mut().enumerate() {
        d.clock = serde_json::from_value(serde_json::json!({
            "shape": "offset",
            "offset_ms": if i == 1 { 139 } else { 0 }
        }))
        .unwrap();
    }
    cfg.server_clock =
        serde_json::from_value(serde_json::json!({"shape": "offset", "offset_ms": 0})).unwrap();
    let events = vec![sim::event::Event::Create {
        dev: 2,
        kind: sim::event::Kind::Text,
        tags: vec!["日本".into(), "日本".into()],
        unicode: false,
    }];
    let o = run::run_events(&cfg, &events, false).unwrap();
    assert_eq!(
        o.first(),
        Some(Invariant::Convergence),
        "{:?}",
        o.violations
    );
    let likely = sim::diagnose::explain(&cfg, &events).unwrap();
    let first = likely.first().expect("a diagnosis");
    assert_eq!(first.d, "D8", "{likely:?}");
    assert!(first.seen.starts_with("d1's cursor"), "{first}");
    assert_eq!(first.items, ["d2-c1"]);
    // The reference engine in the same world breaks nothing, so nothing
    // is diagnosed.
    for d in &mut cfg.devices {
        d.model = Model::Reference;
    }
    assert!(sim::diagnose::explain(&cfg, &events).unwrap().is_empty());
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
        // The diagnosis, computed from what happened, names a bug this
        // model reproduces (docs/platform-models.md).
        let named: Vec<&str> = small.likely.iter().map(|d| d.d).collect();
        let want = expected_bug(model);
        assert!(
            named.contains(&want),
            "{}: diagnosed {:?}, expected {want}; violations {:?}; events {:?}; config {}",
            model.name(),
            small
                .likely
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            small.violations,
            small.events,
            serde_json::to_string(&small.config).unwrap_or_default()
        );
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

/// Image items (bytes on the first push, fetched by pulling devices, edits
/// of the file name, deletes) converge in worlds without profile switches
/// or restores; the simulator found the server rejecting the update form
/// of a synced image and storing pushed image tombstones live (D19).
#[test]
fn image_items_converge_without_switches_or_restores() {
    let opts = Options {
        steps: 120,
        images: true,
        faults: false,
        ..Options::default()
    };
    let mut images = 0;
    for seed in 0..20 {
        let mut cfg = sim::config::WorldConfig::from_seed(seed, &opts);
        cfg.servers = 1;
        cfg.profile_switch = 0.0;
        let events = sim::event::generate(&cfg, opts.steps);
        images += events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    sim::event::Event::Create {
                        kind: sim::event::Kind::Image,
                        ..
                    }
                )
            })
            .count();
        let o = run::run_events(&cfg, &events, false).unwrap();
        assert!(o.ok(), "seed {seed}: {:?}", o.violations);
    }
    assert!(images >= 10, "only {images} images created");
}

/// `Event::Send` opens the window a whole-request step never does: the
/// server has handled the push while the device has not seen the answer,
/// so a local edit lands between the two (a user editing while a sync
/// runs). The edit must still reach the server, and the world's check
/// must be what says so.
#[test]
fn a_local_edit_while_the_push_is_in_flight_reaches_the_server() {
    use sim::event::{Event, Kind};
    use sim::world::World;
    let opts = Options {
        devices: 1,
        faults: false,
        ..Options::default()
    };
    let mut cfg = sim::config::WorldConfig::from_seed(5, &opts);
    for d in &mut cfg.devices {
        d.clock = sim::vclock::ClockShape::Offset { offset_ms: 0 };
    }
    let before = [
        Event::Create {
            dev: 0,
            kind: Kind::Url,
            tags: Vec::new(),
            unicode: false,
        },
        Event::Sync { dev: 0 },
        Event::Step {
            dev: 0,
            fault: None,
        }, // GET /
        Event::Send {
            dev: 0,
            fault: None,
        }, // POST /items/batch, answer held
    ];
    let mut world = World::new(&cfg, TraceMode::Off).unwrap();
    for ev in &before {
        world.apply(ev).unwrap();
    }
    let linked = |w: &World| w.observe(0).unwrap().items[0].link.is_some();
    assert!(!linked(&world), "the push's answer is still in flight");
    assert!(world.devices[0].device.syncing());
    world.apply(&Event::Edit { dev: 0, pick: 0 }).unwrap();
    world
        .apply(&Event::Step {
            dev: 0,
            fault: None,
        })
        .unwrap();
    assert!(
        linked(&world),
        "the held answer was applied by the next step"
    );
    let mut events = before.to_vec();
    events.extend([
        Event::Edit { dev: 0, pick: 0 },
        Event::Step {
            dev: 0,
            fault: None,
        },
    ]);
    let o = run::run_events(&cfg, &events, TraceMode::Off).unwrap();
    assert!(o.ok(), "{:?}", o.violations);
    let edits = o.stats.in_flight;
    assert_eq!(edits, 1, "one answer was held");
}

/// Healing finishes the syncs the fault phase left running before its
/// rounds begin, and does not count them as rounds: such a sync began
/// before the last faults and may end without meeting them (seed 7513).
/// Here it takes three full rounds after a restore for the edit of an
/// image by a device without its bytes to reach everyone: d1 cannot push
/// it until d2, who has the bytes, has brought the lost row back, and
/// only then can d0 pull it. When the two syncs left running took the
/// first round, d0 met the edit only in the extra round `stability`
/// judges.
#[test]
fn syncs_left_running_at_the_heal_are_not_counted_as_its_rounds() {
    use sim::event::{Event, Kind};
    let mut cfg = sim::config::WorldConfig::from_seed(
        7513,
        &Options {
            devices: 3,
            faults: false,
            max_skew_ms: 0,
            ..Options::default()
        },
    );
    cfg.servers = 1;
    cfg.profile_switch = 0.0;
    for d in &mut cfg.devices {
        d.profile = 0;
    }
    let create = |dev, kind| Event::Create {
        dev,
        kind,
        tags: vec![],
        unicode: false,
    };
    let sync = |dev, steps| {
        let mut evs = vec![Event::Sync { dev }];
        evs.extend((0..steps).map(|_| Event::Step { dev, fault: None }));
        evs
    };
    let mut events = vec![create(0, Kind::Text)];
    events.extend(sync(0, 4));
    events.extend([
        Event::Wait { ms: 10 },
        Event::BackupServer { server: 0 },
        Event::Wait { ms: 10 },
        // Made after the backup: the restore loses its row.
        create(2, Kind::Image),
    ]);
    events.extend(sync(2, 4));
    // d1 pulls the image and edits it before fetching its bytes.
    events.extend(sync(1, 2));
    events.push(Event::Edit { dev: 1, pick: 1 });
    // d2's next sync has pulled and would end with no request: it cannot
    // learn of the restore.
    events.extend(sync(2, 2));
    events.push(Event::RestoreServer { server: 0 });
    let o = run::run_events(&cfg, &events, false).unwrap();
    assert_eq!(o.stats.restores, 1, "the restore happened");
    assert!(o.ok(), "{:#?}", o.violations);
}
