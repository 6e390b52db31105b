//! The world: servers ([`Upstream`]s), devices ([`Device`]s, each with its
//! own clock and target), true time, the write oracle and the trace.
//! `apply` runs one event; `heal` ends the fault phase and syncs every
//! device until quiet; `play` runs an event list and one more round.
//!
//! The world knows devices and servers only through their seams
//! (`crate::device`, `crate::upstream`): what plays them is the
//! [`Cast`]'s business, and every request reaches its server through a
//! [`Wire`], where faults happen.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use engine::sync::{Method, Request, Summary};

use crate::cast::{Cast, CastError, RealTime};
use crate::config::{DeviceSpec, WorldConfig, EPOCH_MS};
use crate::device::{
    ClockControl, Device, DeviceError, DeviceState, Now, Point, Progress, Stepping,
};
use crate::event::{Event, Fault, Kind};
use crate::host::PROFILES;
use crate::session::{Header, Line};
use crate::trace::{DeviceFault, Trace, TraceEvent, TraceMode};
use crate::transfer::{Ledger, Moved};
use crate::upstream::{Upstream, UpstreamError, Wire};
use crate::workload;

pub use crate::oracle::{Write, WriteKind};
pub use crate::upstream::Stats;

mod local;
mod server_side;

pub use server_side::{Name, Names};

/// Sync rounds after the fault phase before checking.
pub const HEAL_ROUNDS: usize = 3;

/// A device's place in the world: what it is, where it points, and the
/// world's bookkeeping about it.
pub struct Slot {
    pub spec: DeviceSpec,
    pub device: Box<dyn Device>,
    pub server: usize,
    /// Index into `host::PROFILES`: the server profile synced now.
    pub profile: usize,
    pub partitioned_until: i64,
    creates: u64,
    edits: u64,
    /// Faults for the requests of a sync run whole (`Stepping::PerSync`):
    /// those of the `Step`s that follow its `Sync` (see [`World::play`]).
    plan: VecDeque<Option<Fault>>,
    /// Summary of the last sync that finished.
    pub last_summary: Option<Summary>,
    /// What moved on its wire (`crate::transfer`).
    pub ledger: Ledger,
    /// Where it was last pointed (a changed account re-points it).
    pointed: Option<Point>,
}

/// Why a world could not be set up or run (not an invariant failure).
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error(transparent)]
    Cast(#[from] CastError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub struct World {
    pub cfg: WorldConfig,
    pub servers: Vec<Box<dyn Upstream>>,
    pub devices: Vec<Slot>,
    /// True time since the world began, ms.
    pub t: i64,
    pub trace: Trace,
    pub writes: Vec<Write>,
    /// Where each origin may legitimately be: the (server, profile) its
    /// creator targeted, plus every target a device holding it switched
    /// to. `profile-isolation` checks server profiles against it.
    pub allowed: BTreeMap<String, BTreeSet<(usize, usize)>>,
    pub stats: Stats,
    /// Syncs that applied as news more pulled items than the wire brought
    /// them new (`no-redundant-transfer`): (device, true time, excess).
    pub reapplied: Vec<(usize, i64, u64)>,
    /// Per device, what moved in the round after healing (`play`).
    pub last_round: Vec<Moved>,
    /// Every server's profiles and key as they are now
    /// (`world/server_side`).
    pub names: Names,
    /// When each (server, profile) last lost what only the server held
    /// (a restore, a deleted profile), true time.
    pub lost_at: BTreeMap<(usize, usize), i64>,
    /// Items created by writers outside sync, and keys rotated.
    api_creates: u64,
    rotations: u64,
    /// Per device: what answers it instead of its server (client replay
    /// of a session: its recorded answers); `None` for a live device.
    overrides: Vec<Option<Box<dyn Upstream>>>,
    /// The wall clock, when the cast cannot take the virtual one.
    real_time: Option<Arc<dyn RealTime>>,
    /// Counter for content created identically on two devices.
    shared: u64,
    _dir: tempfile::TempDir,
}

impl World {
    /// The default world: every device the engine in-process, every
    /// server in-process, virtual time.
    pub fn new(cfg: &WorldConfig, trace: impl Into<TraceMode>) -> Result<Self, WorldError> {
        Self::with_cast(cfg, trace, &Cast::default())
    }

