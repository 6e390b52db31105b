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

/// A world with one planted transfer bug, and no other: every end state
/// stays right, so only `no-redundant-transfer` can see it.
mod planted_transfer_bugs {
    use engine::sync::{Request, Response};
    use engine::transport::TransportError;
    use sim::check::{check, Invariant};
    use sim::config::{Options, WorldConfig};
    use sim::device::{Caps, Device, DeviceError, DeviceState, ItemState, Now, Point, Progress};
    use sim::event::{Event, Kind};
    use sim::observe::Observation;
    use sim::trace::TraceMode;
    use sim::upstream::{Net, Upstream, UpstreamCaps};
    use sim::workload::{Change, NewItem};
    use sim::world::World;

    fn events() -> Vec<Event> {
        let mut evs = Vec::new();
        for dev in [0, 1] {
            evs.push(Event::Create {
                dev,
                kind: Kind::Text,
                tags: vec!["work".into()],
                unicode: false,
            });
            evs.push(Event::Sync { dev });
            evs.extend((0..6).map(|_| Event::Step { dev, fault: None }));
        }
        evs
    }

    fn judged(world: &mut World) -> Vec<Invariant> {
        let last = world.play(&events()).unwrap();
        let mut found: Vec<Invariant> = check(&Observation::of(world, &last))
            .into_iter()
            .map(|v| v.invariant)
            .collect();
        found.dedup();
        found
    }

    fn world() -> World {
        let opts = Options {
            devices: 2,
            faults: false,
            ..Options::default()
        };
        World::new(&WorldConfig::from_seed(3, &opts), TraceMode::Off).unwrap()
    }

    #[test]
    fn without_a_planted_bug_the_world_is_clean() {
        assert_eq!(judged(&mut world()), Vec::<Invariant>::new());
    }

    /// The change feed compares `>=` instead of `>`: the row at the cursor
    /// comes back on every pull. Devices skip it (they have it), so every
    /// end state is right; the wire is not.
    struct FeedOffByOne(Box<dyn Upstream>);

    impl Upstream for FeedOffByOne {
        fn call(&self, mut req: Request) -> Result<Response, TransportError> {
            if let Some(rest) = req.path.strip_prefix("/items/changes?after=") {
                let (n, tail) = rest.split_once('&').unwrap_or((rest, ""));
                if let Ok(n) = n.parse::<i64>() {
                    req.path = format!("/items/changes?after={}&{tail}", (n - 1).max(0));
                }
            }
            self.0.call(req)
        }
        fn caps(&self) -> UpstreamCaps {
            self.0.caps()
        }
        fn set_time(&self, ms: i64) {
            self.0.set_time(ms)
        }
    }

    #[test]
    fn a_feed_that_resends_the_row_at_its_cursor_is_caught() {
        let mut w = world();
        let real = std::mem::replace(&mut w.servers[0], Box::new(Nothing));
        w.servers[0] = Box::new(FeedOffByOne(real));
        assert_eq!(judged(&mut w), vec![Invariant::NoRedundantTransfer]);
    }

    /// A device that applies its own push's echo as news: it counts one
    /// more pulled item than the wire brought new in every sync that
    /// pulled its echo back. Its data is right; its work is not.
    struct EchoApplier(Box<dyn Device>);

    impl Device for EchoApplier {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn caps(&self) -> Caps {
            self.0.caps()
        }
        fn model(&self) -> engine::Model {
            self.0.model()
        }
        fn point(&mut self, at: &Point) -> Result<(), DeviceError> {
            self.0.point(at)
        }
        fn create(&mut self, now: Now, item: &NewItem) -> Result<String, DeviceError> {
            self.0.create(now, item)
        }
        fn update(&mut self, now: Now, id: &str, c: &Change) -> Result<(), DeviceError> {
            self.0.update(now, id, c)
        }
        fn delete(&mut self, now: Now, id: &str) -> Result<(), DeviceError> {
            self.0.delete(now, id)
        }
        fn tag(&mut self, now: Now, id: &str, tag: &str) -> Result<bool, DeviceError> {
            self.0.tag(now, id, tag)
        }
        fn untag(&mut self, now: Now, id: &str, tag: &str) -> Result<bool, DeviceError> {
            self.0.untag(now, id, tag)
        }
        fn live(&self) -> Result<Vec<String>, DeviceError> {
            self.0.live()
        }
        fn item(&self, id: &str) -> Result<Option<ItemState>, DeviceError> {
            self.0.item(id)
        }
        fn start_sync(&mut self) {
            self.0.start_sync()
        }
        fn syncing(&self) -> bool {
            self.0.syncing()
        }
        fn advance(&mut self, now: Now, net: &mut dyn Net) -> Progress {
            match self.0.advance(now, net) {
                Progress::Done(mut s) if s.pushed > 0 => {
                    s.pulled += s.pushed;
                    Progress::Done(s)
                }
                other => other,
            }
        }
        fn crash(&mut self) -> Result<(), DeviceError> {
            self.0.crash()
        }
        fn observe(&self) -> Result<DeviceState, DeviceError> {
            self.0.observe()
        }
    }

