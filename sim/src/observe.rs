//! A read-only snapshot of a world after healing: what the invariants
//! judge (`check`) and the diagnosis reads (`diagnose`). Building it is the
//! only place the checker's side touches devices and servers; the checks
//! themselves see nothing but this.
//!
//! Devices are read through the engine's public store functions
//! (`Store::items`, `links::by_local`, `links::uncarriable`, settings);
//! servers through their HTTP API, as any client would.

use std::collections::{BTreeMap, BTreeSet};

use engine::store::links;
use engine::sync::{Method, Request};
use engine::Summary;
use serde_json::Value;

use crate::host::{KEY, PROFILES};
use crate::world::{Device, World, Write};

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

/// A device's sync cursor, as its engine stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Never set (or reset).
    None,
    /// The reference engine's change-feed position on its current server:
    /// a server version, never a clock reading.
    Feed(i64),
    /// The originals' `lastSyncTime`: a reading of the device's own clock
    /// (ms), compared by the server with its `updatedAt` (D8).
    Time(i64),
}

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
}

impl Observation {
    /// Reads the world; `stability` is the extra round's summaries.
    pub fn of(world: &World, stability: &[Option<Summary>]) -> Observation {
        let servers = (0..world.servers.len())
            .flat_map(|s| (0..PROFILES.len()).map(move |p| (s, p)))
            .map(|(s, p)| ((s, p), server_items(world, s, p)))
            .collect::<BTreeMap<_, _>>();
        let devices = world
            .devices
            .iter()
            .map(|d| {
                let srv = &servers[&(d.server, d.profile)];
                observe_device(d, srv)
            })
            .collect();
        Observation {
            devices,
            servers,
            writes: world.writes.clone(),
            allowed: world.allowed.clone(),
            stability: stability.to_vec(),
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

/// A server item's tags, sorted (tags are a set).
pub fn tags_of(item: &Value) -> Vec<String> {
    let mut tags: Vec<String> = item["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tags.sort();
    tags
}

/// Every item of a server profile, by server id, through `GET /items`.
pub fn server_items(world: &World, server: usize, profile: usize) -> ServerView {
    let req = Request {
        method: Method::Get,
        path: format!(
            "/items?includeDeleted=true&profile={}&strictProfile=true",
            PROFILES[profile].0
        ),
        headers: vec![("Authorization".into(), format!("Bearer {KEY}"))],
        body: None,
    };
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

/// The setting the originals keep their cursor in (`engine::sync::legacy`).
/// The reference engine's key is built by hand below too; both move to the
/// engine's one cursor-key function when it lands.
const LEGACY_CURSOR: &str = "sync.legacy.lastSyncTime";

fn cursor_of(d: &Device) -> Cursor {
    if d.spec.model == engine::Model::Reference {
        let key = format!("feed.{}", d.config().server_key());
        match links::cursor(d.store.conn(), &key) {
            Ok(Some(v)) => Cursor::Feed(v),
            _ => Cursor::None,
        }
    } else {
        match d.store.setting(LEGACY_CURSOR) {
            Ok(Some(v)) => v
                .parse()
                .ok()
                .filter(|v| *v > 0)
                .map_or(Cursor::None, Cursor::Time),
            _ => Cursor::None,
        }
    }
}

/// One device: its rows (with links for its current server) and cursor.
/// `srv` is what its target holds (to tell held-back images).
fn observe_device(d: &Device, srv: &ServerView) -> DeviceView {
    let key = d.config().server_key();
    let conn = d.store.conn();
    let items = d
        .store
        .items(true)
        .unwrap_or_default()
        .into_iter()
        .map(|it| {
            let link = links::by_local(conn, &key, &it.id).ok().flatten();
            let there = link
                .as_ref()
                .is_some_and(|l| srv.contains_key(&l.server_id));
            let linked = link.map(|l| l.server_id);
            let server_id = linked.or_else(|| (!it.sync_id.is_empty()).then(|| it.sync_id.clone()));
            let meta: Option<Value> = it
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok());
            let mut tags = it.tags.clone();
            tags.sort();
            let live = it.is_live();
            let held_back = live && !there && links::uncarriable(conn, &it.id).unwrap_or(false);
            DeviceItem {
                server_id,
                seen: Seen {
                    origin: origin_of(meta.as_ref()).unwrap_or_else(|| "?".into()),
                    kind: it.kind.as_str().to_string(),
                    content: it.content.clone(),
                    tags,
                    deleted: !live,
                },
                held_back,
            }
        })
        .collect();
    DeviceView {
        name: d.spec.name.clone(),
        server: d.server,
        profile: d.profile,
        items,
        cursor: cursor_of(d),
    }
}
