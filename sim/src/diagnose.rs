//! Which documented bug (D-numbers, `docs/original-system.md` §4.7) a
//! failure most likely reproduces, computed from what happened: rules over
//! the healed world's `Observation` and the run's trace, each looking for
//! the signature of one known mechanism. No rule looks at which model ran,
//! so a failure of the reference engine is diagnosed by the same evidence
//! (and usually matches nothing: a new bug).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::check::{self, Invariant, Violation};
use crate::config::WorldConfig;
use crate::event::Event;
use crate::observe::{Cursor, Observation};
use crate::session::{Exchange, Line, Session};
use crate::trace::TraceEvent;
use crate::world::{World, WorldError, WriteKind};

/// One likely cause, with the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// `D8`.
    pub d: &'static str,
    /// The mechanism, in a few words.
    pub bug: &'static str,
    /// What was seen in this run.
    pub seen: String,
    /// The origins involved (as in `Violation::items`).
    pub items: Vec<String>,
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "likely {} ({}): {}", self.d, self.bug, self.seen)
    }
}

/// What the trace says one device did.
struct Lane<'a> {
    exchanges: Vec<&'a Exchange>,
    switched: bool,
}

fn is_pull(x: &Exchange) -> bool {
    x.request.method == "GET"
        && (x.request.path == "/items" || x.request.path.starts_with("/items/since"))
}

fn is_full_pull(x: &Exchange) -> bool {
    x.request.method == "GET" && x.request.path == "/items"
}

/// The server ids an answer carried.
fn ids_in(x: &Exchange) -> Vec<String> {
    let Some(body) = x.response.as_ref().and_then(|r| r.body.body.as_ref()) else {
        return Vec::new();
    };
    body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|it| it["id"].as_str().map(str::to_string))
        .collect()
}

fn query_param<'a>(x: &'a Exchange, key: &str) -> Option<&'a str> {
    x.request
        .query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn body_mentions(x: &Exchange, needle: &str) -> bool {
    x.request
        .body
        .body
        .as_ref()
        .is_some_and(|b| b.to_string().contains(needle))
}

fn lanes<'a>(obs: &Observation, trace: &'a Session) -> Vec<Lane<'a>> {
    let mut out: Vec<Lane<'a>> = obs
        .devices
        .iter()
        .map(|_| Lane {
            exchanges: Vec::new(),
            switched: false,
        })
        .collect();
    for line in &trace.lines {
        match line {
            Line::Exchange(x) => {
                if let Some(i) = obs.devices.iter().position(|d| d.name == x.device) {
                    out[i].exchanges.push(x);
                }
            }
            Line::Event(TraceEvent::Switch { dev, .. }) => {
                if let Some(l) = out.get_mut(*dev) {
                    l.switched = true;
                }
            }
            _ => {}
        }
    }
    out
}

/// Every rule's findings for a run that broke `violations`.
pub fn diagnose(obs: &Observation, trace: &Session, violations: &[Violation]) -> Vec<Diagnosis> {
    let lanes = lanes(obs, trace);
    let broken: BTreeSet<Invariant> = violations.iter().map(|v| v.invariant).collect();
    let mut out = Vec::new();
    if broken.contains(&Invariant::Convergence) || broken.contains(&Invariant::NoLostWrite) {
        out.extend(cursor_passed_a_change(obs, &lanes));
    }
    if broken.contains(&Invariant::NoResurrection) || broken.contains(&Invariant::Convergence) {
        out.extend(deletes(obs));
    }
    if broken.contains(&Invariant::NoSyncDuplicates) {
        out.extend(copies_after_a_reset(obs, &lanes));
    }
    if [
        Invariant::ProfileIsolation,
        Invariant::NoLostWrite,
        Invariant::Convergence,
    ]
    .iter()
    .any(|i| broken.contains(i))
    {
        out.extend(profile_targeting(obs, &lanes));
    }
    if broken.contains(&Invariant::NoLostWrite) || broken.contains(&Invariant::Convergence) {
        out.extend(lost_writes(obs, &lanes));
    }
    if broken.contains(&Invariant::Stability) {
        out.extend(unstable(obs, &lanes));
    }
    let mut seen = BTreeSet::new();
    out.retain(|d| seen.insert((d.d, d.items.clone())));
    out
}

