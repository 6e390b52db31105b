//! Test harness: the real `server::app` in-process (manual clock, seeded
//! ids) and devices, each an engine with its own store and its own clock.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use engine::model::ItemType;
use engine::store::items::NewItem;
use engine::sync::{Method, Request, Response};
use engine::{Mode, Model, Store, Summary, SyncConfig};
use protocol::clock::{Clock, ManualClock, SeededIds};
use protocol::{Transport, TransportError};
use serde_json::Value;
use server::AppState;
use server::InProcess;

pub const T0: i64 = 1_769_508_000_000; // 2026-01-27T10:00:00Z

pub struct Net {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub t: InProcess,
    pub url: String,
}

impl Net {
    pub fn new(url: &str, seed: u64) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(T0));
        let state = AppState::open(dir.path(), clock.clone(), Arc::new(SeededIds::new(seed)))
            .expect("open");
        state
            .system
            .create_user("alice", "alice-key", "2026-01-01T00:00:00.000Z")
            .expect("user");
        let t = InProcess::new(server::app(state.clone()));
        Net {
            dir,
            state,
            clock,
            t,
            url: url.to_string(),
        }
    }

    pub fn tick(&self, ms: i64) {
        self.clock.advance(ms);
    }

    pub fn create_profile(&self, id: &str, name: &str) {
        self.state
            .system
            .create_profile("alice", id, name, "2026-01-01T00:00:00.000Z")
            .expect("profile");
    }

    pub async fn raw(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let r = self
            .t
            .send(Request {
                method,
                path: path.to_string(),
                headers: vec![
                    ("Authorization".into(), "Bearer alice-key".into()),
                    ("Content-Type".into(), "application/json".into()),
                ],
                body: body.map(|b| b.to_string().into_bytes()),
            })
            .await
            .expect("send");
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    /// Server items of a profile (`None`: default), tombstones included.
    pub async fn items(&self, profile: Option<&str>) -> Vec<Value> {
        let q = profile
            .map(|p| format!("&profile={p}&strictProfile=true"))
            .unwrap_or_default();
        let (s, v) = self
            .raw(Method::Get, &format!("/items?includeDeleted=true{q}"), None)
            .await;
        assert_eq!(s, 200, "{v}");
        v["items"].as_array().cloned().unwrap_or_default()
    }

    pub async fn live(&self, profile: Option<&str>) -> Vec<Value> {
        self.items(profile)
            .await
            .into_iter()
            .filter(|i| i["deletedAt"].as_i64() == Some(0))
            .collect()
    }

    /// A write by "another device" straight to the server.
    pub async fn post(&self, body: Value) -> String {
        let (s, v) = self.raw(Method::Post, "/items", Some(body)).await;
        assert_eq!(s, 200, "{v}");
        v["id"].as_str().expect("id").to_string()
    }
}

pub struct Device {
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub ids: Arc<SeededIds>,
    pub cfg: SyncConfig,
}

impl Device {
    pub fn new(seed: u64, url: &str, profile: Option<&str>) -> Self {
        Self::with_store(Store::open_in_memory().expect("store"), seed, url, profile)
    }

    pub fn with_store(store: Store, seed: u64, url: &str, profile: Option<&str>) -> Self {
        Device {
            store,
            clock: Arc::new(ManualClock::new(T0)),
            ids: Arc::new(SeededIds::new(seed)),
            cfg: SyncConfig {
                server_url: url.to_string(),
                api_key: "alice-key".into(),
                server_profile: profile.map(str::to_string),
                model: Model::Reference,
            },
        }
    }

    /// The device imitates `m`, its local writes included (as the
    /// simulator's and the suite's engine devices do).
    pub fn model(mut self, m: Model) -> Self {
        self.cfg.model = m;
        self.store
            .set_tag_edits_mark_changed(m.behaviour().tag_edits_mark_changed);
        self
    }

