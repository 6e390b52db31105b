//! In-process test harness: the real `server::app` over a temp data dir,
//! with a manual clock and seeded ids, called through `tower::oneshot`.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use server::clock::{ManualClock, SeededIds};
use server::AppState;
use tower::ServiceExt;

pub const T0: i64 = 1_769_508_000_000; // 2026-01-27T10:00:00Z

pub struct Srv {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub key: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
    pub bytes: Vec<u8>,
}

impl Srv {
    /// A server with user `alice` (key `alice-key`) and `bob` (`bob-key`).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(T0));
        let state =
            AppState::open(dir.path(), clock.clone(), Arc::new(SeededIds::new(1))).expect("open");
        state
            .system
            .create_user("alice", "alice-key", "2026-01-01T00:00:00.000Z")
            .unwrap();
        state
            .system
            .create_user("bob", "bob-key", "2026-01-01T00:00:00.000Z")
            .unwrap();
        Srv {
            dir,
            state,
            clock,
            key: "alice-key".into(),
        }
    }

    pub fn tick(&self, ms: i64) {
        self.clock.advance(ms);
    }

    pub async fn req(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        self.send(b.body(body).unwrap()).await
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = server::app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
            bytes: bytes.to_vec(),
        }
    }

    /// An authenticated request as `key`'s owner.
    pub async fn as_key(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let auth = format!("Bearer {key}");
        self.req(method, path, body, &[("authorization", &auth)])
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.as_key(&self.key.clone(), Method::GET, path, None)
            .await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.as_key(&self.key.clone(), Method::POST, path, Some(body))
            .await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.as_key(&self.key.clone(), Method::DELETE, path, None)
            .await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.as_key(&self.key.clone(), Method::PATCH, path, Some(body))
            .await
    }

    /// Every item of a profile, tombstones included.
    pub async fn all(&self, profile: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/items?includeDeleted=true&profile={profile}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["items"].as_array().cloned().unwrap_or_default()
    }

    /// A digest of everything stored for a user: used to prove that a
    /// rejected request wrote nothing.
    pub fn fingerprint(&self, user: &str) -> String {
        let mut out = String::new();
        for p in self.state.system.profiles(user).unwrap() {
            out.push_str(&format!("profile {} {}\n", p.id, p.slug));
            let db = self.state.profile_db(user, &p.id).unwrap();
            let dump = db
                .read(|c| {
                    let mut out = String::new();
                    for table in ["items", "tags", "item_tags"] {
                        let mut st = c
                            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                            .unwrap();
                        let n = st.column_count();
                        let rows = st
                            .query_map([], |r| {
                                Ok((0..n)
                                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                                    .collect::<Vec<_>>()
                                    .join("|"))
                            })
                            .unwrap();
                        for row in rows {
                            out.push_str(&format!("{table}: {}\n", row.unwrap()));
                        }
                    }
                    Ok(out)
                })
                .unwrap();
            out.push_str(&dump);
        }
        out
    }
}

impl Srv {
    pub fn clock_now(&self) -> i64 {
        use server::clock::Clock;
        self.clock.now_ms()
    }
}

impl Srv {
    /// A server over an existing data directory (e.g. one the Node server
    /// wrote), after the start-up sequence; `key` is the caller's key.
    pub fn boot(
        dir: tempfile::TempDir,
        key: &str,
        opts: &server::boot::BootOptions,
    ) -> (Self, server::boot::BootReport) {
        let clock = Arc::new(ManualClock::new(T0 + 86_400_000));
        let state =
            AppState::open(dir.path(), clock.clone(), Arc::new(SeededIds::new(2))).expect("open");
        let report = server::boot::prepare(&state, opts).expect("boot");
        (
            Srv {
                dir,
                state,
                clock,
                key: key.into(),
            },
            report,
        )
    }
}
