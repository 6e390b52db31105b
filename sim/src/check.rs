//! Invariants, separate from the workload (VOPR style). Each has a stable
//! name that reports, traces and tests share.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::device::DeviceState;
use crate::host::PROFILES;
use crate::world::{World, WriteKind};

/// The invariants, by their report names.
pub const INVARIANTS: [&str; 7] = [
    "convergence",
    "no-lost-write",
    "no-resurrection",
    "no-sync-duplicates",
    "stability",
    "profile-isolation",
    "cursor-completeness",
];

/// A broken invariant: its name, what is wrong, and the items involved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
    pub items: Vec<String>,
}

impl Violation {
    fn new(invariant: &'static str, detail: String, items: Vec<String>) -> Self {
        Self {
            invariant,
            detail,
            items,
        }
    }
}

/// The state of one item, as compared across server and devices.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub origin: String,
    pub kind: String,
    pub content: Option<String>,
    pub tags: Vec<String>,
    pub deleted: bool,
}

/// A value for a report line: long content (64 KiB items) is cut.
fn brief(v: &impl std::fmt::Debug) -> String {
    let s = format!("{v:?}");
    if s.chars().count() <= 240 {
        return s;
    }
    let head: String = s.chars().take(200).collect();
    format!("{head}… ({} chars)", s.chars().count())
}

impl Seen {
    /// Equal as far as sync is concerned: two tombstones are the same
    /// whatever content and tags they were deleted with.
    pub fn same(&self, other: &Seen) -> bool {
        (self.deleted && other.deleted && self.origin == other.origin) || self == other
    }
}

