//! A trace read into what the picture shows: lanes (devices, then
//! servers), rows in trace order each with its true time, the items each
//! row touches, the violations, and the folds a long trace is cut into.
//! Drawing (`super::draw`) only lays this out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::text;
use crate::config::{WorldConfig, EPOCH_MS};
use crate::event::Event;
use crate::session::{AppliedFault, Exchange, Line, Session};
use crate::trace::TraceEvent;
use crate::vclock::ClockShape;

/// One vertical line of the picture.
#[derive(Debug, Clone)]
pub struct Lane {
    pub name: String,
    /// Model and clock, a line each (`electron`, `clock +139 ms`).
    pub note: String,
    pub server: bool,
}

/// What kind of mark a row puts on a lane: its colour and symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A local write (create, edit, delete, tag).
    Op,
    /// A sync starting or ending well.
    Sync,
    /// A sync that ended in an error, or a refused operation.
    Error,
    /// A fault: partition, crash, server restart or restore.
    Fault,
    /// A clock jump.
    Clock,
    /// A server backup, a switch: bookkeeping worth seeing.
    Note,
}

impl Mark {
    pub fn class(self) -> &'static str {
        match self {
            Mark::Op => "m-op",
            Mark::Sync => "m-sync",
            Mark::Error => "m-err",
            Mark::Fault => "m-fault",
            Mark::Clock => "m-clock",
            Mark::Note => "m-note",
        }
    }

    /// The symbol drawn on the lane: shape carries the meaning in black
    /// and white too.
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Op => "●",
            Mark::Sync => "▸",
            Mark::Error => "✖",
            Mark::Fault => "⚡",
            Mark::Clock => "◔",
            Mark::Note => "◆",
        }
    }
}

/// One exchange, ready to draw.
#[derive(Debug, Clone)]
pub struct Arrow {
    pub seq: u64,
    pub dev: usize,
    /// Lane index of the server.
    pub srv: usize,
    /// `GET /items/changes ?after=4` (decoded, ids short).
    pub request: String,
    /// The request body in a few words (may be empty).
    pub request_body: String,
    pub status: Option<u16>,
    /// The answer body in a few words, or the error the device saw.
    pub response: String,
    pub fault: Option<AppliedFault>,
    pub delivered: u32,
    /// Everything, in full, for the details table.
    pub full: String,
}

impl Arrow {
    /// The answer is bad news: an error status, no answer, a fault.
    pub fn bad(&self) -> bool {
        self.fault.is_some() || self.status.is_none_or(|s| s >= 400)
    }

    /// The label of the answer arrow: `200 · 3 items…`, `× lost`.
    pub fn response_label(&self) -> String {
        let status = match (self.status, self.fault) {
            (_, Some(AppliedFault::RequestLost)) => "× request lost".to_string(),
            (_, Some(AppliedFault::Partitioned)) => "× not sent (partitioned)".to_string(),
            (Some(s), Some(AppliedFault::ResponseLost)) => format!("× {s} lost on the way back"),
            (Some(s), Some(AppliedFault::Duplicate)) => format!("{s} (delivered twice)"),
            (Some(s), Some(AppliedFault::ServerError)) => format!("{s} from the proxy"),
            (Some(s), _) => s.to_string(),
            (None, _) => "× no answer".to_string(),
        };
        if self.response.is_empty() {
            status
        } else {
            format!("{status} · {}", self.response)
        }
    }
}

#[derive(Debug, Clone)]
pub enum RowKind {
    Exchange(Box<Arrow>),
    /// A mark on one lane.
    Mark {
        lane: usize,
        mark: Mark,
        text: String,
    },
    /// A line across every lane (heal, an unknown event).
    Across {
        text: String,
    },
}

#[derive(Debug, Clone)]
pub struct Row {
    /// True time, ms since the world began (estimated for exchanges from
    /// the server clock).
    pub t: i64,
    pub kind: RowKind,
    /// Item origins this row touches (`d0-c1`).
    pub items: BTreeSet<String>,
    /// Devices cut off (partitioned) while this row happens.
    pub partitioned: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: String,
    pub detail: String,
    pub items: Vec<String>,
    /// Rows touching any of its items.
    pub rows: Vec<usize>,
}

