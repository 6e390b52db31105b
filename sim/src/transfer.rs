//! What moves on the wire, per device, read from the exchanges themselves
//! (not from what a device says of itself): requests, items pushed and
//! pulled, bytes, and which server rows, at which versions, each device
//! has been handed. Two things stand on it: `no-redundant-transfer` (a
//! device that applies as news what it was already handed, or a world
//! that still moves items once everything has healed) and the cost of a
//! run per local change, which exploration summarises and can be held to
//! a budget (`--max-cost`).
//!
//! End states cannot see either: re-applying one's own echo, or a feed
//! that re-sends the item at its cursor on every pull, leaves every
//! device and server exactly right, only busier (the original's D10).

use std::collections::BTreeMap;
use std::fmt;

use engine::sync::{Method, Request, Response};
use serde::{Deserialize, Serialize};

/// What a request does to items, judged by its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// `POST /items/batch` or `POST /items`: items pushed (and, in the
    /// answer, the rows and versions they got).
    Push { items: u64 },
    /// `GET /items/changes`, `/items/since/…` or `/items` (a list): the
    /// answer's items are pulled.
    Pull,
    /// Anything else (hello, images, refetches, profiles): counted as a
    /// request and bytes only.
    Other,
}

impl Traffic {
    /// Classifies a request before it is sent.
    pub fn of(req: &Request) -> Traffic {
        let path = req.path.split('?').next().unwrap_or("");
        match (req.method, path) {
            (Method::Post, "/items/batch") => Traffic::Push {
                items: req.body.as_deref().map_or(0, count_items),
            },
            (Method::Post, "/items") => Traffic::Push { items: 1 },
            (Method::Get, "/items" | "/items/changes") => Traffic::Pull,
            (Method::Get, p) if p.starts_with("/items/since/") => Traffic::Pull,
            _ => Traffic::Other,
        }
    }
}

/// Requests, items and bytes moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Moved {
    pub requests: u64,
    pub pushed: u64,
    pub pulled: u64,
    /// Request and answer bodies.
    pub bytes: u64,
}

impl Moved {
    pub fn items(&self) -> u64 {
        self.pushed + self.pulled
    }

    pub fn add(&mut self, o: &Moved) {
        self.requests += o.requests;
        self.pushed += o.pushed;
        self.pulled += o.pulled;
        self.bytes += o.bytes;
    }

    /// What moved since `before`.
    pub fn since(&self, before: &Moved) -> Moved {
        Moved {
            requests: self.requests - before.requests,
            pushed: self.pushed - before.pushed,
            pulled: self.pulled - before.pulled,
            bytes: self.bytes - before.bytes,
        }
    }
}

impl fmt::Display for Moved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests, {} items pushed, {} pulled, {} bytes",
            self.requests, self.pushed, self.pulled, self.bytes
        )
    }
}

/// One device's wire, as the world saw it.
#[derive(Debug, Default)]
pub struct Ledger {
    pub moved: Moved,
    /// Where the device syncs now, as it names it (server and profile):
    /// what it was handed is kept per target, as a client keeps its links
    /// per target (one re-pointed at a new name for the same profile
    /// rightly links every row again; one pointed back reuses them).
    target: String,
    /// Target → row id → the newest version handed to the device by a
    /// sync that finished (a push answer or a pulled page).
    given: BTreeMap<String, BTreeMap<String, i64>>,
    /// The same for the running sync, whose target is `target` (a
    /// re-pointed device's sync is abandoned): kept only if it finishes
    /// (a sync that fails or dies may not have applied what it was handed).
    running: BTreeMap<String, i64>,
    /// Items pulled in the running sync that the device had not been
    /// handed at that version before.
    news: u64,
}

impl Ledger {
    /// The device now syncs with `target`; a running sync is gone.
    pub fn point(&mut self, target: String) {
        self.abandon();
        self.target = target;
    }

    /// Records an exchange whose answer the device saw.
    pub fn on_answer(&mut self, what: Traffic, sent: u64, resp: &Response) {
        self.moved.requests += 1;
        self.moved.bytes += sent + resp.body.len() as u64;
        if !(200..300).contains(&resp.status) {
            return;
        }
        match what {
            Traffic::Push { items } => {
                self.moved.pushed += items;
                for (id, v) in rows(&resp.body, "results") {
                    self.hand(id, v);
                }
            }
            Traffic::Pull => {
                for (id, v) in rows(&resp.body, "items") {
                    self.moved.pulled += 1;
                    if !self.had(&id, v) {
                        self.news += 1;
                    }
                    self.hand(id, v);
                }
            }
            Traffic::Other => {}
        }
    }

