//! A world with one planted transfer bug, and no other: every end state
//! stays right, so only `no-redundant-transfer` can see it.

#[path = "support/wrap.rs"]
mod wrap;
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
    wrap::wrap_server(&mut w, 0, |real| Box::new(FeedOffByOne(real)));
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

/// A placeholder while the real device is moved into its wrapper.
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
