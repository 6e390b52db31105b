//! The sync logic, without I/O (the quinn-proto pattern, STYLE.md).
//!
//! A [`SyncSession`] is a state machine: [`SyncSession::poll`] returns the
//! next [`Step`] (a [`Request`] to send, or the final [`Summary`]) and
//! [`SyncSession::on_response`] takes the answer (or the transport error).
//! The current time is passed in on every call and fresh ids come from the
//! injected `IdSource`; nothing here reads the wall clock, the OS RNG or a
//! socket. The local database is the session's state: each answer is
//! applied in one SQLite transaction, so a crash between any two steps
//! leaves a consistent store and the next session resumes (guarantee 1).
//!
//! [`run`] is the tiny async driver both shells share.
//!
//! # The seven guarantees
//!
//! What the reference session promises, whatever the faults and the
//! clocks (the platform models, `legacy`, are not held to them). Each name
//! is the one the tests use (`sync/tests/<name>.rs` with canned answers;
//! the `g1_…`–`g7_…` tests against the real server) and, where the
//! simulator checks it, the name of its invariant.
//!
//! 1. `no-lost-write`: no local change is ever lost. A push that fails or
//!    goes unanswered stays pending (`localRev > pushedRev`) and is sent
//!    again under the same sync id; every answer is applied in one
//!    transaction, so a crash between any two steps loses nothing; a
//!    restored server gets everything back.
//! 2. `cursor-completeness`: the pull cursor never passes a change it has
//!    not applied. A page and its cursor commit together; the cursor is
//!    the feed's, or the server's newest `updatedAt` minus an overlap,
//!    never the device clock; a cursor that goes back stops the sync.
//! 3. `no-resurrection`: deletes travel both ways as tombstones, and an
//!    older copy (an overlap, a replayed page) never brings an item back.
//! 4. `no-echo`: nothing new means zero pulls and zero pushes: our own
//!    pushes are not pulled back as changes and nothing ping-pongs,
//!    whatever the clock skew.
//! 5. `conflict-rule`: concurrent edits converge to the later edit
//!    (`baseVersion` + `editedAt`, the server decides); a pull never
//!    overwrites a pending local edit; a `stale` answer is adopted.
//! 6. `server-switch`: each server and profile has its own links and
//!    cursor; switching re-pushes under the item's identity and makes no
//!    duplicate, switching back reuses the old links, profile targeting
//!    is exact; an image is never pushed where it cannot be created.
//! 7. `version-gate`: answers in either spelling parse (camelCase or
//!    snake_case, integer or ISO), and a 409 or a foreign version
//!    stops the sync before anything from that answer is applied.
//!
//! The decisions behind them are the pure rules of `crate::rules`.

mod legacy;
mod reference;
mod wire;

use protocol::{Clock, IdSource};

#[cfg(test)]
mod tests;

use serde_json::Value;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::platform::Model;
use crate::store::Store;
use protocol::{Transport, TransportError};

pub use legacy::{LegacySession, CURSOR as LEGACY_CURSOR};
pub use reference::{pending_count, ReferenceSession, TIMESTAMP_OVERLAP_MS};

/// The protocol versions this client speaks (§1.1), and the wire types of
/// one exchange: the ground floor's, shared with the server and simulator.
pub use protocol::{Method, Request, Response};
pub use protocol::{DATASTORE_VERSION, PROTOCOL_VERSION};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Full,
    PullOnly,
    PushOnly,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Pulled items applied locally (inserted or changed).
    pub pulled: u64,
    /// Items the server accepted.
    pub pushed: u64,
    /// Local edits that met a concurrent server edit.
    pub conflicts: u64,
    /// Items the server refused (they stay pending).
    pub failed: u64,
    /// The server URL or server profile differs from the last sync (D14).
    pub server_changed: bool,
    /// Requests sent.
    pub requests: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pulled {}, pushed {}, conflicts {}, failed {}{}",
            self.pulled,
            self.pushed,
            self.conflicts,
            self.failed,
            if self.server_changed {
                " (server changed)"
            } else {
                ""
            }
        )
    }
}

pub enum Step {
    Send(Request),
    Done(Summary),
}

/// Server configuration of one local profile, kept in `settings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    pub server_url: String,
    pub api_key: String,
    /// The server profile UUID (or slug); `None` = the server's default.
    pub server_profile: Option<String>,
    pub model: Model,
}

impl SyncConfig {
    pub fn load(store: &Store) -> Result<Self> {
        let url = store
            .setting("sync.serverUrl")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::NotConfigured("no server URL (run `config`)".into()))?;
        let key = store
            .setting("sync.apiKey")?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::NotConfigured("no API key (run `config`)".into()))?;
        let model = match store.setting("sync.model")? {
            Some(m) => {
                Model::parse(&m).ok_or_else(|| Error::Invalid(format!("unknown model {m}")))?
            }
            None => Model::Reference,
        };
        Ok(Self {
            server_url: url,
            api_key: key,
            server_profile: store
                .setting("sync.serverProfileId")?
                .filter(|s| !s.is_empty()),
            model,
        })
    }

    pub fn save(&self, store: &mut Store) -> Result<()> {
        store.tx(|tx| {
            crate::store::set_setting(tx, "sync.serverUrl", &self.server_url)?;
            crate::store::set_setting(tx, "sync.apiKey", &self.api_key)?;
            crate::store::set_setting(
                tx,
                "sync.serverProfileId",
                self.server_profile.as_deref().unwrap_or(""),
            )?;
            crate::store::set_setting(tx, "sync.model", self.model.name())
        })
    }

    /// Identity of the server-side data set: URL (without trailing `/`)
    /// and server profile (D14, D15).
    pub fn server_key(&self) -> String {
        format!(
            "{}#{}",
            self.server_url.trim_end_matches('/'),
            self.server_profile.as_deref().unwrap_or("")
        )
    }
}

