//! The real server, in-process: the production `server::app` router over
//! real SQLite files in a temporary directory, called without sockets
//! (through the engine's `InProcess` transport), with a clock the simulator
//! sets before every request. It can be restarted from disk. Requests go
//! one at a time on a current-thread runtime, so the server runs its store
//! work inline (`server::state::Execution::Inline`): the same answers as
//! the blocking pool of production, without its thread hop.

use std::sync::Arc;

use engine::sync::{Request, Response};
use protocol::{Transport, TransportError};
use server::clock::{Clock, ManualClock, SeededIds};
use server::state::Execution;
use server::AppState;
use server::InProcess;

/// The user every simulated device syncs as.
pub const USER: &str = "alice";
pub const KEY: &str = "alice-key";
/// The two server profiles of every simulated server (fixed UUIDs, so a
/// profile means the same thing on every server).
pub const PROFILES: [(&str, &str); 2] = [
    ("0b5e0000-0000-4000-8000-000000000001", "Home"),
    ("0b5e0000-0000-4000-8000-000000000002", "Work"),
];

/// A server under simulation.
pub struct ServerHost {
    pub name: String,
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    state: AppState,
    /// The router over `state`, built once per (re)start.
    transport: InProcess,
    id_seed: u64,
    restarts: u64,
    rt: tokio::runtime::Runtime,
}

/// Errors of the host itself (not of requests).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("server state: {0}")]
    State(#[from] server::store::error::StoreError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("setup: {0}")]
    Setup(String),
}

impl ServerHost {
    /// A fresh server with the simulation user and its two profiles.
    pub fn new(name: &str, id_seed: u64, start_ms: i64) -> Result<Self, HostError> {
        let dir = crate::scratch::tempdir()?;
        let clock = Arc::new(ManualClock::new(start_ms));
        let state = AppState::open(dir.path(), clock.clone(), Arc::new(SeededIds::new(id_seed)))?
            .with_execution(Execution::Inline);
        let iso = server::timestamp::format_iso(start_ms);
        state
            .system
            .create_user(USER, KEY, &iso)
            .map_err(|e| HostError::Setup(e.to_string()))?;
        for (id, name) in PROFILES {
            state
                .system
                .create_profile(USER, id, name, &iso)
                .map_err(|e| HostError::Setup(e.to_string()))?;
        }
        let rt = tokio::runtime::Builder::new_current_thread().build()?;
        let transport = InProcess::new(server::app(state.clone()));
        Ok(Self {
            name: name.to_string(),
            dir,
            clock,
            state,
            transport,
            id_seed,
            restarts: 0,
            rt,
        })
    }

    /// Adds a profile with a given UUID (a replayed session's profiles
    /// keep their ids); an existing one is fine.
    pub fn add_profile(&self, id: &str, name: &str) -> Result<(), HostError> {
        let iso = server::timestamp::format_iso(self.clock.now_ms());
        match self.state.system.create_profile(USER, id, name, &iso) {
            Ok(_) | Err(server::store::system::CreateProfileError::Exists { .. }) => Ok(()),
            Err(e) => Err(HostError::Setup(e.to_string())),
        }
    }

    /// Gives the simulation user a new API key (what `peek-server user
    /// rotate-key` does).
    pub fn set_key(&self, key: &str) -> Result<(), HostError> {
        match self.state.system.set_key(USER, key) {
            Ok(true) => Ok(()),
            Ok(false) => Err(HostError::Setup(format!("no user {USER}"))),
            Err(e) => Err(HostError::Setup(e.to_string())),
        }
    }

    /// Renames one of the user's profiles (an operator's edit).
    pub fn rename_profile(&self, id: &str, name: &str) -> Result<(), HostError> {
        match self.state.system.rename_profile(USER, id, name) {
            Ok(_) => Ok(()),
            Err(e) => Err(HostError::Setup(e.to_string())),
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Sets the server's clock reading for the next request.
    pub fn set_time(&self, ms: i64) {
        self.clock.set(ms);
    }

    /// Sends one request through the production router.
    pub fn call(&self, req: Request) -> Result<Response, TransportError> {
        self.rt.block_on(self.transport.send(req))
    }

    /// Backs up the simulation user (the production backup code); returns
    /// the backup's name.
    pub fn backup(&mut self) -> Result<String, HostError> {
        let made = server::backup::backup_user(&self.state, USER)?;
        Ok(made.map(|b| b.filename).unwrap_or_default())
    }

    /// Stops, restores the newest backup (the production restore code) and
    /// restarts; `None` when there is no backup yet.
    pub fn restore_newest(&mut self) -> Result<Option<String>, HostError> {
        // The newest by its time stamp, as an operator would pick it (a
        // server clock that jumps back can make the last one taken older,
        // and retention may already have removed it).
        let Some(name) = server::backup::list(&self.state, USER)?
            .into_iter()
            .next()
            .map(|b| b.filename)
        else {
            return Ok(None);
        };
        self.state.stores.close_all();
        server::backup::restore_user(&self.state, USER, &name)?;
        self.restart()?;
        Ok(Some(name))
    }

    /// A restart: every connection and cache dropped, state reopened from
    /// the files on disk, the start-up sequence run again.
    pub fn restart(&mut self) -> Result<(), HostError> {
        self.restarts += 1;
        self.state.stores.close_all();
        let ids = Arc::new(SeededIds::new(
            self.id_seed ^ self.restarts.wrapping_mul(0x9E37_79B9),
        ));
        let state = AppState::open(self.dir.path(), self.clock.clone(), ids)?
            .with_execution(Execution::Inline);
        server::boot::prepare(&state, &server::boot::BootOptions::default())?;
        self.transport = InProcess::new(server::app(state.clone()));
        self.state = state;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::sync::Method;

    fn req(method: Method, path: &str, body: Option<&str>) -> Request {
        Request {
            method,
            path: path.into(),
            headers: vec![("Authorization".into(), format!("Bearer {KEY}"))],
            body: body.map(|b| b.as_bytes().to_vec()),
        }
    }

    #[test]
    fn serves_and_survives_a_restart() {
        let mut h = ServerHost::new("s0", 1, 1_000).unwrap();
        let r = h
            .call(req(
                Method::Post,
                "/items",
                Some(r#"{"type":"text","content":"a","sync_id":"1"}"#),
            ))
            .unwrap();
        assert_eq!(r.status, 200);
        h.restart().unwrap();
        let list = h.call(req(Method::Get, "/items", None)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
    }
}
