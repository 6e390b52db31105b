//! The server under test. The in-process production server is the default
//! (deterministic: its clock is the scenario's virtual time); any running
//! server can be named by base URL and key instead, for every scenario
//! that needs only HTTP. Scenarios talk to either through [`Server::call`],
//! so one scenario body runs unchanged against both. A server by URL is a
//! real account: a run works in a scratch space on it (`sim::account`),
//! each scenario's profiles deleted when the scenario ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::sync::{Method, Request, Response};
use engine::transport::{HttpTransport, Transport, TransportError};
use serde_json::Value;
use server::clock::{Clock, ManualClock, SeededIds, SystemClock};
use sim::account::{Lease, Scratch};
use sim::config::EPOCH_MS;
use sim::host::{ServerHost, KEY};

/// Why a server target could not be set up or asked something.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("setup: {0}")]
    Setup(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{what}: status {status}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("{0} is not possible against this server (needs the in-process server)")]
    Unsupported(&'static str),
}

/// Which server a run targets (parsed from the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSpec {
    /// The production server in-process, fresh for every scenario.
    InProcess,
    /// A running server, through the run's scratch space on the key's
    /// account (it holds the base URL and the key).
    Url(Arc<Scratch>),
}

impl ServerSpec {
    /// The column label of the matrix.
    pub fn label(&self) -> String {
        match self {
            ServerSpec::InProcess => "in-process".into(),
            ServerSpec::Url(s) => s.base().to_string(),
        }
    }

    /// A fresh server for one scenario. `wall`: clients in another
    /// process (drivers) keep the wall clock, so the in-process server
    /// keeps it too (they reach it through HTTP fronts, `DriverTarget`).
    pub fn open(&self, seed: u64, wall: bool) -> Result<Box<dyn Server>, ServerError> {
        Ok(match (self, wall) {
            (ServerSpec::InProcess, false) => Box::new(Hosted::new(seed)?),
            (ServerSpec::InProcess, true) => Box::new(Hosted::wall(seed)?),
            (ServerSpec::Url(scratch), _) => Box::new(Remote::scratch(scratch)?),
        })
    }
}

/// What a scenario needs from a server.
pub trait Server {
    /// The URL clients are configured with.
    fn url(&self) -> String;
    fn key(&self) -> String;
    /// A fresh profile for a scenario (`name` names it); its UUID. On a
    /// server by URL, a profile of the run's scratch space.
    fn create_profile(&self, name: &str) -> Result<String, ServerError>;
    /// One request (headers added by the caller).
    fn call(&self, req: Request) -> Result<Response, TransportError>;
    /// The scenario's time now: what clients without an offset read.
    fn now(&self) -> i64;
    /// Lets time pass (virtual servers jump; real ones sleep briefly).
    fn tick(&self, ms: i64);
    /// Restarts the server from its files (in-process only).
    fn restart(&mut self) -> Result<(), ServerError> {
        Err(ServerError::Unsupported("restart"))
    }
    /// Takes a backup and restores it at once (in-process only).
    fn backup_and_restore(&mut self) -> Result<(), ServerError> {
        Err(ServerError::Unsupported("backup/restore"))
    }
    /// Runs SQL on a profile's datastore, to leave it as a legacy server
    /// would have (in-process only).
    fn legacy_sql(&mut self, _profile: &str, _sql: &str) -> Result<(), ServerError> {
        Err(ServerError::Unsupported("editing the data files"))
    }
    /// Whether the profile's one-time dedup cleanup is recorded as done
    /// (in-process only).
    fn dedup_flag(&self, _profile: &str) -> Result<bool, ServerError> {
        Err(ServerError::Unsupported("reading the data files"))
    }
}

/// The production server in-process over temporary SQLite files, with the
/// scenario's virtual clock (the simulator's `ServerHost`).
pub struct Hosted {
    host: ServerHost,
    clock: Arc<ManualClock>,
    /// The time is the wall clock's (for clients in other processes);
    /// `tick` then pauses briefly instead of jumping.
    wall: bool,
}

