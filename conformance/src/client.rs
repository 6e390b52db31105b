//! The client under test. A scenario drives every client through the same
//! [`Client`] trait: the reference engine, each platform model (the same
//! engine with `SyncConfig::model`), or an external implementation behind
//! the driver protocol (`crate::driver`, `docs/driver-protocol.md`).

use std::sync::Arc;

use engine::model::ItemType;
use engine::store::items::{Edit, NewItem};
use engine::sync::{Step, SyncSession};
use engine::{Mode, Model, Store, SyncConfig};
use serde::{Deserialize, Serialize};

use server::clock::SeededIds;

use crate::server::Server;

/// Why a client operation failed. A failed sync is an answer a scenario
/// may expect (a version mismatch must stop the sync); the others mean the
/// client or its driver is broken. These are the kinds the driver protocol
/// carries, so in-process and external clients share sim's one type.
pub use sim::driver::DriverError as ClientError;

/// One local item as a scenario compares it (ids are the client's own):
/// the driver protocol's `items` entry.
pub use sim::driver::ItemView;

/// `type|content|tags`: what two sides must agree on (no ids, no times).
pub fn line(it: &ItemView) -> String {
    let mut tags = it.tags.clone();
    tags.sort();
    format!(
        "{}|{}|{}",
        it.kind,
        it.content.as_deref().unwrap_or(""),
        tags.join(",")
    )
}

/// What a sync reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncReport {
    pub pulled: u64,
    pub pushed: u64,
}

/// The operations every client implementation offers (the driver
/// protocol's commands, one for one).
pub trait Client {
    /// Points the client at a server and server profile (`None`: the
    /// server's default profile).
    fn configure(&mut self, url: &str, key: &str, profile: Option<&str>)
        -> Result<(), ClientError>;
    /// Creates a local item; returns its local id.
    fn create(
        &mut self,
        server: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
    ) -> Result<String, ClientError>;
    /// Creates a local item that keeps `metadata` (JSON text) and syncs
    /// it: the simulator's item origins travel so. A client without
    /// metadata creates the item without it.
    fn create_with_metadata(
        &mut self,
        server: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
        metadata: Option<&str>,
    ) -> Result<String, ClientError> {
        let _ = metadata;
        self.create(server, kind, content, tags)
    }
    fn update(
        &mut self,
        server: &dyn Server,
        id: &str,
        content: Option<&str>,
        tags: Option<&[&str]>,
    ) -> Result<(), ClientError>;
    fn delete(&mut self, server: &dyn Server, id: &str) -> Result<(), ClientError>;
    fn tag(&mut self, server: &dyn Server, id: &str, tag: &str) -> Result<(), ClientError>;
    /// Puts a row straight into the client's database, past the app's
    /// code (no sync id), as the original's e2e scripts seed duplicates.
    /// For the engine a create is exactly that: it writes one row and
    /// nothing else.
    fn seed_row(
        &mut self,
        server: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
    ) -> Result<String, ClientError> {
        self.create(server, kind, content, tags)
    }
    /// One sync in the given mode, to its end.
    fn sync(&mut self, server: &dyn Server, mode: Mode) -> Result<SyncReport, ClientError>;
    /// Local items; tombstones too when asked.
    fn items(&mut self, include_deleted: bool) -> Result<Vec<ItemView>, ClientError>;
    /// The device clock's offset from the scenario's time, ms.
    fn set_clock_offset(&mut self, ms: i64) -> Result<(), ClientError>;
    /// The client process restarts; its local database stays.
    fn restart(&mut self) -> Result<(), ClientError>;

    /// Live items as sorted `type|content|tags` lines.
    fn live(&mut self) -> Result<Vec<String>, ClientError> {
        let mut v: Vec<String> = self.items(false)?.iter().map(line).collect();
        v.sort();
        Ok(v)
    }
}

/// The engine in this process: the reference behaviour or a platform model.
pub struct EngineClient {
    store: Store,
    model: Model,
    cfg: Option<SyncConfig>,
    ids: Arc<SeededIds>,
    offset: i64,
    _dir: tempfile::TempDir,
}

fn engine_err(e: engine::Error) -> ClientError {
    match e {
        engine::Error::Invalid(m) => ClientError::Refused(m),
        engine::Error::NoSuchItem(m) => ClientError::Refused(format!("no such item {m}")),
        other => ClientError::Sync(other.to_string()),
    }
}