    #[test]
    fn a_device_that_applies_its_own_echo_is_caught() {
        let mut w = world();
        let real = std::mem::replace(&mut w.devices[0].device, Box::new(Gone));
        w.devices[0].device = Box::new(EchoApplier(real));
        assert_eq!(judged(&mut w), vec![Invariant::NoRedundantTransfer]);
    }

    /// Placeholders while a real part is moved into its wrapper.
    struct Nothing;

    impl Upstream for Nothing {
        fn call(&self, _: Request) -> Result<Response, TransportError> {
            Err(TransportError::Connect("placeholder".into()))
        }
        fn caps(&self) -> UpstreamCaps {
            UpstreamCaps {
                virtual_clock: true,
                lifecycle: false,
            }
        }
    }

    struct Gone;

    impl Device for Gone {
        fn name(&self) -> &str {
            "gone"
        }
        fn caps(&self) -> Caps {
            unreachable!("a placeholder")
        }
        fn model(&self) -> engine::Model {
            engine::Model::Reference
        }
        fn point(&mut self, _: &Point) -> Result<(), DeviceError> {
            Ok(())
        }
        fn create(&mut self, _: Now, _: &NewItem) -> Result<String, DeviceError> {
            Err(DeviceError::Refused("placeholder".into()))
        }
        fn update(&mut self, _: Now, _: &str, _: &Change) -> Result<(), DeviceError> {
            Ok(())
        }
        fn delete(&mut self, _: Now, _: &str) -> Result<(), DeviceError> {
            Ok(())
        }
        fn tag(&mut self, _: Now, _: &str, _: &str) -> Result<bool, DeviceError> {
            Ok(false)
        }
        fn untag(&mut self, _: Now, _: &str, _: &str) -> Result<bool, DeviceError> {
            Ok(false)
        }
        fn live(&self) -> Result<Vec<String>, DeviceError> {
            Ok(Vec::new())
        }
        fn item(&self, _: &str) -> Result<Option<ItemState>, DeviceError> {
            Ok(None)
        }
        fn start_sync(&mut self) {}
        fn syncing(&self) -> bool {
            false
        }
        fn advance(&mut self, _: Now, _: &mut dyn Net) -> Progress {
            Progress::Idle
        }
        fn crash(&mut self) -> Result<(), DeviceError> {
            Ok(())
        }
        fn observe(&self) -> Result<DeviceState, DeviceError> {
            Ok(DeviceState::default())
        }
    }
}

/// Writers outside sync and the account's changes, in the one world.
mod server_side {
    use engine::sync::{Request, Response};
    use engine::transport::TransportError;
    use sim::check::{check, Invariant};
    use sim::config::{Options, WorldConfig};
    use sim::event::{AccountChange, ApiWrite, Event, Kind};
    use sim::observe::Observation;
    use sim::trace::TraceMode;
    use sim::upstream::{Upstream, UpstreamCaps};
    use sim::world::World;

    fn world(by_slug: bool) -> World {
        let opts = Options {
            devices: 2,
            faults: false,
            ..Options::default()
        };
        let mut cfg = WorldConfig::from_seed(3, &opts);
        cfg.servers = 1;
        for d in &mut cfg.devices {
            d.profile = 0;
            d.by_slug = by_slug;
        }
        World::new(&cfg, TraceMode::Off).unwrap()
    }

    fn synced(dev: usize) -> Vec<Event> {
        let mut evs = vec![Event::Sync { dev }];
        evs.extend((0..6).map(|_| Event::Step { dev, fault: None }));
        evs
    }

    fn judged(w: &mut World, events: &[Event]) -> Vec<Invariant> {
        let last = w.play(events).unwrap();
        let mut found: Vec<Invariant> = check(&Observation::of(w, &last))
            .into_iter()
            .map(|v| v.invariant)
            .collect();
        found.dedup();
        found
    }