impl Hosted {
    pub fn new(seed: u64) -> Result<Self, ServerError> {
        let host =
            ServerHost::new("s0", seed, EPOCH_MS).map_err(|e| ServerError::Setup(e.to_string()))?;
        Ok(Self {
            host,
            clock: Arc::new(ManualClock::new(EPOCH_MS)),
            wall: false,
        })
    }

    /// The same server keeping the wall clock's time.
    pub fn wall(seed: u64) -> Result<Self, ServerError> {
        let now = SystemClock.now_ms();
        let host =
            ServerHost::new("s0", seed, now).map_err(|e| ServerError::Setup(e.to_string()))?;
        Ok(Self {
            host,
            clock: Arc::new(ManualClock::new(now)),
            wall: true,
        })
    }

    /// The virtual clock, for clients in this process.
    pub fn clock(&self) -> Arc<ManualClock> {
        self.clock.clone()
    }
}

impl Server for Hosted {
    fn url(&self) -> String {
        "inproc://s0".into()
    }
    fn key(&self) -> String {
        KEY.into()
    }
    fn create_profile(&self, name: &str) -> Result<String, ServerError> {
        create_profile(self, name)
    }
    fn call(&self, req: Request) -> Result<Response, TransportError> {
        self.host.set_time(self.now());
        self.host.call(req)
    }
    fn now(&self) -> i64 {
        if self.wall {
            SystemClock.now_ms()
        } else {
            self.clock.now_ms()
        }
    }
    fn tick(&self, ms: i64) {
        if self.wall {
            pause(ms);
        } else {
            self.clock.advance(ms);
        }
    }
    fn restart(&mut self) -> Result<(), ServerError> {
        self.host
            .restart()
            .map_err(|e| ServerError::Setup(e.to_string()))
    }
    fn backup_and_restore(&mut self) -> Result<(), ServerError> {
        self.host.set_time(self.now());
        self.host
            .backup()
            .and_then(|_| self.host.restore_newest())
            .map(|_| ())
            .map_err(|e| ServerError::Setup(e.to_string()))
    }
    fn legacy_sql(&mut self, profile: &str, sql: &str) -> Result<(), ServerError> {
        let sql = sql.to_string();
        self.host
            .state()
            .profile_db(sim::host::USER, profile)
            .and_then(|db| db.write(move |tx| Ok(tx.execute_batch(&sql)?)))
            .map_err(|e| ServerError::Setup(e.to_string()))
    }
    fn dedup_flag(&self, profile: &str) -> Result<bool, ServerError> {
        self.host
            .state()
            .profile_db(sim::host::USER, profile)
            .and_then(|db| db.read(|tx| Ok(server::store::dedup::flag_set(tx)?)))
            .map_err(|e| ServerError::Setup(e.to_string()))
    }
}

/// A server over real HTTP: a given URL, or our server started on a local
/// port for clients that run in another process.
pub struct Remote {
    base: String,
    key: String,
    http: HttpTransport,
    rt: tokio::runtime::Runtime,
    /// The data directory of a server we started (dropped with it).
    _owned: Option<tempfile::TempDir>,
    /// The scenario's profiles in the run's scratch space, deleted when
    /// the scenario drops its server.
    lease: Option<Mutex<Lease>>,
}

