//! The server side of the world: writers outside the sync path (the
//! extension's save button, shortcuts, scripts: `PATCH` tags, `DELETE`,
//! the webhook and the legacy endpoints) and changes to the account that
//! no device makes (a profile deleted, re-created, renamed; the key
//! rotated). Every write goes through the production router over HTTP
//! semantics, as those writers send it, and is logged in the write oracle
//! with what it must do; every account change moves what the world
//! considers each profile's identity (`Names`), and devices learn of it
//! the way a user would tell them: at their next sync, when they see
//! theirs refused (`World::repoint`).

use engine::store::items::normalize_tags;
use engine::sync::{Method, Request, Response};
use serde_json::{json, Value};

use super::{World, WorldError};
use crate::event::{AccountChange, ApiWrite};
use crate::host::PROFILES;
use crate::oracle::{Write, WriteKind, Writer};
use crate::upstream::{Net, UpstreamError, Wire};

/// The name writers outside sync go by in traces.
pub const API_DEVICE: &str = "api";

/// What the world calls one server profile now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub id: String,
    pub name: String,
    /// Deleted on the server and not re-created yet.
    pub deleted: bool,
}

impl Name {
    /// How a device names it: its slug (what the server derives from the
    /// name) or its UUID.
    pub fn target(&self, by_slug: bool) -> String {
        if by_slug && !self.name.is_empty() {
            server::store::system::slugify(&self.name)
        } else {
            self.id.clone()
        }
    }
}

/// Every server's profiles and key, as they are now.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Per server, per `host::PROFILES` index.
    pub profiles: Vec<Vec<Name>>,
    /// Per server, the world user's key.
    pub keys: Vec<String>,
}

/// One live row, as a writer outside sync reads it to pick one.
#[derive(Debug, Clone)]
struct LiveRow {
    id: String,
    kind: String,
    origin: Option<String>,
    content: Option<String>,
    tags: Vec<String>,
}

/// A name marks a profile as renamed; renaming again takes it back.
const RENAMED: &str = " (renamed)";

