//! The world: servers, devices (each an engine with its own SQLite file and
//! clock), true time, and the trace. `apply` runs one event; `heal` ends the
//! fault phase and syncs every device until quiet.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use engine::model::ItemType;
use engine::store::items::{Edit, NewItem};
use engine::sync::{Request, Response, Step, Summary, SyncSession};
use engine::transport::TransportError;
use engine::{Mode, Store, SyncConfig};
use serde_json::json;
use server::clock::SeededIds;

use crate::config::{DeviceSpec, WorldConfig, EPOCH_MS};
use crate::event::{Event, Fault, Kind};
use crate::host::{ServerHost, KEY, PROFILES};
use crate::session::playback::Remote;
use crate::session::{Exchange, Header, Line, Req, Resp};
use crate::trace::Trace;

/// What the oracle remembers of every local write.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub dev: usize,
    /// The item's origin (set at create, carried in its metadata).
    pub origin: String,
    pub what: WriteKind,
    /// True time of the write.
    pub at: i64,
    /// The device's clock at the write.
    pub edited_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteKind {
    Create {
        content: Option<String>,
        tags: Vec<String>,
    },
    Edit {
        content: Option<String>,
        tags: Vec<String>,
    },
    Delete,
}

/// A simulated device.
pub struct Device {
    pub spec: DeviceSpec,
    pub store: Store,
    pub server: usize,
    /// Index into `host::PROFILES`: the server profile synced now.
    pub profile: usize,
    pub session: Option<SyncSession>,
    pub partitioned_until: i64,
    ids: Arc<SeededIds>,
    creates: u64,
    edits: u64,
    /// Summary of the last sync that finished.
    pub last_summary: Option<Summary>,
}

impl Device {
    pub fn config(&self) -> SyncConfig {
        SyncConfig {
            server_url: format!("sim://s{}", self.server),
            api_key: KEY.into(),
            server_profile: Some(PROFILES[self.profile].0.to_string()),
            model: self.spec.model,
        }
    }
}

/// Why a world could not be set up or run (not an invariant failure).
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    #[error("engine: {0}")]
    Engine(#[from] engine::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Counters for reports and benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub exchanges: u64,
    pub faults: u64,
    pub syncs_done: u64,
    pub syncs_failed: u64,
    /// Servers restored from an older backup.
    pub restores: u64,
}

pub struct World {
    pub cfg: WorldConfig,
    pub servers: Vec<ServerHost>,
    pub devices: Vec<Device>,
    /// True time since the world began, ms.
    pub t: i64,
    pub trace: Trace,
    pub writes: Vec<Write>,
    /// Where each origin may legitimately be: the (server, profile) its
    /// creator targeted, plus every target a device holding it switched
    /// to. `profile-isolation` checks server profiles against it.
    pub allowed: BTreeMap<String, BTreeSet<(usize, usize)>>,
    pub stats: Stats,
    /// Per device: recorded answers to serve instead of a server (client
    /// replay of a session); `None` for a live device.
    pub remotes: Vec<Option<Remote>>,
    /// Counter for content created identically on two devices.
    shared: u64,
    _dir: tempfile::TempDir,
}