impl Remote {
    pub fn connect(
        base: &str,
        key: &str,
        owned: Option<tempfile::TempDir>,
    ) -> Result<Self, ServerError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| ServerError::Setup(e.to_string()))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            http: HttpTransport::new(base, Duration::from_secs(30))?,
            rt,
            _owned: owned,
            lease: None,
        })
    }

    /// A server by URL for one scenario, its profiles made in `scratch`.
    pub fn scratch(scratch: &Arc<Scratch>) -> Result<Self, ServerError> {
        let mut me = Self::connect(scratch.base(), scratch.key(), None)?;
        me.lease = Some(Mutex::new(Lease::new(scratch)));
        Ok(me)
    }

    /// Our production server on 127.0.0.1 (port chosen by the OS), wall
    /// clock, the simulator's user and key.
    pub fn serve_local(seed: u64) -> Result<Self, ServerError> {
        let setup = |e: &dyn std::fmt::Display| ServerError::Setup(e.to_string());
        let dir = tempfile::tempdir().map_err(|e| setup(&e))?;
        let state = server::AppState::open(
            dir.path(),
            Arc::new(SystemClock),
            Arc::new(SeededIds::new(seed)),
        )
        .map_err(|e| setup(&e))?;
        state
            .system
            .create_user(sim::host::USER, KEY, &state.now_iso())
            .map_err(|e| setup(&e))?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| setup(&e))?;
        std_listener.set_nonblocking(true).map_err(|e| setup(&e))?;
        let port = std_listener.local_addr().map_err(|e| setup(&e))?.port();
        let me = Self::connect(&format!("http://127.0.0.1:{port}"), KEY, Some(dir))?;
        let app = server::app(state);
        me.rt.spawn(async move {
            if let Ok(l) = tokio::net::TcpListener::from_std(std_listener) {
                let _ = axum::serve(l, app).await;
            }
        });
        Ok(me)
    }
}

impl Server for Remote {
    fn url(&self) -> String {
        self.base.clone()
    }
    fn key(&self) -> String {
        self.key.clone()
    }
    fn create_profile(&self, name: &str) -> Result<String, ServerError> {
        match &self.lease {
            Some(lease) => lease
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .create(name)
                .map_err(|e| ServerError::Setup(e.to_string())),
            None => create_profile(self, name),
        }
    }
    fn call(&self, req: Request) -> Result<Response, TransportError> {
        self.rt.block_on(self.http.send(req))
    }
    fn now(&self) -> i64 {
        SystemClock.now_ms()
    }
    fn tick(&self, ms: i64) {
        pause(ms);
    }
}

/// Time passing on a server with the wall clock. Such servers stamp
/// writes with their own clock: a short pause keeps "later" later without
/// making the suite slow.
fn pause(ms: i64) {
    std::thread::sleep(Duration::from_millis(ms.clamp(0, 20) as u64));
}

/// A request with the headers every client sends.
pub fn request(server: &dyn Server, method: Method, path: &str, body: Option<&Value>) -> Request {
    let mut headers = vec![
        (
            "Authorization".to_string(),
            format!("Bearer {}", server.key()),
        ),
        ("X-Peek-Datastore-Version".to_string(), "1".to_string()),
        ("X-Peek-Protocol-Version".to_string(), "1".to_string()),
    ];
    if body.is_some() {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    Request {
        method,
        path: path.to_string(),
        headers,
        body: body.map(|b| b.to_string().into_bytes()),
    }
}

/// Sends a request and parses a JSON answer, requiring a 2xx status.
pub fn json(
    server: &dyn Server,
    what: &'static str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, ServerError> {
    let resp = server.call(request(server, method, path, body))?;
    if !(200..300).contains(&resp.status) {
        return Err(ServerError::Status {
            what,
            status: resp.status,
            body: String::from_utf8_lossy(&resp.body)
                .chars()
                .take(300)
                .collect(),
        });
    }
    serde_json::from_slice(&resp.body).map_err(|e| ServerError::Status {
        what,
        status: resp.status,
        body: e.to_string(),
    })
}

/// Creates a server profile and returns its UUID. Scenarios make their own
/// profiles, so runs against a shared server never see each other's items.
pub fn create_profile(server: &dyn Server, name: &str) -> Result<String, ServerError> {
    let v = json(
        server,
        "create profile",
        Method::Post,
        "/profiles",
        Some(&serde_json::json!({ "name": name })),
    )?;
    v["profile"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or(ServerError::Status {
            what: "create profile",
            status: 200,
            body: "no profile id".into(),
        })
}

/// Every item of a profile, tombstones included, as the server holds them.
pub fn items(server: &dyn Server, profile: &str) -> Result<Vec<Value>, ServerError> {
    let v = json(
        server,
        "list items",
        Method::Get,
        &format!("/items?includeDeleted=true&strictProfile=true&profile={profile}"),
        None,
    )?;
    Ok(v["items"].as_array().cloned().unwrap_or_default())
}