/// A run of rows drawn (and folded) together.
#[derive(Debug, Clone)]
pub struct Fold {
    pub rows: std::ops::Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Picture {
    pub lanes: Vec<Lane>,
    pub devices: usize,
    pub rows: Vec<Row>,
    pub violations: Vec<Violation>,
    pub folds: Vec<Fold>,
    /// The instant of t = 0 (ms since the epoch).
    pub epoch: i64,
    /// `seed 7, 4 devices (electron)…`, when the trace has its world.
    pub title: String,
    pub exchanges: usize,
}

/// Rows per fold at most, and the fewest worth a fold of their own.
const FOLD_MAX: usize = 60;
const FOLD_MIN: usize = 12;
/// A trace this short is one open fold.
const SMALL: usize = 120;

impl Picture {
    pub fn read(session: &Session) -> Picture {
        let world: Option<WorldConfig> = session
            .header
            .world
            .clone()
            .and_then(|w| serde_json::from_value(w).ok());
        let raw_world = session.header.world.clone().unwrap_or(Value::Null);
        let mut names: Vec<String> = raw_world["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str().map(str::to_string))
            .collect();
        for x in session.exchanges() {
            if !names.contains(&x.device) {
                names.push(x.device.clone());
            }
        }
        let devices = names.len();
        let mut server_names: Vec<String> = (0..raw_world["servers"].as_u64().unwrap_or(0))
            .map(|s| format!("s{s}"))
            .collect();
        for x in session.exchanges() {
            let s = x.server.clone().unwrap_or_else(|| "server".into());
            if !server_names.contains(&s) {
                server_names.push(s);
            }
        }
        if server_names.is_empty() {
            server_names.push("server".into());
        }
        let mut lanes: Vec<Lane> = names
            .iter()
            .enumerate()
            .map(|(i, n)| Lane {
                name: n.clone(),
                note: world
                    .as_ref()
                    .and_then(|w| w.devices.get(i))
                    .map(|d| format!("{}\nclock {}", d.model.name(), clock_words(&d.clock)))
                    .unwrap_or_default(),
                server: false,
            })
            .collect();
        lanes.extend(server_names.iter().map(|n| {
            Lane {
                name: if n == "server" {
                    n.clone()
                } else {
                    format!("server {n}")
                },
                note: world
                    .as_ref()
                    .map(|w| format!("clock {}", clock_words(&w.server_clock)))
                    .unwrap_or_default(),
                server: true,
            }
        }));

        let first_at = session.exchanges().find_map(|x| x.at);
        let epoch = if world.is_some() {
            EPOCH_MS
        } else {
            first_at.unwrap_or(0)
        };
        let mut r = Reader {
            names: &names,
            servers: &server_names,
            devices,
            world: world.as_ref(),
            epoch,
            rows: Vec::new(),
            violations: Vec::new(),
            t: 0,
            creates: BTreeMap::new(),
            last_dev: None,
            id_origin: BTreeMap::new(),
            partitions: BTreeMap::new(),
            skews: BTreeMap::new(),
            jumps: pending_jumps(world.as_ref(), devices),
            exchanges: 0,
        };
        for line in &session.lines {
            r.line(line);
        }
        let Reader {
            mut rows,
            mut violations,
            exchanges,
            ..
        } = r;
        for v in &mut violations {
            v.rows = rows
                .iter()
                .enumerate()
                .filter(|(_, row)| v.items.iter().any(|i| row.items.contains(i)))
                .map(|(n, _)| n)
                .collect();
        }
        // Items of no violation are not worth a highlight.
        let flagged: BTreeSet<&String> = violations.iter().flat_map(|v| &v.items).collect();
        for row in &mut rows {
            row.items.retain(|i| flagged.contains(i));
        }
        let folds = folds(&rows);
        let title = world.as_ref().map_or_else(
            || {
                format!(
                    "a {} session, {} device(s)",
                    session.header.recorder.mode, devices
                )
            },
            |w| {
                let mut models: Vec<&str> = w.devices.iter().map(|d| d.model.name()).collect();
                models.dedup();
                format!(
                    "seed {}, {} device(s) ({}), {} server(s)",
                    w.seed,
                    w.devices.len(),
                    models.join(", "),
                    w.servers
                )
            },
        );
        Picture {
            lanes,
            devices,
            rows,
            violations,
            folds,
            epoch,
            title,
            exchanges,
        }
    }
}

/// A clock shape in a few words.
fn clock_words(c: &ClockShape) -> String {
    match *c {
        ClockShape::Offset { offset_ms } => text::skew(offset_ms),
        ClockShape::Drift { offset_ms, ppm } => {
            format!("{}, drifts {ppm} ppm", text::skew(offset_ms))
        }
        ClockShape::Jump {
            offset_ms,
            at_ms,
            jump_ms,
        } => format!(
            "{}, jumps {} at {}",
            text::skew(offset_ms),
            text::skew(jump_ms),
            text::offset(at_ms)
        ),
        ClockShape::Periodic {
            offset_ms, amp_ms, ..
        } => format!(
            "{}, swings ±{}",
            text::skew(offset_ms),
            text::skew(amp_ms / 2)
        ),
        ClockShape::Noisy {
            offset_ms, amp_ms, ..
        } => format!("{}, jitters ±{}", text::skew(offset_ms), text::skew(amp_ms)),
    }
}

/// The clock jumps of the world's shapes, by time: (t, lane, jump).
fn pending_jumps(world: Option<&WorldConfig>, devices: usize) -> Vec<(i64, usize, i64)> {
    let Some(w) = world else {
        return Vec::new();
    };
    let mut v: Vec<(i64, usize, i64)> = w
        .devices
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match d.clock {
            ClockShape::Jump { at_ms, jump_ms, .. } => Some((at_ms, i, jump_ms)),
            _ => None,
        })
        .collect();
    if let ClockShape::Jump { at_ms, jump_ms, .. } = w.server_clock {
        v.extend((0..w.servers).map(|s| (at_ms, devices + s, jump_ms)));
    }
    v.sort();
    v.reverse(); // popped from the end, earliest first
    v
}

struct Reader<'a> {
    names: &'a [String],
    servers: &'a [String],
    devices: usize,
    world: Option<&'a WorldConfig>,
    epoch: i64,
    rows: Vec<Row>,
    violations: Vec<Violation>,
    /// The latest true time seen.
    t: i64,
    /// Creates per device so far: the next origin (`workload::origin`).
    creates: BTreeMap<usize, u64>,
    /// The device of the latest workload event (a refusal is its).
    last_dev: Option<usize>,
    /// Server ids seen beside an origin.
    id_origin: BTreeMap<String, String>,
    /// Partitioned devices and when their partition ends.
    partitions: BTreeMap<usize, i64>,
    /// Each device's last clock skew (sessions without a world).
    skews: BTreeMap<usize, i64>,
    jumps: Vec<(i64, usize, i64)>,
    exchanges: usize,
}

