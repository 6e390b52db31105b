//! Invariants, separate from the workload (VOPR style), judged on a
//! read-only `Observation` of the healed world and nothing else. Each has
//! a stable name (`Invariant`) that reports, traces and tests share.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::invariant::{Invariant, Violation};
pub use crate::observe::{server_items, tags_of, Seen, ServerView};
use crate::observe::{Cursor, DeviceItem, Observation};
use crate::oracle::{WriteKind, Writer};

/// A value for a report line: long content (64 KiB items) is cut.
fn brief(v: &impl std::fmt::Debug) -> String {
    let s = format!("{v:?}");
    if s.chars().count() <= 240 {
        return s;
    }
    let head: String = s.chars().take(200).collect();
    format!("{head}… ({} chars)", s.chars().count())
}

/// Checks every invariant on the healed world's observation.
pub fn check(obs: &Observation) -> Vec<Violation> {
    let mut out = Vec::new();
    let server = &obs.servers;
    for d in &obs.devices {
        let Some(srv) = server.get(&(d.server, d.profile)) else {
            continue;
        };
        let held_back: BTreeSet<&str> = d
            .items
            .iter()
            .filter(|i| i.held_back)
            .map(|i| i.seen.origin.as_str())
            .collect();
        let mine: Vec<&DeviceItem> = d
            .items
            .iter()
            .filter(|i| !held_back.contains(i.seen.origin.as_str()))
            .collect();
        // convergence: same live set, same content, tags and tombstones.
        let mut linked: BTreeMap<&str, &Seen> = BTreeMap::new();
        for it in &mine {
            match &it.server_id {
                Some(sid) => {
                    linked.insert(sid.as_str(), &it.seen);
                }
                None if !it.seen.deleted => out.push(Violation::new(
                    Invariant::Convergence,
                    format!("{}: live item never reached the server", d.name),
                    vec![it.seen.origin.clone()],
                )),
                None => {}
            }
        }
        for (sid, row) in srv {
            let s = &row.seen;
            match linked.get(sid.as_str()) {
                None if !s.deleted => out.push(Violation::new(
                    Invariant::Convergence,
                    format!("{} lacks server item {sid} ({})", d.name, brief(&s.content)),
                    vec![s.origin.clone()],
                )),
                Some(l) if !l.same(s) => out.push(Violation::new(
                    Invariant::Convergence,
                    format!("{} has {}, server has {}", d.name, brief(l), brief(s)),
                    vec![s.origin.clone()],
                )),
                _ => {}
            }
        }
        for sid in linked.keys() {
            if !srv.contains_key(*sid)
                && mine
                    .iter()
                    .any(|i| i.server_id.as_deref() == Some(*sid) && !i.seen.deleted)
            {
                out.push(Violation::new(
                    Invariant::Convergence,
                    format!(
                        "{} links to server item {sid} the server does not have",
                        d.name
                    ),
                    vec![sid.to_string()],
                ));
            }
        }
        // no-sync-duplicates: one live row per origin, on the device.
        let mut per_origin: BTreeMap<&str, usize> = BTreeMap::new();
        for it in mine.iter().filter(|i| !i.seen.deleted) {
            *per_origin.entry(&it.seen.origin).or_default() += 1;
        }
        for (o, n) in per_origin.into_iter().filter(|(_, n)| *n > 1) {
            out.push(Violation::new(
                Invariant::NoSyncDuplicates,
                format!("{} holds {n} live copies", d.name),
                vec![o.to_string()],
            ));
        }
        // cursor-completeness: a feed cursor (the reference engine's)
        // never passes a version it has not applied.
        if let Cursor::Feed(cursor) = d.cursor {
            for (sid, row) in srv {
                let (s, v) = (&row.seen, row.version);
                if v <= cursor
                    && linked.get(sid.as_str()).is_none_or(|l| !l.same(s))
                    && (!s.deleted || linked.contains_key(sid.as_str()))
                {
                    out.push(Violation::new(
                        Invariant::CursorCompleteness,
                        format!(
                            "{}: cursor {cursor} passed version {v} of {sid} without applying it",
                            d.name
                        ),
                        vec![s.origin.clone()],
                    ));
                }
            }
        }
    }

    for (&(s, p), items) in server {
        // no-sync-duplicates on the server: one live row per origin.
        let mut per_origin: BTreeMap<&str, usize> = BTreeMap::new();
        for row in items.values().filter(|r| !r.seen.deleted) {
            *per_origin.entry(&row.seen.origin).or_default() += 1;
        }
        for (o, n) in per_origin.into_iter().filter(|(_, n)| *n > 1) {
            out.push(Violation::new(
                Invariant::NoSyncDuplicates,
                format!("server s{s} profile {p} holds {n} live rows"),
                vec![o.to_string()],
            ));
        }
        // profile-isolation: every origin here was created for this server
        // profile or carried to it by a device that switched to it.
        for row in items.values() {
            if let Some(ok) = obs.allowed.get(&row.seen.origin) {
                if !ok.contains(&(s, p)) {
                    out.push(Violation::new(
                        Invariant::ProfileIsolation,
                        format!(
                            "server s{s} profile {p} holds an item only ever meant for {}",
                            ok.iter()
                                .map(|(s, p)| format!("s{s}/profile {p}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        vec![row.seen.origin.clone()],
                    ));
                }
            }
        }
    }

    // profile-isolation: nothing in the world targets a server's default
    // profile, so whatever is there was filed under a profile its writer
    // did not name (the silent fallback of D16).
    for (s, rows) in &obs.strays {
        for row in rows.values() {
            out.push(Violation::new(
                Invariant::ProfileIsolation,
                format!("server s{s}'s default profile, which nothing targets, holds an item"),
                vec![row.seen.origin.clone()],
            ));
        }
    }

    out.extend(check_writes(obs));

    for (d, sum) in obs.devices.iter().zip(&obs.stability) {
        match sum {
            Some(s) if s.pushed == 0 && s.pulled == 0 => {}
            Some(s) => out.push(Violation::new(
                Invariant::Stability,
                format!(
                    "{}: one more sync after healing still did work ({s})",
                    d.name
                ),
                Vec::new(),
            )),
            None => out.push(Violation::new(
                Invariant::Stability,
                format!("{}: one more sync after healing failed", d.name),
                Vec::new(),
            )),
        }
    }
    // no-redundant-transfer: judged on the wire, not on end states (which
    // an echo applied again, or a page re-sent on every pull, leave right).
    for (d, moved) in obs.devices.iter().zip(&obs.last_round) {
        if moved.items() > 0 {
            out.push(Violation::new(
                Invariant::NoRedundantTransfer,
                format!(
                    "{}: one more sync after healing moved items ({moved})",
                    d.name
                ),
                Vec::new(),
            ));
        }
    }
    for &(dev, t, excess) in &obs.reapplied {
        let name = obs.devices.get(dev).map_or("?", |d| d.name.as_str());
        out.push(Violation::new(
            Invariant::NoRedundantTransfer,
            format!(
                "{name}: a sync ending at t={t} ms applied {excess} pulled item(s) as news that it had already been handed"
            ),
            Vec::new(),
        ));
    }
    out.sort_by(|a, b| (a.invariant, &a.detail).cmp(&(b.invariant, &b.detail)));
    out.dedup();
    out
}

/// Where a writer's writes are meant to end up: a device's server profile
/// at the end, an API writer's own.
fn target_of(obs: &Observation, by: Writer) -> (usize, usize) {
    match by {
        Writer::Device(d) => (obs.devices[d].server, obs.devices[d].profile),
        Writer::Api { server, profile } => (server, profile),
    }
}

/// `no-lost-write` and `no-resurrection`, from the oracle's write log.
fn check_writes(obs: &Observation) -> Vec<Violation> {
    let mut out = Vec::new();
    let server = &obs.servers;
    let mut by_origin: BTreeMap<&str, Vec<&crate::world::Write>> = BTreeMap::new();
    for w in &obs.writes {
        by_origin.entry(&w.origin).or_default().push(w);
    }
    let writer = |by: Writer| match by {
        Writer::Device(d) => obs.devices[d].name.clone(),
        Writer::Api { server, profile } => format!("the API writer on s{server}/profile {profile}"),
    };
    for (origin, writes) in by_origin {
        let creator = writes[0].by;
        // Only judge items whose every writer targets the creator's
        // server and profile at the end (a switch moves the goalposts).
        let target = target_of(obs, creator);
        if writes.iter().any(|w| target_of(obs, w.by) != target) {
            continue;
        }
        // A write straight to the server that a restore or a deleted
        // profile took back is gone for good unless a device had pulled
        // it: not judged (convergence still is).
        if writes.iter().any(|w| {
            matches!(w.by, Writer::Api { .. })
                && obs.lost_after.get(&target).is_some_and(|&t| t >= w.at)
        }) {
            continue;
        }
        let Some(items) = server.get(&target) else {
            continue;
        };
        let found: Vec<&Seen> = items
            .values()
            .map(|r| &r.seen)
            .filter(|s| s.origin == origin)
            .collect();
        let last = writes[writes.len() - 1];
        let single_writer = writes.iter().all(|w| w.by == creator);
        let Some(now) = found.iter().find(|s| !s.deleted).or(found.first()) else {
            if last.what == WriteKind::Delete {
                continue; // deleted before it was ever synced: nothing to send
            }
            out.push(Violation::new(
                Invariant::NoLostWrite,
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
                    Invariant::NoResurrection
                } else {
                    Invariant::NoLostWrite
                };
                out.push(Violation::new(
                    rule,
                    format!(
                        "only {} wrote it; its last write is {}, the server has {}",
                        writer(creator),
                        brief(&last.what),
                        brief(now)
                    ),
                    vec![origin.to_string()],
                ));
            }
        } else if let WriteKind::Create { content, tags } | WriteKind::Edit { content, tags } =
            &last.what
        {
            // The same for a device's edit: the last write, strictly the
            // latest by every clock, is what every concurrent or
            // later-based write loses to (baseVersion + editedAt), so the
            // server holds it. Not for a writer outside sync: `PATCH` tags
            // and a merged re-save change tags only, and a concurrent edit
            // of the content, or a delete, rightly keeps its part.
            let newest_other = writes[..writes.len() - 1]
                .iter()
                .map(|w| w.edited_at)
                .max()
                .unwrap_or(i64::MIN);
            if matches!(last.by, Writer::Device(_))
                && last.edited_at > newest_other
                && (now.deleted || &now.content != content || &now.tags != tags)
            {
                out.push(Violation::new(
                    Invariant::NoLostWrite,
                    format!(
                        "edited last (by {}), latest by every clock, to {}; the server has {}",
                        writer(last.by),
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
                    Invariant::NoResurrection,
                    format!("deleted last (by {}), live on the server", writer(last.by)),
                    vec![origin.to_string()],
                ));
            }
        }
    }
    out
}
