//! The driver kit from the suite's side: the fake client started by the
//! suite's `DriverClient` (protocol 2), as every real client's driver is.
//! What CI can prove without a checkout of the original: the suite hands
//! each device its own home, keeps its stderr there, restarts a `reexec`
//! driver by starting it again on the same data directory, and runs the
//! documented scenarios (restarts included) and the simulated world
//! through it.

use std::path::Path;

use conformance::documented::{self, Failure};
use conformance::server::ServerSpec;
use conformance::spec::ClientSpec;
use sim::driver::{Command, DriverClient, RestartKind, PROTOCOL, STDERR_LOG};

fn fake() -> String {
    env!("CARGO_BIN_EXE_peek-fake-client").to_string()
}

fn create(d: &mut DriverClient, content: &str) -> String {
    let v = d
        .send(Command::Create {
            kind: "text".into(),
            content: Some(content.into()),
            tags: vec!["t".into()],
            metadata: None,
        })
        .unwrap();
    v["id"].as_str().unwrap().to_string()
}

fn contents(d: &mut DriverClient) -> Vec<String> {
    let v = d
        .send(Command::Items {
            include_deleted: true,
        })
        .unwrap();
    let mut c: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["content"].as_str().unwrap_or("").to_string())
        .collect();
    c.sort();
    c
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn hello_says_protocol_2_and_a_reexec_restart_keeps_the_data_directory() {
    let home = tempfile::tempdir().unwrap();
    let mut d = DriverClient::spawn(&fake(), home.path()).unwrap();
    assert_eq!(d.hello().protocol, PROTOCOL);
    assert_eq!(d.hello().capabilities.restart, RestartKind::Reexec);
    assert!(d.name().starts_with("peek-fake-client"));
    create(&mut d, "before the restart");
    // The client's files are in the data directory the suite handed over.
    assert!(
        !files(&home.path().join("data")).is_empty(),
        "nothing written to data/"
    );
    d.send(Command::SetClock { offset_ms: -60_000 }).unwrap();
    d.restart().unwrap();
    create(&mut d, "after the restart");
    assert_eq!(
        contents(&mut d),
        vec![
            "after the restart".to_string(),
            "before the restart".to_string()
        ]
    );
    // One log for both processes, in the home, not in the data directory.
    let log = std::fs::read_to_string(home.path().join(STDERR_LOG)).unwrap();
    assert_eq!(
        log.matches("[fake] opened").count(),
        2,
        "the log holds both processes' start lines: {log}"
    );
    assert!(!d.log_tail(5).is_empty());
}

#[test]
fn two_devices_share_nothing() {
    let (h1, h2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = DriverClient::spawn(&fake(), h1.path()).unwrap();
    let mut b = DriverClient::spawn(&fake(), h2.path()).unwrap();
    create(&mut a, "only on a");
    assert_eq!(contents(&mut a), vec!["only on a".to_string()]);
    assert!(contents(&mut b).is_empty(), "b sees a's item");
    assert!(!files(&h1.path().join("data")).is_empty());
}

/// Every documented scenario runs through the fake (none is n/a: a driver
/// reaches the scenario's own server through its fronts, and restarts by
/// re-exec); a failing one comes back with the devices' stderr.
#[test]
fn the_documented_scenarios_run_through_a_reexec_driver() {
    let client = ClientSpec::Driver(fake());
    let mut ran = 0;
    for s in documented::ALL.iter() {
        let (r, logs) = documented::run_logged(s, &client, &ServerSpec::InProcess, 5);
        match r {
            Ok(_) => assert!(logs.is_empty(), "{}: logs kept for a pass", s.name),
            Err(Failure::Fail(m)) => {
                assert!(
                    !logs.is_empty(),
                    "{}: failed ({m}) without the driver's logs",
                    s.name
                );
                assert!(logs.iter().all(|(d, _)| d.starts_with('d')));
            }
            Err(e) => panic!("{}: {e}", s.name),
        }
        ran += 1;
    }
    assert_eq!(ran, documented::ALL.len());
}

/// The fake in the simulated world, crashes (re-execs) included, under
/// the world's request faults.
#[test]
fn the_fake_plays_a_world_with_crashes() {
    use sim::cast::{Cast, Clients, Wall};
    use sim::config::{Options, WorldConfig};
    use std::sync::Arc;
    let opts = Options {
        devices: 2,
        steps: 60,
        // The driver protocol carries no image bytes.
        images: false,
        ..Options::default()
    };
    let cast = Cast {
        clients: Clients::Driver(fake()),
        real_time: Some(Arc::new(Wall)),
        ..Cast::default()
    };
    let mut crashed = 0;
    for seed in 0..4 {
        let cfg = WorldConfig::from_seed(seed, &opts);
        let events = sim::event::generate(&cfg, opts.steps);
        crashed += events
            .iter()
            .filter(|e| format!("{e:?}").contains("Crash"))
            .count();
        let out = sim::run::run_cast(&cfg, &events, false, &cast).unwrap();
        // The fake is no correct client: what matters is that the world
        // ran it to the end, and a failing world carries its logs.
        if !out.ok() {
            assert!(
                !out.logs.is_empty(),
                "seed {seed}: violations without driver logs"
            );
        }
    }
    assert!(
        crashed > 0,
        "no world crashed a device: the re-exec path was not exercised"
    );
}
