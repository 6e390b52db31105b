//! Proptest strategies for the simulator's events. A generated case is a
//! list of *operations* (a sync is one operation: start, then a few
//! requests, one maybe faulted), each expanding to `sim::event::Event`s;
//! proptest shrinks the operation list and each operation's fields, so a
//! counterexample ends up as a short event list `peek-sim replay` runs.

use proptest::prelude::*;
use sim::event::{Event, Fault, Kind};
use sim::vclock::ClockShape;

/// The kinds of operation a group may draw, with their weights.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mix {
    pub create: u32,
    pub create_same: u32,
    pub edit: u32,
    pub delete: u32,
    pub tag: u32,
    pub untag: u32,
    pub sync: u32,
    /// Probability (0–100) that a sync has one faulted request.
    pub fault_pct: u32,
    pub crash: u32,
    pub restart: u32,
    pub backup: u32,
    pub restore: u32,
    pub switch_server: u32,
    pub switch_profile: u32,
    pub wait: u32,
    /// Longest wait, ms.
    pub max_wait_ms: i64,
}

/// Every local write takes a millisecond of true time, so two devices'
/// writes never share a millisecond when their clocks agree: on an exact
/// tie the server keeps the stored row (`docs/protocol.md`), while the
/// simulator's `no-resurrection` oracle lets a tied delete win.
const TICK: Event = Event::Wait { ms: 1 };

const TAGS: [&str; 4] = ["work", "read", "Work", "日本"];

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Url), Just(Kind::Text), Just(Kind::Tagset)]
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        Just(Fault::RequestLost),
        Just(Fault::ResponseLost),
        Just(Fault::Duplicate),
        Just(Fault::ServerError),
    ]
}

/// One operation for a world of `devices` devices and `servers` servers.
pub fn op(mix: Mix, devices: usize, servers: usize) -> BoxedStrategy<Vec<Event>> {
    let dev = 0..devices;
    let pick = any::<u32>();
    let tag = proptest::sample::select(&TAGS[..]).prop_map(str::to_string);
    let mut arms: Vec<(u32, BoxedStrategy<Vec<Event>>)> = Vec::new();
    let mut add = |w: u32, s: BoxedStrategy<Vec<Event>>| {
        if w > 0 {
            arms.push((w, s));
        }
    };
    add(
        mix.create,
        (
            dev.clone(),
            kind(),
            proptest::collection::vec(tag.clone(), 0..2),
        )
            .prop_map(|(dev, kind, tags)| {
                vec![
                    TICK,
                    Event::Create {
                        dev,
                        kind,
                        tags,
                        unicode: false,
                    },
                ]
            })
            .boxed(),
    );
    add(
        mix.create_same,
        (dev.clone(), dev.clone(), kind())
            .prop_map(|(dev, other, kind)| vec![TICK, Event::CreateSame { dev, other, kind }])
            .boxed(),
    );
    add(
        mix.edit,
        (dev.clone(), pick)
            .prop_map(|(dev, pick)| vec![TICK, Event::Edit { dev, pick }])
            .boxed(),
    );
    add(
        mix.delete,
        (dev.clone(), pick)
            .prop_map(|(dev, pick)| vec![TICK, Event::Delete { dev, pick }])
            .boxed(),
    );
    add(
        mix.tag,
        (dev.clone(), pick, tag)
            .prop_map(|(dev, pick, tag)| vec![TICK, Event::Tag { dev, pick, tag }])
            .boxed(),
    );
    add(
        mix.untag,
        (dev.clone(), pick)
            .prop_map(|(dev, pick)| vec![TICK, Event::Untag { dev, pick }])
            .boxed(),
    );
    let pct = mix.fault_pct.min(100);
    add(
        mix.sync,
        (dev.clone(), 1..7usize, 0..7usize, fault(), 0..100u32)
            .prop_map(move |(dev, steps, at, f, roll)| {
                let mut out = vec![Event::Sync { dev }];
                for i in 0..steps {
                    let fault = (roll < pct && i == at % steps).then_some(f);
                    // Every request takes a millisecond of true time, as on
                    // a real network: without it, writes share the
                    // millisecond of the next cursor and every model fails
                    // on the same-millisecond boundary (D9) first.
                    out.push(Event::Wait { ms: 1 });
                    out.push(Event::Step { dev, fault });
                }
                out
            })
            .boxed(),
    );
    add(
        mix.crash,
        dev.clone()
            .prop_map(|dev| vec![Event::Crash { dev }])
            .boxed(),
    );
    let server = 0..servers.max(1);
    add(
        mix.restart,
        server
            .clone()
            .prop_map(|server| vec![Event::RestartServer { server }])
            .boxed(),
    );
    add(
        mix.backup,
        server
            .clone()
            .prop_map(|server| vec![Event::BackupServer { server }])
            .boxed(),
    );
    add(
        mix.restore,
        server
            .clone()
            .prop_map(|server| vec![Event::RestoreServer { server }])
            .boxed(),
    );
    // Server switching: a device re-pointed at another server (URL), or
    // its local profile at another server profile (§5.8, D14–D16).
    add(
        mix.switch_server,
        (dev.clone(), server)
            .prop_map(|(dev, server)| vec![Event::SwitchServer { dev, server }])
            .boxed(),
    );
    add(
        mix.switch_profile,
        (dev, 0..sim::host::PROFILES.len())
            .prop_map(|(dev, profile)| vec![Event::SwitchProfile { dev, profile }])
            .boxed(),
    );
    add(
        mix.wait,
        (1..=mix.max_wait_ms.max(1))
            .prop_map(|ms| vec![Event::Wait { ms }])
            .boxed(),
    );
    proptest::strategy::Union::new_weighted(arms).boxed()
}

/// A clock shape within `±max_ms`: offsets, drift, step jumps (the shapes
/// of D8/D11), shrinking toward true time.
pub fn clock(max_ms: i64, horizon_ms: i64) -> BoxedStrategy<ClockShape> {
    let off = -max_ms..=max_ms;
    prop_oneof![
        off.clone()
            .prop_map(|offset_ms| ClockShape::Offset { offset_ms }),
        (off.clone(), -2_000i64..=2_000)
            .prop_map(|(offset_ms, ppm)| ClockShape::Drift { offset_ms, ppm }),
        (off.clone(), 0..=horizon_ms.max(1), off).prop_map(|(offset_ms, at_ms, jump_ms)| {
            ClockShape::Jump {
                offset_ms,
                at_ms,
                jump_ms,
            }
        }),
    ]
    .boxed()
}
