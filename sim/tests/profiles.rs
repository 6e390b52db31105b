//! Profile switching in the simulator: a device's local profile pointed at
//! another server profile carries its data there (D14/D15 server-change
//! detection), the old profile keeps what it had, nothing leaks the other
//! way, and `profile-isolation` catches a misrouted item.

use engine::sync::{Method, Request};
use sim::check::{self, server_items};
use sim::config::{Options, WorldConfig};
use sim::event::{Event, Kind};
use sim::host::{KEY, PROFILES};
use sim::world::World;

fn world() -> World {
    let mut cfg = WorldConfig::from_seed(
        3,
        &Options {
            devices: 2,
            faults: false,
            max_skew_ms: 0,
            ..Options::default()
        },
    );
    cfg.servers = 1;
    for d in &mut cfg.devices {
        d.profile = 0;
    }
    World::new(&cfg, false).expect("world")
}

fn create(dev: usize) -> Event {
    Event::Create {
        dev,
        kind: Kind::Text,
        tags: vec!["work".into()],
        unicode: false,
    }
}

fn origins(w: &World, profile: usize) -> Vec<String> {
    let mut o: Vec<String> = server_items(w, 0, profile)
        .into_values()
        .filter(|r| !r.seen.deleted)
        .map(|r| r.seen.origin)
        .collect();
    o.sort();
    o
}

fn settle(w: &mut World) -> Vec<check::Violation> {
    w.heal(2);
    let round: Vec<_> = (0..w.devices.len()).map(|d| w.sync_to_end(d)).collect();
    check::check(&sim::observe::Observation::of(w, &round))
}

#[test]
fn a_switched_profile_takes_its_data_along_and_leaves_a_copy_behind() {
    let mut w = world();
    for ev in [create(0), create(1), Event::Sync { dev: 0 }] {
        w.apply(&ev).unwrap();
    }
    assert!(w.sync_to_end(0).is_some());
    assert!(w.sync_to_end(1).is_some());
    assert!(w.sync_to_end(0).is_some());
    w.apply(&Event::SwitchProfile { dev: 0, profile: 1 })
        .unwrap();
    assert_eq!(w.devices[0].profile, 1);
    // Made on Home after d0 left: must never reach Work.
    w.apply(&create(1)).unwrap();
    let violations = settle(&mut w);
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(origins(&w, 0), ["d0-c1", "d1-c1", "d1-c2"]);
    // d0 carried what it held when it switched (its own item and d1's
    // first), nothing made on Home afterwards.
    assert_eq!(origins(&w, 1), ["d0-c1", "d1-c1"]);
    // Switching back finds Home's newer item and duplicates nothing.
    w.apply(&Event::SwitchProfile { dev: 0, profile: 0 })
        .unwrap();
    let violations = settle(&mut w);
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(origins(&w, 0), ["d0-c1", "d1-c1", "d1-c2"]);
    let d0: Vec<String> = w
        .observe(0)
        .unwrap()
        .items
        .iter()
        .filter(|i| !i.deleted)
        .filter_map(|i| i.origin.clone())
        .collect();
    assert_eq!(d0.len(), 3, "{d0:?}");
}

#[test]
fn profile_isolation_catches_an_item_pushed_to_the_wrong_profile() {
    let mut w = world();
    w.apply(&create(0)).unwrap();
    assert!(w.sync_to_end(0).is_some());
    // A misrouted push (what D16 does to Tauri desktop): d0's item lands in
    // Work, where no device of its ever synced.
    let body =
        r#"{"type":"text","content":"note d0-c1","metadata":{"origin":"d0-c1"},"sync_id":"leak"}"#;
    let resp = w.servers[0]
        .call(Request {
            method: Method::Post,
            path: format!("/items?profile={}&strictProfile=true", PROFILES[1].0),
            headers: vec![("Authorization".into(), format!("Bearer {KEY}"))],
            body: Some(body.as_bytes().to_vec()),
        })
        .unwrap();
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let violations = settle(&mut w);
    assert!(
        violations
            .iter()
            .any(|v| v.invariant == sim::check::Invariant::ProfileIsolation && v.items == ["d0-c1"]),
        "{violations:#?}"
    );
}

#[test]
fn generated_worlds_switch_profiles_and_still_hold() {
    let opts = Options {
        steps: 150,
        ..Options::default()
    };
    let mut switches = 0;
    for seed in 0..60 {
        let cfg = WorldConfig::from_seed(seed, &opts);
        if cfg.profile_switch == 0.0 {
            continue;
        }
        let events = sim::event::generate(&cfg, opts.steps);
        switches += events
            .iter()
            .filter(|e| matches!(e, Event::SwitchProfile { .. }))
            .count();
        let o = sim::run::run_events(&cfg, &events, false).unwrap();
        assert!(o.ok(), "seed {seed}: {:?}", o.violations);
    }
    assert!(switches >= 5, "only {switches} profile switches generated");
}