impl World {
    pub fn new(cfg: &WorldConfig, keep_trace: bool) -> Result<Self, WorldError> {
        let dir = crate::scratch::tempdir()?;
        let servers = (0..cfg.servers)
            .map(|i| {
                ServerHost::new(
                    &format!("s{i}"),
                    cfg.seed.wrapping_add(i as u64 * 7919),
                    EPOCH_MS,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut devices = Vec::new();
        for (i, spec) in cfg.devices.iter().enumerate() {
            let store = Store::open(&dir.path().join(format!("{}.sqlite", spec.name)))?;
            // The simulator kills processes, not machines: no fsync needed.
            store.conn().pragma_update(None, "synchronous", "OFF")?;
            let ids = Arc::new(SeededIds::new(cfg.seed ^ (0xD0_0000 + i as u64)));
            let mut d = Device {
                spec: spec.clone(),
                store,
                server: 0,
                profile: spec.profile,
                session: None,
                partitioned_until: 0,
                ids,
                creates: 0,
                edits: 0,
                last_summary: None,
            };
            let c = d.config();
            c.save(&mut d.store)?;
            devices.push(d);
        }
        let mut trace = Trace::new(keep_trace);
        let mut header = Header::new("sim");
        header.world = serde_json::to_value(cfg).ok();
        trace.line(&Line::Header(header));
        Ok(Self {
            cfg: cfg.clone(),
            servers,
            devices,
            t: 0,
            trace,
            writes: Vec::new(),
            allowed: BTreeMap::new(),
            stats: Stats::default(),
            remotes: Vec::new(),
            shared: 0,
            _dir: dir,
        })
    }

    /// A device's clock now.
    pub fn device_now(&self, dev: usize) -> i64 {
        EPOCH_MS + self.t + self.devices[dev].spec.clock.offset_at(self.t)
    }

    fn server_now(&self) -> i64 {
        EPOCH_MS + self.t + self.cfg.server_clock.offset_at(self.t)
    }

    fn pick(&self, dev: usize, pick: u32) -> Result<Option<engine::model::LocalItem>, WorldError> {
        let store = &self.devices[dev].store;
        let live = store.live_ids()?;
        if live.is_empty() {
            return Ok(None);
        }
        Ok(store.item(&live[pick as usize % live.len()])?)
    }

    fn origin_of(item: &engine::model::LocalItem) -> String {
        item.metadata
            .as_deref()
            .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
            .and_then(|m| m.get("origin").and_then(|o| o.as_str()).map(str::to_string))
            .unwrap_or_else(|| format!("?{}", item.id))
    }

    fn record(&mut self, dev: usize, origin: String, what: WriteKind) {
        let edited_at = self.device_now(dev);
        self.writes.push(Write {
            dev,
            origin,
            what,
            at: self.t,
            edited_at,
        });
    }

    /// Runs one event. A local operation the engine refuses (say, removing
    /// a tagset's last tag) is a user action that did not happen: traced,
    /// not an error of the world.
    pub fn apply(&mut self, ev: &Event) -> Result<(), WorldError> {
        self.trace
            .event(json!({"ev": "event", "t": self.t, "event": ev}));
        match self.apply_inner(ev) {
            Err(WorldError::Engine(
                e @ (engine::Error::Invalid(_) | engine::Error::NoSuchItem(_)),
            )) => {
                self.trace
                    .event(json!({"ev": "refused", "t": self.t, "error": e.to_string()}));
                Ok(())
            }
            other => other,
        }
    }

    fn apply_inner(&mut self, ev: &Event) -> Result<(), WorldError> {
        match ev {
            Event::Wait { ms } => self.t += ms.max(&0),
            Event::Create {
                dev,
                kind,
                tags,
                unicode,
            } => self.create(*dev, *kind, tags, *unicode, None)?,
            Event::CreateSame { dev, other, kind } => {
                self.shared += 1;
                let same = format!("shared-{}", self.shared);
                self.create(*dev, *kind, &[], false, Some(&same))?;
                self.create(*other, *kind, &[], false, Some(&same))?;
            }
            Event::CreateLarge { dev } => {
                let big = "0123456789abcdef".repeat(4 * 1024);
                self.create(*dev, Kind::Text, &[], false, Some(&big))?;
            }
            Event::Edit { dev, pick } => self.edit(*dev, *pick)?,
            Event::Delete { dev, pick } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    let now = self.device_now(*dev);
                    self.devices[*dev].store.delete_item(now, &it.id)?;
                    self.record(*dev, Self::origin_of(&it), WriteKind::Delete);
                }
            }
            Event::Tag { dev, pick, tag } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    let now = self.device_now(*dev);
                    let d = &mut self.devices[*dev];
                    if d.store.tag_item(d.ids.as_ref(), now, &it.id, tag)? {
                        self.record_current(*dev, &it.id)?;
                    }
                }
            }
            Event::Untag { dev, pick } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    if let Some(tag) = it.tags.first() {
                        let now = self.device_now(*dev);
                        let d = &mut self.devices[*dev];
                        if d.store.untag_item(d.ids.as_ref(), now, &it.id, tag)? {
                            self.record_current(*dev, &it.id)?;
                        }
                    }
                }
            }
            Event::Sync { dev } => {
                let d = &mut self.devices[*dev];
                if d.session.is_none() {
                    d.session = Some(SyncSession::new(d.config(), Mode::Full, d.ids.clone()));
                }
            }
            Event::Step { dev, fault } => self.step(*dev, *fault),
            Event::Crash { dev } => {
                self.devices[*dev].session = None;
                self.trace
                    .event(json!({"ev": "crash", "t": self.t, "dev": dev}));
            }
            Event::Partition { dev, ms } => {
                self.devices[*dev].partitioned_until = self.t + ms;
                self.trace.event(
                    json!({"ev": "fault", "t": self.t, "dev": dev, "fault": "partition", "ms": ms}),
                );
            }
            Event::SwitchServer { dev, server } => {
                if *server < self.servers.len() && self.devices[*dev].server != *server {
                    let profile = self.devices[*dev].profile;
                    self.switch(*dev, *server, profile)?;
                }
            }
            Event::SwitchProfile { dev, profile } => {
                if *profile < PROFILES.len() && self.devices[*dev].profile != *profile {
                    let server = self.devices[*dev].server;
                    self.switch(*dev, server, *profile)?;
                }
            }
            Event::RestartServer { server } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    s.restart()?;
                    self.trace
                        .event(json!({"ev": "server-restart", "t": self.t, "server": server}));
                }
            }
            Event::BackupServer { server } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    let at = EPOCH_MS + self.t + self.cfg.server_clock.offset_at(self.t);
                    s.set_time(at);
                    let name = s.backup()?;
                    self.trace.event(json!({"ev": "server-backup", "t": self.t, "at": at, "server": server, "backup": name}));
                }
            }
            Event::RestoreServer { server } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    if let Some(name) = s.restore_newest()? {
                        self.stats.restores += 1;
                        self.trace.event(json!({"ev": "server-restore", "t": self.t, "server": server, "backup": name}));
                    }
                }
            }
        }
        Ok(())
    }

    /// Points the device at another (server, profile): its running sync is
    /// dropped, and everything it holds may now go there.
    fn switch(&mut self, dev: usize, server: usize, profile: usize) -> Result<(), WorldError> {
        let d = &mut self.devices[dev];
        d.session = None;
        d.server = server;
        d.profile = profile;
        let c = d.config();
        c.save(&mut d.store)?;
        for it in d.store.items(true)? {
            self.allowed
                .entry(Self::origin_of(&it))
                .or_default()
                .insert((server, profile));
        }
        self.trace.event(
            json!({"ev": "switch", "t": self.t, "dev": dev, "server": server, "profile": profile}),
        );
        Ok(())
    }

    /// Creates an item; `body` replaces the unique part of its content
    /// (and tagset tag) when two devices must create the same thing.
    fn create(
        &mut self,
        dev: usize,
        kind: Kind,
        tags: &[String],
        unicode: bool,
        body: Option<&str>,
    ) -> Result<(), WorldError> {
        let d = &mut self.devices[dev];
        d.creates += 1;
        let origin = format!("{}-c{}", d.spec.name, d.creates);
        let unique = body.map_or_else(|| origin.clone(), str::to_string);
        let flair = if unicode {
            " 🌍 日本語\tΕλληνικά"
        } else {
            ""
        };
        let (kind, content, mut tags) = match kind {
            Kind::Url => (
                ItemType::Url,
                Some(format!("https://example.com/{unique}?q=1")),
                tags.to_vec(),
            ),
            Kind::Text => (
                ItemType::Text,
                Some(format!("note {unique}{flair}")),
                tags.to_vec(),
            ),
            Kind::Tagset => (ItemType::Tagset, None, tags.to_vec()),
            Kind::Image => (
                ItemType::Image,
                Some(format!(
                    "{}.png",
                    unique.chars().take(40).collect::<String>()
                )),
                tags.to_vec(),
            ),
        };
        // An image's bytes: the PNG signature, then what makes it unique.
        let blob = (kind == ItemType::Image).then(|| {
            let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
            b.extend_from_slice(unique.as_bytes());
            b
        });
        let metadata = match kind {
            ItemType::Image => json!({ "origin": origin, "mime": "image/png" }),
            _ => json!({ "origin": origin }),
        };
        if kind == ItemType::Tagset {
            tags.push(format!(
                "set-{}",
                unique.chars().take(40).collect::<String>()
            ));
        }
        let now = self.device_now(dev);
        let d = &mut self.devices[dev];
        let new = NewItem {
            kind: Some(kind),
            content: content.clone(),
            metadata: Some(metadata.to_string()),
            tags: tags.clone(),
            blob,
        };
        d.store.add_item(d.ids.as_ref(), now, new)?;
        let tags = engine::store::items::normalize_tags(&tags);
        let target = (self.devices[dev].server, self.devices[dev].profile);
        self.allowed
            .entry(origin.clone())
            .or_default()
            .insert(target);
        self.record(dev, origin, WriteKind::Create { content, tags });
        Ok(())
    }

    fn edit(&mut self, dev: usize, pick: u32) -> Result<(), WorldError> {
        let Some(it) = self.pick(dev, pick)? else {
            return Ok(());
        };
        let d = &mut self.devices[dev];
        d.edits += 1;
        let mark = format!("{}-e{}", d.spec.name, d.edits);
        let edit = if it.kind == ItemType::Tagset {
            Edit {
                tags: Some(vec![format!("set-{mark}")]),
                ..Edit::default()
            }
        } else {
            let base = it.content.clone().unwrap_or_default();
            let base = base.split(" ~").next().unwrap_or_default().to_string();
            Edit {
                content: Some(format!("{base} ~{mark}")),
                ..Edit::default()
            }
        };
        let now = self.device_now(dev);
        let d = &mut self.devices[dev];
        d.store.update_item(d.ids.as_ref(), now, &it.id, edit)?;
        self.record_current(dev, &it.id)
    }

    /// Records the item's state after a local edit or tag change.
    fn record_current(&mut self, dev: usize, id: &str) -> Result<(), WorldError> {
        if let Some(it) = self.devices[dev].store.item(id)? {
            let origin = Self::origin_of(&it);
            let what = WriteKind::Edit {
                content: it.content.clone(),
                tags: it.tags.clone(),
            };
            self.record(dev, origin, what);
        }
        Ok(())
    }

    /// One request of the device's running sync, through the fault.
    fn step(&mut self, dev: usize, fault: Option<Fault>) {
        let now = self.device_now(dev);
        let server_now = self.server_now();
        let t = self.t;
        let d = &mut self.devices[dev];
        let Some(session) = d.session.as_mut() else {
            return;
        };
        let step = session.poll(&mut d.store, now);
        match step {
            Err(e) => {
                self.stats.syncs_failed += 1;
                self.trace
                    .event(json!({"ev": "sync-error", "t": t, "dev": dev, "error": e.to_string()}));
                d.session = None;
            }
            Ok(Step::Done(summary)) => {
                self.stats.syncs_done += 1;
                self.trace.event(
                    json!({"ev": "sync-done", "t": t, "dev": dev, "summary": summary.to_string()}),
                );
                d.last_summary = Some(summary);
                d.session = None;
            }
            Ok(Step::Send(req)) => {
                let srv = d.server;
                let mut x = Exchange {
                    seq: self.stats.exchanges,
                    device: d.spec.name.clone(),
                    clock: Some(now),
                    at: Some(server_now),
                    server: Some(format!("s{srv}")),
                    request: Req::from_request(&req),
                    response: None,
                    error: None,
                    delivered: 0,
                    fault: None,
                    ms: None,
                };
                self.servers[srv].set_time(server_now);
                self.stats.exchanges += 1;
                // Where requests go: the device's server, or the recorded
                // answers when the device is replaying a session.
                let servers = &self.servers;
                let remote = self.remotes.get(dev).and_then(Option::as_ref);
                let call = |r: Request| match remote {
                    Some(p) => p.call(r),
                    None => servers[srv].call(r),
                };
                let partitioned = t < d.partitioned_until;
                // (what the device sees, the fault, times delivered, the
                // server's own answer)
                let (resp, applied, delivered, answer) = if partitioned {
                    let e = TransportError::Connect("partitioned".into());
                    (Err(e), "partitioned", 0, None)
                } else {
                    match fault {
                        None => {
                            let r = call(req);
                            let answer = r.as_ref().ok().map(Resp::from_response);
                            (r, "none", 1, answer)
                        }
                        Some(Fault::RequestLost) => {
                            let e = TransportError::Io("request lost".into());
                            (Err(e), "request-lost", 0, None)
                        }
                        Some(Fault::ResponseLost) => {
                            let answer = call(req).ok().as_ref().map(Resp::from_response);
                            let e = TransportError::Io("response lost".into());
                            (Err(e), "response-lost", 1, answer)
                        }
                        Some(Fault::Duplicate) => {
                            let _ = call(req.clone());
                            let r = call(req);
                            let answer = r.as_ref().ok().map(Resp::from_response);
                            (r, "duplicate", 2, answer)
                        }
                        Some(Fault::ServerError) => {
                            let r = Response {
                                status: 503,
                                headers: Vec::new(),
                                body: br#"{"error":"proxy: upstream unavailable"}"#.to_vec(),
                            };
                            let answer = Some(Resp::from_response(&r));
                            (Ok(r), "server-error", 0, answer)
                        }
                    }
                };
                if applied != "none" {
                    self.stats.faults += 1;
                    x.fault = applied.parse().ok();
                }
                x.delivered = delivered;
                x.response = answer;
                x.error = resp.as_ref().err().map(ToString::to_string);
                self.trace.line(&Line::Exchange(Box::new(x)));
                if let Err(e) = session.on_response(&mut d.store, resp, now) {
                    self.stats.syncs_failed += 1;
                    self.trace.event(
                        json!({"ev": "sync-error", "t": t, "dev": dev, "error": e.to_string()}),
                    );
                    d.session = None;
                }
            }
        }
    }

    /// Runs the device's sync (started if needed) to its end without
    /// faults. Returns its summary, or `None` if it failed.
    pub fn sync_to_end(&mut self, dev: usize) -> Option<Summary> {
        self.devices[dev].last_summary = None;
        self.apply(&Event::Sync { dev }).ok()?;
        for _ in 0..10_000 {
            if self.devices[dev].session.is_none() {
                break;
            }
            self.t += 1;
            self.step(dev, None);
        }
        self.devices[dev].last_summary.take()
    }

    /// End of the fault phase: partitions heal, every device finishes or
    /// restarts its sync, then `rounds` full rounds of syncs.
    pub fn heal(&mut self, rounds: usize) {
        self.trace.event(json!({"ev": "heal", "t": self.t}));
        for d in &mut self.devices {
            d.partitioned_until = 0;
        }
        for _ in 0..rounds {
            for dev in 0..self.devices.len() {
                self.t += 100;
                let _ = self.sync_to_end(dev);
            }
        }
    }
}