    /// Records a request whose answer the device never saw.
    pub fn on_unanswered(&mut self, what: Traffic, sent: u64) {
        self.moved.requests += 1;
        self.moved.bytes += sent;
        if let Traffic::Push { items } = what {
            self.moved.pushed += items;
        }
    }

    fn had(&self, id: &str, v: Option<i64>) -> bool {
        let Some(v) = v else { return false };
        let before = self.given.get(&self.target).and_then(|m| m.get(id));
        [before, self.running.get(id)]
            .into_iter()
            .any(|have| have.is_some_and(|&have| have >= v))
    }

    fn hand(&mut self, id: String, v: Option<i64>) {
        if let Some(v) = v {
            let e = self.running.entry(id).or_insert(v);
            *e = (*e).max(v);
        }
    }

    /// The running sync finished, having applied `applied` pulled items
    /// as news (its own count). More than the wire brought new is a
    /// re-application: returned as the excess.
    pub fn finish(&mut self, applied: u64) -> Option<u64> {
        let news = std::mem::take(&mut self.news);
        let given = self.given.entry(self.target.clone()).or_default();
        for (k, v) in std::mem::take(&mut self.running) {
            let e = given.entry(k).or_insert(v);
            *e = (*e).max(v);
        }
        (applied > news).then(|| applied - news)
    }

    /// The running sync ended without finishing (failed, crashed, or the
    /// device was re-pointed): what it was handed is forgotten.
    pub fn abandon(&mut self) {
        self.running.clear();
        self.news = 0;
    }
}

/// `(id, version)` of each object in the answer's `key` array (`results`
/// of a push, `items` of a page). An answer that is not such JSON has none.
fn rows(body: &[u8], key: &str) -> Vec<(String, Option<i64>)> {
    #[derive(Deserialize)]
    struct Row {
        id: Option<String>,
        version: Option<i64>,
        status: Option<String>,
    }
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        items: Vec<Row>,
        #[serde(default)]
        results: Vec<Row>,
    }
    let Ok(page) = serde_json::from_slice::<Page>(body) else {
        return Vec::new();
    };
    let list = if key == "items" {
        page.items
    } else {
        page.results
    };
    list.into_iter()
        .filter(|r| r.status.as_deref() != Some("error"))
        .filter_map(|r| Some((r.id?, r.version)))
        .collect()
}

fn count_items(body: &[u8]) -> u64 {
    #[derive(Deserialize)]
    struct Batch {
        #[serde(default)]
        items: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Batch>(body).map_or(0, |b| b.items.len() as u64)
}

/// A run's cost: what moved, per local change the world made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cost {
    pub moved: Moved,
    /// Local writes (creates, edits, tag changes, deletes).
    pub changes: u64,
}

impl Cost {
    pub fn add(&mut self, o: &Cost) {
        self.moved.add(&o.moved);
        self.changes += o.changes;
    }

    /// (requests, items, bytes) per local change.
    pub fn per_change(&self) -> (f64, f64, f64) {
        let n = self.changes.max(1) as f64;
        (
            self.moved.requests as f64 / n,
            self.moved.items() as f64 / n,
            self.moved.bytes as f64 / n,
        )
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, i, b) = self.per_change();
        write!(
            f,
            "{r:.2} requests, {i:.2} items, {b:.0} bytes per local change ({} changes)",
            self.changes
        )
    }
}

/// Ceilings for a run's cost per local change (`peek-sim explore
/// --max-cost requests=R,items=I,bytes=B`): a regression in what sync
/// moves fails the exploration even when every end state is right.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    pub requests: Option<f64>,
    pub items: Option<f64>,
    pub bytes: Option<f64>,
}

