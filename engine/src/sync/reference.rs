//! The reference sync: push pending edits first (so a retry after a lost
//! response reaches the server row before any pull could copy it), then
//! refetch items whose push lost a conflict, then pull.
//!
//! * Pending = `localRev > pushedRev` for this server (no clocks: D11, D13).
//! * First push sends the local id as sync id, later pushes the server id
//!   (§3.1 step 2), so retries are idempotent (guarantee 1).
//! * Tombstones are pushed (`deletedAt`) and applied (D3, D4, D5).
//! * Pull cursor: the change feed's `cursor` when advertised, else the
//!   largest server `updatedAt` seen minus [`TIMESTAMP_OVERLAP_MS`] (server
//!   clock only; D6–D9), with duplicates dropped by version or content.
//! * Conflicts: with `edit-conflicts`, `baseVersion` + `editedAt`, and a
//!   `stale` answer adopts the server's item (guarantee 5).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use protocol::clock::IdSource;
use serde_json::{json, Value};

use super::wire::{parse_items, push_body, tombstone_of};
use super::{enc, expect_ok, request, Method, Mode, Response, Step, Summary, SyncConfig};
use crate::error::{Error, Result};
use crate::model::{parse_server_item, Features, ServerItem, TimestampKeys};
use crate::store::links::{self, Applied, Pending};
use crate::store::{get_setting, set_setting, Store};
use protocol::TransportError;

/// Safety overlap of the timestamp cursor against a server without the
/// change feed: re-reads the last 5 s of server time, so writes that share
/// or trail the newest millisecond seen are never skipped (D9).
pub const TIMESTAMP_OVERLAP_MS: i64 = 5_000;
/// Items per `POST /items/batch`: the server's limit (1000), so a
/// full push of 10,000 items is ten commits, not twenty (20,500-21,000
/// items/s on loopback, `tests/loopback.rs`).
pub const BATCH: usize = 1000;
/// Items per change-feed page.
pub const PAGE: usize = 1000;

const LAST_SERVER: &str = "sync.lastServerKey";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Hello,
    Push,
    Refetch,
    Pull,
    /// Fetch the bytes of pulled images this device does not hold yet, so
    /// it can show them and carry them to another server or profile.
    Images,
    Finish,
    Done,
}

#[derive(Debug, Clone)]
struct Sent {
    local_id: String,
    rev: i64,
}

#[derive(Debug, Clone)]
struct Refetch {
    local_id: String,
    server_id: String,
    version: Option<i64>,
}

#[derive(Debug, Clone)]
enum Inflight {
    Hello,
    Push {
        batch: bool,
        items: Vec<Sent>,
    },
    Refetch(Refetch),
    Feed {
        after: i64,
    },
    Since {
        since: i64,
    },
    /// `GET /images/:id` for a local image row.
    Image {
        local_id: String,
    },
}

pub struct ReferenceSession {
    cfg: SyncConfig,
    mode: Mode,
    ids: Arc<dyn IdSource>,
    key: String,
    features: Features,
    phase: Phase,
    inflight: Option<Inflight>,
    summary: Summary,
    /// Items not to push again in this session (refused, or settled by a
    /// refetch).
    failed: BTreeSet<String>,
    refetch: VecDeque<Refetch>,
    /// Images whose bytes could not be fetched in this session.
    no_bytes: BTreeSet<String>,
}

fn cursor_name(feed: bool) -> &'static str {
    if feed {
        "feed"
    } else {
        "ts"
    }
}

impl ReferenceSession {
    pub fn new(cfg: SyncConfig, mode: Mode, ids: Arc<dyn IdSource>) -> Self {
        let key = cfg.server_key();
        Self {
            cfg,
            mode,
            ids,
            key,
            features: Features::default(),
            phase: Phase::Hello,
            inflight: None,
            summary: Summary::default(),
            failed: BTreeSet::new(),
            refetch: VecDeque::new(),
            no_bytes: BTreeSet::new(),
        }
    }

