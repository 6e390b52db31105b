//! The property groups for targets the simulator cannot host: a client in
//! another process (a driver) or a server by URL. The same strategies (so
//! the same worlds) are replayed through the [`Client`] and [`Server`]
//! traits: local writes and whole syncs as the events say, server restarts
//! where the server allows, profile and server switches as profiles, clock
//! offsets as the shapes give them. What cannot be done from outside is
//! left out and said so: request-level faults (`Step` faults, partitions)
//! and backup/restore. The world is judged by what every client can report,
//! under the simulator's invariant names: `convergence`,
//! `no-sync-duplicates`, `stability` (the write oracle's `no-lost-write`
//! and `no-resurrection` need the simulator's item identities).

use std::collections::BTreeMap;

use engine::Mode;
use proptest::test_runner::{TestCaseError, TestError};
use sim::check::{Invariant, Violation};
use sim::event::{Event, Kind};

use super::{strategy, Case, Group, Verdict};
use crate::client::{Client, ClientSpec};
use crate::documented::{Ctx, Failure};
use crate::server::ServerSpec;

/// A device of a portable world: its client and where it points.
struct Dev {
    client: Box<dyn Client>,
    server: usize,
    profile: usize,
}

/// One world over the traits.
struct World {
    ctx: Ctx,
    devs: Vec<Dev>,
    /// `profiles[server][profile]`: fresh server profiles stand for the
    /// simulator's servers × profiles (one real server holds them all).
    profiles: Vec<Vec<String>>,
    case: Case,
    t: i64,
    creates: u64,
    edits: u64,
    /// Creations per origin (the unique part of the content).
    origins: BTreeMap<String, usize>,
    /// Per origin, every local write: (device, is a delete, device clock).
    writes: BTreeMap<String, Vec<(usize, bool, i64)>>,
}

fn fail(invariant: Invariant, detail: String) -> Violation {
    Violation {
        invariant,
        detail,
        items: Vec::new(),
    }
}

/// The origin of a content line (`…/d0-c3?q=1 ~d1-e2` → `d0-c3`).
fn origin(content: &str) -> Option<String> {
    let base = content.split(" ~").next()?;
    let tail = base.rsplit('/').next()?.trim_start_matches("note ");
    let o = tail.split('?').next()?.to_string();
    (!o.is_empty()).then_some(o)
}

impl World {
    fn new(client: &ClientSpec, server: &ServerSpec, case: &Case) -> Result<Self, Failure> {
        let mut ctx = Ctx::new(client, server, case.config.seed)?;
        let mut profiles = Vec::new();
        for s in 0..case.config.servers.max(1) {
            let mut row = Vec::new();
            for (_, name) in sim::host::PROFILES {
                row.push(ctx.profile(&format!("{name} s{s}"))?);
            }
            profiles.push(row);
        }
        let mut devs = Vec::new();
        for spec in &case.config.devices {
            let mut c = ctx.device(Some(&profiles[0][spec.profile]))?;
            c.set_clock_offset(spec.clock.offset_at(0))?;
            devs.push(Dev {
                client: c,
                server: 0,
                profile: spec.profile,
            });
        }
        Ok(Self {
            ctx,
            devs,
            profiles,
            case: case.clone(),
            t: 0,
            creates: 0,
            edits: 0,
            origins: BTreeMap::new(),
            writes: BTreeMap::new(),
        })
    }

    /// Logs a write of the item whose content is `content`.
    fn wrote(&mut self, dev: usize, content: Option<&str>, delete: bool) {
        if let Some(o) = content.and_then(origin) {
            let clock = self.t + self.case.config.devices[dev].clock.offset_at(self.t);
            self.writes.entry(o).or_default().push((dev, delete, clock));
        }
    }

    fn point(&mut self, dev: usize) -> Result<(), Failure> {
        let d = &mut self.devs[dev];
        let p = &self.profiles[d.server][d.profile];
        d.client
            .configure(&self.ctx.server.url(), &self.ctx.server.key(), Some(p))?;
        Ok(())
    }

    fn create(
        &mut self,
        dev: usize,
        kind: Kind,
        tags: &[String],
        body: Option<&str>,
    ) -> Result<(), Failure> {
        self.creates += 1;
        let unique = body.map_or_else(|| format!("d{dev}-c{}", self.creates), str::to_string);
        *self.origins.entry(unique.clone()).or_default() += 1;
        let mut tags: Vec<String> = tags.to_vec();
        let (kind, content) = match kind {
            Kind::Url => ("url", Some(format!("https://example.com/{unique}?q=1"))),
            // The driver protocol carries no image bytes, and the property
            // worlds never draw images (`WorldConfig::images` is off): a
            // stray one is a text item here.
            Kind::Text | Kind::Image => ("text", Some(format!("note {unique}"))),
            Kind::Tagset => {
                tags.push(format!(
                    "set-{}",
                    unique.chars().take(40).collect::<String>()
                ));
                ("tagset", None)
            }
        };
        let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
        let s = self.ctx.server.as_ref();
        self.devs[dev]
            .client
            .create(s, kind, content.as_deref(), &tags)?;
        self.wrote(dev, content.as_deref(), false);
        Ok(())
    }

