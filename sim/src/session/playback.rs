//! Replaying a session against a client: every device of the recorded
//! world is re-created (same seed, same clocks, same local writes, same
//! faults), but instead of a server each one talks over real HTTP to a
//! wiremock server that answers with that device's recorded responses, in
//! order. The requests the client makes are then compared with the
//! recorded ones. Run with the recorded models this proves the engine still
//! behaves as it did; run with another model (`--model electron`) it shows
//! where that client's requests part from the recording.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use engine::sync::{Request, Response};
use engine::transport::{HttpTransport, Transport, TransportError};
use engine::Model;
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

use super::compare::{compare_bodies, Divergence, IdMap};
use super::{Header, Line, Req, Resp, Session, SessionError};
use crate::cast::{Cast, Clients};
use crate::config::WorldConfig;
use crate::upstream::{Upstream, UpstreamCaps};
use crate::world::World;

/// What one device has sent so far, compared as it arrives (nothing is
/// kept but the tally, so long sessions replay in bounded memory).
#[derive(Debug, Default)]
struct Tally {
    made: usize,
    divergent: usize,
    first: Option<(usize, String, Vec<Divergence>)>,
    ids: IdMap,
}

/// The recorded (request, answer) pairs of one device, served in order;
/// `599` once they run out.
struct Answers {
    queue: Mutex<VecDeque<(Req, Resp)>>,
    tally: std::sync::Arc<Mutex<Tally>>,
}

/// Status of an answer past the end of the recording: not a real HTTP
/// status, so no client mistakes it for a server's.
pub const EXHAUSTED: u16 = 599;

fn as_req(r: &wiremock::Request) -> Req {
    let target = match r.url.query() {
        Some(q) => format!("{}?{q}", r.url.path()),
        None => r.url.path().to_string(),
    };
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Req::new(
        r.method.as_str(),
        &target,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &r.body,
    )
}

impl Respond for Answers {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let made = as_req(req);
        let next = self.queue.lock().ok().and_then(|mut q| q.pop_front());
        if let Ok(mut t) = self.tally.lock() {
            let n = t.made;
            t.made += 1;
            let d = match &next {
                Some((rec, _)) => compare_requests(rec, &made, &mut t.ids),
                None => vec![Divergence {
                    at: "request".into(),
                    recorded: "no more requests".into(),
                    actual: made.line(),
                }],
            };
            if !d.is_empty() {
                t.divergent += 1;
                if t.first.is_none() {
                    let line = next.as_ref().map_or("(end)".into(), |(r, _)| r.line());
                    t.first = Some((n, line, d));
                }
            }
        }
        match next {
            Some((_, r)) => {
                let mut t = ResponseTemplate::new(r.status);
                for (k, v) in &r.headers {
                    if !matches!(k.as_str(), "content-length" | "transfer-encoding") {
                        t = t.insert_header(k.as_str(), v.as_str());
                    }
                }
                t.set_body_bytes(r.body.to_bytes())
            }
            None => ResponseTemplate::new(EXHAUSTED)
                .set_body_string(r#"{"error":"the recorded session has no more answers"}"#),
        }
    }
}

/// One device's stand-in server: recorded answers over real HTTP.
pub struct Remote {
    _server: MockServer,
    transport: HttpTransport,
    rt: tokio::runtime::Runtime,
    tally: std::sync::Arc<Mutex<Tally>>,
}

impl Remote {
    /// Serves `exchanges` (what the device should send, what it gets).
    pub fn serve(exchanges: Vec<(Req, Resp)>) -> Result<Remote, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let tally = std::sync::Arc::new(Mutex::new(Tally::default()));
        let answers = Answers {
            queue: Mutex::new(exchanges.into()),
            tally: tally.clone(),
        };
        let server = rt.block_on(async {
            let s = MockServer::builder()
                .disable_request_recording()
                .start()
                .await;
            Mock::given(wiremock::matchers::any())
                .respond_with(answers)
                .mount(&s)
                .await;
            s
        });
        let transport = HttpTransport::new(&server.uri(), Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        Ok(Remote {
            _server: server,
            transport,
            rt,
            tally,
        })
    }
}

/// Recorded answers as a device's upstream: no clock to set, nothing to
/// restart; the recording's profiles are the world's.
impl Upstream for Remote {
    fn call(&self, req: Request) -> Result<Response, TransportError> {
        self.rt.block_on(self.transport.send(req))
    }
    fn caps(&self) -> UpstreamCaps {
        UpstreamCaps {
            virtual_clock: true,
            lifecycle: false,
        }
    }
}

