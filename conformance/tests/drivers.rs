//! The driver protocol end to end: the reference engine behind
//! `peek-conform-driver`, one subprocess per device, reaching the
//! in-process server through HTTP fronts, gives the same redacted outcome
//! as the engine in-process for every documented scenario.

use conformance::documented::{self, Failure};
use conformance::server::ServerSpec;
use conformance::spec::ClientSpec;
use engine::Model;
use sim::check::Invariant;

#[test]
fn the_reference_driver_matches_the_engine_in_process() {
    let driver = ClientSpec::Driver(env!("CARGO_BIN_EXE_peek-conform-driver").to_string());
    let engine = ClientSpec::Engine(Model::Reference);
    assert_eq!(driver.name().unwrap(), "peek-sync");
    let mut ran = 0;
    for s in documented::ALL.iter() {
        let through_driver = documented::run(s, &driver, &ServerSpec::InProcess, 3);
        match through_driver {
            Ok(v) => {
                let direct = documented::run(s, &engine, &ServerSpec::InProcess, 3)
                    .unwrap_or_else(|e| panic!("{}: in-process: {e}", s.name));
                assert_eq!(v, direct, "{}", s.name);
                ran += 1;
            }
            Err(e) => panic!("{} through the driver: {e}", s.name),
        }
    }
    // Every scenario, the ones that rewrite the server's answers or edit
    // its files included: a driver reaches the scenario's own server.
    assert_eq!(ran, documented::ALL.len());
}

/// A driver that does not answer fails its scenario; it does not hang the
/// run (the reply timeout), and a driver that exits is an error, not a
/// pass.
#[test]
fn a_broken_driver_fails_instead_of_passing() {
    let gone = ClientSpec::Driver("true".into());
    assert!(gone.name().is_err());
    let s = &documented::ALL[0];
    let r = documented::run(s, &gone, &ServerSpec::InProcess, 1);
    assert!(matches!(r, Err(Failure::Fail(_))), "{r:?}");
}

/// The property groups in the one world with every device a driver
/// process (stepped sync by sync, request faults at its HTTP front) hold
/// for the reference engine behind the protocol.
#[test]
fn the_reference_driver_keeps_the_properties_in_the_one_world() {
    use conformance::property::{self, Group, Verdict};
    let driver = ClientSpec::Driver(env!("CARGO_BIN_EXE_peek-conform-driver").to_string());
    for g in Group::ALL {
        match property::run_target(g, &driver, &ServerSpec::InProcess, 3, 0, 0) {
            Verdict::Pass { cases } => assert_eq!(cases, 3),
            other => panic!("{}: {other:?}", g.name()),
        }
    }
}

/// The same world on the wall clock (what drivers and servers by URL
/// get) still catches a platform model's documented bug: the js-engine
/// model never pushes deletes and resurrects them (D4, D5).
#[test]
fn wall_clock_tombstones_catch_the_js_engine_model() {
    use conformance::property::{self, Group, Verdict};
    let cast = sim::cast::Cast {
        real_time: Some(property::wall()),
        ..sim::cast::Cast::default()
    };
    match property::run_in(Group::Tombstones, Model::JsEngine, &cast, 32, 0, 8) {
        Verdict::Fail { violations, .. } => {
            assert!(
                violations.iter().any(|v| matches!(
                    v.invariant,
                    Invariant::NoResurrection | Invariant::Convergence
                )),
                "{violations:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// A driver device really is in the one world: its requests pass the
/// world's wire (traced as exchanges), a step's fault reaches it through
/// the HTTP front (a lost answer after commit), its items carry their
/// origins to the other device, and every invariant holds.
#[test]
fn a_driver_meets_request_faults_at_its_front() {
    use sim::config::{Options, WorldConfig};
    use sim::event::{Event, Fault, Kind};
    let driver = ClientSpec::Driver(env!("CARGO_BIN_EXE_peek-conform-driver").to_string());
    let mut cfg = WorldConfig::from_seed(
        1,
        &Options {
            devices: 2,
            faults: false,
            max_skew_ms: 0,
            ..Options::default()
        },
    );
    cfg.servers = 1;
    cfg.images = false;
    for d in &mut cfg.devices {
        d.profile = 0;
        d.model = Model::Reference;
    }
    let events = vec![
        Event::Create {
            dev: 0,
            kind: Kind::Url,
            tags: vec!["work".into()],
            unicode: false,
        },
        Event::Sync { dev: 0 },
        Event::Step {
            dev: 0,
            fault: None,
        },
        Event::Step {
            dev: 0,
            fault: Some(Fault::ResponseLost),
        },
        Event::Sync { dev: 1 },
        Event::Edit { dev: 1, pick: 0 },
    ];
    let cast = conformance::property::cast(&driver, &ServerSpec::InProcess);
    let o = sim::run::run_cast(&cfg, &events, true, &cast).unwrap();
    assert!(o.ok(), "{:#?}", o.violations);
    assert!(o.stats.exchanges > 4, "{:?}", o.stats);
    assert_eq!(o.stats.faults, 1, "{:?}", o.stats);
    let trace = String::from_utf8(o.trace.unwrap()).unwrap();
    assert!(trace.contains(r#""fault":"response-lost""#));
    // d1 edited d0's item: it knew its origin without parsing content.
    assert!(trace.contains("d1-e1"), "d1 never saw d0's item");
}

/// A server by URL is an upstream of the same world: the property groups
/// run against our server on a local port (fresh profiles per world, the
/// wall clock, no restarts or backups from outside) and hold for the
/// reference engine, request faults included.
#[test]
fn a_server_by_url_keeps_the_properties_in_the_one_world() {
    use conformance::property::{self, Group, Verdict};
    use conformance::server::{Remote, Server};
    let local = Remote::serve_local(7).unwrap();
    let scratch = sim::account::Scratch::open(
        &local.url(),
        &local.key(),
        "conform",
        &server::clock::SeededIds::new(3),
        false,
    )
    .unwrap();
    let url = ServerSpec::Url(scratch.clone());
    let reference = ClientSpec::Engine(Model::Reference);
    for g in [Group::Dedup, Group::Tombstones] {
        match property::run_target(g, &reference, &url, 4, 0, 0) {
            Verdict::Pass { cases } => assert_eq!(cases, 4),
            other => panic!("{}: {other:?}", g.name()),
        }
    }
    // Each world gave its profiles back when it ended.
    assert!(scratch.live().is_empty(), "{:?}", scratch.live());
    assert!(scratch.finish().clean());
}