    fn pick(&mut self, dev: usize, pick: u32) -> Result<Option<crate::client::ItemView>, Failure> {
        let mut live = self.devs[dev].client.items(false)?;
        live.sort();
        Ok((!live.is_empty()).then(|| live[pick as usize % live.len()].clone()))
    }

    /// Runs one event; a local operation the client refuses did not happen.
    fn apply(&mut self, ev: &Event) -> Result<(), Failure> {
        match self.apply_inner(ev) {
            Err(Failure::Fail(m)) if m.starts_with("refused") => Ok(()),
            other => other,
        }
    }

    fn apply_inner(&mut self, ev: &Event) -> Result<(), Failure> {
        let s = self.ctx.server.as_ref();
        match ev {
            Event::Wait { ms } => {
                self.t += ms.max(&0);
                s.tick(*ms);
                for (i, spec) in self.case.config.devices.iter().enumerate() {
                    self.devs[i]
                        .client
                        .set_clock_offset(spec.clock.offset_at(self.t))?;
                }
            }
            Event::Create {
                dev, kind, tags, ..
            } => self.create(*dev, *kind, tags, None)?,
            Event::CreateSame { dev, other, kind } => {
                self.creates += 1;
                let same = format!("shared-{}", self.creates);
                self.create(*dev, *kind, &[], Some(&same))?;
                self.create(*other, *kind, &[], Some(&same))?;
            }
            Event::CreateLarge { dev } => {
                let big = "0123456789abcdef".repeat(4 * 1024);
                self.create(*dev, Kind::Text, &[], Some(&big))?;
            }
            Event::Edit { dev, pick } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    self.edits += 1;
                    let mark = format!("d{dev}-e{}", self.edits);
                    let s = self.ctx.server.as_ref();
                    let c = &mut self.devs[*dev].client;
                    if it.kind == "tagset" {
                        c.update(s, &it.id, None, Some(&[&format!("set-{mark}")]))?;
                    } else {
                        let base = it.content.clone().unwrap_or_default();
                        let base = base.split(" ~").next().unwrap_or_default();
                        c.update(s, &it.id, Some(&format!("{base} ~{mark}")), None)?;
                    }
                    self.wrote(*dev, it.content.as_deref(), false);
                }
            }
            Event::Delete { dev, pick } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    self.devs[*dev]
                        .client
                        .delete(self.ctx.server.as_ref(), &it.id)?;
                    self.wrote(*dev, it.content.as_deref(), true);
                }
            }
            Event::Tag { dev, pick, tag } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    self.devs[*dev]
                        .client
                        .tag(self.ctx.server.as_ref(), &it.id, tag)?;
                    self.wrote(*dev, it.content.as_deref(), false);
                }
            }
            Event::Untag { dev, pick } => {
                if let Some(it) = self.pick(*dev, *pick)? {
                    if let Some(first) = it.tags.first() {
                        let rest: Vec<&str> = it
                            .tags
                            .iter()
                            .filter(|t| *t != first)
                            .map(String::as_str)
                            .collect();
                        let s = self.ctx.server.as_ref();
                        self.devs[*dev]
                            .client
                            .update(s, &it.id, None, Some(&rest))?;
                        self.wrote(*dev, it.content.as_deref(), false);
                    }
                }
            }
            // Whole syncs: a sync error during the workload is weather.
            Event::Sync { dev } => {
                let _ = self.devs[*dev].client.sync(s, Mode::Full);
            }
            Event::Crash { dev } => self.devs[*dev].client.restart()?,
            Event::SwitchServer { dev, server } => {
                if *server < self.profiles.len() {
                    self.devs[*dev].server = *server;
                    self.point(*dev)?;
                }
            }
            Event::SwitchProfile { dev, profile } => {
                if *profile < sim::host::PROFILES.len() {
                    self.devs[*dev].profile = *profile;
                    self.point(*dev)?;
                }
            }
            Event::RestartServer { .. } => match self.ctx.server.restart() {
                Ok(()) | Err(crate::server::ServerError::Unsupported(_)) => {}
                Err(e) => return Err(Failure::Setup(e.to_string())),
            },
            // Not reachable from outside: request faults, partitions,
            // backups (see the module docs).
            Event::Step { .. }
            | Event::Partition { .. }
            | Event::BackupServer { .. }
            | Event::RestoreServer { .. } => {}
        }
        Ok(())
    }

    /// Heals (three rounds of syncs), one more round for `stability`, and
    /// checks.
    fn judge(&mut self) -> Result<Vec<Violation>, Failure> {
        let mut out = Vec::new();
        for _ in 0..sim::run::HEAL_ROUNDS {
            for d in 0..self.devs.len() {
                self.ctx.tick(100);
                let _ = self.devs[d]
                    .client
                    .sync(self.ctx.server.as_ref(), Mode::Full);
            }
        }
        for d in 0..self.devs.len() {
            self.ctx.tick(100);
            match self.devs[d]
                .client
                .sync(self.ctx.server.as_ref(), Mode::Full)
            {
                Ok(r) if r.pulled == 0 && r.pushed == 0 => {}
                Ok(r) => out.push(fail(
                    Invariant::Stability,
                    format!(
                        "d{d}: one more sync after healing still pulled {} and pushed {}",
                        r.pulled, r.pushed
                    ),
                )),
                Err(e) => out.push(fail(
                    Invariant::Stability,
                    format!("d{d}: one more sync after healing failed: {e}"),
                )),
            }
        }
        let mut servers = BTreeMap::new();
        for d in 0..self.devs.len() {
            let key = (self.devs[d].server, self.devs[d].profile);
            if let std::collections::btree_map::Entry::Vacant(e) = servers.entry(key) {
                e.insert(self.ctx.server_live(&self.profiles[key.0][key.1])?);
            }
            let mine = self.devs[d].client.live()?;
            let theirs = &servers[&key];
            if &mine != theirs {
                out.push(fail(
                    Invariant::Convergence,
                    format!("d{d} holds {mine:?}, its server profile {theirs:?}"),
                ));
            }
        }
        // no-resurrection: a delete that is the last write by event order
        // and by every device clock must hold on the deleting device and
        // on the server profile it points at.
        for (o, ws) in &self.writes {
            let Some(&(dev, true, at)) = ws.last() else {
                continue;
            };
            if ws.iter().any(|w| w.2 > at) {
                continue;
            }
            let key = (self.devs[dev].server, self.devs[dev].profile);
            let has = |lines: &[String]| {
                lines
                    .iter()
                    .any(|l| l.split('|').nth(1).and_then(origin).as_deref() == Some(o))
            };
            let mine = self.devs[dev].client.live()?;
            if has(&mine) || servers.get(&key).is_some_and(|l| has(l)) {
                out.push(fail(
                    Invariant::NoResurrection,
                    format!("d{dev} deleted {o} last; it is live again on the device or its server profile"),
                ));
            }
        }
        for ((s, p), lines) in &servers {
            let mut per: BTreeMap<String, usize> = BTreeMap::new();
            for l in lines {
                if let Some(o) = l.split('|').nth(1).and_then(origin) {
                    *per.entry(o).or_default() += 1;
                }
            }
            for (o, n) in per {
                let made = self.origins.get(&o).copied().unwrap_or(0);
                if made > 0 && n > made {
                    out.push(fail(
                        Invariant::NoSyncDuplicates,
                        format!("server s{s} profile {p} holds {n} live rows of {o}, created {made} time(s)"),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Runs one case; `Err` only when the harness itself failed.
pub fn run_case(
    client: &ClientSpec,
    server: &ServerSpec,
    case: &Case,
) -> Result<Vec<Violation>, Failure> {
    let mut w = World::new(client, server, case)?;
    for ev in &case.events {
        w.apply(ev)?;
    }
    w.judge()
}

/// A group's property over the traits: `cases` worlds from a fixed seed,
/// the first failure shrunk (fewer steps than in-process: every case
/// starts processes or touches a real server).
pub fn run(
    group: Group,
    client: &ClientSpec,
    server: &ServerSpec,
    cases: u32,
    seed: u64,
    max_shrink_iters: u32,
) -> Verdict {
    let mut runner = super::runner(group, cases, seed, max_shrink_iters);
    let result = runner.run(
        &strategy(group, engine::Model::Reference),
        |case| match run_case(client, server, &case) {
            Ok(v) if v.is_empty() => Ok(()),
            Ok(v) => Err(TestCaseError::fail(v[0].invariant.name())),
            Err(e) => Err(TestCaseError::fail(format!("harness: {e}"))),
        },
    );
    match result {
        Ok(()) => Verdict::Pass { cases },
        Err(TestError::Fail(reason, case)) => match run_case(client, server, &case) {
            Ok(violations) if !violations.is_empty() => Verdict::Fail {
                case: Box::new(case),
                violations,
                likely: Vec::new(),
            },
            // A wall-clock target (a driver, a real server) may not repeat
            // a race: the failure happened, so it is reported as one.
            Ok(_) => Verdict::Fail {
                case: Box::new(case),
                violations: vec![fail(
                    Invariant::Convergence,
                    format!(
                        "{reason} (once; the shrunk case passed when run again: a wall-clock race)"
                    ),
                )],
                likely: Vec::new(),
            },
            Err(e) => Verdict::Error(e.to_string()),
        },
        Err(TestError::Abort(why)) => Verdict::Error(why.to_string()),
    }
}
