//! A server that is a script: each request the session sends must match
//! the next expected method and path prefix, and gets the canned answer
//! queued with it. Anything unexpected (a request too many, another
//! path, an answer left unused) fails the test, so a test states the
//! whole exchange, and `sent` keeps every request for assertions on what
//! was pushed.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::clock::SeededIds;
use serde_json::{json, Value};

use crate::error::Result;
use crate::model::ItemType;
use crate::store::items::{Edit, NewItem};
use crate::store::Store;
use crate::sync::{Method, Mode, Request, Response, Step, Summary, SyncConfig, SyncSession};
use crate::transport::TransportError;
use crate::Model;

/// Features of the peek server (`GET /`).
pub const ALL: &[&str] = &["changes-feed", "batch-push", "edit-conflicts"];

struct Expect {
    method: Method,
    path: String,
    answer: std::result::Result<Response, TransportError>,
}

#[derive(Default)]
pub struct Script {
    queue: VecDeque<Expect>,
    /// Every request the session sent, in order.
    pub sent: Vec<Request>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// Expects `method` on a path starting with `path`, answers `answer`.
    pub fn on(
        mut self,
        method: Method,
        path: &str,
        answer: std::result::Result<Response, TransportError>,
    ) -> Self {
        self.queue.push_back(Expect {
            method,
            path: path.to_string(),
            answer,
        });
        self
    }

    /// A device's first sync of one new item: every extension advertised,
    /// the item created as `s1` at version 1, an empty feed up to 1.
    pub fn first_push() -> Self {
        Self::new()
            .hello(ALL)
            .on(
                Method::Post,
                "/items/batch",
                batch(vec![result("s1", "created", 1)]),
            )
            .on(
                Method::Get,
                "/items/changes?after=0",
                feed(vec![], 1, false),
            )
    }

    /// `GET /` advertising `features`.
    pub fn hello(self, features: &[&str]) -> Self {
        self.on(
            Method::Get,
            "/",
            ok(json!({ "features": features, "datastore_version": 1, "protocol_version": 1 })),
        )
    }

    fn answer(&mut self, req: &Request) -> std::result::Result<Response, TransportError> {
        self.sent.push(req.clone());
        let Some(e) = self.queue.pop_front() else {
            panic!("unexpected request {} {}", req.method.as_str(), req.path);
        };
        let path_only = req.path.split('?').next().unwrap_or_default();
        let matches = if e.path == "/" {
            path_only == "/"
        } else {
            req.path.starts_with(&e.path)
        };
        assert!(
            e.method == req.method && matches,
            "expected {} {}, got {} {}",
            e.method.as_str(),
            e.path,
            req.method.as_str(),
            req.path
        );
        e.answer
    }

    /// Fails if an expected request was never sent.
    pub fn assert_done(&self) {
        let left: Vec<String> = self
            .queue
            .iter()
            .map(|e| format!("{} {}", e.method.as_str(), e.path))
            .collect();
        assert!(left.is_empty(), "expected requests not sent: {left:?}");
    }

    /// The JSON body of the `n`-th request sent.
    pub fn body(&self, n: usize) -> Value {
        let req = &self.sent[n];
        serde_json::from_slice(req.body.as_deref().unwrap_or(b"null")).expect("JSON body")
    }

    /// The items of every push sent (`POST /items` or `/items/batch`).
    pub fn pushed(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for (n, r) in self.sent.iter().enumerate() {
            if r.method != Method::Post {
                continue;
            }
            let b = self.body(n);
            match b.get("items").and_then(Value::as_array) {
                Some(items) => out.extend(items.iter().cloned()),
                None => out.push(b),
            }
        }
        out
    }
}