    /// `profile=<uuid>&strictProfile=true` when a server profile is set:
    /// exact targeting, never a silent fallback (D16).
    fn query(&self, extra: &str) -> String {
        let mut q: Vec<String> = Vec::new();
        if !extra.is_empty() {
            q.push(extra.to_string());
        }
        if let Some(p) = &self.cfg.server_profile {
            q.push(format!("profile={}&strictProfile=true", enc(p)));
        }
        if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        }
    }

    fn send(
        &mut self,
        method: Method,
        path: String,
        body: Option<&Value>,
        inflight: Inflight,
    ) -> Step {
        self.summary.requests += 1;
        self.inflight = Some(inflight);
        Step::Send(request(
            method,
            path,
            body,
            &self.cfg.api_key,
            "peek-sync-rs",
        ))
    }

    fn cursor_key(&self, feed: bool) -> String {
        format!("{}.{}", cursor_name(feed), self.key)
    }

    pub fn poll(&mut self, store: &mut Store, now: i64) -> Result<Step> {
        if self.inflight.is_some() {
            return Err(Error::Invalid(
                "poll() called while a request is in flight".into(),
            ));
        }
        loop {
            match self.phase {
                Phase::Hello => {
                    return Ok(self.send(Method::Get, "/".into(), None, Inflight::Hello))
                }
                Phase::Push if self.mode == Mode::PullOnly => self.phase = Phase::Refetch,
                Phase::Push => {
                    let n = if self.features.batch_push { BATCH } else { 1 };
                    let mut list = links::pending(store.conn(), &self.key, n + self.failed.len())?;
                    list.retain(|p| !self.failed.contains(&p.item.id));
                    list.truncate(n);
                    if list.is_empty() {
                        self.phase = Phase::Refetch;
                        continue;
                    }
                    return self.push_request(store, &list);
                }
                Phase::Refetch => match self.refetch.pop_front() {
                    Some(r) => {
                        let path = format!("/items/{}{}", enc(&r.server_id), self.query(""));
                        return Ok(self.send(Method::Get, path, None, Inflight::Refetch(r)));
                    }
                    None => self.phase = Phase::Pull,
                },
                Phase::Pull if self.mode == Mode::PushOnly => self.phase = Phase::Finish,
                Phase::Pull => {
                    let feed = self.features.changes_feed;
                    let c = links::cursor(store.conn(), &self.cursor_key(feed))?.unwrap_or(0);
                    return Ok(if feed {
                        let path = format!(
                            "/items/changes{}",
                            self.query(&format!("after={c}&limit={PAGE}"))
                        );
                        self.send(Method::Get, path, None, Inflight::Feed { after: c })
                    } else {
                        let path = format!("/items/since/{c}{}", self.query(""));
                        self.send(Method::Get, path, None, Inflight::Since { since: c })
                    });
                }
                Phase::Images => {
                    let skip = self.no_bytes.len();
                    let next = links::images_without_bytes(store.conn(), &self.key, skip + 1)?
                        .into_iter()
                        .find(|(local, _)| !self.no_bytes.contains(local));
                    if let Some((local_id, server_id)) = next {
                        let path = format!("/images/{}{}", enc(&server_id), self.query(""));
                        return Ok(self.send(
                            Method::Get,
                            path,
                            None,
                            Inflight::Image { local_id },
                        ));
                    }
                    // Pulled in another profile of this server and never
                    // fetched there (the device switched first): fetch from
                    // that profile, so the image can be pushed here.
                    let other = links::images_elsewhere(store.conn(), &self.key, skip + 1)?
                        .into_iter()
                        .find(|(local, _, _)| !self.no_bytes.contains(local));
                    match other {
                        Some((local_id, server_id, profile)) => {
                            let q = if profile.is_empty() {
                                String::new()
                            } else {
                                format!("?profile={}&strictProfile=true", enc(&profile))
                            };
                            let path = format!("/images/{}{q}", enc(&server_id));
                            return Ok(self.send(
                                Method::Get,
                                path,
                                None,
                                Inflight::Image { local_id },
                            ));
                        }
                        None => self.phase = Phase::Finish,
                    }
                }
                Phase::Finish => {
                    let key = self.key.clone();
                    store.tx(|tx| set_setting(tx, LAST_SERVER, &key))?;
                    let _ = now;
                    self.phase = Phase::Done;
                }
                Phase::Done => return Ok(Step::Done(self.summary.clone())),
            }
        }
    }

    fn push_request(&mut self, store: &Store, list: &[Pending]) -> Result<Step> {
        let sent: Vec<Sent> = list
            .iter()
            .map(|p| Sent {
                local_id: p.item.id.clone(),
                rev: p.item.local_rev,
            })
            .collect();
        if self.features.batch_push {
            let bodies = list
                .iter()
                .map(|p| push_body(store, p, self.features.edit_conflicts))
                .collect::<Result<Vec<_>>>()?;
            let path = format!("/items/batch{}", self.query(""));
            let body = json!({ "items": bodies });
            Ok(self.send(
                Method::Post,
                path,
                Some(&body),
                Inflight::Push {
                    batch: true,
                    items: sent,
                },
            ))
        } else {
            let body = push_body(store, &list[0], self.features.edit_conflicts)?;
            let path = format!("/items{}", self.query(""));
            Ok(self.send(
                Method::Post,
                path,
                Some(&body),
                Inflight::Push {
                    batch: false,
                    items: sent,
                },
            ))
        }
    }

    pub fn on_response(
        &mut self,
        store: &mut Store,
        resp: std::result::Result<Response, TransportError>,
        now: i64,
    ) -> Result<()> {
        let inflight = self
            .inflight
            .take()
            .ok_or_else(|| Error::Invalid("on_response() without a request".into()))?;
        let resp = expect_ok(resp)?;
        match inflight {
            Inflight::Hello => self.on_hello(store, &resp),
            Inflight::Push { batch, items } => self.on_push(store, &resp, batch, &items, now),
            Inflight::Refetch(r) => self.on_refetch(store, &resp, r, now),
            Inflight::Feed { after } => self.on_feed(store, &resp, after, now),
            Inflight::Since { since } => self.on_since(store, &resp, since, now),
            Inflight::Image { local_id } => self.on_image(store, &resp, local_id),
        }
    }

    fn on_hello(&mut self, store: &Store, resp: &Response) -> Result<()> {
        if resp.status != 200 {
            return Err(Error::Server {
                status: resp.status,
                body: String::from_utf8_lossy(&resp.body).into(),
            });
        }
        let body = resp.json()?;
        for (k, ours) in [
            ("datastore_version", super::DATASTORE_VERSION),
            ("protocol_version", super::PROTOCOL_VERSION),
        ] {
            if let Some(v) = body.get(k).and_then(Value::as_i64) {
                if v != ours {
                    return Err(Error::VersionMismatch(format!(
                        "server {k} {v}, this client speaks {ours}"
                    )));
                }
            }
        }
        self.features = Features::from_health(&body);
        let last = get_setting(store.conn(), LAST_SERVER)?;
        self.summary.server_changed = last.is_some_and(|l| l != self.key);
        self.phase = Phase::Push;
        Ok(())
    }

    fn on_push(
        &mut self,
        store: &mut Store,
        resp: &Response,
        batch: bool,
        items: &[Sent],
        now: i64,
    ) -> Result<()> {
        if !(200..300).contains(&resp.status) {
            // A refused item (400, 413, ...) stays pending and is counted;
            // the rest of the sync goes on.
            for s in items {
                self.failed.insert(s.local_id.clone());
            }
            self.summary.failed += items.len() as u64;
            return Ok(());
        }
        let body = resp.json()?;
        if self.epoch_changed(store, &body)? {
            return Ok(()); // everything is pushed again, these items too
        }
        let results: Vec<Value> = if batch {
            let arr = body
                .get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::Malformed("batch answer without results".into()))?;
            if arr.len() != items.len() {
                return Err(Error::Malformed(format!(
                    "{} results for {} items",
                    arr.len(),
                    items.len()
                )));
            }
            arr.clone()
        } else {
            vec![body]
        };
        let key = self.key.clone();
        let ids = self.ids.clone();
        let mut tally = Summary::default();
        let mut refetch = Vec::new();
        let mut failed = Vec::new();
        store.tx(|tx| {
            for (s, r) in items.iter().zip(&results) {
                let status = r.get("status").and_then(Value::as_str).unwrap_or("updated");
                let id = r.get("id").and_then(Value::as_str);
                match (status, id) {
                    ("error", _) => {
                        failed.push(s.local_id.clone());
                        tally.failed += 1;
                    }
                    ("stale", Some(id)) => {
                        tally.conflicts += 1;
                        let version = r.get("version").and_then(Value::as_i64);
                        match r.get("item").filter(|i| i.is_object()) {
                            Some(item) => {
                                let mut si = parse_server_item(item, TimestampKeys::Lenient)?;
                                si.version = si.version.or(version);
                                links::adopt(tx, ids.as_ref(), &key, &s.local_id, &si, now)?;
                            }
                            None => {
                                // Not pushed again this session: the refetch
                                // settles it (no ping-pong with `stale`).
                                failed.push(s.local_id.clone());
                                refetch.push(Refetch {
                                    local_id: s.local_id.clone(),
                                    server_id: id.to_string(),
                                    version,
                                });
                            }
                        }
                    }
                    (_, Some(id)) => {
                        let version = r.get("version").and_then(Value::as_i64);
                        let created = status == "created";
                        links::record_push(
                            tx,
                            &key,
                            &s.local_id,
                            s.rev,
                            id,
                            version,
                            created,
                            now,
                        )?;
                        tally.pushed += 1;
                    }
                    (_, None) => return Err(Error::Malformed("push answer without id".into())),
                }
            }
            Ok(())
        })?;
        self.summary.pushed += tally.pushed;
        self.summary.failed += tally.failed;
        self.summary.conflicts += tally.conflicts;
        self.failed.extend(failed);
        self.refetch.extend(refetch);
        Ok(())
    }

    fn on_refetch(
        &mut self,
        store: &mut Store,
        resp: &Response,
        r: Refetch,
        now: i64,
    ) -> Result<()> {
        let local = store
            .item(&r.local_id)?
            .ok_or_else(|| Error::NoSuchItem(r.local_id.clone()))?;
        let si = match resp.status {
            200 => {
                let body = resp.json()?;
                let mut si =
                    parse_server_item(body.get("item").unwrap_or(&body), TimestampKeys::Lenient)?;
                si.version = si.version.or(r.version);
                si
            }
            // `GET /items/:id` hides deleted rows: the winner is a delete.
            404 => tombstone_of(&local, &r.server_id, r.version, now),
            s => {
                return Err(Error::Server {
                    status: s,
                    body: String::from_utf8_lossy(&resp.body).into(),
                })
            }
        };
        let (key, ids) = (self.key.clone(), self.ids.clone());
        store.tx(|tx| links::adopt(tx, ids.as_ref(), &key, &r.local_id, &si, now))
    }

    fn apply_page(
        &mut self,
        store: &mut Store,
        items: &[ServerItem],
        cursor: Option<(String, i64)>,
        now: i64,
    ) -> Result<()> {
        let (key, ids) = (self.key.clone(), self.ids.clone());
        let mut tally = Summary::default();
        // The page and the cursor move together, or not at all (guarantee 2).
        store.tx(|tx| {
            for si in items {
                match links::apply(tx, ids.as_ref(), &key, si, now)? {
                    Applied::Inserted | Applied::Updated => tally.pulled += 1,
                    Applied::Deferred => tally.conflicts += 1,
                    Applied::Skipped => {}
                }
            }
            if let Some((name, c)) = &cursor {
                links::set_cursor(tx, name, *c)?;
            }
            Ok(())
        })?;
        self.summary.pulled += tally.pulled;
        self.summary.conflicts += tally.conflicts;
        Ok(())
    }

    /// The feed's `epoch` changed: the server was restored from a backup
    /// (`docs/protocol.md`). Everything this device has is marked for push
    /// and the feed cursor is dropped, then the session goes back to its
    /// push phase, so what the backup predates returns to the server
    /// before anything is read again.
    fn epoch_changed(&mut self, store: &mut Store, body: &Value) -> Result<bool> {
        let Some(epoch) = body.get("epoch").and_then(Value::as_i64) else {
            return Ok(false);
        };
        let ekey = format!("epoch.{}", self.key);
        let known = links::cursor(store.conn(), &ekey)?;
        if known == Some(epoch) {
            return Ok(false);
        }
        let (key, cursor) = (self.key.clone(), self.cursor_key(true));
        let reset = known.is_some();
        store.tx(|tx| {
            if reset {
                // -1: pending, and pushed under the item's identity (the
                // link's row may be gone), see `wire::push_body`.
                tx.execute(
                    "UPDATE server_links SET pushedRev = -1 WHERE serverKey = ?1",
                    [&key],
                )?;
                crate::store::delete_setting(tx, &format!("sync.cursor.{cursor}"))?;
            }
            links::set_cursor(tx, &ekey, epoch)
        })?;
        if reset {
            self.summary.server_changed = true;
            self.failed.clear();
            self.phase = Phase::Push;
        }
        Ok(reset)
    }

    fn on_feed(&mut self, store: &mut Store, resp: &Response, after: i64, now: i64) -> Result<()> {
        if resp.status != 200 {
            return Err(Error::Server {
                status: resp.status,
                body: String::from_utf8_lossy(&resp.body).into(),
            });
        }
        let body = resp.json()?;
        let items = parse_items(&body)?;
        let cursor = body
            .get("cursor")
            .and_then(Value::as_i64)
            .ok_or_else(|| Error::Malformed("change feed answer without cursor".into()))?;
        let more = body
            .get("hasMore")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if cursor < after || (more && cursor == after) {
            return Err(Error::Malformed(format!(
                "change feed cursor went from {after} to {cursor}"
            )));
        }
        if self.epoch_changed(store, &body)? {
            return Ok(());
        }
        let name = self.cursor_key(true);
        self.apply_page(store, &items, Some((name, cursor)), now)?;
        if !more {
            self.phase = Phase::Images;
        }
        Ok(())
    }

    fn on_since(&mut self, store: &mut Store, resp: &Response, since: i64, now: i64) -> Result<()> {
        if resp.status != 200 {
            return Err(Error::Server {
                status: resp.status,
                body: String::from_utf8_lossy(&resp.body).into(),
            });
        }
        let items = parse_items(&resp.json()?)?;
        // Server clock only: the newest server `updatedAt` seen, minus the
        // overlap, never behind where we were (D6, D8, D9).
        let newest = items.iter().map(|i| i.updated_at).max();
        let cursor = newest.map(|n| {
            (
                self.cursor_key(false),
                (n - TIMESTAMP_OVERLAP_MS).max(since),
            )
        });
        self.apply_page(store, &items, cursor, now)?;
        self.phase = Phase::Images;
        Ok(())
    }

    /// Keeps an image's bytes. A server without them (404, a legacy row)
    /// is not an error: the image is skipped for the rest of the session.
    fn on_image(&mut self, store: &mut Store, resp: &Response, local_id: String) -> Result<()> {
        match resp.status {
            200 if !resp.body.is_empty() => {
                store.tx(|tx| links::set_bytes(tx, &local_id, &resp.body))?;
            }
            200 | 404 | 410 => {
                self.no_bytes.insert(local_id);
            }
            s => {
                return Err(Error::Server {
                    status: s,
                    body: String::from_utf8_lossy(&resp.body).into(),
                })
            }
        }
        Ok(())
    }
}

/// The number of local items not yet on this server (CLI `status`).
pub fn pending_count(store: &Store, cfg: &SyncConfig) -> Result<i64> {
    links::pending_count(store.conn(), &cfg.server_key())
}
