//! The property scenarios: four groups, named as the user names them. Each
//! is a proptest strategy for a small simulator world (2–3 devices, a
//! restricted event mix, its own clocks and servers) that runs through the
//! simulator's `World` and is judged by the simulator's invariants
//! (`sim::check`): one world, one set of invariants, no second copy.
//!
//! Every target runs in that world: a platform model in-process, a client
//! behind the driver protocol (a `sim::driver::DriverDevice`, stepped sync
//! by sync, its requests through the world's HTTP front and its faults), a
//! server by URL (`sim::upstream::HttpServer`). What a target cannot do
//! is its devices' or servers' declared capability (`sim::device::Caps`,
//! `sim::upstream::UpstreamCaps`), not another code path.

pub mod ops;
pub mod search;

use std::sync::Arc;

use engine::Model;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde::Serialize;
use sim::cast::{Cast, Clients, RealTime, Servers, Wall};
use sim::check::Violation;
use sim::config::{DeviceSpec, FaultRates, WorldConfig};
use sim::event::Event;
use sim::vclock::ClockShape;

use crate::server::ServerSpec;
use crate::spec::ClientSpec;
use ops::Mix;

/// The property groups, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Sync-id identity; retries and duplicate deliveries have exactly-once
    /// effect; content dedup only off the sync path; the one-time cleanup
    /// (run at every restart's boot) keeps devices and server equal (D17).
    Dedup,
    /// Deletes propagate both ways, no resurrection (D4, D5), undelete by a
    /// later edit follows the conflict rule, tombstones survive restart and
    /// backup/restore.
    Tombstones,
    /// Switching server and switching back: no loss, no duplicates on
    /// either side (D14, D15), exact profile targeting (D16).
    ServerSwitching,
    /// Device and server clocks with offsets, drift and jumps: convergence,
    /// no missed changes (D6, D8, D9), no ping-pong (D10, D11).
    ClockSkew,
}

impl Group {
    pub const ALL: [Group; 4] = [
        Group::Dedup,
        Group::Tombstones,
        Group::ServerSwitching,
        Group::ClockSkew,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Dedup => "dedup",
            Group::Tombstones => "tombstones",
            Group::ServerSwitching => "server-switching",
            Group::ClockSkew => "clock-skew",
        }
    }

    /// One line for the report: what a world of this group checks (the
    /// variant's doc says the same for readers of the code).
    pub fn what(self) -> &'static str {
        match self {
            Group::Dedup => {
                "random worlds with retries, duplicate deliveries and restarts: every write \
                 has exactly one effect, content dedup only off the sync path, the \
                 one-time cleanup keeps devices and server equal (D17)"
            }
            Group::Tombstones => {
                "random worlds of creates, deletes and edits: deletes reach every side, \
                 nothing deleted comes back (D4, D5), tombstones survive restarts and \
                 backup/restore"
            }
            Group::ServerSwitching => {
                "random worlds that switch server or profile and back: no loss, no \
                 duplicates on either side (D14, D15), writes land only in their \
                 profile (D16)"
            }
            Group::ClockSkew => {
                "random worlds whose device and server clocks are offset, drift and jump: \
                 convergence, no missed change (D6, D8, D9), no ping-pong (D10, D11)"
            }
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.name() == s)
    }

    fn mix(self) -> Mix {
        let base = Mix {
            create: 3,
            edit: 1,
            sync: 4,
            wait: 1,
            max_wait_ms: 3_000,
            ..Mix::default()
        };
        match self {
            Group::Dedup => Mix {
                create_same: 3,
                tag: 1,
                fault_pct: 60,
                crash: 1,
                restart: 1,
                ..base
            },
            Group::Tombstones => Mix {
                create: 2,
                edit: 2,
                delete: 3,
                untag: 1,
                fault_pct: 40,
                restart: 1,
                backup: 1,
                restore: 1,
                ..base
            },
            Group::ServerSwitching => Mix {
                create: 2,
                delete: 1,
                tag: 1,
                fault_pct: 20,
                switch_server: 2,
                switch_profile: 2,
                ..base
            },
            Group::ClockSkew => Mix {
                create: 2,
                edit: 2,
                delete: 1,
                tag: 1,
                wait: 2,
                max_wait_ms: 120_000,
                ..base
            },
        }
    }

    fn servers(self) -> usize {
        if self == Group::ServerSwitching {
            2
        } else {
            1
        }
    }
}