    pub fn tag(&mut self, id: &str, tag: &str) {
        self.clock.advance(1);
        let now = self.now();
        self.store
            .tag_item(self.ids.as_ref(), now, id, tag)
            .expect("tag");
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub async fn sync_mode<T: Transport>(&mut self, t: &T, mode: Mode) -> engine::Result<Summary> {
        let clock = self.clock.clone();
        engine::run(
            &mut self.store,
            t,
            clock.as_ref(),
            self.ids.clone(),
            self.cfg.clone(),
            mode,
        )
        .await
    }

    pub async fn sync<T: Transport>(&mut self, t: &T) -> Summary {
        self.sync_mode(t, Mode::Full).await.expect("sync")
    }

    pub fn add(&mut self, kind: ItemType, content: Option<&str>, tags: &[&str]) -> String {
        self.clock.advance(1);
        let now = self.now();
        self.store
            .add_item(
                self.ids.as_ref(),
                now,
                NewItem {
                    kind: Some(kind),
                    content: content.map(str::to_string),
                    tags: tags.iter().map(|t| t.to_string()).collect(),
                    ..NewItem::default()
                },
            )
            .expect("add")
    }

    pub fn url(&mut self, u: &str) -> String {
        self.add(ItemType::Url, Some(u), &["t"])
    }

    pub fn edit(&mut self, id: &str, content: &str) {
        self.clock.advance(1);
        let now = self.now();
        self.store
            .update_item(
                self.ids.as_ref(),
                now,
                id,
                engine::store::items::Edit {
                    content: Some(content.into()),
                    ..Default::default()
                },
            )
            .expect("edit");
    }

    pub fn delete(&mut self, id: &str) {
        self.clock.advance(1);
        let now = self.now();
        self.store.delete_item(now, id).expect("delete");
    }

    /// Live items as sorted `type|content|tags` lines.
    pub fn live(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .store
            .items(false)
            .expect("items")
            .iter()
            .map(|i| {
                format!(
                    "{}|{}|{}",
                    i.kind.as_str(),
                    i.content.clone().unwrap_or_default(),
                    i.tags.join(",")
                )
            })
            .collect();
        v.sort();
        v
    }
}

/// Server items as the same sorted lines.
pub fn lines(items: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = items
        .iter()
        .map(|i| {
            let mut tags: Vec<String> = i["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            tags.sort();
            format!(
                "{}|{}|{}",
                i["type"].as_str().unwrap_or(""),
                i["content"].as_str().unwrap_or(""),
                tags.join(",")
            )
        })
        .collect();
    v.sort();
    v
}

/// What a [`Faulty`] transport does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// Answer with this status without reaching the server.
    Status(u16),
    /// Drop the request before the server sees it.
    Drop,
    /// Let the server commit, then lose the response.
    LoseResponse,
}

type Decide = Box<dyn FnMut(&Request) -> Fault + Send>;
type Rewrite = Box<dyn Fn(&Request, Response) -> Response + Send + Sync>;

/// Wraps the in-process server with scripted faults and rewrites.
pub struct Faulty {
    pub inner: InProcess,
    decide: Mutex<Decide>,
    rewrite: Option<Rewrite>,
    pub log: Mutex<Vec<String>>,
}

impl Faulty {
    pub fn new(inner: InProcess, decide: impl FnMut(&Request) -> Fault + Send + 'static) -> Self {
        Faulty {
            inner,
            decide: Mutex::new(Box::new(decide)),
            rewrite: None,
            log: Mutex::new(Vec::new()),
        }
    }

    pub fn rewriting(
        mut self,
        f: impl Fn(&Request, Response) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.rewrite = Some(Box::new(f));
        self
    }
}

impl Transport for Faulty {
    fn send(
        &self,
        req: Request,
    ) -> impl std::future::Future<Output = Result<Response, TransportError>> + Send {
        let fault = (self.decide.lock().expect("lock"))(&req);
        self.log
            .lock()
            .expect("lock")
            .push(format!("{:?} {}", req.method, req.path));
        async move {
            match fault {
                Fault::Status(s) => {
                    return Ok(Response {
                        status: s,
                        headers: vec![],
                        body: b"{\"error\":\"scripted\"}".to_vec(),
                    })
                }
                Fault::Drop => return Err(TransportError::Io("connection dropped".into())),
                _ => {}
            }
            let r = self.inner.send(req.clone()).await?;
            if fault == Fault::LoseResponse {
                return Err(TransportError::Timeout);
            }
            Ok(match &self.rewrite {
                Some(f) => f(&req, r),
                None => r,
            })
        }
    }
}

/// Rewrites `GET /` so the server looks like the deployed v1 server: no
/// `features`, so no change feed, batch or conflict fields.
pub fn as_v1_server(req: &Request, mut r: Response) -> Response {
    if req.path == "/" {
        r.body = br#"{"status":"ok","message":"Webhook server running","datastore_version":1,"protocol_version":1}"#.to_vec();
    }
    r
}

pub fn is_push(r: &Request) -> bool {
    r.method == Method::Post && r.path.starts_with("/items")
}
