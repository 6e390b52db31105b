//! What the world needs of a device, whatever runs it.
//!
//! A [`Device`] takes the world's local operations (with the world's typed
//! inputs, `crate::workload`), runs syncs through the world's network
//! ([`Net`]: every request passes the world's faults), is crashed and
//! re-pointed, and shows its state read-only ([`DeviceState`]). What a
//! device cannot do it declares in [`Caps`]; the world adapts (a device
//! stepped sync by sync runs a whole sync where an in-process one makes one
//! request, and meets the same faults at its HTTP front).
//!
//! Implementations: [`EngineDevice`] (the reference engine or a platform
//! model in this process, stepped request by request) and
//! `crate::driver::DriverDevice` (any client behind the driver protocol).

use std::sync::Arc;

use engine::model::{ItemType, LocalItem};
use engine::store::cursor;
use engine::store::{items as store_items, links};
use engine::sync::{Step, Summary, SyncSession};
use engine::{Mode, Model, Store, SyncConfig};
use server::clock::SeededIds;

use crate::upstream::Net;
use crate::workload::{self, Change, NewItem};
use protocol::wire::{Response, TransportError};

/// How a device's sync advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stepping {
    /// One request per `advance` (devices interleave request by request).
    PerRequest,
    /// A whole sync per `advance` (an external client syncs on its own).
    PerSync,
}

/// Whose clock a device reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockControl {
    /// Every operation is told the time ([`Now::at`]): deterministic.
    Virtual,
    /// Its own wall clock, shifted by [`Now::offset`].
    OffsetOnly,
}

/// How a device comes back from a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Its running sync is dropped; its database stays (same process).
    InProcess,
    /// Its process is restarted on the same database.
    Reexec,
}

/// What a device can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub stepping: Stepping,
    pub clock: ClockControl,
    pub restart: Restart,
    /// It shows which server row each item is linked to; without it the
    /// world links items by their sync id.
    pub links: bool,
}

/// The device's time for one operation: its clock reading (virtual
/// devices use it) and its offset from true time (what the others take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub at: i64,
    pub offset: i64,
}

/// Where a device syncs: a server (`url` is also its identity for links
/// and cursors) and a server profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// The world's index of the server.
    pub server: usize,
    pub url: String,
    pub key: String,
    pub profile_id: String,
}

/// Why a device operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The device refused a local operation (invalid input, no such
    /// item): a user action that did not happen.
    #[error("{0}")]
    Refused(String),
    #[error("engine: {0}")]
    Engine(#[from] engine::Error),
    #[error("driver: {0}")]
    Driver(String),
}

/// How an advance ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// No sync is running.
    Idle,
    /// The sync made a request and goes on.
    Sent,
    Done(Summary),
    Failed(String),
}

/// One local item, as the device shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemState {
    pub id: String,
    pub kind: ItemType,
    pub content: Option<String>,
    /// Sorted.
    pub tags: Vec<String>,
    pub deleted: bool,
    pub sync_id: String,
    /// The origin in its metadata (`None`: not made by the world).
    pub origin: Option<String>,
    /// The server row it is linked to on the current server, if known.
    pub link: Option<String>,
    /// A live image without its bytes: it cannot be carried to a server
    /// that lacks it.
    pub uncarriable: bool,
}

/// A device's sync cursor, as it keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cursor {
    /// Never set (or reset), or not shown (a driver).
    #[default]
    None,
    /// The reference engine's change-feed position on its current server:
    /// a server version, never a clock reading.
    Feed(i64),
    /// The originals' `lastSyncTime`: a reading of the device's own clock
    /// (ms), compared by the server with its `updatedAt` (D8).
    Time(i64),
}

/// A device's state, read-only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceState {
    /// Every local item, tombstones included.
    pub items: Vec<ItemState>,
    /// Its cursor for the current server.
    pub cursor: Cursor,
}