impl Reader<'_> {
    fn push(&mut self, t: i64, kind: RowKind, items: BTreeSet<String>) {
        self.jumps_until(t);
        self.partitions.retain(|_, end| *end > t);
        self.rows.push(Row {
            t,
            kind,
            items,
            partitioned: self.partitions.keys().copied().collect(),
        });
    }

    /// Marks the clock jumps due by `t`.
    fn jumps_until(&mut self, t: i64) {
        while self.jumps.last().is_some_and(|j| j.0 <= t) {
            let Some((at, lane, jump)) = self.jumps.pop() else {
                break;
            };
            self.rows.push(Row {
                t: at,
                kind: RowKind::Mark {
                    lane,
                    mark: Mark::Clock,
                    text: format!("clock jumps {}", text::skew(jump)),
                },
                items: BTreeSet::new(),
                partitioned: self.partitions.keys().copied().collect(),
            });
        }
    }

    fn mark(&mut self, t: i64, lane: usize, mark: Mark, text: String, items: BTreeSet<String>) {
        self.t = self.t.max(t);
        self.push(t, RowKind::Mark { lane, mark, text }, items);
    }

    fn next_origin(&mut self, dev: usize) -> String {
        let n = self.creates.entry(dev).or_default();
        *n += 1;
        let name = self
            .names
            .get(dev)
            .cloned()
            .unwrap_or_else(|| format!("d{dev}"));
        crate::workload::origin(&name, *n)
    }

    fn line(&mut self, line: &Line) {
        match line {
            Line::Header(_) => {}
            Line::Exchange(x) => self.exchange(x),
            Line::Event(ev) => self.event(ev),
        }
    }

    fn event(&mut self, ev: &TraceEvent) {
        let one = |s: String| BTreeSet::from([s]);
        match ev {
            TraceEvent::Event { t, event } => {
                self.last_dev = event.device();
                let (dev, words, items) = match event {
                    Event::Create {
                        dev, kind, tags, ..
                    } => {
                        let o = self.next_origin(*dev);
                        let tags = if tags.is_empty() {
                            String::new()
                        } else {
                            format!(" [{}]", tags.join(","))
                        };
                        (
                            *dev,
                            format!("create {o} {}{tags}", kind_name(*kind)),
                            one(o),
                        )
                    }
                    Event::CreateSame { dev, other, kind } => {
                        let a = self.next_origin(*dev);
                        let b = self.next_origin(*other);
                        let k = kind_name(*kind);
                        if other == dev {
                            let text = format!("create {a} and {b} {k} (the same)");
                            let items = BTreeSet::from([a, b]);
                            (*dev, text, items)
                        } else {
                            // Both devices' creates, each on its lane.
                            self.mark(
                                *t,
                                *dev,
                                Mark::Op,
                                format!("create {a} {k} (same as {b})"),
                                one(a.clone()),
                            );
                            (*other, format!("create {b} {k} (same as {a})"), one(b))
                        }
                    }
                    Event::CreateLarge { dev } => {
                        let o = self.next_origin(*dev);
                        (*dev, format!("create {o} text (64 KiB)"), one(o))
                    }
                    Event::Edit { dev, .. } => (*dev, "edit an item".into(), BTreeSet::new()),
                    Event::Delete { dev, .. } => (*dev, "delete an item".into(), BTreeSet::new()),
                    Event::Tag { dev, tag, .. } => {
                        (*dev, format!("tag an item “{tag}”"), BTreeSet::new())
                    }
                    Event::Untag { dev, .. } => (*dev, "untag an item".into(), BTreeSet::new()),
                    Event::Sync { dev } => (*dev, "sync starts".into(), BTreeSet::new()),
                    // Drawn by the lines that follow them (an exchange, a
                    // crash, a fault, a switch, a server event), or by the
                    // time axis (a wait).
                    _ => {
                        self.t = self.t.max(*t);
                        return;
                    }
                };
                let mark = if matches!(event, Event::Sync { .. }) {
                    Mark::Sync
                } else {
                    Mark::Op
                };
                self.mark(*t, dev, mark, words, items);
            }
            TraceEvent::Refused { t, error } => {
                let lane = self.last_dev.unwrap_or(0);
                self.mark(
                    *t,
                    lane,
                    Mark::Error,
                    format!("refused: {error}"),
                    BTreeSet::new(),
                );
            }
            // A crash kills the process, not the network: a partition
            // goes on past it.
            TraceEvent::Crash { t, dev } => {
                self.mark(
                    *t,
                    *dev,
                    Mark::Fault,
                    "crash (the process dies)".into(),
                    BTreeSet::new(),
                );
            }
            TraceEvent::Fault { t, dev, fault, ms } => {
                self.mark(
                    *t,
                    *dev,
                    Mark::Fault,
                    format!("{fault} for {}", text::skew(*ms).trim_start_matches('+')),
                    BTreeSet::new(),
                );
                self.partitions.insert(*dev, t + ms);
            }
            TraceEvent::Switch {
                t,
                dev,
                server,
                profile,
            } => self.mark(
                *t,
                *dev,
                Mark::Note,
                format!("now syncs with s{server}, profile {profile}"),
                BTreeSet::new(),
            ),
            TraceEvent::ServerRestart { t, server } => self.mark(
                *t,
                self.devices + server,
                Mark::Fault,
                "restart".into(),
                BTreeSet::new(),
            ),
            TraceEvent::ServerBackup {
                t, server, backup, ..
            } => self.mark(
                *t,
                self.devices + server,
                Mark::Note,
                format!("backup {backup}"),
                BTreeSet::new(),
            ),
            TraceEvent::ServerRestore { t, server, backup } => self.mark(
                *t,
                self.devices + server,
                Mark::Fault,
                format!("restored from {backup}"),
                BTreeSet::new(),
            ),
            TraceEvent::SyncError { t, dev, error } => self.mark(
                *t,
                *dev,
                Mark::Error,
                format!("sync failed: {error}"),
                BTreeSet::new(),
            ),
            TraceEvent::SyncDone { t, dev, summary } => self.mark(
                *t,
                *dev,
                Mark::Sync,
                format!("done: {}", text::sync_summary(summary)),
                BTreeSet::new(),
            ),
            TraceEvent::Heal { t } => {
                self.partitions.clear();
                self.t = self.t.max(*t);
                self.push(
                    *t,
                    RowKind::Across {
                        text: "heal: partitions end, faults stop, every device syncs to the end"
                            .into(),
                    },
                    BTreeSet::new(),
                );
            }
            TraceEvent::Violation {
                invariant,
                detail,
                items,
            } => self.violations.push(Violation {
                invariant: invariant.to_string(),
                detail: detail.clone(),
                items: items.clone(),
                rows: Vec::new(),
            }),
            TraceEvent::Other(m) => {
                let t = m.get("t").and_then(Value::as_i64).unwrap_or(self.t);
                let text = serde_json::to_string(m).unwrap_or_default();
                self.push(t, RowKind::Across { text }, BTreeSet::new());
            }
        }
    }

    /// The true time of an exchange: its server time less the server
    /// clock's offset near the latest event, never before that event.
    fn exchange_t(&self, x: &Exchange) -> i64 {
        let Some(at) = x.at else {
            return self.t;
        };
        let offset = self.world.map_or(0, |w| w.server_clock.offset_at(self.t));
        (at - self.epoch - offset).max(self.t)
    }

    fn exchange(&mut self, x: &Exchange) {
        self.exchanges += 1;
        let dev = self.names.iter().position(|d| *d == x.device).unwrap_or(0);
        let srv = self
            .servers
            .iter()
            .position(|s| Some(s) == x.server.as_ref())
            .unwrap_or(0);
        let t = self.exchange_t(x);
        // What items it touches: origins in either body, and server ids
        // that an earlier body paired with an origin (image paths, ids).
        let req = x.request.body.json().unwrap_or(Value::Null);
        let resp = x
            .response
            .as_ref()
            .and_then(|r| r.body.json())
            .unwrap_or(Value::Null);
        self.learn_ids(&req, &resp);
        let mut items: BTreeSet<String> = text::origins(&req).into_iter().collect();
        items.extend(text::origins(&resp));
        let mut ids = text::ids(&resp);
        ids.extend(text::ids(&req));
        for seg in x.request.path.split('/') {
            ids.insert(seg.to_string());
        }
        for id in &ids {
            if let Some(o) = self.id_origin.get(id) {
                items.insert(o.clone());
            }
        }
        // Without a world, a jump of a device's clock shows as a jump of
        // its skew between two of its requests.
        if self.world.is_none() {
            if let (Some(c), Some(at)) = (x.clock, x.at) {
                let skew = c - at;
                if let Some(prev) = self.skews.insert(dev, skew) {
                    if (skew - prev).abs() >= 60_000 {
                        self.mark(
                            t,
                            dev,
                            Mark::Clock,
                            format!("clock jumped {}", text::skew(skew - prev)),
                            BTreeSet::new(),
                        );
                    }
                }
            }
        }
        let status = x.response.as_ref().map(|r| r.status);
        let response = match (&x.response, &x.error) {
            (Some(r), _) => text::response_body(&r.body),
            (None, Some(e)) => e.clone(),
            (None, None) => String::new(),
        };
        let mut full = format!(
            "#{} {} → {}: {}",
            x.seq,
            x.device,
            x.server.as_deref().unwrap_or("server"),
            text::request_full(&x.request)
        );
        if let Some(at) = x.at {
            full.push_str(&format!("\nserver time {}", text::instant(at)));
            if let Some(c) = x.clock {
                full.push_str(&format!(", device clock {}", text::skew(c - at)));
            }
        }
        let rb = text::request_body(&x.request.body);
        if !rb.is_empty() {
            full.push_str(&format!("\nrequest: {rb}"));
        }
        if let Some(f) = x.fault {
            full.push_str(&format!("\nfault: {f} (delivered {}×)", x.delivered));
        }
        match (status, &x.error) {
            (Some(s), _) => full.push_str(&format!("\nanswer: {s} {response}")),
            (None, _) => full.push_str("\nno answer"),
        }
        if let Some(e) = &x.error {
            full.push_str(&format!("\nthe device saw: {e}"));
        }
        let arrow = Arrow {
            seq: x.seq,
            dev,
            srv: self.devices + srv,
            request: text::request_short(&x.request),
            request_body: rb,
            status,
            response,
            fault: x.fault,
            delivered: x.delivered,
            full,
        };
        self.push(t, RowKind::Exchange(Box::new(arrow)), items);
    }

    /// Pairs server ids with origins: a pushed item's answer (`results`
    /// by index, or the one `id` of a single push) and any item object
    /// with both an `id` and an origin.
    fn learn_ids(&mut self, req: &Value, resp: &Value) {
        for v in [req, resp] {
            text::walk(v, &mut |o| {
                if let (Some(id), Some(origin)) = (
                    o.get("id").and_then(Value::as_str),
                    text::origins(o).first().cloned(),
                ) {
                    self.id_origin.entry(id.to_string()).or_insert(origin);
                }
            });
        }
        let pushed = text::origins(req);
        if let Some(results) = resp.get("results").and_then(Value::as_array) {
            let items = req.get("items").and_then(Value::as_array);
            for (i, r) in results.iter().enumerate() {
                let index = r["index"].as_u64().map_or(i, |n| n as usize);
                let origin = items
                    .and_then(|a| a.get(index))
                    .and_then(|it| text::origins(it).first().cloned());
                if let (Some(id), Some(o)) = (r["id"].as_str(), origin) {
                    self.id_origin.entry(id.to_string()).or_insert(o);
                }
            }
        } else if let (Some(id), [o]) = (resp.get("id").and_then(Value::as_str), pushed.as_slice())
        {
            self.id_origin.entry(id.to_string()).or_insert(o.clone());
        }
    }
}