impl World {
    /// `?profile=<uuid>&strictProfile=true` for an API writer on `(s, p)`.
    fn api_request(
        &self,
        s: usize,
        p: usize,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Request {
        let sep = if path.contains('?') { '&' } else { '?' };
        Request {
            method,
            path: format!(
                "{path}{sep}profile={}&strictProfile=true",
                self.names.profiles[s][p].id
            ),
            headers: vec![
                (
                    "Authorization".into(),
                    format!("Bearer {}", self.names.keys[s]),
                ),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: body.map(|b| b.to_string().into_bytes()),
        }
    }

    /// One call of a writer outside sync, at the server's time now,
    /// through a wire of its own (device `api`, no faults): traced like
    /// every exchange, so a trace replays what it wrote.
    fn api_call(&mut self, s: usize, req: Request) -> Option<Response> {
        let now = self.server_now();
        let server_now = move || now;
        let mut ledger = crate::transfer::Ledger::default();
        let mut wire = Wire {
            up: self.servers[s].as_ref(),
            server: s,
            device: API_DEVICE,
            device_now: now,
            server_now: &server_now,
            faults: std::collections::VecDeque::new(),
            partitioned: false,
            trace: &mut self.trace,
            stats: &mut self.stats,
            ledger: &mut ledger,
        };
        wire.send(req)
            .ok()
            .filter(|r| (200..300).contains(&r.status))
    }

    /// The live rows of `(s, p)`.
    fn live_rows(&mut self, s: usize, p: usize) -> Vec<LiveRow> {
        let req = self.api_request(s, p, Method::Get, "/items", None);
        let Some(resp) = self.api_call(s, req) else {
            return Vec::new();
        };
        let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|it| it["deletedAt"].as_i64().unwrap_or(0) == 0)
            .map(|it| LiveRow {
                id: it["id"].as_str().unwrap_or_default().to_string(),
                kind: it["type"].as_str().unwrap_or_default().to_string(),
                origin: it["metadata"]["origin"].as_str().map(str::to_string),
                content: it["content"].as_str().map(str::to_string),
                tags: crate::workload::tags_of(it),
            })
            .collect()
    }

    fn record_api(&mut self, s: usize, p: usize, origin: String, what: WriteKind) {
        let edited_at = self.server_now();
        self.writes.push(Write {
            by: Writer::Api {
                server: s,
                profile: p,
            },
            origin,
            what,
            at: self.t,
            edited_at,
        });
    }

    /// `Event::Api`: one write through a non-sync endpoint. A profile that
    /// is deleted refuses it (the writer's error, not the world's).
    pub(super) fn api_write(
        &mut self,
        s: usize,
        p: usize,
        write: &ApiWrite,
    ) -> Result<(), WorldError> {
        if s >= self.servers.len() || p >= PROFILES.len() || self.names.profiles[s][p].deleted {
            return Ok(());
        }
        match write {
            ApiWrite::Retag { pick, tag } => {
                let rows = self.live_rows(s, p);
                if rows.is_empty() {
                    return Ok(());
                }
                let LiveRow {
                    id,
                    origin,
                    content,
                    mut tags,
                    ..
                } = rows[*pick as usize % rows.len()].clone();
                tags.push(tag.clone());
                let tags = normalize_tags(&tags);
                let req = self.api_request(
                    s,
                    p,
                    Method::Patch,
                    &format!("/items/{id}/tags"),
                    Some(json!({ "tags": tags })),
                );
                if self.api_call(s, req).is_some() {
                    if let Some(origin) = origin {
                        self.record_api(s, p, origin, WriteKind::Edit { content, tags });
                    }
                }
            }
            ApiWrite::Resave { pick, tag } => {
                let rows: Vec<LiveRow> = self
                    .live_rows(s, p)
                    .into_iter()
                    .filter(|r| r.kind == "url" || r.kind == "text")
                    .collect();
                if rows.is_empty() {
                    return Ok(());
                }
                let row = rows[*pick as usize % rows.len()].clone();
                // Two rows of one content (made apart, §5.6): the merge
                // goes to the older, which the writer does not know.
                if rows
                    .iter()
                    .filter(|r| r.kind == row.kind && r.content == row.content)
                    .count()
                    > 1
                {
                    return Ok(());
                }
                let mut tags = row.tags.clone();
                tags.push(tag.clone());
                let tags = normalize_tags(&tags);
                let body = if row.kind == "url" {
                    (
                        "/webhook",
                        json!({ "urls": [{ "url": row.content, "tags": tags }] }),
                    )
                } else {
                    ("/texts", json!({ "content": row.content, "tags": tags }))
                };
                let req = self.api_request(s, p, Method::Post, body.0, Some(body.1));
                if self.api_call(s, req).is_some() {
                    if let Some(origin) = row.origin {
                        let content = row.content;
                        self.record_api(s, p, origin, WriteKind::Edit { content, tags });
                    }
                }
            }
            ApiWrite::Delete { pick } => {
                let rows = self.live_rows(s, p);
                if rows.is_empty() {
                    return Ok(());
                }
                let LiveRow { id, origin, .. } = rows[*pick as usize % rows.len()].clone();
                let req = self.api_request(s, p, Method::Delete, &format!("/items/{id}"), None);
                if self.api_call(s, req).is_some() {
                    if let Some(origin) = origin {
                        self.record_api(s, p, origin, WriteKind::Delete);
                    }
                }
            }
            ApiWrite::Webhook { tags } | ApiWrite::Text { tags } | ApiWrite::Tagset { tags } => {
                let mut tags = tags.clone();
                self.api_creates += 1;
                let origin = format!("api{s}-c{}", self.api_creates);
                let meta = json!({ "origin": origin });
                let (path, body, content) = match write {
                    ApiWrite::Webhook { .. } => {
                        let url = format!("https://saved.example/{origin}");
                        let body =
                            json!({ "urls": [{ "url": url, "tags": tags, "metadata": meta }] });
                        ("/webhook", body, Some(url))
                    }
                    ApiWrite::Text { .. } => {
                        let text = format!("note {origin}");
                        (
                            "/texts",
                            json!({ "content": text, "tags": tags, "metadata": meta }),
                            Some(text),
                        )
                    }
                    // A tagset's content is its tags, and an unsynced write
                    // the same as a live row is that row (the server's
                    // content dedup): one tag of its own keeps each new.
                    _ => {
                        tags.push(origin.clone());
                        ("/tagsets", json!({ "tags": tags, "metadata": meta }), None)
                    }
                };
                let req = self.api_request(s, p, Method::Post, path, Some(body));
                if self.api_call(s, req).is_some() {
                    self.allowed
                        .entry(origin.clone())
                        .or_default()
                        .insert((s, p));
                    let tags = normalize_tags(&tags);
                    self.record_api(s, p, origin, WriteKind::Create { content, tags });
                }
            }
        }
        self.stats.api_writes += 1;
        Ok(())
    }

    /// `Event::Account`: the account changes on server `s` (in-process
    /// servers only: a live account is never touched this way).
    pub(super) fn account_change(
        &mut self,
        s: usize,
        change: &AccountChange,
    ) -> Result<(), WorldError> {
        if s >= self.servers.len() || !self.servers[s].caps().lifecycle {
            return Ok(());
        }
        let done = match change {
            AccountChange::DeleteProfile { profile: p } => self.delete_profile(s, *p),
            AccountChange::RecreateProfile { profile: p } => self.recreate_profile(s, *p),
            AccountChange::RenameProfile { profile: p } => {
                let Some(n) = self.names.profiles[s]
                    .get(*p)
                    .filter(|n| !n.deleted)
                    .cloned()
                else {
                    return Ok(());
                };
                let name = match n.name.strip_suffix(RENAMED) {
                    Some(back) => back.to_string(),
                    None => format!("{}{RENAMED}", n.name),
                };
                match self.servers[s].rename_profile(&n.id, &name) {
                    Ok(()) => {
                        self.names.profiles[s][*p].name = name;
                        true
                    }
                    Err(UpstreamError::Unsupported(_)) => false,
                    Err(e) => return Err(e.into()),
                }
            }
            AccountChange::RotateKey => {
                self.rotations += 1;
                let key = format!("{}-rotated-{}", crate::host::KEY, self.rotations);
                match self.servers[s].set_key(&key) {
                    Ok(()) => {
                        self.names.keys[s] = key;
                        true
                    }
                    Err(UpstreamError::Unsupported(_)) => false,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        // The event's own trace line says what changed.
        if done {
            self.stats.account_changes += 1;
        }
        Ok(())
    }

    fn delete_profile(&mut self, s: usize, p: usize) -> bool {
        if p >= PROFILES.len() || self.names.profiles[s][p].deleted {
            return false;
        }
        let id = self.names.profiles[s][p].id.clone();
        let req = Request {
            method: Method::Delete,
            path: format!("/profiles/{id}"),
            headers: vec![(
                "Authorization".into(),
                format!("Bearer {}", self.names.keys[s]),
            )],
            body: None,
        };
        if self.api_call(s, req).is_none() {
            return false;
        }
        self.names.profiles[s][p].deleted = true;
        // What only the server held there is gone (the oracle forgives
        // writes made straight to it before now).
        self.lost_at.insert((s, p), self.t);
        true
    }

    fn recreate_profile(&mut self, s: usize, p: usize) -> bool {
        if p >= PROFILES.len() || !self.names.profiles[s][p].deleted {
            return false;
        }
        let name = self.names.profiles[s][p].name.clone();
        let req = Request {
            method: Method::Post,
            path: "/profiles".into(),
            headers: vec![
                (
                    "Authorization".into(),
                    format!("Bearer {}", self.names.keys[s]),
                ),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: Some(json!({ "name": name }).to_string().into_bytes()),
        };
        let Some(resp) = self.api_call(s, req) else {
            return false;
        };
        let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        let Some(id) = v["profile"]["id"].as_str() else {
            return false;
        };
        let n = &mut self.names.profiles[s][p];
        n.id = id.to_string();
        n.deleted = false;
        true
    }

    /// Before healing, the user puts the account right: every deleted
    /// profile is created again (its devices are re-pointed at their next
    /// sync).
    pub(super) fn restore_account(&mut self) {
        for s in 0..self.servers.len() {
            for p in 0..PROFILES.len() {
                self.recreate_profile(s, p);
            }
        }
    }
}
