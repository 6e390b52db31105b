//! A read-only snapshot of a world after healing: what the invariants
//! judge (`check`) and the diagnosis reads (`diagnose`). Building it is the
//! only place the checker's side touches devices and servers; the checks
//! themselves see nothing but this.
//!
//! Devices are read through the world's device seam (`Device::observe`,
//! whatever runs the device: the engine in-process or a driver); servers
//! through their HTTP API, as any client would.

use std::collections::{BTreeMap, BTreeSet};

use engine::Summary;
use serde_json::Value;

pub use crate::device::Cursor;
use crate::device::DeviceState;
use crate::host::PROFILES;
use crate::transfer::Moved;
pub use crate::workload::tags_of;
use crate::world::{World, Write};

/// The state of one item, as compared across server and devices.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub origin: String,
    pub kind: String,
    pub content: Option<String>,
    pub tags: Vec<String>,
    pub deleted: bool,
}

impl Seen {
    /// Equal as far as sync is concerned: two tombstones are the same
    /// whatever content and tags they were deleted with.
    pub fn same(&self, other: &Seen) -> bool {
        (self.deleted && other.deleted && self.origin == other.origin) || self == other
    }
}

/// One row of a server profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow {
    pub seen: Seen,
    pub version: i64,
    /// The server's `updatedAt` (its own clock, ms).
    pub updated_at: i64,
}

/// A server profile's items: server id → row.
pub type ServerView = BTreeMap<String, ServerRow>;

/// One local row of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceItem {
    /// The server id it is linked to for the device's current server
    /// (`None`: never synced there).
    pub server_id: Option<String>,
    pub seen: Seen,
    /// A live image the device cannot bring to its current server: not
    /// there, and its bytes never fetched (`links::PENDING_WHERE`). The
    /// engine holds it back; convergence does not count it.
    pub held_back: bool,
}

/// One device after healing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceView {
    pub name: String,
    /// The (server, profile) it targets at the end.
    pub server: usize,
    pub profile: usize,
    pub items: Vec<DeviceItem>,
    pub cursor: Cursor,
}

/// The world after healing, as the invariants see it.
#[derive(Debug, Clone)]
pub struct Observation {
    pub devices: Vec<DeviceView>,
    /// Every (server, profile), targeted now or not: a switch leaves data
    /// behind that must still be duplicate-free and isolated.
    pub servers: BTreeMap<(usize, usize), ServerView>,
    /// The write oracle's log (`World::writes`).
    pub writes: Vec<Write>,
    /// Where each origin may be (`World::allowed`).
    pub allowed: BTreeMap<String, BTreeSet<(usize, usize)>>,
    /// Per device, the summary of one more sync after healing (`None`: it
    /// failed), for `stability`.
    pub stability: Vec<Option<Summary>>,
    /// Per device, what that sync moved on the wire
    /// (`no-redundant-transfer`).
    pub last_round: Vec<Moved>,
    /// Syncs that applied more pulled items as news than the wire brought
    /// new: (device, true time, excess) (`World::reapplied`).
    pub reapplied: Vec<(usize, i64, u64)>,
    /// When each (server, profile) last lost what only the server held
    /// (`World::lost_at`).
    pub lost_after: BTreeMap<(usize, usize), i64>,
    /// Per server, the rows of the user's default profile, which nothing
    /// in the world targets: a write that lands there was misfiled (D16).
    pub strays: Vec<(usize, ServerView)>,
}