fn origin_of(meta: Option<&Value>) -> Option<String> {
    meta.and_then(|m| m.get("origin"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A server profile's items: server id → (state, version).
pub type ServerView = BTreeMap<String, (Seen, i64)>;
/// Every (server, profile) a device targets → its items.
type Targets = BTreeMap<(usize, usize), ServerView>;

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

/// Every item of a server profile, by server id.
pub fn server_items(world: &World, server: usize, profile: usize) -> ServerView {
    let req = world.list_request(server, profile);
    let mut out = BTreeMap::new();
    let Ok(resp) = world.servers[server].call(req) else {
        return out;
    };
    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    for it in v["items"].as_array().into_iter().flatten() {
        let meta = it.get("metadata");
        let tags = tags_of(it);
        let seen = Seen {
            origin: origin_of(meta).unwrap_or_else(|| "?".into()),
            kind: it["type"].as_str().unwrap_or_default().to_string(),
            content: it["content"].as_str().map(str::to_string),
            tags,
            deleted: it["deletedAt"].as_i64().unwrap_or(0) != 0,
        };
        let id = it["id"].as_str().unwrap_or_default().to_string();
        out.insert(id, (seen, it["version"].as_i64().unwrap_or(0)));
    }
    out
}

/// A device's items, keyed by the server id they are linked to for its
/// current server (`None`: never synced there).
pub fn device_items(state: &DeviceState) -> Vec<(Option<String>, Seen)> {
    state
        .items
        .iter()
        .map(|it| {
            let server_id = it
                .link
                .clone()
                .or_else(|| (!it.sync_id.is_empty()).then(|| it.sync_id.clone()));
            let seen = Seen {
                origin: it.origin.clone().unwrap_or_else(|| "?".into()),
                kind: it.kind.as_str().to_string(),
                content: it.content.clone(),
                tags: it.tags.clone(),
                deleted: it.deleted,
            };
            (server_id, seen)
        })
        .collect()
}

/// Origins of the device's live images it cannot bring to its current
/// server: not there (never linked, or lost in a restore), and their bytes
/// never fetched (they live on the server the device pulled them from). The engine holds them back
/// (`links::PENDING_WHERE`); convergence does not count them.
fn uncarried(state: &DeviceState, srv: &ServerView) -> BTreeSet<String> {
    state
        .items
        .iter()
        .filter(|it| !it.deleted && it.uncarriable)
        .filter(|it| !it.link.as_ref().is_some_and(|l| srv.contains_key(l)))
        .filter_map(|it| it.origin.clone())
        .collect()
}

/// Checks every invariant after healing. `stability` needs the summaries
/// of one more round, given by the caller.
pub fn check(world: &World, stability_round: &[Option<engine::Summary>]) -> Vec<Violation> {
    let mut out = Vec::new();
    // Every server profile, targeted now or not: a switch leaves data
    // behind that must still be duplicate-free and isolated.
    let server: Targets = (0..world.servers.len())
        .flat_map(|s| (0..PROFILES.len()).map(move |p| (s, p)))
        .map(|(s, p)| ((s, p), server_items(world, s, p)))
        .collect();

    for (dev, d) in world.devices.iter().enumerate() {
        let srv = &server[&(d.server, d.profile)];
        let state = world.observe(dev).unwrap_or_default();
        let held_back = uncarried(&state, srv);
        let mine: Vec<(Option<String>, Seen)> = device_items(&state)
            .into_iter()
            .filter(|(_, s)| !held_back.contains(&s.origin))
            .collect();
        // convergence: same live set, same content, tags and tombstones.
        let mut linked: BTreeMap<&str, &crate::check::Seen> = BTreeMap::new();
        for (sid, seen) in &mine {
            match sid {
                Some(sid) => {
                    linked.insert(sid.as_str(), seen);
                }
                None if !seen.deleted => out.push(Violation::new(
                    "convergence",
                    format!("{}: live item never reached the server", d.spec.name),
                    vec![seen.origin.clone()],
                )),
                None => {}
            }
        }
        for (sid, (s, _)) in srv {
            match linked.get(sid.as_str()) {
                None if !s.deleted => out.push(Violation::new(
                    "convergence",
                    format!(
                        "{} lacks server item {sid} ({})",
                        d.spec.name,
                        brief(&s.content)
                    ),
                    vec![s.origin.clone()],
                )),
                Some(l) if !l.same(s) => out.push(Violation::new(
                    "convergence",
                    format!("{} has {}, server has {}", d.spec.name, brief(l), brief(s)),
                    vec![s.origin.clone()],
                )),
                _ => {}
            }
        }
        for sid in linked.keys() {
            if !srv.contains_key(*sid)
                && mine
                    .iter()
                    .any(|(x, s)| x.as_deref() == Some(*sid) && !s.deleted)
            {
                out.push(Violation::new(
                    "convergence",
                    format!(
                        "{} links to server item {sid} the server does not have",
                        d.spec.name
                    ),
                    vec![sid.to_string()],
                ));
            }
        }
        // no-sync-duplicates: one live row per origin, on the device.
        let mut per_origin: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, s) in mine.iter().filter(|(_, s)| !s.deleted) {
            *per_origin.entry(&s.origin).or_default() += 1;
        }
        for (o, n) in per_origin.into_iter().filter(|(_, n)| *n > 1) {
            out.push(Violation::new(
                "no-sync-duplicates",
                format!("{} holds {n} live copies", d.spec.name),
                vec![o.to_string()],
            ));
        }
        // cursor-completeness: the reference engine's feed cursor never
        // passes a version it has not applied.
        if d.spec.model == engine::Model::Reference {
            if let Some(cursor) = state.cursor {
                for (sid, (s, v)) in srv {
                    if *v <= cursor
                        && linked.get(sid.as_str()).is_none_or(|l| !l.same(s))
                        && (!s.deleted || linked.contains_key(sid.as_str()))
                    {
                        out.push(Violation::new(
                            "cursor-completeness",
                            format!("{}: cursor {cursor} passed version {v} of {sid} without applying it", d.spec.name),
                            vec![s.origin.clone()],
                        ));
                    }
                }
            }
        }
    }

    for (&(s, p), items) in &server {
        // no-sync-duplicates on the server: one live row per origin.
        let mut per_origin: BTreeMap<&str, usize> = BTreeMap::new();
        for (seen, _) in items.values().filter(|(x, _)| !x.deleted) {
            *per_origin.entry(&seen.origin).or_default() += 1;
        }
        for (o, n) in per_origin.into_iter().filter(|(_, n)| *n > 1) {
            out.push(Violation::new(
                "no-sync-duplicates",
                format!("server s{s} profile {p} holds {n} live rows"),
                vec![o.to_string()],
            ));
        }
        // profile-isolation: every origin here was created for this server
        // profile or carried to it by a device that switched to it.
        for (seen, _) in items.values() {
            if let Some(ok) = world.allowed.get(&seen.origin) {
                if !ok.contains(&(s, p)) {
                    out.push(Violation::new(
                        "profile-isolation",
                        format!(
                            "server s{s} profile {p} holds an item only ever meant for {}",
                            ok.iter()
                                .map(|(s, p)| format!("s{s}/profile {p}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        vec![seen.origin.clone()],
                    ));
                }
            }
        }
    }

    out.extend(check_writes(world, &server));

    for (dev, sum) in stability_round.iter().enumerate() {
        match sum {
            Some(s) if s.pushed == 0 && s.pulled == 0 => {}
            Some(s) => out.push(Violation::new(
                "stability",
                format!(
                    "{}: one more sync after healing still did work ({s})",
                    world.devices[dev].spec.name
                ),
                Vec::new(),
            )),
            None => out.push(Violation::new(
                "stability",
                format!(
                    "{}: one more sync after healing failed",
                    world.devices[dev].spec.name
                ),
                Vec::new(),
            )),
        }
    }
    out.sort_by(|a, b| (a.invariant, &a.detail).cmp(&(b.invariant, &b.detail)));
    out.dedup();
    out
}

/// `no-lost-write` and `no-resurrection`, from the oracle's write log.
fn check_writes(world: &World, server: &Targets) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut by_origin: BTreeMap<&str, Vec<&crate::world::Write>> = BTreeMap::new();
    for w in &world.writes {
        by_origin.entry(&w.origin).or_default().push(w);
    }
    for (origin, writes) in by_origin {
        let creator = writes[0].dev;
        let d = &world.devices[creator];
        // Only judge items whose every writer targets the creator's
        // server and profile at the end (a switch moves the goalposts).
        let target = (d.server, d.profile);
        if writes
            .iter()
            .any(|w| (world.devices[w.dev].server, world.devices[w.dev].profile) != target)
        {
            continue;
        }
        let Some(items) = server.get(&target) else {
            continue;
        };
        let found: Vec<&Seen> = items
            .values()
            .map(|(s, _)| s)
            .filter(|s| s.origin == origin)
            .collect();
        let last = writes[writes.len() - 1];
        let single_writer = writes.iter().all(|w| w.dev == creator);
        let Some(now) = found.iter().find(|s| !s.deleted).or(found.first()) else {
            if last.what == WriteKind::Delete {
                continue; // deleted before it was ever synced: nothing to send
            }
            out.push(Violation::new(
                "no-lost-write",
                "created locally, never on the server".into(),
                vec![origin.to_string()],
            ));
            continue;
        };
        if single_writer {
            let expected = match &last.what {
                WriteKind::Delete => None,
                WriteKind::Create { content, tags } | WriteKind::Edit { content, tags } => {
                    Some((content, tags))
                }
            };
            let ok = match expected {
                None => now.deleted,
                Some((c, t)) => !now.deleted && &now.content == c && &now.tags == t,
            };
            if !ok {
                let rule = if expected.is_none() {
                    "no-resurrection"
                } else {
                    "no-lost-write"
                };
                out.push(Violation::new(
                    rule,
                    format!(
                        "only {} wrote it; its last write is {}, the server has {}",
                        world.devices[creator].spec.name,
                        brief(&last.what),
                        brief(now)
                    ),
                    vec![origin.to_string()],
                ));
            }
        } else if let WriteKind::Delete = last.what {
            // A delete that is both the last write and strictly the latest
            // edit by every clock must win everywhere. On an exact tie the
            // server keeps whichever row it stored first (docs/protocol.md),
            // so either outcome is right (found by the conformance suite).
            let newest_other = writes[..writes.len() - 1]
                .iter()
                .map(|w| w.edited_at)
                .max()
                .unwrap_or(i64::MIN);
            if last.edited_at > newest_other && !now.deleted {
                out.push(Violation::new(
                    "no-resurrection",
                    format!(
                        "deleted last (by {}), live on the server",
                        world.devices[last.dev].spec.name
                    ),
                    vec![origin.to_string()],
                ));
            }
        }
    }
    out
}