/// D8, D9, D6: a device's timestamp cursor is at or past the server time
/// of a change it never received. Which bug depends on when the cursor was
/// taken: at a request whose device clock was ahead of the server (D8), at
/// the very millisecond of the change (D9), or after the sync's pull (D6).
fn cursor_passed_a_change(obs: &Observation, lanes: &[Lane<'_>]) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    for (dev, d) in obs.devices.iter().enumerate() {
        let Cursor::Time(c) = d.cursor else { continue };
        let Some(srv) = obs.target(dev) else { continue };
        let lane = &lanes[dev];
        let received: BTreeSet<String> = lane
            .exchanges
            .iter()
            .filter(|x| is_pull(x))
            .flat_map(|x| ids_in(x))
            .collect();
        for (sid, row) in srv {
            let held = d
                .items
                .iter()
                .find(|i| i.server_id.as_deref() == Some(sid.as_str()));
            let missing = match held {
                None => !row.seen.deleted,
                Some(i) => !i.seen.same(&row.seen),
            };
            if !missing || row.updated_at > c || received.contains(sid) {
                continue;
            }
            let u = row.updated_at;
            let items = vec![row.seen.origin.clone()];
            let taken = lane.exchanges.iter().find(|x| x.clock == Some(c));
            let last_pull = lane.exchanges.iter().rev().find(|x| is_pull(x));
            if u == c {
                out.push(Diagnosis {
                    d: "D9",
                    bug: "same-millisecond boundary",
                    seen: format!(
                        "{} never pulled {}: the server stored it at {u}, the very millisecond of its cursor, and `since` is strict",
                        d.name, row.seen.origin
                    ),
                    items,
                });
            } else if let Some(x) = taken.filter(|x| x.at.is_some_and(|at| at < c)) {
                let at = x.at.unwrap_or(c);
                out.push(Diagnosis {
                    d: "D8",
                    bug: "the cursor was taken from the device's clock",
                    seen: format!(
                        "{}'s cursor {c} is its own clock, read at request #{} when it ran {} ms ahead of the server's ({at}); the server stored {} at {u}, not after that cursor, so no incremental pull returns it, and {} never received it",
                        d.name, x.seq, c - at, row.seen.origin, d.name
                    ),
                    items,
                });
            } else if let Some(p) = last_pull.filter(|p| p.clock.is_some_and(|pc| pc < c)) {
                let (pc, at) = (p.clock.unwrap_or_default(), p.at.unwrap_or_default());
                if at < pc {
                    out.push(Diagnosis {
                        d: "D8",
                        bug: "the cursor was taken from the device's clock",
                        seen: format!(
                            "{}'s clock was {} ms ahead of the server's at its last pull (request #{}), and its cursor {c} is that clock",
                            d.name,
                            pc - at,
                            p.seq
                        ),
                        items: items.clone(),
                    });
                }
                out.push(Diagnosis {
                    d: "D6",
                    bug: "the cursor is the end time of the sync",
                    seen: format!(
                        "{}'s cursor {c} was taken after its last pull (request #{} at its clock {}); {} reached the server at {u}, before the cursor, and was never pulled",
                        d.name,
                        p.seq,
                        p.clock.unwrap_or_default(),
                        row.seen.origin
                    ),
                    items,
                });
            } else {
                out.push(Diagnosis {
                    d: "D8",
                    bug: "the cursor was taken from the device's clock",
                    seen: format!(
                        "{}'s cursor {c} (its own clock) is past the server time {u} of {}, which it never received",
                        d.name, row.seen.origin
                    ),
                    items,
                });
            }
        }
    }
    out
}