/// How one device's requests compare with the recording.
#[derive(Debug, Clone)]
pub struct DeviceReport {
    pub device: String,
    pub model: String,
    /// Requests the recording has for it (counting deliveries).
    pub recorded: usize,
    /// Requests it made in the replay.
    pub made: usize,
    /// Requests that differ from the recorded one at the same position.
    pub divergent: usize,
    /// The first of those: position, recorded line, what differs.
    pub first: Option<(usize, String, Vec<Divergence>)>,
}

impl DeviceReport {
    pub fn is_clean(&self) -> bool {
        self.divergent == 0 && self.recorded == self.made
    }
}

/// Why a client replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error("this session has no simulator world (record it with `peek-sim run --trace`); client replay re-creates the devices from it")]
    NoWorld,
    #[error("bad session: {0}")]
    Bad(String),
    #[error("world: {0}")]
    World(#[from] crate::world::WorldError),
}

/// Compares two requests: method, path and query exactly (after the id
/// map), bodies semantically.
fn compare_requests(rec: &Req, made: &Req, ids: &mut IdMap) -> Vec<Divergence> {
    let mut out = Vec::new();
    if rec.method != made.method || ids.rewrite(&rec.target()) != made.target() {
        out.push(Divergence {
            at: "request".into(),
            recorded: rec.line(),
            actual: made.line(),
        });
    }
    out.extend(compare_bodies("$", &rec.body, &made.body, ids));
    out
}

/// Replays the session's devices (optionally all as `model`) against their
/// recorded answers.
pub fn replay_client(
    session: &Session,
    model: Option<Model>,
) -> Result<Vec<DeviceReport>, PlaybackError> {
    replay_client_lines(
        &session.header,
        session.lines.iter().cloned().map(Ok),
        model,
        &Cast::default(),
    )
}

/// The same from a stream of lines (`Session::stream`): only the answers
/// are kept, not the session. `cast` says who plays the devices: the
/// engine (the default), or a driver process per device
/// (`Clients::Driver`, with a `real_time`): any client implementation
/// meets the recorded answers the same way, through its HTTP front.
pub fn replay_client_lines(
    header: &Header,
    lines: impl Iterator<Item = Result<Line, SessionError>>,
    model: Option<Model>,
    cast: &Cast,
) -> Result<Vec<DeviceReport>, PlaybackError> {
    let world = header.world.clone().ok_or(PlaybackError::NoWorld)?;
    let mut cfg: WorldConfig =
        serde_json::from_value(world).map_err(|e| PlaybackError::Bad(e.to_string()))?;
    if let Some(m) = model {
        for d in &mut cfg.devices {
            d.model = m;
        }
    }
    let mut events = Vec::new();
    // The events of the fault phase only: the syncs after the `heal` line
    // are the world's own healing, which `play` does again. Replayed as
    // events they would start a sync on every device before it heals,
    // and a device that was idle would sync once more than recorded.
    let mut healed = false;
    // What each device sent and was answered, once per delivery.
    let mut recorded: Vec<Vec<(Req, Resp)>> = vec![Vec::new(); cfg.devices.len()];
    for line in lines {
        match line.map_err(|e| PlaybackError::Bad(e.to_string()))? {
            Line::Event(super::TraceEvent::Heal { .. }) => healed = true,
            Line::Event(super::TraceEvent::Event { event, .. }) if !healed => events.push(event),
            Line::Exchange(x) => {
                let Some(i) = cfg.devices.iter().position(|d| d.name == x.device) else {
                    continue;
                };
                let x = *x;
                if let (true, Some(r)) = (x.delivered > 0, x.response) {
                    for _ in 1..x.delivered {
                        recorded[i].push((x.request.clone(), r.clone()));
                    }
                    recorded[i].push((x.request, r));
                }
            }
            _ => {}
        }
    }
    let counts: Vec<usize> = recorded.iter().map(Vec::len).collect();
    let mut w = World::with_cast(&cfg, false, cast)?;
    let mut tallies = Vec::new();
    for (dev, pairs) in recorded.into_iter().enumerate() {
        let remote = Remote::serve(pairs).map_err(PlaybackError::Bad)?;
        tallies.push(remote.tally.clone());
        w.set_upstream(dev, Box::new(remote));
    }
    w.play(&events)?;
    drop(w);
    let mut out = Vec::new();
    for (i, d) in cfg.devices.iter().enumerate() {
        let tally = tallies[i]
            .lock()
            .ok()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        let model = match &cast.clients {
            Clients::Engine => d.model.name().to_string(),
            Clients::Driver(cmd) => format!("driver:{cmd}"),
        };
        out.push(DeviceReport {
            device: d.name.clone(),
            model,
            recorded: counts[i],
            made: tally.made,
            divergent: tally.divergent,
            first: tally.first,
        });
    }
    Ok(out)
}
