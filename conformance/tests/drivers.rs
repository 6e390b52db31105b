//! The driver protocol end to end: the reference engine behind
//! `peek-conform-driver`, one subprocess per device, against our server on
//! a local port, gives the same redacted outcome as the engine in-process
//! for every documented scenario a driver can run.

use conformance::client::ClientSpec;
use conformance::documented::{self, Failure};
use conformance::server::ServerSpec;
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
                if s.name == "version-matrix" {
                    // The client half needs a client in this process.
                    assert_eq!(v["server"], direct["server"], "{}", s.name);
                } else {
                    assert_eq!(v, direct, "{}", s.name);
                }
                ran += 1;
            }
            Err(Failure::NotApplicable(why)) => {
                assert!(
                    ["dedup-cleanup", "write-during-sync"].contains(&s.name),
                    "{}: n/a ({why})",
                    s.name
                );
            }
            Err(e) => panic!("{} through the driver: {e}", s.name),
        }
    }
    assert_eq!(ran, documented::ALL.len() - 2);
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

/// The property groups replayed through the driver protocol (what runs
/// for every external client) hold for the reference engine behind it.
#[test]
fn the_reference_driver_keeps_the_portable_properties() {
    use conformance::property::{portable, Group, Verdict};
    let driver = ClientSpec::Driver(env!("CARGO_BIN_EXE_peek-conform-driver").to_string());
    for g in Group::ALL {
        match portable::run(g, &driver, &ServerSpec::InProcess, 3, 0, 0) {
            Verdict::Pass { cases } => assert_eq!(cases, 3),
            other => panic!("{}: {other:?}", g.name()),
        }
    }
}

/// The same replay catches a platform model's documented bug: the
/// js-engine model never pushes deletes and resurrects them (D4, D5).
#[test]
fn portable_tombstones_catch_the_js_engine_model() {
    use conformance::property::{portable, Group, Verdict};
    let m = ClientSpec::Engine(Model::JsEngine);
    match portable::run(Group::Tombstones, &m, &ServerSpec::InProcess, 32, 0, 8) {
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