/// D5 and D4: a delete undone locally by a pull, never sent, or a server
/// tombstone never applied.
fn deletes(obs: &Observation) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    for (dev, d) in obs.devices.iter().enumerate() {
        let Some(srv) = obs.target(dev) else { continue };
        let mine: BTreeSet<&str> = obs
            .writes
            .iter()
            .filter(|w| w.dev() == Some(dev) && w.what == WriteKind::Delete)
            .map(|w| w.origin.as_str())
            .collect();
        for origin in mine {
            // Only if this delete is the origin's last write.
            let last = obs.writes.iter().rev().find(|w| w.origin == origin);
            if last.is_none_or(|w| w.dev() != Some(dev) || w.what != WriteKind::Delete) {
                continue;
            }
            let local_live = d
                .items
                .iter()
                .any(|i| i.seen.origin == origin && !i.seen.deleted);
            let server_live = srv
                .values()
                .any(|r| r.seen.origin == origin && !r.seen.deleted);
            if local_live {
                out.push(Diagnosis {
                    d: "D5",
                    bug: "local deletes resurrected by a pull",
                    seen: format!(
                        "{} deleted {origin} last, and now holds it live again: a pull re-inserted the server's copy",
                        d.name
                    ),
                    items: vec![origin.to_string()],
                });
            } else if server_live {
                out.push(Diagnosis {
                    d: "D4",
                    bug: "deletes never propagate",
                    seen: format!(
                        "{} deleted {origin} last and holds a tombstone, but the server still holds it live: the delete was never sent",
                        d.name
                    ),
                    items: vec![origin.to_string()],
                });
            }
        }
        for row in srv.values().filter(|r| r.seen.deleted) {
            let live_here = d
                .items
                .iter()
                .any(|i| i.seen.origin == row.seen.origin && !i.seen.deleted);
            let deleted_here = obs.writes.iter().any(|w| {
                w.dev() == Some(dev) && w.origin == row.seen.origin && w.what == WriteKind::Delete
            });
            if live_here && !deleted_here {
                out.push(Diagnosis {
                    d: "D4",
                    bug: "deletes never propagate",
                    seen: format!(
                        "the server holds a tombstone of {}, and {} still holds it live: the tombstone was never applied",
                        row.seen.origin, d.name
                    ),
                    items: vec![row.seen.origin.clone()],
                });
            }
        }
    }
    out
}

/// D14, D15: a device pulled everything again (a full pull) after it had
/// already pulled, and holds two live copies: its sync state was reset,
/// and the full pull could not match what it held.
fn copies_after_a_reset(obs: &Observation, lanes: &[Lane<'_>]) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    for (dev, d) in obs.devices.iter().enumerate() {
        let mut count = std::collections::BTreeMap::<&str, usize>::new();
        for i in d.items.iter().filter(|i| !i.seen.deleted) {
            *count.entry(i.seen.origin.as_str()).or_default() += 1;
        }
        let copies: Vec<String> = count
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(o, _)| o.to_string())
            .collect();
        if copies.is_empty() {
            continue;
        }
        let lane = &lanes[dev];
        let pulled_ok = |x: &&&Exchange| x.response.as_ref().is_some_and(|r| r.status == 200);
        let full: Vec<&&Exchange> = lane
            .exchanges
            .iter()
            .filter(|x| is_full_pull(x))
            .filter(pulled_ok)
            .collect();
        let again = full.iter().skip(1).find(|x| {
            let ids = ids_in(x);
            full.iter()
                .take_while(|y| y.seq < x.seq)
                .any(|y| ids_in(y).iter().any(|i| ids.contains(i)))
        });
        let Some(again) = again else { continue };
        let (dn, bug, why) = if lane.switched {
            (
                "D15",
                "returning to a server duplicates",
                "after it switched away and back",
            )
        } else {
            (
                "D14",
                "server-change reset without a server change",
                "without any server change",
            )
        };
        out.push(Diagnosis {
            d: dn,
            bug,
            seen: format!(
                "{} pulled everything again (request #{}) {why}, received items it already held, and now holds {} twice",
                d.name,
                again.seq,
                copies.join(", ")
            ),
            items: copies,
        });
    }
    out
}