impl Observation {
    /// Reads the world; `stability` is the extra round's summaries.
    pub fn of(world: &World, stability: &[Option<Summary>]) -> Observation {
        let mut servers = (0..world.servers.len())
            .flat_map(|s| (0..PROFILES.len()).map(move |p| (s, p)))
            .map(|(s, p)| ((s, p), server_items(world, s, p)))
            .collect::<BTreeMap<_, _>>();
        let devices = world
            .devices
            .iter()
            .enumerate()
            .map(|(dev, d)| {
                let srv = &servers[&(d.server, d.profile)];
                let state = world.observe(dev).unwrap_or_default();
                DeviceView {
                    name: d.spec.name.clone(),
                    server: d.server,
                    profile: d.profile,
                    items: device_items(&state, srv),
                    cursor: state.cursor,
                }
            })
            .collect::<Vec<DeviceView>>();
        // A client that does not keep metadata pushes rows without their
        // origin and pulls items without it: such a row takes the origin of
        // the device item that made it (linked by link or sync id), and such
        // an item the origin of its row, so the invariants compare like
        // with like.
        let mut devices = devices;
        for d in &devices {
            let Some(rows) = servers.get_mut(&(d.server, d.profile)) else {
                continue;
            };
            for it in d.items.iter().filter(|it| it.seen.origin != "?") {
                let row = it.server_id.as_ref().and_then(|id| rows.get_mut(id));
                if let Some(row) = row.filter(|r| r.seen.origin == "?") {
                    row.seen.origin = it.seen.origin.clone();
                }
            }
        }
        for d in &mut devices {
            let Some(rows) = servers.get(&(d.server, d.profile)) else {
                continue;
            };
            for it in d.items.iter_mut().filter(|it| it.seen.origin == "?") {
                if let Some(row) = it.server_id.as_ref().and_then(|id| rows.get(id)) {
                    it.seen.origin = row.seen.origin.clone();
                }
            }
        }
        Observation {
            devices,
            servers,
            writes: world.writes.clone(),
            allowed: world.allowed.clone(),
            stability: stability.to_vec(),
            last_round: world.last_round.clone(),
            reapplied: world.reapplied.clone(),
            lost_after: world.lost_at.clone(),
            // Only a server the world owns whole: a live account's own
            // default profile holds the account's own items.
            strays: (0..world.servers.len())
                .filter(|&s| world.servers[s].caps().lifecycle)
                .map(|s| (s, rows_of(world, s, world.list_of(s, "default"))))
                .filter(|(_, rows)| !rows.is_empty())
                .collect(),
        }
    }

    /// The rows of the (server, profile) a device targets.
    pub fn target(&self, dev: usize) -> Option<&ServerView> {
        let d = self.devices.get(dev)?;
        self.servers.get(&(d.server, d.profile))
    }
}

fn origin_of(meta: Option<&Value>) -> Option<String> {
    meta.and_then(|m| m.get("origin"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Every item of a server profile, by server id, through `GET /items`.
pub fn server_items(world: &World, server: usize, profile: usize) -> ServerView {
    rows_of(world, server, world.list_request(server, profile))
}

/// The rows a list request (`World::list_of`) answers; none when refused
/// (a profile that does not exist).
fn rows_of(world: &World, server: usize, req: engine::sync::Request) -> ServerView {
    let mut out = BTreeMap::new();
    let Ok(resp) = world.servers[server].call(req) else {
        return out;
    };
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    for it in v["items"].as_array().into_iter().flatten() {
        let meta = it.get("metadata");
        let seen = Seen {
            origin: origin_of(meta).unwrap_or_else(|| "?".into()),
            kind: it["type"].as_str().unwrap_or_default().to_string(),
            content: it["content"].as_str().map(str::to_string),
            tags: tags_of(it),
            deleted: it["deletedAt"].as_i64().unwrap_or(0) != 0,
        };
        let id = it["id"].as_str().unwrap_or_default().to_string();
        let row = ServerRow {
            seen,
            version: it["version"].as_i64().unwrap_or(0),
            updated_at: it["updatedAt"].as_i64().unwrap_or(0),
        };
        out.insert(id, row);
    }
    out
}

/// A device's rows, linked to the server ids of its current server (or,
/// never synced there, keyed by sync id). `srv` is what its target holds:
/// a live image without its bytes that the target lacks is held back.
fn device_items(state: &DeviceState, srv: &ServerView) -> Vec<DeviceItem> {
    state
        .items
        .iter()
        .map(|it| {
            let there = it.link.as_ref().is_some_and(|l| srv.contains_key(l));
            let server_id = it
                .link
                .clone()
                .or_else(|| (!it.sync_id.is_empty()).then(|| it.sync_id.clone()));
            DeviceItem {
                server_id,
                seen: Seen {
                    origin: it.origin.clone().unwrap_or_else(|| "?".into()),
                    kind: it.kind.as_str().to_string(),
                    content: it.content.clone(),
                    tags: it.tags.clone(),
                    deleted: it.deleted,
                },
                held_back: !it.deleted && !there && it.uncarriable,
            }
        })
        .collect()
}
