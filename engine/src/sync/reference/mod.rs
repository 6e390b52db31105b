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
//!
//! Every decision is a rule of `crate::rules`; this module sequences the
//! requests and hands each answer to the rules and the store.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use protocol::clock::IdSource;
use serde_json::{json, Value};

mod pull;

use super::wire::{push_body, tombstone_of};
use super::{enc, expect_ok, request, Method, Mode, Response, Step, Summary, SyncConfig};
use crate::error::{Error, Result};
use crate::model::{parse_server_item, Features, TimestampKeys};
use crate::rules::push::{self as push_rules, PushAnswer, RefetchAnswer};
use crate::store::cursor::{self, Cursor};
use crate::store::links::{self, Pending};
use crate::store::{get_setting, set_setting, Store};
use protocol::TransportError;

pub use crate::rules::cursor::TIMESTAMP_OVERLAP_MS;
/// Items per `POST /items/batch`: the server's limit (1000), so a
/// full push of 10,000 items is ten commits, not twenty (20,500-21,000
/// items/s on loopback, `tests/loopback.rs`).
pub const BATCH: usize = 1000;
/// Bytes of item content (an image's is its base64) per
/// `POST /items/batch`: a batch stops before the item that would pass it,
/// so that images (up to 13.4 MiB each as base64, [`MAX_IMAGE_BYTES`]
/// decoded) go in requests under the server's 16 MiB body limit; an item
/// alone is always sent.
///
/// [`MAX_IMAGE_BYTES`]: crate::store::items::MAX_IMAGE_BYTES
pub const BATCH_CONTENT_BYTES: usize = 8 * 1024 * 1024;
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
    /// The local revision the push sent (`rules::push::on_stale`).
    rev: i64,
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
    /// A pull of this session kept a held image's later edit over the
    /// server's row (`PullAction::Keep`): the item is pending here now,
    /// so the session pushes again after the pull.
    kept: bool,
    /// `X-Peek-Client` (`SyncSession::with_client`).
    pub(in crate::sync) client: String,
    /// `X-Peek-Device`, if any (`SyncSession::with_device`).
    pub(in crate::sync) device: Option<String>,
}

/// The cursor a pull reads and moves: the change feed's when the server
/// advertises it, else the timestamp cursor.
fn pull_cursor(feed: bool) -> Cursor {
    if feed {
        Cursor::Feed
    } else {
        Cursor::Timestamp
    }
}

impl ReferenceSession {
    pub fn new(cfg: SyncConfig, mode: Mode, ids: Arc<dyn IdSource>) -> Self {
        let key = cfg.server_key();
        let client = cfg.model.behaviour().client_header.to_string();
        Self {
            client,
            device: None,
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
            kept: false,
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
            &self.client,
            self.device.as_deref(),
        ))
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
                    let c = cursor::get(store.conn(), pull_cursor(feed), &self.key)?.unwrap_or(0);
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
        let sent = |list: &[Pending]| -> Vec<Sent> {
            list.iter()
                .map(|p| Sent {
                    local_id: p.item.id.clone(),
                    rev: p.item.local_rev,
                })
                .collect()
        };
        if self.features.batch_push {
            let mut bodies = Vec::with_capacity(list.len());
            let mut bytes = 0;
            for p in list {
                let body = push_body(store, p, self.features.edit_conflicts)?;
                let len = body
                    .get("content")
                    .and_then(Value::as_str)
                    .map_or(0, str::len);
                // The rest waits for the next batch of this push phase.
                if !bodies.is_empty() && bytes + len > BATCH_CONTENT_BYTES {
                    break;
                }
                bytes += len;
                bodies.push(body);
            }
            let sent = sent(&list[..bodies.len()]);
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
            let sent = sent(&list[..1]);
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
        super::require_200(resp)?;
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
        if push_rules::refused_whole(resp.status) {
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
                let status = r.get("status").and_then(Value::as_str);
                let id = r.get("id").and_then(Value::as_str);
                let item = r.get("item").filter(|i| i.is_object());
                let version = || r.get("version").and_then(Value::as_i64);
                match push_rules::on_push_result(status, id, item.is_some()) {
                    PushAnswer::Refused => {
                        links::on_refused(tx, &key, &s.local_id)?;
                        failed.push(s.local_id.clone());
                        tally.failed += 1;
                    }
                    PushAnswer::StaleAdopt { .. } => {
                        tally.conflicts += 1;
                        if let Some(item) = item {
                            let mut si = parse_server_item(item, TimestampKeys::Lenient)?;
                            si.version = si.version.or(version());
                            links::adopt_stale(
                                tx,
                                ids.as_ref(),
                                &key,
                                &s.local_id,
                                s.rev,
                                &si,
                                now,
                            )?;
                        }
                    }
                    PushAnswer::StaleRefetch { server_id } => {
                        tally.conflicts += 1;
                        failed.push(s.local_id.clone());
                        refetch.push(Refetch {
                            local_id: s.local_id.clone(),
                            server_id: server_id.to_string(),
                            version: version(),
                            rev: s.rev,
                        });
                    }
                    PushAnswer::Recorded { server_id, created } => {
                        links::record_push(
                            tx,
                            &key,
                            &s.local_id,
                            s.rev,
                            server_id,
                            version(),
                            created,
                            now,
                        )?;
                        tally.pushed += 1;
                    }
                    PushAnswer::Malformed => {
                        return Err(Error::Malformed("push answer without id".into()))
                    }
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
        let si = match push_rules::on_refetch(resp.status) {
            RefetchAnswer::Item => {
                let body = resp.json()?;
                let mut si =
                    parse_server_item(body.get("item").unwrap_or(&body), TimestampKeys::Lenient)?;
                si.version = si.version.or(r.version);
                si
            }
            RefetchAnswer::Deleted => tombstone_of(&local, &r.server_id, r.version, now),
            RefetchAnswer::Fail => {
                return Err(Error::Server {
                    status: resp.status,
                    body: String::from_utf8_lossy(&resp.body).into(),
                })
            }
        };
        let (key, ids) = (self.key.clone(), self.ids.clone());
        store.tx(|tx| links::adopt_stale(tx, ids.as_ref(), &key, &r.local_id, r.rev, &si, now))
    }
}

/// The number of local items not yet on this server (CLI `status`).
pub fn pending_count(store: &Store, cfg: &SyncConfig) -> Result<i64> {
    links::pending_count(store.conn(), &cfg.server_key())
}
