//! The platform models' sync path: `syncAll` as §4.1–4.5 describe it, with
//! the per-model flags of `platform::Behaviour`. It reproduces the
//! originals' bugs on purpose (see `docs/platform-models.md`); it is not held to
//! the guarantees. Shape (§4.1): server-change check → `startTime` = client
//! now → pull (full if the cursor is 0, else `/items/since/<ISO>`) → push
//! (live rows picked by markers) → cursor.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::clock::IdSource;
use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::{check_versions, enc, request, Method, Mode, Response, Step, Summary, SyncConfig};
use crate::error::{Error, Result};
use crate::model::{parse_server_item, LocalItem, ServerItem};
use crate::platform::{Behaviour, CursorRule, ProfileParam, SinceFormat};
use crate::rules::models::{self as rules, ModelMerge, StartReset};
use crate::store::items as store_items;
use crate::store::markers;
use crate::store::{get_setting, set_setting, Store};
use protocol::TransportError;

/// The setting the platform models keep their `lastSyncTime` in: a reading
/// of the device's own clock (D8). Public so observers (the simulator's
/// checker) read it under the one name.
pub const CURSOR: &str = "sync.legacy.lastSyncTime";
const LAST_URL: &str = "sync.legacy.lastSyncServerUrl";
const LAST_PROFILE: &str = "sync.legacy.lastSyncProfileId";
const LOCAL_PROFILE: &str = "sync.localProfileId";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Pull,
    Push,
    Finish,
    Done,
}

pub struct LegacySession {
    cfg: SyncConfig,
    mode: Mode,
    ids: Arc<dyn IdSource>,
    b: Behaviour,
    phase: Phase,
    inflight: Option<String>,
    summary: Summary,
    start_time: i64,
    push_time: i64,
    cursor: i64,
    local_profile: String,
    queue: VecDeque<String>,
    /// `X-Peek-Client`: the model's header unless renamed
    /// (`SyncSession::with_client`).
    pub(in crate::sync) client: String,
    /// `X-Peek-Device`, if any (`SyncSession::with_device`).
    pub(in crate::sync) device: Option<String>,
}

impl LegacySession {
    pub fn new(cfg: SyncConfig, mode: Mode, ids: Arc<dyn IdSource>) -> Self {
        let b = cfg.model.behaviour();
        Self {
            client: b.client_header.to_string(),
            device: None,
            cfg,
            mode,
            ids,
            b,
            phase: Phase::Start,
            inflight: None,
            summary: Summary::default(),
            start_time: 0,
            push_time: 0,
            cursor: 0,
            local_profile: String::new(),
            queue: VecDeque::new(),
        }
    }

    /// `?profile=` as each original sends it (D16).
    fn query(&self) -> String {
        let sp = self.cfg.server_profile.as_deref();
        match self.b.profile {
            ProfileParam::Strict | ProfileParam::ServerOrOmit => sp
                .map(|p| format!("?profile={}", enc(p)))
                .unwrap_or_default(),
            ProfileParam::ServerOrDefault => format!("?profile={}", enc(sp.unwrap_or("default"))),
            ProfileParam::LocalIdWithSlug => format!(
                "?profile={}&slug={}",
                enc(&self.local_profile),
                enc(sp.unwrap_or("default"))
            ),
            ProfileParam::ServerElseLocalId => {
                format!("?profile={}", enc(sp.unwrap_or(&self.local_profile)))
            }
        }
    }

    fn since(&self) -> String {
        let iso = protocol::timestamp::format_iso(self.cursor);
        match self.b.since {
            SinceFormat::IsoMs => enc(&iso),
            // Inserted raw, not URL-encoded (§4.4).
            SinceFormat::Rfc3339Raw => iso.replace('Z', "000000+00:00"),
        }
    }

    fn send(&mut self, method: Method, path: String, body: Option<&Value>, what: String) -> Step {
        self.summary.requests += 1;
        self.inflight = Some(what);
        Step::Send(request(
            method,
            path,
            body,
            &self.cfg.api_key,
            &self.client,
            self.device.as_deref(),
        ))
    }