    pub fn with_cast(
        cfg: &WorldConfig,
        trace: impl Into<TraceMode>,
        cast: &Cast,
    ) -> Result<Self, WorldError> {
        let dir = crate::scratch::tempdir()?;
        let servers = cast.servers(cfg)?;
        let devices = cast.devices(cfg, dir.path())?;
        let virtual_ok = devices
            .iter()
            .all(|d| d.caps().clock == ClockControl::Virtual)
            && servers.iter().all(|s| s.caps().virtual_clock);
        if !virtual_ok && cast.real_time.is_none() {
            return Err(CastError::NeedsRealTime.into());
        }
        let mut trace = Trace::new(trace);
        let mut header = Header::new("sim");
        header.world = serde_json::to_value(cfg).ok();
        trace.line(&Line::Header(header));
        let mut w = Self {
            cfg: cfg.clone(),
            overrides: devices.iter().map(|_| None).collect(),
            devices: cfg
                .devices
                .iter()
                .zip(devices)
                .map(|(spec, device)| Slot {
                    spec: spec.clone(),
                    device,
                    server: 0,
                    profile: spec.profile,
                    partitioned_until: 0,
                    creates: 0,
                    edits: 0,
                    plan: VecDeque::new(),
                    last_summary: None,
                    ledger: Ledger::default(),
                    pointed: None,
                })
                .collect(),
            servers,
            t: 0,
            trace,
            writes: Vec::new(),
            allowed: BTreeMap::new(),
            stats: Stats::default(),
            reapplied: Vec::new(),
            last_round: Vec::new(),
            names: Names::default(),
            lost_at: BTreeMap::new(),
            api_creates: 0,
            rotations: 0,
            real_time: (!virtual_ok).then(|| cast.real_time.clone()).flatten(),
            shared: 0,
            _dir: dir,
        };
        w.names = Names {
            profiles: w
                .servers
                .iter()
                .map(|up| {
                    let known = up.caps().lifecycle;
                    (0..PROFILES.len())
                        .map(|p| Name {
                            id: up.profile_id(p),
                            // Only an in-process server's profiles are named
                            // as the world made them; by URL, UUIDs only.
                            name: if known {
                                PROFILES[p].1.to_string()
                            } else {
                                String::new()
                            },
                            deleted: false,
                        })
                        .collect()
                })
                .collect(),
            keys: w.servers.iter().map(|up| up.key()).collect(),
        };
        for dev in 0..w.devices.len() {
            w.repoint(dev)?;
        }
        Ok(w)
    }

    /// Has `dev` answered by `up` instead of its server (client replay).
    pub fn set_upstream(&mut self, dev: usize, up: Box<dyn Upstream>) {
        self.overrides[dev] = Some(up);
    }

    fn point_of(&self, dev: usize) -> Point {
        let d = &self.devices[dev];
        Point {
            server: d.server,
            url: format!("sim://s{}", d.server),
            key: self.names.keys[d.server].clone(),
            profile_id: self.names.profiles[d.server][d.profile].target(d.spec.by_slug),
        }
    }

    /// Points an idle device at where it should sync now, if that moved
    /// (a profile re-created or renamed, a key rotated): the user telling
    /// the app. A running sync is left to fail first, as it would.
    fn repoint(&mut self, dev: usize) -> Result<(), WorldError> {
        let at = self.point_of(dev);
        let d = &mut self.devices[dev];
        if d.device.syncing() || d.pointed.as_ref() == Some(&at) {
            return Ok(());
        }
        d.ledger.point(format!("{}/{}", at.url, at.profile_id));
        d.device.point(&at)?;
        d.pointed = Some(at);
        Ok(())
    }

    fn base(&self) -> i64 {
        base(self.real_time.as_deref(), self.t)
    }

    /// A device's clock now.
    pub fn device_now(&self, dev: usize) -> i64 {
        self.now(dev).at
    }

    fn now(&self, dev: usize) -> Now {
        let offset = self.devices[dev].spec.clock.offset_at(self.t);
        Now {
            at: self.base() + offset,
            offset,
        }
    }

    fn server_now(&self) -> i64 {
        self.base() + self.cfg.server_clock.offset_at(self.t)
    }