/// One generated world: its configuration and its event list (the file
/// format of `peek-sim replay`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub config: WorldConfig,
    pub events: Vec<Event>,
}

/// The strategy of a group, every device running `model`.
pub fn strategy(group: Group, model: Model) -> BoxedStrategy<Case> {
    let servers = group.servers();
    let mix = group.mix();
    (2..=3usize)
        .prop_flat_map(move |n| {
            let ops = proptest::collection::vec(ops::op(mix, n, servers), 3..=14);
            let clocks = if group == Group::ClockSkew {
                let day = 86_400_000;
                (
                    proptest::collection::vec(ops::clock(2 * day, 300_000), n),
                    ops::clock(day / 4, 300_000),
                )
                    .boxed()
            } else {
                Just((
                    vec![ClockShape::Offset { offset_ms: 0 }; n],
                    ClockShape::Offset { offset_ms: 0 },
                ))
                .boxed()
            };
            (Just(n), ops, clocks, any::<u64>())
        })
        .prop_map(move |(n, ops, (clocks, server_clock), seed)| Case {
            config: WorldConfig {
                seed,
                devices: (0..n)
                    .map(|i| DeviceSpec {
                        name: format!("d{i}"),
                        model,
                        clock: clocks[i].clone(),
                        profile: 0,
                        by_slug: false,
                    })
                    .collect(),
                servers,
                server_clock,
                // Faults and profile switches are in the event list itself.
                faults: FaultRates::none(),
                images: false,
                profile_switch: 0.0,
                api_writes: 0.0,
                account_events: 0.0,
            },
            events: seeded(n)
                .into_iter()
                .chain(ops.into_iter().flatten())
                .collect(),
        })
        .boxed()
}

/// The opening every world shares (not shrunk): each device creates an
/// item and syncs it to the end, so the generated operations meet items
/// that already live on the server (a delete or edit of a synced item is
/// where D4, D5 and D13 show).
fn seeded(n: usize) -> Vec<Event> {
    let mut out = Vec::new();
    for dev in 0..n {
        out.push(Event::Create {
            dev,
            kind: sim::event::Kind::Url,
            tags: Vec::new(),
            unicode: false,
        });
        out.push(Event::Sync { dev });
        for _ in 0..8 {
            out.push(Event::Wait { ms: 1 });
            out.push(Event::Step { dev, fault: None });
        }
    }
    out
}

/// Cases per property: `PEEK_CONFORM_CASES`, else `PROPTEST_CASES`, else 256.
pub fn cases_from_env() -> u32 {
    ["PEEK_CONFORM_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.parse().ok())
        .unwrap_or(256)
}

/// What a property run found.
#[derive(Debug, Clone, Serialize)]
pub enum Verdict {
    Pass {
        cases: u32,
    },
    /// The minimal counterexample proptest shrank to, and what it breaks.
    Fail {
        case: Box<Case>,
        violations: Vec<Violation>,
        /// Likely D-numbers with their evidence (`sim::diagnose`).
        likely: Vec<String>,
        /// Drivers' last stderr lines from the shrunk case's run, by device.
        logs: Vec<(String, String)>,
        /// How far shrinking went (stopped at the step limit, or not).
        shrinking: search::Shrinking,
    },
    /// The world itself could not run (not a verdict on the target).
    Error(String),
}

/// A proptest runner whose worlds depend only on (`seed`, `group`): the
/// same command finds the same counterexample.
pub(crate) fn runner(group: Group, cases: u32, seed: u64, max_shrink_iters: u32) -> TestRunner {
    let config = Config {
        cases,
        max_shrink_iters,
        failure_persistence: None,
        ..Config::default()
    };
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8] = group as u8;
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key))
}