    fn start(&mut self, store: &mut Store, now: i64) -> Result<()> {
        let url = self.cfg.server_url.clone();
        let profile = self.cfg.server_profile.clone().unwrap_or_default();
        let rule = self.b.server_change;
        let ids = self.ids.clone();
        let (cursor, local, reset) = store.tx(|tx| {
            let local = match get_setting(tx, LOCAL_PROFILE)? {
                Some(l) => l,
                None => {
                    let l = ids.uuid();
                    set_setting(tx, LOCAL_PROFILE, &l)?;
                    l
                }
            };
            let stored_url = get_setting(tx, LAST_URL)?;
            let stored_profile = get_setting(tx, LAST_PROFILE)?.unwrap_or_default();
            let stored = stored_url.as_deref().map(|u| (u, stored_profile.as_str()));
            let reset = match rules::start_reset(rule, stored, &url, &profile) {
                StartReset::Keep => false,
                StartReset::Reset => true,
                StartReset::IfAnyFromServer => markers::any_live_from_server(tx)?,
            };
            if reset {
                markers::forget_live(tx)?;
                set_setting(tx, CURSOR, "0")?;
            }
            let cursor = get_setting(tx, CURSOR)?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            Ok((cursor, local, reset))
        })?;
        self.cursor = if self.mode == Mode::PullOnly && self.b.pull_only_full {
            0
        } else {
            cursor
        };
        self.local_profile = local;
        self.summary.server_changed = reset;
        self.start_time = now;
        self.phase = if self.mode == Mode::PushOnly {
            Phase::Push
        } else {
            Phase::Pull
        };
        Ok(())
    }

    fn fill_queue(&mut self, store: &Store) -> Result<()> {
        let incremental = self.cursor > 0 || self.b.incremental_always;
        self.queue = markers::live_markers(store.conn())?
            .into_iter()
            .filter(|m| {
                rules::marked_for_push(&m.sync_source, m.synced_at, m.updated_at, incremental)
            })
            .map(|m| m.id)
            .collect();
        Ok(())
    }

    pub fn poll(&mut self, store: &mut Store, now: i64) -> Result<Step> {
        loop {
            match self.phase {
                Phase::Start => self.start(store, now)?,
                Phase::Pull => {
                    let path = if self.cursor > 0 {
                        format!("/items/since/{}{}", self.since(), self.query())
                    } else {
                        format!("/items{}", self.query())
                    };
                    return Ok(self.send(Method::Get, path, None, String::new()));
                }
                Phase::Push if self.mode == Mode::PullOnly => self.phase = Phase::Finish,
                Phase::Push => {
                    if self.push_time == 0 {
                        self.push_time = now;
                        self.fill_queue(store)?;
                    }
                    let Some(id) = self.queue.pop_front() else {
                        self.phase = Phase::Finish;
                        continue;
                    };
                    let Some(it) = store.item(&id)? else { continue };
                    let mut o = Map::new();
                    o.insert("type".into(), json!(it.kind.as_str()));
                    o.insert("content".into(), json!(it.content));
                    o.insert("tags".into(), json!(it.tags));
                    let sid = if it.sync_id.is_empty() {
                        &it.id
                    } else {
                        &it.sync_id
                    };
                    o.insert("sync_id".into(), json!(sid));
                    if let Some(m) = it.metadata.as_deref().filter(|m| *m != "{}") {
                        if let Ok(v) = serde_json::from_str::<Value>(m) {
                            o.insert("metadata".into(), v);
                        }
                    }
                    let path = format!("/items{}", self.query());
                    return Ok(self.send(Method::Post, path, Some(&Value::Object(o)), id));
                }
                Phase::Finish => {
                    let value = match (self.mode, self.b.cursor) {
                        (Mode::PushOnly, _) if self.b.cursor_on_push_only => {
                            Some(self.push_time.max(self.start_time))
                        }
                        (Mode::PushOnly, _) => None,
                        (Mode::PullOnly, _) if !self.b.cursor_on_pull_only => None,
                        (_, CursorRule::StartTime) => Some(self.start_time),
                        // D6: mobile takes the time after the push.
                        (_, CursorRule::EndTime) => Some(now),
                    };
                    if let Some(v) = value {
                        store.tx(|tx| set_setting(tx, CURSOR, &v.to_string()))?;
                    }
                    self.phase = Phase::Done;
                }
                Phase::Done => return Ok(Step::Done(self.summary.clone())),
            }
        }
    }