impl Budget {
    pub fn parse(s: &str) -> Result<Budget, String> {
        let mut b = Budget::default();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                format!("--max-cost takes requests=R,items=I,bytes=B (any of them), got {part:?}")
            })?;
            let v: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("--max-cost {k}: not a non-negative number: {v:?}"))?;
            match k.trim() {
                "requests" => b.requests = Some(v),
                "items" => b.items = Some(v),
                "bytes" => b.bytes = Some(v),
                other => {
                    return Err(format!(
                        "--max-cost: unknown measure {other:?} (requests, items, bytes)"
                    ))
                }
            }
        }
        if b == Budget::default() {
            return Err("--max-cost needs at least one of requests=, items=, bytes=".into());
        }
        Ok(b)
    }

    /// What `cost` exceeds, one line each; empty when within.
    pub fn exceeded(&self, cost: &Cost) -> Vec<String> {
        let (r, i, b) = cost.per_change();
        [
            ("requests", r, self.requests),
            ("items", i, self.items),
            ("bytes", b, self.bytes),
        ]
        .into_iter()
        .filter_map(|(what, got, max)| {
            max.filter(|m| got > *m)
                .map(|m| format!("{what} per local change {got:.2} > {m}"))
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_echo_is_not_news_and_applying_it_is_caught() {
        let mut l = Ledger::default();
        l.point("s0/home".into());
        let push = Traffic::Push { items: 1 };
        l.on_answer(push, 10, &ok(r#"{"results":[{"id":"r1","version":4}]}"#));
        let page = r#"{"items":[{"id":"r1","version":4},{"id":"r2","version":5}],"cursor":5}"#;
        l.on_answer(Traffic::Pull, 0, &ok(page));
        // Only r2 was new: a device that applied both re-applied its echo.
        assert_eq!(l.finish(2), Some(1));
        // The same page again in a later sync is not news either.
        l.on_answer(Traffic::Pull, 0, &ok(page));
        assert_eq!(l.finish(0), None);
        assert_eq!(l.moved.pulled, 4);
        assert_eq!(l.moved.pushed, 1);
        // A newer version of a row is news; under another target, too.
        let v6 = r#"{"items":[{"id":"r1","version":6}]}"#;
        l.on_answer(Traffic::Pull, 0, &ok(v6));
        assert_eq!(l.finish(1), None);
        l.point("s0/work".into());
        l.on_answer(Traffic::Pull, 0, &ok(v6));
        assert_eq!(l.finish(1), None);
        // Back at the first target, what it was handed there still counts.
        l.point("s0/home".into());
        l.on_answer(Traffic::Pull, 0, &ok(v6));
        assert_eq!(l.finish(1), Some(1));
    }

    #[test]
    fn an_abandoned_sync_forgets_what_it_was_handed() {
        let mut l = Ledger::default();
        let page = r#"{"items":[{"id":"r1","version":1}]}"#;
        l.on_answer(Traffic::Pull, 0, &ok(page));
        l.abandon();
        l.on_answer(Traffic::Pull, 0, &ok(page));
        assert_eq!(l.finish(1), None, "never applied before: news");
    }

    #[test]
    fn requests_are_classified_by_method_and_path() {
        let req = |method, path: &str, body: Option<&str>| Request {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: body.map(|b| b.as_bytes().to_vec()),
        };
        let b = r#"{"items":[{"a":1},{"b":2}]}"#;
        assert_eq!(
            Traffic::of(&req(Method::Post, "/items/batch?profile=x", Some(b))),
            Traffic::Push { items: 2 }
        );
        assert_eq!(
            Traffic::of(&req(Method::Get, "/items/changes?after=3", None)),
            Traffic::Pull
        );
        assert_eq!(
            Traffic::of(&req(Method::Get, "/items/since/123", None)),
            Traffic::Pull
        );
        assert_eq!(
            Traffic::of(&req(Method::Get, "/items/abc", None)),
            Traffic::Other
        );
    }

    #[test]
    fn a_budget_names_what_it_exceeds() {
        let b = Budget::parse("requests=5, items=2").unwrap();
        let cost = Cost {
            moved: Moved {
                requests: 60,
                pushed: 10,
                pulled: 5,
                bytes: 900,
            },
            changes: 10,
        };
        assert_eq!(
            b.exceeded(&cost),
            vec!["requests per local change 6.00 > 5"]
        );
        assert!(Budget::parse("speed=1").is_err());
        assert!(Budget::parse("items=-1").is_err());
        assert!(Budget::parse("").is_err());
    }
}