impl EngineClient {
    pub fn new(model: Model, n: u64) -> Result<Self, ClientError> {
        let io = |e: &dyn std::fmt::Display| ClientError::Driver(e.to_string());
        let dir = tempfile::tempdir().map_err(|e| io(&e))?;
        let mut store = Store::open(&dir.path().join("client.sqlite")).map_err(engine_err)?;
        store.set_tag_edits_mark_changed(model.behaviour().tag_edits_mark_changed);
        Ok(Self {
            store,
            model,
            cfg: None,
            ids: Arc::new(SeededIds::new(0xC11E_0000 + n)),
            offset: 0,
            _dir: dir,
        })
    }

    fn now(&self, server: &dyn Server) -> i64 {
        server.now() + self.offset
    }
}

impl Client for EngineClient {
    fn configure(
        &mut self,
        url: &str,
        key: &str,
        profile: Option<&str>,
    ) -> Result<(), ClientError> {
        let cfg = SyncConfig {
            server_url: url.to_string(),
            api_key: key.to_string(),
            server_profile: profile.map(str::to_string),
            model: self.model,
        };
        cfg.save(&mut self.store).map_err(engine_err)?;
        self.cfg = Some(cfg);
        Ok(())
    }

    fn create(
        &mut self,
        server: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
    ) -> Result<String, ClientError> {
        self.create_with_metadata(server, kind, content, tags, None)
    }

    fn create_with_metadata(
        &mut self,
        server: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
        metadata: Option<&str>,
    ) -> Result<String, ClientError> {
        let kind = ItemType::parse(kind)
            .ok_or_else(|| ClientError::Refused(format!("unknown type {kind}")))?;
        let new = NewItem {
            kind: Some(kind),
            content: content.map(str::to_string),
            metadata: metadata.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            blob: None,
        };
        let now = self.now(server);
        self.store
            .add_item(self.ids.as_ref(), now, new)
            .map_err(engine_err)
    }

    fn update(
        &mut self,
        server: &dyn Server,
        id: &str,
        content: Option<&str>,
        tags: Option<&[&str]>,
    ) -> Result<(), ClientError> {
        let edit = Edit {
            content: content.map(str::to_string),
            metadata: None,
            tags: tags.map(|t| t.iter().map(|s| s.to_string()).collect()),
        };
        let now = self.now(server);
        self.store
            .update_item(self.ids.as_ref(), now, id, edit)
            .map(|_| ())
            .map_err(engine_err)
    }

    fn delete(&mut self, server: &dyn Server, id: &str) -> Result<(), ClientError> {
        let now = self.now(server);
        self.store.delete_item(now, id).map_err(engine_err)
    }

    fn tag(&mut self, server: &dyn Server, id: &str, tag: &str) -> Result<(), ClientError> {
        let now = self.now(server);
        self.store
            .tag_item(self.ids.as_ref(), now, id, tag)
            .map(|_| ())
            .map_err(engine_err)
    }

    fn sync(&mut self, server: &dyn Server, mode: Mode) -> Result<SyncReport, ClientError> {
        let cfg = self
            .cfg
            .clone()
            .ok_or_else(|| ClientError::Sync("not configured".into()))?;
        let mut session = SyncSession::new(cfg, mode, self.ids.clone());
        for _ in 0..100_000 {
            // Every request takes time: a push lands after the sync began,
            // as on a real network (what makes D10's echo visible).
            server.tick(1);
            let now = self.now(server);
            match session.poll(&mut self.store, now).map_err(engine_err)? {
                Step::Send(req) => {
                    let resp = server.call(req);
                    let now = self.now(server);
                    session
                        .on_response(&mut self.store, resp, now)
                        .map_err(engine_err)?;
                }
                Step::Done(s) => {
                    return Ok(SyncReport {
                        pulled: s.pulled,
                        pushed: s.pushed,
                    })
                }
            }
        }
        Err(ClientError::Sync("sync did not finish".into()))
    }

    fn items(&mut self, include_deleted: bool) -> Result<Vec<ItemView>, ClientError> {
        let items = self.store.items(include_deleted).map_err(engine_err)?;
        Ok(items
            .into_iter()
            .map(|it| ItemView {
                deleted: !it.is_live(),
                id: it.id,
                kind: it.kind.as_str().to_string(),
                content: it.content,
                tags: it.tags,
                sync_id: it.sync_id,
                metadata: it.metadata,
            })
            .collect())
    }

    fn set_clock_offset(&mut self, ms: i64) -> Result<(), ClientError> {
        self.offset = ms;
        Ok(())
    }

    fn restart(&mut self) -> Result<(), ClientError> {
        // The store is the whole state of the engine between syncs.
        Ok(())
    }
}
