//! The real server, in-process: the production `server::app` router over
//! real SQLite files in a temporary directory, called without sockets, with
//! a clock the simulator sets before every request. It can be restarted
//! from disk and restored from a snapshot of its files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use http_body_util::BodyExt;
use server::clock::{ManualClock, SeededIds};
use server::AppState;
use tower::ServiceExt;

/// One HTTP exchange's request, as the simulator and traces see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HttpRequest {
    pub method: String,
    /// Path and query, e.g. `/items/changes?after=3`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
}

/// One HTTP exchange's response.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HttpResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

/// A server under simulation.
pub struct ServerHost {
    pub name: String,
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    state: AppState,
    id_seed: u64,
    restarts: u64,
    rt: tokio::runtime::Runtime,
}

/// Errors of the host itself (not of requests).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("server state: {0}")]
    State(#[from] server::error::ApiError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("runtime: {0}")]
    Http(String),
}

impl ServerHost {
    /// A fresh server with one user per `(user, key)`.
    pub fn new(
        name: &str,
        id_seed: u64,
        start_ms: i64,
        users: &[(&str, &str)],
    ) -> Result<Self, HostError> {
        let dir = tempfile::tempdir()?;
        let clock = Arc::new(ManualClock::new(start_ms));
        let state = AppState::open(dir.path(), clock.clone(), Arc::new(SeededIds::new(id_seed)))?;
        for (u, k) in users {
            state
                .system
                .create_user(u, k, "2026-01-01T00:00:00.000Z")
                .map_err(server::error::ApiError::from)?;
        }
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        Ok(Self {
            name: name.to_string(),
            dir,
            clock,
            state,
            id_seed,
            restarts: 0,
            rt,
        })
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Sets the server's clock reading for the next request.
    pub fn set_time(&self, ms: i64) {
        self.clock.set(ms);
    }

    /// Sends one request through the production router.
    pub fn call(&self, req: &HttpRequest) -> Result<HttpResponse, HostError> {
        let mut b = axum::http::Request::builder()
            .method(req.method.as_str())
            .uri(&req.path);
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        let body = match &req.body {
            Some(v) => {
                Body::from(serde_json::to_vec(v).map_err(|e| HostError::Http(e.to_string()))?)
            }
            None => Body::empty(),
        };
        let request = b.body(body).map_err(|e| HostError::Http(e.to_string()))?;
        let app = server::app(self.state.clone());
        self.rt.block_on(async move {
            let resp = app
                .oneshot(request)
                .await
                .map_err(|e| HostError::Http(e.to_string()))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| HostError::Http(e.to_string()))?
                .to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            });
            Ok(HttpResponse { status, body })
        })
    }

    /// A restart: every connection and cache dropped, state reopened from
    /// the files on disk, start-up sequence run again.
    pub fn restart(&mut self) -> Result<(), HostError> {
        self.restarts += 1;
        self.state.stores.close_all();
        let ids = Arc::new(SeededIds::new(
            self.id_seed ^ self.restarts.wrapping_mul(0x9E37_79B9),
        ));
        let state = AppState::open(self.dir.path(), self.clock.clone(), ids)?;
        server::boot::prepare(&state, &server::boot::BootOptions::default())?;
        self.state = state;
        Ok(())
    }

    /// Copies every file of the data directory (a crash-consistent copy:
    /// the server's connections are closed first).
    pub fn snapshot(&self) -> Result<Snapshot, HostError> {
        self.state.stores.close_all();
        let snap = tempfile::tempdir()?;
        copy_tree(self.dir.path(), snap.path())?;
        Ok(Snapshot { dir: snap })
    }

    /// Restores a snapshot (the server "restored from an older backup")
    /// and restarts on it.
    pub fn restore(&mut self, snap: &Snapshot) -> Result<(), HostError> {
        self.state.stores.close_all();
        for e in std::fs::read_dir(self.dir.path())? {
            let p = e?.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
        copy_tree(snap.dir.path(), self.dir.path())?;
        self.restart()
    }
}

/// A copy of a server's data directory.
pub struct Snapshot {
    dir: tempfile::TempDir,
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(from)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        let Some(name) = p.file_name() else { continue };
        let dst = to.join(name);
        if p.is_dir() {
            copy_tree(&p, &dst)?;
        } else {
            std::fs::copy(&p, &dst)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post(body: serde_json::Value) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: "/items".into(),
            headers: vec![("authorization".into(), "Bearer k".into())],
            body: Some(body),
        }
    }

    #[test]
    fn serves_restarts_and_restores() {
        let mut h = ServerHost::new("s0", 1, 1_000, &[("u", "k")]).unwrap();
        let r = h
            .call(&post(json!({"type":"text","content":"a","sync_id":"1"})))
            .unwrap();
        assert_eq!(r.status, 200);
        let snap = h.snapshot().unwrap();
        h.set_time(2_000);
        h.call(&post(json!({"type":"text","content":"b","sync_id":"2"})))
            .unwrap();
        h.restart().unwrap();
        let list = HttpRequest {
            method: "GET".into(),
            path: "/items".into(),
            headers: vec![("authorization".into(), "Bearer k".into())],
            body: None,
        };
        assert_eq!(
            h.call(&list).unwrap().body["items"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        h.restore(&snap).unwrap();
        assert_eq!(
            h.call(&list).unwrap().body["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