    pub fn on_response(
        &mut self,
        store: &mut Store,
        resp: std::result::Result<Response, TransportError>,
        now: i64,
    ) -> Result<()> {
        let what = self
            .inflight
            .take()
            .ok_or_else(|| Error::Invalid("on_response() without a request".into()))?;
        match self.phase {
            Phase::Pull => {
                let resp = resp?;
                check_versions(&resp)?;
                super::require_200(&resp)?;
                self.on_pull(store, &resp, now)
            }
            _ => {
                // Push errors are counted, not thrown (§4.1), except 409.
                let ok = match resp {
                    Ok(r) => {
                        check_versions(&r)?;
                        (200..300).contains(&r.status).then_some(r)
                    }
                    Err(_) => None,
                };
                let id = ok
                    .and_then(|r| r.json().ok())
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string));
                match id {
                    Some(sid) => {
                        store.tx(|tx| markers::mark_pushed(tx, &what, &sid, now))?;
                        self.summary.pushed += 1;
                    }
                    None => self.summary.failed += 1,
                }
                Ok(())
            }
        }
    }

    fn on_pull(&mut self, store: &mut Store, resp: &Response, now: i64) -> Result<()> {
        let body = resp.json()?;
        let raw = body
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Malformed("answer without items".into()))?;
        // Typed deserialization of the whole answer (Tauri, mobile: D1/D2).
        let items = raw
            .iter()
            .map(|v| parse_server_item(v, self.b.timestamp_keys))
            .collect::<Result<Vec<_>>>()?;
        for s in &items {
            // One item at a time, not one transaction: as the originals.
            let ids = self.ids.clone();
            let b = self.b;
            let outcome = store.tx(|tx| merge(tx, ids.as_ref(), &b, s, now))?;
            match outcome {
                Merge::Pulled => self.summary.pulled += 1,
                Merge::Conflict => self.summary.conflicts += 1,
                Merge::Skipped => {}
                Merge::NotNullCrash => {
                    return Err(Error::Malformed(
                        "NOT NULL constraint failed: items.createdAt (D1)".into(),
                    ))
                }
            }
        }
        let (url, profile) = (
            self.cfg.server_url.clone(),
            self.cfg.server_profile.clone().unwrap_or_default(),
        );
        if self.mode == Mode::Full || self.b.markers_on_pull_only {
            store.tx(|tx| {
                set_setting(tx, LAST_URL, &url)?;
                set_setting(tx, LAST_PROFILE, &profile)
            })?;
        }
        self.phase = Phase::Push;
        Ok(())
    }
}

enum Merge {
    Pulled,
    Conflict,
    Skipped,
    NotNullCrash,
}

/// Asks `rules::models::merge` and applies its answer.
fn merge(
    tx: &Connection,
    ids: &dyn IdSource,
    b: &Behaviour,
    s: &ServerItem,
    now: i64,
) -> Result<Merge> {
    let deleted_twin = b.skip_if_deleted_twin && markers::deleted_with_sync_id(tx, &s.id)?;
    let local = if b.skip_if_deleted_twin && deleted_twin {
        None
    } else {
        markers::live_by_sync_id(tx, &s.id)?
    };
    Ok(match rules::merge(b, deleted_twin, local.as_ref(), s) {
        ModelMerge::Skip => Merge::Skipped,
        ModelMerge::Conflict => Merge::Conflict,
        ModelMerge::Insert { crash } => {
            let nan = s.updated_at == i64::MIN;
            let item = LocalItem {
                id: ids.uuid(),
                kind: s.kind,
                content: s.content.clone(),
                metadata: s.metadata.clone(),
                tags: s.tags.clone(),
                sync_id: s.id.clone(),
                sync_source: "server".into(),
                synced_at: now,
                created_at: if s.created_at == i64::MIN {
                    now
                } else {
                    s.created_at
                },
                updated_at: if nan { 0 } else { s.updated_at },
                deleted_at: 0,
                local_rev: 1,
            };
            store_items::insert(tx, ids, &item)?;
            // The half-initialised row stays (the insert committed first).
            if crash {
                Merge::NotNullCrash
            } else {
                Merge::Pulled
            }
        }
        ModelMerge::Update { kind, content } => {
            let Some(local) = local else {
                return Err(Error::Invalid("an update without a local row".into()));
            };
            markers::write_pulled(
                tx,
                &local.id,
                kind,
                content.as_deref(),
                s.metadata.as_deref(),
                s.updated_at,
                now,
            )?;
            store_items::set_tags(tx, ids, &local.id, &s.tags, now)?;
            Merge::Pulled
        }
    })
}
