//! Writers outside sync and the account's changes, in the one world.

#[path = "support/wrap.rs"]
mod wrap;

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
    fn rename_profile(&mut self, id: &str, name: &str) -> Result<(), sim::upstream::UpstreamError> {
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
    wrap::wrap_server(&mut w, 0, |real| Box::new(NoStrictProfile(real)));
    let found = judged(&mut w, &events());
    assert!(found.contains(&Invariant::ProfileIsolation), "{found:?}");
}