/// Who plays a target's worlds.
pub fn cast(client: &ClientSpec, server: &ServerSpec) -> Cast {
    let clients = match client {
        ClientSpec::Engine(_) => Clients::Engine,
        ClientSpec::Driver(cmd) => Clients::Driver(cmd.clone()),
    };
    let servers = match server {
        ServerSpec::InProcess => Servers::InProcess,
        ServerSpec::Url(scratch) => Servers::Url(scratch.clone()),
    };
    let virtual_time = matches!(
        (client, server),
        (ClientSpec::Engine(_), ServerSpec::InProcess)
    );
    Cast {
        clients,
        servers,
        real_time: (!virtual_time).then(wall),
    }
}

/// Runs a group's property for `model` in-process: `cases` worlds from a
/// fixed seed (same seed, same worlds), shrinking the first failure.
pub fn run(group: Group, model: Model, cases: u32, seed: u64, max_shrink_iters: u32) -> Verdict {
    run_target(
        group,
        &ClientSpec::Engine(model),
        &ServerSpec::InProcess,
        cases,
        seed,
        max_shrink_iters,
    )
}

/// Runs a group's property for any target, in the one world.
pub fn run_target(
    group: Group,
    client: &ClientSpec,
    server: &ServerSpec,
    cases: u32,
    seed: u64,
    max_shrink_iters: u32,
) -> Verdict {
    let model = match client {
        ClientSpec::Engine(m) => *m,
        ClientSpec::Driver(_) => Model::Reference,
    };
    run_in(
        group,
        model,
        &cast(client, server),
        cases,
        seed,
        max_shrink_iters,
    )
}

/// The wall clock as a world's time base.
pub fn wall() -> Arc<dyn RealTime> {
    Arc::new(Wall)
}

/// Runs a group's property, its devices claiming `model`, in worlds
/// played by `cast`.
pub fn run_in(
    group: Group,
    model: Model,
    cast: &Cast,
    cases: u32,
    seed: u64,
    max_shrink_iters: u32,
) -> Verdict {
    let world = |case: &Case| sim::run::run_cast(&case.config, &case.events, false, cast);
    let mut runner = runner(group, cases, seed, max_shrink_iters);
    let (result, shrinking) =
        search::run(&mut runner, &strategy(group, model), |case| {
            match world(&case) {
                Ok(o) if o.ok() => Ok(()),
                Ok(o) => Err(TestCaseError::fail(
                    o.first().map_or("violation", |i| i.name()),
                )),
                Err(e) => Err(TestCaseError::fail(format!("world error: {e}"))),
            }
        });
    match result {
        Ok(()) => Verdict::Pass { cases },
        Err(TestError::Fail(reason, case)) => match world(&case) {
            Ok(o) if !o.violations.is_empty() => {
                let likely = sim::diagnose::explain_cast(&case.config, &case.events, cast)
                    .unwrap_or_default()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                Verdict::Fail {
                    case: Box::new(case),
                    violations: o.violations,
                    likely,
                    logs: o.logs,
                    shrinking,
                }
            }
            // A wall-clock target (a driver, a server by URL) may not
            // repeat a race: the failure happened, so it is reported.
            Ok(_) if cast.real_time.is_some() => Verdict::Fail {
                case: Box::new(case),
                violations: vec![Violation {
                    invariant: sim::check::Invariant::Convergence,
                    detail: format!(
                        "{reason} (once; the shrunk case passed when run again: a wall-clock race)"
                    ),
                    items: Vec::new(),
                }],
                likely: Vec::new(),
                logs: Vec::new(),
                shrinking,
            },
            Ok(_) => Verdict::Error(format!("{reason}: the shrunk case passed when run again")),
            Err(e) => Verdict::Error(e.to_string()),
        },
        Err(TestError::Abort(why)) => Verdict::Error(why.to_string()),
    }
}