    /// What a device holds, read-only. Items of a device that does not
    /// show its links are linked by sync id to its server's rows.
    pub fn observe(&self, dev: usize) -> Result<DeviceState, WorldError> {
        let d = &self.devices[dev];
        let mut state = d.device.observe()?;
        if !d.device.caps().links {
            let rows = self.rows_by_sync_id(d.server, d.profile);
            for it in &mut state.items {
                it.link = rows.get(&it.sync_id).cloned();
            }
        }
        Ok(state)
    }

    /// The request that lists every item of a server profile, tombstones
    /// too (what the checker reads servers with).
    pub fn list_request(&self, server: usize, profile: usize) -> Request {
        self.list_of(server, &self.names.profiles[server][profile].id)
    }

    /// The same for a profile named by `id` (a UUID or a slug).
    pub fn list_of(&self, server: usize, id: &str) -> Request {
        Request {
            method: Method::Get,
            path: format!("/items?includeDeleted=true&profile={id}&strictProfile=true"),
            headers: vec![(
                "Authorization".into(),
                format!("Bearer {}", self.names.keys[server]),
            )],
            body: None,
        }
    }

    /// A server profile's row ids by sync id.
    fn rows_by_sync_id(&self, server: usize, profile: usize) -> BTreeMap<String, String> {
        let req = self.list_request(server, profile);
        let Ok(resp) = self.servers[server].call(req) else {
            return BTreeMap::new();
        };
        let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|it| {
                Some((
                    it["syncId"].as_str()?.to_string(),
                    it["id"].as_str()?.to_string(),
                ))
            })
            .filter(|(s, _)| !s.is_empty())
            .collect()
    }

    /// meeting the faults of the `Step`s that follow for it (up to its
    /// next `Sync`, crash or switch).
    pub fn play(&mut self, events: &[Event]) -> Result<Vec<Option<Summary>>, WorldError> {
        for (i, ev) in events.iter().enumerate() {
            if let Event::Sync { dev } = ev {
                if self.per_sync(*dev) {
                    self.devices[*dev].plan = plan_after(&events[i + 1..], *dev);
                }
            }
            self.apply(ev)?;
        }
        self.heal(HEAL_ROUNDS);
        let before: Vec<Moved> = self.devices.iter().map(|d| d.ledger.moved).collect();
        let last = (0..self.devices.len())
            .map(|d| self.sync_to_end(d))
            .collect();
        self.last_round = self
            .devices
            .iter()
            .zip(&before)
            .map(|(d, b)| d.ledger.moved.since(b))
            .collect();
        Ok(last)
    }

    fn per_sync(&self, dev: usize) -> bool {
        self.devices
            .get(dev)
            .is_some_and(|d| d.device.caps().stepping == Stepping::PerSync)
    }

    /// Runs one event. A local operation the device refuses (say, removing
    /// a tagset's last tag) is a user action that did not happen: traced,
    /// not an error of the world.
    pub fn apply(&mut self, ev: &Event) -> Result<(), WorldError> {
        self.trace.emit(&TraceEvent::Event {
            t: self.t,
            event: ev.clone(),
        });
        match self.apply_inner(ev) {
            Err(WorldError::Device(DeviceError::Refused(e))) => {
                self.trace.emit(&TraceEvent::Refused {
                    t: self.t,
                    error: e,
                });
                Ok(())
            }
            other => other,
        }
    }

    fn apply_inner(&mut self, ev: &Event) -> Result<(), WorldError> {
        match ev {
            Event::Wait { ms } => {
                let ms = *ms.max(&0);
                self.t += ms;
                if let Some(r) = &self.real_time {
                    r.pause(ms);
                }
            }
            Event::Create {
                dev,
                kind,
                tags,
                unicode,
            } => self.create(*dev, *kind, tags, *unicode, None)?,
            Event::CreateSame { dev, other, kind } => {
                self.shared += 1;
                let same = workload::shared_body(self.shared);
                self.create(*dev, *kind, &[], false, Some(&same))?;
                self.create(*other, *kind, &[], false, Some(&same))?;
            }
            Event::CreateLarge { dev } => {
                let big = workload::large_body();
                self.create(*dev, Kind::Text, &[], false, Some(&big))?;
            }
            Event::Edit { dev, pick } => self.edit(*dev, *pick)?,
            Event::Delete { dev, pick } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    let now = self.now(*dev);
                    self.devices[*dev].device.delete(now, &it.id)?;
                    self.record(*dev, Self::origin_of(&it), WriteKind::Delete);
                }
            }
            Event::Tag { dev, pick, tag } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    let now = self.now(*dev);
                    if self.devices[*dev].device.tag(now, &it.id, tag)? {
                        self.record_current(*dev, &it.id)?;
                    }
                }
            }
            Event::Untag { dev, pick } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    if let Some(tag) = it.tags.first() {
                        let now = self.now(*dev);
                        if self.devices[*dev].device.untag(now, &it.id, tag)? {
                            self.record_current(*dev, &it.id)?;
                        }
                    }
                }
            }
            Event::Sync { dev } => {
                self.repoint(*dev)?;
                self.devices[*dev].device.start_sync();
                if self.per_sync(*dev) {
                    self.step(*dev, None, false);
                }
            }
            // A device stepped sync by sync took this step's fault into
            // its plan when its sync began.
            Event::Step { dev, .. } | Event::Send { dev, .. } if self.per_sync(*dev) => {}
            Event::Step { dev, fault } => self.step(*dev, *fault, false),
            Event::Send { dev, fault } => self.step(*dev, *fault, true),
            Event::Crash { dev } => {
                self.devices[*dev].device.crash()?;
                self.devices[*dev].ledger.abandon();
                self.stats.crashes += 1;
                self.trace.emit(&TraceEvent::Crash {
                    t: self.t,
                    dev: *dev,
                });
            }
            Event::Partition { dev, ms } => {
                self.devices[*dev].partitioned_until = self.t + ms;
                self.stats.partitions += 1;
                self.trace.emit(&TraceEvent::Fault {
                    t: self.t,
                    dev: *dev,
                    fault: DeviceFault::Partition,
                    ms: *ms,
                });
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
            Event::Api {
                server,
                profile,
                write,
            } => self.api_write(*server, *profile, write)?,
            Event::Account { server, change } => self.account_change(*server, change)?,
            Event::RestartServer { server } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    if lifecycle(s.restart())?.is_some() {
                        self.stats.restarts += 1;
                        self.trace.emit(&TraceEvent::ServerRestart {
                            t: self.t,
                            server: *server,
                        });
                    }
                }
            }
            Event::BackupServer { server } => {
                let at = self.server_now();
                if let Some(s) = self.servers.get_mut(*server) {
                    if let Some(name) = lifecycle(s.backup(at))? {
                        self.stats.backups += 1;
                        self.trace.emit(&TraceEvent::ServerBackup {
                            t: self.t,
                            at,
                            server: *server,
                            backup: name,
                        });
                    }
                }
            }
            Event::RestoreServer { server } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    if let Some(Some(name)) = lifecycle(s.restore_newest())? {
                        for p in 0..PROFILES.len() {
                            self.lost_at.insert((*server, p), self.t);
                        }
                        self.stats.restores += 1;
                        self.trace.emit(&TraceEvent::ServerRestore {
                            t: self.t,
                            server: *server,
                            backup: name,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Advances the device's running sync (one request, or a whole sync
    /// with its plan), every request through the device's wire; `hold`
    /// keeps the answer of a new request in flight (`Event::Send`).
    fn step(&mut self, dev: usize, fault: Option<Fault>, hold: bool) {
        let now = self.now(dev);
        let t = self.t;
        let World {
            cfg,
            servers,
            devices,
            trace,
            stats,
            overrides,
            real_time,
            reapplied,
            ..
        } = self;
        let slot = &mut devices[dev];
        if !slot.device.syncing() {
            return;
        }
        let server_now = || base(real_time.as_deref(), t) + cfg.server_clock.offset_at(t);
        let faults = if slot.device.caps().stepping == Stepping::PerSync {
            std::mem::take(&mut slot.plan)
        } else {
            VecDeque::from([fault])
        };
        let up: &dyn Upstream = match overrides[dev].as_deref() {
            Some(o) => o,
            None => servers[slot.server].as_ref(),
        };
        let mut wire = Wire {
            up,
            server: slot.server,
            device: &slot.spec.name,
            device_now: now.at,
            server_now: &server_now,
            faults,
            partitioned: t < slot.partitioned_until,
            trace,
            stats,
            ledger: &mut slot.ledger,
        };
        let progress = if hold {
            wire.stats.in_flight += 1;
            slot.device.advance_in_flight(now, &mut wire)
        } else {
            slot.device.advance(now, &mut wire)
        };
        match progress {
            Progress::Idle | Progress::Sent => {}
            Progress::Done(summary) => {
                if let Some(excess) = slot.ledger.finish(summary.pulled) {
                    reapplied.push((dev, t, excess));
                }
                stats.syncs_done += 1;
                trace.emit(&TraceEvent::SyncDone {
                    t,
                    dev,
                    summary: summary.to_string(),
                });
                slot.last_summary = Some(summary);
            }
            Progress::Failed(error) => {
                slot.ledger.abandon();
                stats.syncs_failed += 1;
                trace.emit(&TraceEvent::SyncError { t, dev, error });
            }
        }
    }

    /// Runs the device's sync (started if needed) to its end without
    /// faults. Returns its summary, or `None` if it failed.
    pub fn sync_to_end(&mut self, dev: usize) -> Option<Summary> {
        self.devices[dev].last_summary = None;
        self.apply(&Event::Sync { dev }).ok()?;
        for _ in 0..10_000 {
            if !self.devices[dev].device.syncing() {
                break;
            }
            self.t += 1;
            self.step(dev, None, false);
        }
        self.devices[dev].last_summary.take()
    }

    /// End of the fault phase: partitions heal, every device finishes or
    /// restarts its sync, then `rounds` full rounds of syncs.
    pub fn heal(&mut self, rounds: usize) {
        self.trace.emit(&TraceEvent::Heal { t: self.t });
        for d in &mut self.devices {
            d.partitioned_until = 0;
        }
        self.restore_account();
        // A sync the fault phase left running is finished first, outside
        // the rounds: it began before the last faults (a restore, say) and
        // may end without meeting them, so it is no full round (seed 7513).
        for dev in 0..self.devices.len() {
            if self.devices[dev].device.syncing() {
                let _ = self.sync_to_end(dev);
            }
        }
        for _ in 0..rounds {
            for dev in 0..self.devices.len() {
                self.t += 100;
                let _ = self.sync_to_end(dev);
            }
        }
    }
}

/// The world's time base: the wall clock when the cast needs it, else the
/// virtual epoch plus true time.
fn base(real_time: Option<&dyn RealTime>, t: i64) -> i64 {
    match real_time {
        Some(r) => r.now_ms(),
        None => EPOCH_MS + t,
    }
}

/// `Ok(None)` for what this server cannot do (a server by URL has no
/// restart, backup or restore): the event did not happen.
fn lifecycle<T>(r: Result<T, UpstreamError>) -> Result<Option<T>, WorldError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(UpstreamError::Unsupported(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The faults of the `Step`s of `dev` in `rest`, up to its next `Sync`,
/// crash or switch: the plan of a sync run whole.
fn plan_after(rest: &[Event], dev: usize) -> VecDeque<Option<Fault>> {
    let mut plan = VecDeque::new();
    for ev in rest {
        match ev {
            Event::Step { dev: d, fault } | Event::Send { dev: d, fault } if *d == dev => {
                plan.push_back(*fault)
            }
            Event::Sync { dev: d }
            | Event::Crash { dev: d }
            | Event::SwitchServer { dev: d, .. }
            | Event::SwitchProfile { dev: d, .. }
                if *d == dev =>
            {
                break
            }
            _ => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_sync_takes_the_faults_of_its_own_steps() {
        let step = |dev, fault| Event::Step { dev, fault };
        let rest = [
            step(0, None),
            step(1, Some(Fault::Duplicate)),
            Event::Wait { ms: 1 },
            step(0, Some(Fault::RequestLost)),
            Event::Crash { dev: 0 },
            step(0, Some(Fault::ServerError)),
        ];
        assert_eq!(
            plan_after(&rest, 0),
            VecDeque::from([None, Some(Fault::RequestLost)])
        );
        assert_eq!(
            plan_after(&rest, 1),
            VecDeque::from([Some(Fault::Duplicate)])
        );
    }
}