/// What the world needs of a device.
pub trait Device {
    fn name(&self) -> &str;
    fn caps(&self) -> Caps;
    /// The behaviour it claims (`Reference` for external clients: judged
    /// by every invariant).
    fn model(&self) -> Model;
    /// Points it at a server and profile; a running sync is dropped.
    fn point(&mut self, at: &Point) -> Result<(), DeviceError>;
    /// Creates a local item; returns its local id.
    fn create(&mut self, now: Now, item: &NewItem) -> Result<String, DeviceError>;
    fn update(&mut self, now: Now, id: &str, change: &Change) -> Result<(), DeviceError>;
    fn delete(&mut self, now: Now, id: &str) -> Result<(), DeviceError>;
    /// Adds a tag; `false` if the item already had it.
    fn tag(&mut self, now: Now, id: &str, tag: &str) -> Result<bool, DeviceError>;
    /// Removes a tag; `false` if the item did not have it.
    fn untag(&mut self, now: Now, id: &str, tag: &str) -> Result<bool, DeviceError>;
    /// Live local ids, in a stable order (what `pick` indexes).
    fn live(&self) -> Result<Vec<String>, DeviceError>;
    fn item(&self, id: &str) -> Result<Option<ItemState>, DeviceError>;
    /// Starts a sync (no-op if one runs).
    fn start_sync(&mut self);
    fn syncing(&self) -> bool;
    /// Advances the running sync: one request, or the whole sync
    /// ([`Stepping`]), every request through `net`.
    fn advance(&mut self, now: Now, net: &mut dyn Net) -> Progress;
    /// Sends the running sync's next request through `net` and keeps its
    /// answer in flight: the next [`advance`](Device::advance) applies it
    /// (and sends nothing), and local operations before that run while
    /// the request is in flight. A device that cannot hold an answer
    /// (a driver syncs on its own) advances as usual: the default.
    fn advance_in_flight(&mut self, now: Now, net: &mut dyn Net) -> Progress {
        self.advance(now, net)
    }
    /// The process dies; what it wrote stays.
    fn crash(&mut self) -> Result<(), DeviceError>;
    fn observe(&self) -> Result<DeviceState, DeviceError>;
    /// The end of the client's own log, for a failing world's report
    /// (external clients only: an in-process device's log is ours).
    fn log_tail(&self) -> Option<String> {
        None
    }
}

/// The engine in this process: the reference behaviour or a platform
/// model, over its own SQLite file, stepped request by request.
pub struct EngineDevice {
    name: String,
    model: Model,
    store: Store,
    cfg: Option<SyncConfig>,
    session: Option<SyncSession>,
    /// The answer to the session's last request, not applied yet
    /// ([`Device::advance_in_flight`]).
    in_flight: Option<Result<Response, TransportError>>,
    ids: Arc<SeededIds>,
}

fn refused(e: engine::Error) -> DeviceError {
    match e {
        e @ (engine::Error::Invalid(_) | engine::Error::NoSuchItem(_)) => {
            DeviceError::Refused(e.to_string())
        }
        other => DeviceError::Engine(other),
    }
}

impl EngineDevice {
    /// A device with an empty database at `path`; `id_seed` seeds its ids.
    pub fn open(
        name: &str,
        model: Model,
        path: &std::path::Path,
        id_seed: u64,
    ) -> Result<Self, DeviceError> {
        let store = Store::open(path)?;
        // The simulator kills processes, not machines: no fsync needed.
        store
            .conn()
            .pragma_update(None, "synchronous", "OFF")
            .map_err(engine::Error::from)?;
        Ok(Self::with_store(name, model, store, id_seed))
    }

    /// A device whose database is in memory. The world's devices are
    /// these: an engine device keeps its one connection for the world's
    /// life (a crash loses the sync session, never the store), so a file
    /// would only add system calls, which were most of a commit's cost.
    pub fn in_memory(name: &str, model: Model, id_seed: u64) -> Result<Self, DeviceError> {
        Ok(Self::with_store(
            name,
            model,
            Store::open_in_memory()?,
            id_seed,
        ))
    }

    fn with_store(name: &str, model: Model, mut store: Store, id_seed: u64) -> Self {
        store.set_tag_edits_mark_changed(model.behaviour().tag_edits_mark_changed);
        Self {
            name: name.to_string(),
            model,
            store,
            cfg: None,
            session: None,
            in_flight: None,
            ids: Arc::new(SeededIds::new(id_seed)),
        }
    }

    /// The local database (tests and tools read it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One request of the running sync: the answer in flight is applied
    /// if there is one; else the next request is sent, and its answer
    /// applied now or, when `hold`, kept in flight.
    fn go(&mut self, now: Now, net: &mut dyn Net, hold: bool) -> Progress {
        let Some(session) = self.session.as_mut() else {
            return Progress::Idle;
        };
        let resp = match self.in_flight.take() {
            Some(resp) => resp,
            None => match session.poll(&mut self.store, now.at) {
                Err(e) => {
                    self.session = None;
                    return Progress::Failed(e.to_string());
                }
                Ok(Step::Done(summary)) => {
                    self.session = None;
                    return Progress::Done(summary);
                }
                Ok(Step::Send(req)) => {
                    let resp = net.send(req);
                    if hold {
                        self.in_flight = Some(resp);
                        return Progress::Sent;
                    }
                    resp
                }
            },
        };
        match session.on_response(&mut self.store, resp, now.at) {
            Ok(()) => Progress::Sent,
            Err(e) => {
                self.session = None;
                Progress::Failed(e.to_string())
            }
        }
    }