    /// A tag added through `PATCH`, a delete through `DELETE` and a url
    /// saved through the webhook all reach both devices, and the oracle
    /// holds the server to them.
    #[test]
    fn writes_outside_sync_reach_every_device() {
        let mut w = world(false);
        let mut evs = vec![Event::Create {
            dev: 0,
            kind: Kind::Text,
            tags: Vec::new(),
            unicode: false,
        }];
        evs.extend(synced(0));
        let api = |write| Event::Api {
            server: 0,
            profile: 0,
            write,
        };
        evs.push(api(ApiWrite::Retag {
            pick: 0,
            tag: "later".into(),
        }));
        evs.push(api(ApiWrite::Webhook {
            tags: vec!["read".into()],
        }));
        evs.push(api(ApiWrite::Text { tags: Vec::new() }));
        evs.push(api(ApiWrite::Delete { pick: 2 }));
        assert_eq!(judged(&mut w, &evs), Vec::<Invariant>::new());
        assert_eq!(w.stats.api_writes, 4);
        let d1 = w.observe(1).unwrap().items;
        let live: Vec<_> = d1.iter().filter(|i| !i.deleted).collect();
        assert_eq!(live.len(), 2, "{d1:?}");
        assert!(live.iter().any(|i| i.tags == vec!["later".to_string()]));
        assert!(d1.iter().any(|i| i.deleted), "the API delete reached d1");
        assert!(w.writes.iter().filter(|x| x.dev().is_none()).count() >= 3);
    }

    /// A profile deleted and created again under its name (a new UUID, an
    /// empty history), one renamed, a key rotated: the devices that name
    /// the profile by slug get everything back to it.
    #[test]
    fn the_account_changing_under_the_devices_loses_nothing() {
        let mut w = world(true);
        let mut evs = Vec::new();
        for dev in [0, 1] {
            evs.push(Event::Create {
                dev,
                kind: Kind::Url,
                tags: Vec::new(),
                unicode: false,
            });
            evs.extend(synced(dev));
        }
        let account = |change| Event::Account { server: 0, change };
        evs.push(account(AccountChange::DeleteProfile { profile: 0 }));
        evs.extend(synced(0));
        evs.push(account(AccountChange::RecreateProfile { profile: 0 }));
        evs.push(account(AccountChange::RenameProfile { profile: 0 }));
        evs.push(account(AccountChange::RotateKey));
        evs.extend(synced(1));
        evs.extend(synced(0));
        assert_eq!(judged(&mut w, &evs), Vec::<Invariant>::new());
        assert_eq!(w.stats.account_changes, 4);
        let home = sim::observe::server_items(&w, 0, 0);
        assert_eq!(home.values().filter(|r| !r.seen.deleted).count(), 2);
    }

    /// The server forgets `strictProfile=true` and files requests for a
    /// profile it does not have under the default one (D16): a device
    /// whose profile was renamed away writes there, and profile-isolation
    /// says so.
    struct NoStrictProfile(Box<dyn Upstream>);

    impl Upstream for NoStrictProfile {
        fn call(&self, mut req: Request) -> Result<Response, TransportError> {
            if !req.path.starts_with("/items?includeDeleted=true") {
                req.path = req.path.replace("&strictProfile=true", "");
            }
            self.0.call(req)
        }
        fn caps(&self) -> UpstreamCaps {
            self.0.caps()
        }
        fn set_time(&self, ms: i64) {
            self.0.set_time(ms)
        }
        fn rename_profile(
            &mut self,
            id: &str,
            name: &str,
        ) -> Result<(), sim::upstream::UpstreamError> {
            self.0.rename_profile(id, name)
        }
    }

    #[test]
    fn a_server_falling_back_to_the_default_profile_is_caught() {
        // The profile is renamed while the device's sync runs: its
        // requests still name the old slug.
        let events = || {
            let mut evs = vec![
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
                },
                Event::Account {
                    server: 0,
                    change: AccountChange::RenameProfile { profile: 0 },
                },
            ];
            evs.extend((0..6).map(|_| Event::Step {
                dev: 0,
                fault: None,
            }));
            evs
        };
        let mut fair = world(true);
        assert_eq!(judged(&mut fair, &events()), Vec::<Invariant>::new());
        let mut w = world(true);
        let real = std::mem::replace(&mut w.servers[0], Box::new(Unused));
        w.servers[0] = Box::new(NoStrictProfile(real));
        let found = judged(&mut w, &events());
        assert!(found.contains(&Invariant::ProfileIsolation), "{found:?}");
    }

    struct Unused;

    impl Upstream for Unused {
        fn call(&self, _: Request) -> Result<Response, TransportError> {
            Err(TransportError::Connect("placeholder".into()))
        }
        fn caps(&self) -> UpstreamCaps {
            UpstreamCaps {
                virtual_clock: true,
                lifecycle: true,
            }
        }
    }
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