/// Builds a request with the headers every client sends (§4.1 HTTP).
pub(crate) fn request(
    method: Method,
    path: String,
    body: Option<&Value>,
    key: &str,
    client: &str,
    device: Option<&str>,
) -> Request {
    let mut headers = vec![
        ("Authorization".to_string(), format!("Bearer {key}")),
        (
            "X-Peek-Datastore-Version".to_string(),
            DATASTORE_VERSION.to_string(),
        ),
        (
            "X-Peek-Protocol-Version".to_string(),
            PROTOCOL_VERSION.to_string(),
        ),
        ("X-Peek-Client".to_string(), client.to_string()),
    ];
    if let Some(d) = device {
        headers.push(("X-Peek-Device".to_string(), d.to_string()));
    }
    if body.is_some() {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    Request {
        method,
        path,
        headers,
        body: body.map(|b| b.to_string().into_bytes()),
    }
}

/// §1.1: a 409, or a version header other than ours, stops the sync before
/// anything from the response is applied (guarantee 7).
pub(crate) fn check_versions(resp: &Response) -> Result<()> {
    if resp.status == 409 {
        let msg = resp
            .json()
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| resp.text_start(300));
        return Err(Error::VersionMismatch(msg));
    }
    for (name, ours) in [
        (
            protocol::version::header::DATASTORE_VERSION,
            DATASTORE_VERSION,
        ),
        (
            protocol::version::header::PROTOCOL_VERSION,
            PROTOCOL_VERSION,
        ),
    ] {
        if let Some(v) = resp.header(name) {
            if v.trim().parse::<i64>().ok() != Some(ours) {
                return Err(Error::VersionMismatch(format!(
                    "server sends {name}: {v}, this client speaks {ours}"
                )));
            }
        }
    }
    Ok(())
}

/// A read answered with anything but 200 stops the sync, with the whole
/// body in the error (it is traced, and a proxy's page says why).
pub(crate) fn require_200(resp: &Response) -> Result<()> {
    if resp.status != 200 {
        return Err(Error::Server {
            status: resp.status,
            body: String::from_utf8_lossy(&resp.body).into(),
        });
    }
    Ok(())
}

/// A transport error or a 5xx stops the sync; the step is retried by the
/// next sync (every push is idempotent by its sync id).
pub(crate) fn expect_ok(resp: std::result::Result<Response, TransportError>) -> Result<Response> {
    let resp = resp?;
    check_versions(&resp)?;
    if resp.status >= 500 || resp.status == 401 || resp.status == 403 {
        return Err(Error::Server {
            status: resp.status,
            body: resp.text_start(300),
        });
    }
    Ok(resp)
}

/// Either kind of session, chosen by the configured model.
pub enum SyncSession {
    Reference(Box<ReferenceSession>),
    Legacy(Box<LegacySession>),
}

impl SyncSession {
    pub fn new(cfg: SyncConfig, mode: Mode, ids: Arc<dyn IdSource>) -> Self {
        match cfg.model {
            Model::Reference => Self::Reference(Box::new(ReferenceSession::new(cfg, mode, ids))),
            _ => Self::Legacy(Box::new(LegacySession::new(cfg, mode, ids))),
        }
    }

    /// Names the client in every request: `X-Peek-Client: client`
    /// instead of the model's own header (`peek-sync-rs` for the
    /// reference), so a recording or a server log tells this install from
    /// the others. Without it a session sends exactly what the model's
    /// app sends, as the simulator's devices do.
    pub fn with_client(mut self, client: &str) -> Self {
        match &mut self {
            Self::Reference(s) => s.client = client.to_string(),
            Self::Legacy(s) => s.client = client.to_string(),
        }
        self
    }

    /// Adds `X-Peek-Device: name` to every request: the label the
    /// recording proxy (`peek-sim record`) gives this client's exchanges.
    pub fn with_device(mut self, name: &str) -> Self {
        match &mut self {
            Self::Reference(s) => s.device = Some(name.to_string()),
            Self::Legacy(s) => s.device = Some(name.to_string()),
        }
        self
    }

    pub fn poll(&mut self, store: &mut Store, now: i64) -> Result<Step> {
        match self {
            Self::Reference(s) => s.poll(store, now),
            Self::Legacy(s) => s.poll(store, now),
        }
    }

    pub fn on_response(
        &mut self,
        store: &mut Store,
        resp: std::result::Result<Response, TransportError>,
        now: i64,
    ) -> Result<()> {
        match self {
            Self::Reference(s) => s.on_response(store, resp, now),
            Self::Legacy(s) => s.on_response(store, resp, now),
        }
    }
}

/// Drives one session to the end over `transport`.
pub async fn run<T: Transport>(
    store: &mut Store,
    transport: &T,
    clock: &dyn Clock,
    ids: Arc<dyn IdSource>,
    cfg: SyncConfig,
    mode: Mode,
) -> Result<Summary> {
    drive(store, transport, clock, SyncSession::new(cfg, mode, ids)).await
}

/// Drives a session made by the caller (one named with
/// [`SyncSession::with_client`], say) to the end over `transport`.
pub async fn drive<T: Transport>(
    store: &mut Store,
    transport: &T,
    clock: &dyn Clock,
    mut session: SyncSession,
) -> Result<Summary> {
    loop {
        match session.poll(store, clock.now_ms())? {
            Step::Send(req) => {
                let resp = transport.send(req).await;
                session.on_response(store, resp, clock.now_ms())?;
            }
            Step::Done(summary) => return Ok(summary),
        }
    }
}

/// Percent-encodes a query value (ids and slugs; `+` and `:` included).
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