/// D16: a device's requests named a profile that is none of the server's
/// profiles it targets, and what it created is missing from its target or
/// sits in a profile it was never meant for.
fn profile_targeting(obs: &Observation, lanes: &[Lane<'_>]) -> Vec<Diagnosis> {
    let ids: Vec<&str> = crate::host::PROFILES.iter().map(|(id, _)| *id).collect();
    let mut out = Vec::new();
    for (dev, d) in obs.devices.iter().enumerate() {
        let sent: BTreeSet<String> = lanes[dev]
            .exchanges
            .iter()
            .map(|x| query_param(x, "profile").unwrap_or("(none)").to_string())
            .filter(|p| !ids.contains(&p.as_str()))
            .collect();
        if sent.is_empty() {
            continue;
        }
        // Its items elsewhere than they were meant to be, or nowhere the
        // simulator looks (the server's own default profile).
        let target = obs.target(dev);
        let items: Vec<String> = obs
            .writes
            .iter()
            .filter(|w| w.dev() == Some(dev) && matches!(w.what, WriteKind::Create { .. }))
            .map(|w| w.origin.clone())
            .filter(|o| {
                let misplaced = obs.servers.iter().any(|(t, rows)| {
                    rows.values().any(|r| &r.seen.origin == o)
                        && obs.allowed.get(o).is_some_and(|ok| !ok.contains(t))
                });
                let absent = target.is_some_and(|rows| rows.values().all(|r| &r.seen.origin != o));
                misplaced || absent
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if items.is_empty() {
            continue;
        }
        out.push(Diagnosis {
            d: "D16",
            bug: "profile targeting",
            seen: format!(
                "{} sent profile={} instead of its server profile {}, and {} never reached that profile (the server filed it elsewhere)",
                d.name,
                sent.into_iter().collect::<Vec<_>>().join(", "),
                ids.get(d.profile).unwrap_or(&"?"),
                items.join(", ")
            ),
            items,
        });
    }
    out
}

/// D12, D13: the server does not hold a device's newest write.
/// Two writers, the older edit by the device clocks kept: arrival order
/// won (D12). One writer whose edit was never sent while its syncs were
/// full pulls (cursor 0): conflict winners are not pushed then (D13).
fn lost_writes(obs: &Observation, lanes: &[Lane<'_>]) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let origins: BTreeSet<&str> = obs.writes.iter().map(|w| w.origin.as_str()).collect();
    for origin in origins {
        let writes: Vec<_> = obs.writes.iter().filter(|w| w.origin == origin).collect();
        let Some(newest) = writes.iter().max_by_key(|w| (w.edited_at, w.at)) else {
            continue;
        };
        let (WriteKind::Create { content, .. } | WriteKind::Edit { content, .. }) = &newest.what
        else {
            continue;
        };
        let Some(newest_dev) = newest.dev() else {
            continue;
        };
        let Some(srv) = obs.target(newest_dev) else {
            continue;
        };
        let Some(row) = srv
            .values()
            .find(|r| r.seen.origin == origin && !r.seen.deleted)
        else {
            continue;
        };
        if &row.seen.content == content {
            continue;
        }
        let name = &obs.devices[newest_dev].name;
        let kept = writes.iter().find(|w| {
            w.dev().is_some_and(|d| d != newest_dev)
                && matches!(&w.what, WriteKind::Edit { content: c, .. } | WriteKind::Create { content: c, .. } if c == &row.seen.content)
        });
        if let Some(k) = kept {
            out.push(Diagnosis {
                d: "D12",
                bug: "arrival time wins, not the edit time",
                seen: format!(
                    "the server kept {}'s edit of {origin} (its clock {}) over {name}'s later edit (its clock {}): the one that reached the server last won",
                    k.dev().map_or("?", |d| obs.devices[d].name.as_str()), k.edited_at, newest.edited_at
                ),
                items: vec![origin.to_string()],
            });
            continue;
        }
        let needle = content.as_deref().unwrap_or_default();
        let lane = &lanes[newest_dev];
        let after: Vec<&&Exchange> = lane
            .exchanges
            .iter()
            .filter(|x| x.clock.is_some_and(|c| c >= newest.edited_at))
            .collect();
        let sent = !needle.is_empty() && after.iter().any(|x| body_mentions(x, needle));
        let only_full = after.iter().any(|x| is_pull(x))
            && after.iter().filter(|x| is_pull(x)).all(|x| is_full_pull(x));
        if !sent && only_full {
            out.push(Diagnosis {
                d: "D13",
                bug: "conflict winners not pushed while the cursor is 0",
                seen: format!(
                    "{name}'s last edit of {origin} was never sent: every sync after it began with a full pull (cursor 0), which pushes only never-synced rows"
                ),
                items: vec![origin.to_string()],
            });
        }
    }
    out
}

/// D10, D11: one more sync after healing still moved items.
fn unstable(obs: &Observation, lanes: &[Lane<'_>]) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    for (dev, (d, sum)) in obs.devices.iter().zip(&obs.stability).enumerate() {
        let Some(s) = sum else { continue };
        let ahead = lanes[dev]
            .exchanges
            .iter()
            .filter_map(|x| Some(x.at? - x.clock?))
            .max()
            .unwrap_or(0);
        if s.pushed > 0 && ahead > 0 {
            out.push(Diagnosis {
                d: "D11",
                bug: "clock-skew ping-pong",
                seen: format!(
                    "{} pushed {} items again in a sync after healing; the server's clock is up to {ahead} ms ahead of its own, so pulled rows look locally modified",
                    d.name, s.pushed
                ),
                items: Vec::new(),
            });
        } else if s.pulled > 0 {
            out.push(Diagnosis {
                d: "D10",
                bug: "echo",
                seen: format!(
                    "{} pulled {} items again in a sync after healing, with nothing new on the server",
                    d.name, s.pulled
                ),
                items: Vec::new(),
            });
        }
    }
    out
}

/// Runs a world again with its trace kept, and diagnoses what it broke.
pub fn explain(cfg: &WorldConfig, events: &[Event]) -> Result<Vec<Diagnosis>, WorldError> {
    explain_cast(cfg, events, &crate::cast::Cast::default())
}

/// [`explain`] for a world played by `cast` (a driver's failure is
/// diagnosed from the driver's own re-run, not from an in-process stand-in).
pub fn explain_cast(
    cfg: &WorldConfig,
    events: &[Event],
    cast: &crate::cast::Cast,
) -> Result<Vec<Diagnosis>, WorldError> {
    let mut w = World::with_cast(cfg, true, cast)?;
    let stability = w.play(events)?;
    let obs = Observation::of(&w, &stability);
    let violations = check::check(&obs);
    if violations.is_empty() {
        return Ok(Vec::new());
    }
    let trace = Session::read(w.trace.bytes().unwrap_or_default())
        .map_err(|e| WorldError::Io(std::io::Error::other(e.to_string())))?;
    Ok(diagnose(&obs, &trace, &violations))
}

/// The diagnoses that bear on one violation: those naming one of its
/// items, or every one when neither names any.
pub fn for_violation<'a>(ds: &'a [Diagnosis], v: &Violation) -> Vec<&'a Diagnosis> {
    let hit: Vec<&Diagnosis> = ds
        .iter()
        .filter(|d| d.items.iter().any(|i| v.items.contains(i)))
        .collect();
    if hit.is_empty() {
        ds.iter()
            .filter(|d| d.items.is_empty() || v.items.is_empty())
            .collect()
    } else {
        hit
    }
}