    fn state(&self, it: LocalItem, key: Option<&str>) -> Result<ItemState, DeviceError> {
        let link = match key {
            Some(k) => links::by_local(self.store.conn(), k, &it.id)?.map(|l| l.server_id),
            None => None,
        };
        let deleted = !it.is_live();
        let uncarriable = !deleted
            && it.kind == ItemType::Image
            && links::uncarriable(self.store.conn(), &it.id)?;
        let mut tags = it.tags;
        tags.sort();
        Ok(ItemState {
            origin: workload::origin_in(it.metadata.as_deref()),
            id: it.id,
            kind: it.kind,
            content: it.content,
            tags,
            deleted,
            sync_id: it.sync_id,
            link,
            uncarriable,
        })
    }
}

impl Device for EngineDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn caps(&self) -> Caps {
        Caps {
            stepping: Stepping::PerRequest,
            clock: ClockControl::Virtual,
            restart: Restart::InProcess,
            links: true,
        }
    }

    fn model(&self) -> Model {
        self.model
    }

    fn point(&mut self, at: &Point) -> Result<(), DeviceError> {
        self.session = None;
        self.in_flight = None;
        let cfg = SyncConfig {
            server_url: at.url.clone(),
            api_key: at.key.clone(),
            server_profile: Some(at.profile_id.clone()),
            model: self.model,
        };
        cfg.save(&mut self.store)?;
        self.cfg = Some(cfg);
        Ok(())
    }

    fn create(&mut self, now: Now, item: &NewItem) -> Result<String, DeviceError> {
        let new = store_items::NewItem {
            kind: Some(item.kind),
            content: item.content.clone(),
            metadata: Some(item.metadata.clone()),
            tags: item.tags.clone(),
            blob: item.blob.clone(),
        };
        self.store
            .add_item(self.ids.as_ref(), now.at, new)
            .map_err(refused)
    }

    fn update(&mut self, now: Now, id: &str, change: &Change) -> Result<(), DeviceError> {
        let edit = store_items::Edit {
            content: change.content.clone(),
            metadata: None,
            tags: change.tags.clone(),
        };
        self.store
            .update_item(self.ids.as_ref(), now.at, id, edit)
            .map(|_| ())
            .map_err(refused)
    }

    fn delete(&mut self, now: Now, id: &str) -> Result<(), DeviceError> {
        self.store.delete_item(now.at, id).map_err(refused)
    }

    fn tag(&mut self, now: Now, id: &str, tag: &str) -> Result<bool, DeviceError> {
        self.store
            .tag_item(self.ids.as_ref(), now.at, id, tag)
            .map_err(refused)
    }

    fn untag(&mut self, now: Now, id: &str, tag: &str) -> Result<bool, DeviceError> {
        self.store
            .untag_item(self.ids.as_ref(), now.at, id, tag)
            .map_err(refused)
    }

    fn live(&self) -> Result<Vec<String>, DeviceError> {
        Ok(self.store.live_ids()?)
    }

    fn item(&self, id: &str) -> Result<Option<ItemState>, DeviceError> {
        match self.store.item(id)? {
            Some(it) => Ok(Some(self.state(it, None)?)),
            None => Ok(None),
        }
    }

    fn start_sync(&mut self) {
        if let (None, Some(cfg)) = (&self.session, &self.cfg) {
            self.session = Some(SyncSession::new(cfg.clone(), Mode::Full, self.ids.clone()));
        }
    }

    fn syncing(&self) -> bool {
        self.session.is_some()
    }

    fn advance(&mut self, now: Now, net: &mut dyn Net) -> Progress {
        self.go(now, net, false)
    }

    fn advance_in_flight(&mut self, now: Now, net: &mut dyn Net) -> Progress {
        self.go(now, net, true)
    }

    fn crash(&mut self) -> Result<(), DeviceError> {
        // The store is the whole state of the engine between syncs; an
        // answer in flight dies with the process.
        self.session = None;
        self.in_flight = None;
        Ok(())
    }

    fn observe(&self) -> Result<DeviceState, DeviceError> {
        let key = self.cfg.as_ref().map(SyncConfig::server_key);
        let items = self
            .store
            .items(true)?
            .into_iter()
            .map(|it| self.state(it, key.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let cursor = if self.model == Model::Reference {
            match &key {
                Some(k) => cursor::get(self.store.conn(), cursor::Cursor::Feed, k)?
                    .map_or(Cursor::None, Cursor::Feed),
                None => Cursor::None,
            }
        } else {
            self.store
                .setting(engine::sync::LEGACY_CURSOR)?
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0)
                .map_or(Cursor::None, Cursor::Time)
        };
        Ok(DeviceState { items, cursor })
    }
}