fn kind_name(k: crate::event::Kind) -> &'static str {
    match k {
        crate::event::Kind::Url => "url",
        crate::event::Kind::Text => "text",
        crate::event::Kind::Tagset => "tagset",
        crate::event::Kind::Image => "image",
    }
}

/// Cuts the rows into folds: a short trace is one; a long one is cut
/// where no sync is running, into folds of `FOLD_MIN` to `FOLD_MAX` rows
/// (longer busy stretches are cut at `FOLD_MAX`).
fn folds(rows: &[Row]) -> Vec<Fold> {
    if rows.len() <= SMALL {
        return vec![Fold {
            rows: 0..rows.len(),
        }];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut running: BTreeSet<usize> = BTreeSet::new();
    for (i, row) in rows.iter().enumerate() {
        if let RowKind::Mark { lane, mark, text } = &row.kind {
            if *mark == Mark::Sync && text.starts_with("sync starts") {
                running.insert(*lane);
            } else if text.starts_with("done:")
                || text.starts_with("sync failed")
                || text.starts_with("crash")
            {
                running.remove(lane);
            }
        }
        let len = i + 1 - start;
        if (running.is_empty() && len >= FOLD_MIN) || len >= FOLD_MAX {
            out.push(Fold { rows: start..i + 1 });
            start = i + 1;
        }
    }
    if start < rows.len() {
        out.push(Fold {
            rows: start..rows.len(),
        });
    }
    out
}