pub fn answer(status: u16, body: Value) -> std::result::Result<Response, TransportError> {
    Ok(Response {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

pub fn ok(body: Value) -> std::result::Result<Response, TransportError> {
    answer(200, body)
}

/// A change-feed page.
pub fn feed(
    items: Vec<Value>,
    cursor: i64,
    more: bool,
) -> std::result::Result<Response, TransportError> {
    ok(json!({ "items": items, "cursor": cursor, "hasMore": more }))
}

/// A batch push answer, one result per item.
pub fn batch(results: Vec<Value>) -> std::result::Result<Response, TransportError> {
    ok(json!({ "results": results }))
}

/// One push result.
pub fn result(id: &str, status: &str, version: i64) -> Value {
    json!({ "id": id, "status": status, "version": version })
}

/// A server item as the peek server sends it.
pub fn item(id: &str, content: &str, version: i64, updated_at: i64) -> Value {
    json!({
        "id": id, "type": "url", "content": content, "tags": [],
        "createdAt": 1, "updatedAt": updated_at, "deletedAt": 0, "version": version,
    })
}

pub fn lost() -> std::result::Result<Response, TransportError> {
    Err(TransportError::Io("connection reset".into()))
}

/// One device: a store, seeded ids, a configuration and a clock that
/// moves one millisecond per call.
pub struct Device {
    pub store: Store,
    pub ids: Arc<SeededIds>,
    pub cfg: SyncConfig,
    pub now: i64,
}

pub const T0: i64 = 1_000_000;

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    pub fn new() -> Self {
        Self {
            store: Store::open_in_memory().expect("store"),
            ids: Arc::new(SeededIds::new(7)),
            cfg: SyncConfig {
                server_url: "http://s1".into(),
                api_key: "k".into(),
                server_profile: None,
                model: Model::Reference,
            },
            now: T0,
        }
    }

    fn tick(&mut self) -> i64 {
        self.now += 1;
        self.now
    }

    pub fn add(&mut self, kind: ItemType, content: &str) -> String {
        let now = self.tick();
        let ids = self.ids.clone();
        self.store
            .add_item(
                ids.as_ref(),
                now,
                NewItem {
                    kind: Some(kind),
                    content: Some(content.into()),
                    ..NewItem::default()
                },
            )
            .expect("add")
    }

    /// An image item with these bytes (`NewItem::image`).
    pub fn image(&mut self, name: &str, bytes: Vec<u8>) -> String {
        let now = self.tick();
        let ids = self.ids.clone();
        let new = NewItem::image(name, bytes, Vec::new()).expect("an image");
        self.store.add_item(ids.as_ref(), now, new).expect("add")
    }

    pub fn url(&mut self, content: &str) -> String {
        self.add(ItemType::Url, content)
    }

    pub fn edit(&mut self, id: &str, content: &str) {
        let now = self.tick();
        let ids = self.ids.clone();
        let edit = Edit {
            content: Some(content.into()),
            ..Edit::default()
        };
        assert!(self
            .store
            .update_item(ids.as_ref(), now, id, edit)
            .expect("edit"));
    }

    pub fn delete(&mut self, id: &str) {
        let now = self.tick();
        self.store.delete_item(now, id).expect("delete");
    }

    /// One sync over the script, to its end or its first error.
    pub fn sync_mode(&mut self, script: &mut Script, mode: Mode) -> Result<Summary> {
        let session = SyncSession::new(self.cfg.clone(), mode, self.ids.clone());
        self.sync_session(script, session)
    }

    /// A session made by the test (named with `with_client`, say).
    pub fn sync_session(
        &mut self,
        script: &mut Script,
        mut session: SyncSession,
    ) -> Result<Summary> {
        loop {
            let now = self.tick();
            match session.poll(&mut self.store, now)? {
                Step::Send(req) => {
                    let resp = script.answer(&req);
                    let now = self.tick();
                    session.on_response(&mut self.store, resp, now)?;
                }
                Step::Done(s) => return Ok(s),
            }
        }
    }

    /// One full sync in which `during` runs (a user's local edit) after
    /// the first request whose path starts with `path` reached the server
    /// and before its answer is applied: the window a real app opens
    /// whenever someone edits while a sync runs.
    pub fn sync_editing_in_flight(
        &mut self,
        script: &mut Script,
        path: &str,
        during: impl FnOnce(&mut Self),
    ) -> Summary {
        let mut session = SyncSession::new(self.cfg.clone(), Mode::Full, self.ids.clone());
        let mut during = Some(during);
        loop {
            let now = self.tick();
            match session.poll(&mut self.store, now).expect("poll") {
                Step::Send(req) => {
                    let hit = req.path.starts_with(path);
                    let resp = script.answer(&req);
                    if hit {
                        if let Some(f) = during.take() {
                            f(self);
                        }
                    }
                    let now = self.tick();
                    session
                        .on_response(&mut self.store, resp, now)
                        .expect("answer");
                }
                Step::Done(s) => {
                    assert!(during.is_none(), "no request to {path} was sent");
                    script.assert_done();
                    return s;
                }
            }
        }
    }

    pub fn sync(&mut self, script: &mut Script) -> Summary {
        let s = self.sync_mode(script, Mode::Full).expect("sync");
        script.assert_done();
        s
    }

    /// Live items as `content` strings, oldest first.
    pub fn live(&self) -> Vec<String> {
        self.store
            .items(false)
            .expect("items")
            .into_iter()
            .map(|i| i.content.unwrap_or_default())
            .collect()
    }

    pub fn pending(&self) -> i64 {
        crate::sync::pending_count(&self.store, &self.cfg).expect("pending")
    }
}
