//! Where a device's requests go, and the one place request faults happen.
//!
//! An [`Upstream`] answers requests: the in-process server
//! ([`crate::host::ServerHost`]), a device's recorded answers (client
//! replay, `session::playback::Remote`), or a server by URL
//! ([`HttpServer`]). [`deliver`] sends one request to an upstream through a
//! fault (lost request, lost response after commit, duplicate, 5xx,
//! partition); [`Wire`] is the world's side of it for one device: it sets
//! the server's clock, delivers, counts and traces the exchange. Every
//! device reaches its server only through a `Wire` (an external client's
//! requests come in through its HTTP front, `crate::front`), so every
//! device meets the same faults.

use std::collections::VecDeque;
use std::sync::Arc;

use engine::sync::{Request, Response};
use engine::transport::TransportError;

use crate::transfer::{Ledger, Traffic};

use crate::account::{Lease, Scratch};
use crate::event::Fault;
use crate::host::{HostError, KEY, PROFILES};
use crate::session::{AppliedFault, Exchange, Line, Req, Resp};
use crate::trace::Trace;

/// What an upstream can do besides answering requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamCaps {
    /// Its clock is the world's to set before every request.
    pub virtual_clock: bool,
    /// It can be restarted from its files, backed up and restored.
    pub lifecycle: bool,
}

/// Why an upstream could not do something (not a request's answer).
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("{0} is not possible against this server")]
    Unsupported(&'static str),
    #[error("setup: {0}")]
    Setup(String),
}

/// What answers a device's requests.
pub trait Upstream {
    /// One request, as the network would carry it.
    fn call(&self, req: Request) -> Result<Response, TransportError>;
    fn caps(&self) -> UpstreamCaps;
    /// Sets the server's clock for the next request (virtual clocks only).
    fn set_time(&self, _ms: i64) {}
    /// The world user's API key here.
    fn key(&self) -> String {
        KEY.to_string()
    }
    /// The UUID of the world's `p`-th server profile here.
    fn profile_id(&self, p: usize) -> String {
        PROFILES[p].0.to_string()
    }
    fn restart(&mut self) -> Result<(), UpstreamError> {
        Err(UpstreamError::Unsupported("restart"))
    }
    /// Takes a backup at the server's time `at`; returns its name.
    fn backup(&mut self, _at: i64) -> Result<String, UpstreamError> {
        Err(UpstreamError::Unsupported("backup"))
    }
    /// Restores the newest backup; `None` before the first one.
    fn restore_newest(&mut self) -> Result<Option<String>, UpstreamError> {
        Err(UpstreamError::Unsupported("restore"))
    }
    /// Replaces the world user's key (an operator's `user rotate-key`).
    fn set_key(&mut self, _key: &str) -> Result<(), UpstreamError> {
        Err(UpstreamError::Unsupported("key rotation"))
    }
    /// Renames a profile (an operator's edit; no endpoint does it).
    fn rename_profile(&mut self, _id: &str, _name: &str) -> Result<(), UpstreamError> {
        Err(UpstreamError::Unsupported("profile rename"))
    }
}

impl Upstream for crate::host::ServerHost {
    fn call(&self, req: Request) -> Result<Response, TransportError> {
        crate::host::ServerHost::call(self, req)
    }
    fn caps(&self) -> UpstreamCaps {
        UpstreamCaps {
            virtual_clock: true,
            lifecycle: true,
        }
    }
    fn set_time(&self, ms: i64) {
        crate::host::ServerHost::set_time(self, ms);
    }
    fn restart(&mut self) -> Result<(), UpstreamError> {
        Ok(crate::host::ServerHost::restart(self)?)
    }
    fn backup(&mut self, at: i64) -> Result<String, UpstreamError> {
        crate::host::ServerHost::set_time(self, at);
        Ok(crate::host::ServerHost::backup(self)?)
    }
    fn restore_newest(&mut self) -> Result<Option<String>, UpstreamError> {
        Ok(crate::host::ServerHost::restore_newest(self)?)
    }
    fn set_key(&mut self, key: &str) -> Result<(), UpstreamError> {
        Ok(crate::host::ServerHost::set_key(self, key)?)
    }
    fn rename_profile(&mut self, id: &str, name: &str) -> Result<(), UpstreamError> {
        Ok(crate::host::ServerHost::rename_profile(self, id, name)?)
    }
}

/// A running server by base URL and key, over real HTTP. The world's
/// server profiles are fresh profiles of the run's scratch space (named
/// after the world's seed and server), so worlds never see each other's
/// items nor the account's own; they are deleted when the world is
/// dropped (`crate::account`).
pub struct HttpServer {
    lease: Lease,
    profiles: Vec<String>,
}

impl HttpServer {
    /// Makes one scratch profile per world profile (`tag` names them).
    pub fn connect(scratch: &Arc<Scratch>, tag: &str) -> Result<Self, UpstreamError> {
        let mut lease = Lease::new(scratch);
        let mut profiles = Vec::new();
        for (_, name) in PROFILES {
            let id = lease
                .create(&format!("{tag} {name}"))
                .map_err(|e| UpstreamError::Setup(e.to_string()))?;
            profiles.push(id);
        }
        Ok(Self { lease, profiles })
    }
}

impl Upstream for HttpServer {
    fn call(&self, req: Request) -> Result<Response, TransportError> {
        self.lease.scratch().call(req)
    }
    fn caps(&self) -> UpstreamCaps {
        UpstreamCaps {
            virtual_clock: false,
            lifecycle: false,
        }
    }
    fn key(&self) -> String {
        self.lease.scratch().key().to_string()
    }
    fn profile_id(&self, p: usize) -> String {
        self.profiles[p].clone()
    }
}

/// What came of one request sent through a fault.
pub struct Delivery {
    /// What the device sees.
    pub seen: Result<Response, TransportError>,
    /// The fault applied (`None`: delivered as sent).
    pub fault: Option<AppliedFault>,
    /// Times the server received it.
    pub delivered: u32,
    /// The server's own (last) answer, when there was one.
    pub answer: Option<Resp>,
}

/// Sends `req` to `up` through `fault` (or a partition): the one place a
/// request fault is decided. `record`: fill [`Delivery::answer`] (for the
/// trace; it parses the body).
pub fn deliver(
    up: &dyn Upstream,
    req: Request,
    fault: Option<Fault>,
    partitioned: bool,
    record: bool,
) -> Delivery {
    let keep = |r: &Response| record.then(|| Resp::from_response(r));
    if partitioned {
        return Delivery {
            seen: Err(TransportError::Connect("partitioned".into())),
            fault: Some(AppliedFault::Partitioned),
            delivered: 0,
            answer: None,
        };
    }
    let name = fault.map(AppliedFault::from);
    match fault {
        None => {
            let r = up.call(req);
            let answer = r.as_ref().ok().and_then(keep);
            Delivery {
                seen: r,
                fault: None,
                delivered: 1,
                answer,
            }
        }
        Some(Fault::RequestLost) => Delivery {
            seen: Err(TransportError::Io("request lost".into())),
            fault: name,
            delivered: 0,
            answer: None,
        },
        Some(Fault::ResponseLost) => {
            let answer = up.call(req).ok().as_ref().and_then(keep);
            Delivery {
                seen: Err(TransportError::Io("response lost".into())),
                fault: name,
                delivered: 1,
                answer,
            }
        }
        Some(Fault::Duplicate) => {
            let _ = up.call(req.clone());
            let r = up.call(req);
            let answer = r.as_ref().ok().and_then(keep);
            Delivery {
                seen: r,
                fault: name,
                delivered: 2,
                answer,
            }
        }
        Some(Fault::ServerError) => {
            let r = Response {
                status: 503,
                headers: Vec::new(),
                body: br#"{"error":"proxy: upstream unavailable"}"#.to_vec(),
            };
            let answer = keep(&r);
            Delivery {
                seen: Ok(r),
                fault: name,
                delivered: 0,
                answer,
            }
        }
    }
}

/// A device's network: what [`crate::device::Device::advance`] sends its
/// requests through.
pub trait Net {
    fn send(&mut self, req: Request) -> Result<Response, TransportError>;
}

/// Counters for reports and benchmarks. Kept in the world as it runs, not
/// read back from a trace: exploration runs with the trace off, and its
/// summary says what its worlds went through from these.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub exchanges: u64,
    /// Requests that met a fault (every kind: `by_fault` splits them).
    pub faults: u64,
    /// `faults` by kind: they add up to `faults`.
    pub by_fault: FaultCounts,
    pub syncs_done: u64,
    pub syncs_failed: u64,
    /// Device crashes (the device restarts from its database).
    pub crashes: u64,
    /// Partitions begun (their requests are `by_fault`'s `partitioned`).
    pub partitions: u64,
    /// Server restarts, backups taken, and servers restored from an older
    /// backup (only those that happened: a server by URL has none).
    pub restarts: u64,
    pub backups: u64,
    pub restores: u64,
    /// Requests whose answer stayed in flight while other events ran
    /// (`Event::Send`; counted when asked for, also when the device could
    /// not hold it or had no request to send).
    pub in_flight: u64,
    /// Writes outside the sync path that the server took (`Event::Api`).
    pub api_writes: u64,
    /// Account changes made (`Event::Account`).
    pub account_changes: u64,
}

/// Requests that met a fault, by [`AppliedFault`] kind. Serialized with
/// the kinds' session-format names, zeros left out (an exploration's
/// results file holds one per seed).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct FaultCounts {
    #[serde(skip_serializing_if = "is_zero")]
    pub request_lost: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub response_lost: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicate: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub server_error: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub partitioned: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl FaultCounts {
    fn slot(&mut self, f: AppliedFault) -> &mut u64 {
        match f {
            AppliedFault::RequestLost => &mut self.request_lost,
            AppliedFault::ResponseLost => &mut self.response_lost,
            AppliedFault::Duplicate => &mut self.duplicate,
            AppliedFault::ServerError => &mut self.server_error,
            AppliedFault::Partitioned => &mut self.partitioned,
        }
    }

    pub fn add(&mut self, f: AppliedFault) {
        *self.slot(f) += 1;
    }

    pub fn get(&self, f: AppliedFault) -> u64 {
        match f {
            AppliedFault::RequestLost => self.request_lost,
            AppliedFault::ResponseLost => self.response_lost,
            AppliedFault::Duplicate => self.duplicate,
            AppliedFault::ServerError => self.server_error,
            AppliedFault::Partitioned => self.partitioned,
        }
    }

    /// Every kind with its count, in `AppliedFault::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (AppliedFault, u64)> + '_ {
        AppliedFault::ALL.into_iter().map(|f| (f, self.get(f)))
    }

    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }

    /// Adds another world's counts.
    pub fn merge(&mut self, other: &FaultCounts) {
        for (f, n) in other.iter() {
            *self.slot(f) += n;
        }
    }
}

/// The world's side of one device's requests for one advance: where they
/// go, through which faults (the first request gets the first, and so on;
/// beyond them none), and where they are traced.
pub struct Wire<'a> {
    pub up: &'a dyn Upstream,
    /// The server's name in the trace (`s0`).
    pub server: usize,
    pub device: &'a str,
    /// The device's clock and the server's, for the trace and the server.
    pub device_now: i64,
    pub server_now: &'a dyn Fn() -> i64,
    pub faults: VecDeque<Option<Fault>>,
    pub partitioned: bool,
    pub trace: &'a mut Trace,
    pub stats: &'a mut Stats,
    /// The device's account of what moved (`crate::transfer`).
    pub ledger: &'a mut Ledger,
}

impl Net for Wire<'_> {
    fn send(&mut self, req: Request) -> Result<Response, TransportError> {
        let at = (self.server_now)();
        // Built only when traced: its bodies are parsed into values.
        let mut x = self.trace.on().then(|| Exchange {
            seq: self.stats.exchanges,
            device: self.device.to_string(),
            clock: Some(self.device_now),
            at: Some(at),
            server: Some(format!("s{}", self.server)),
            request: Req::from_request(&req),
            response: None,
            error: None,
            delivered: 0,
            fault: None,
            ms: None,
        });
        self.up.set_time(at);
        self.stats.exchanges += 1;
        let fault = self.faults.pop_front().flatten();
        let what = Traffic::of(&req);
        let sent = req.body.as_ref().map_or(0, |b| b.len() as u64);
        let d = deliver(self.up, req, fault, self.partitioned, x.is_some());
        match &d.seen {
            Ok(resp) => self.ledger.on_answer(what, sent, resp),
            Err(_) => self.ledger.on_unanswered(what, sent),
        }
        if let Some(f) = d.fault {
            self.stats.faults += 1;
            self.stats.by_fault.add(f);
        }
        if let Some(mut x) = x.take() {
            x.fault = d.fault;
            x.delivered = d.delivered;
            x.response = d.answer;
            x.error = d.seen.as_ref().err().map(ToString::to_string);
            self.trace.line(&Line::Exchange(Box::new(x)));
        }
        d.seen
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use engine::sync::Method;

    use super::*;

    /// Counts what reaches it; answers 200.
    struct Counter(Cell<u32>);

    impl Upstream for Counter {
        fn call(&self, _: Request) -> Result<Response, TransportError> {
            self.0.set(self.0.get() + 1);
            Ok(Response {
                status: 200,
                headers: Vec::new(),
                body: b"{}".to_vec(),
            })
        }
        fn caps(&self) -> UpstreamCaps {
            UpstreamCaps {
                virtual_clock: true,
                lifecycle: false,
            }
        }
    }

    fn get() -> Request {
        Request {
            method: Method::Get,
            path: "/items".into(),
            headers: Vec::new(),
            body: None,
        }
    }

    #[test]
    fn each_fault_reaches_the_server_as_often_as_it_says() {
        let cases = [
            (None, false, 1, true, None),
            (
                Some(Fault::RequestLost),
                false,
                0,
                false,
                Some(AppliedFault::RequestLost),
            ),
            (
                Some(Fault::ResponseLost),
                false,
                1,
                false,
                Some(AppliedFault::ResponseLost),
            ),
            (
                Some(Fault::Duplicate),
                false,
                2,
                true,
                Some(AppliedFault::Duplicate),
            ),
            (
                Some(Fault::ServerError),
                false,
                0,
                true,
                Some(AppliedFault::ServerError),
            ),
            (None, true, 0, false, Some(AppliedFault::Partitioned)),
        ];
        for (fault, partitioned, calls, answered, name) in cases {
            let up = Counter(Cell::new(0));
            let d = deliver(&up, get(), fault, partitioned, true);
            assert_eq!(up.0.get(), calls, "{fault:?}");
            assert_eq!(d.delivered, calls, "{fault:?}");
            assert_eq!(d.seen.is_ok(), answered, "{fault:?}");
            assert_eq!(d.fault, name, "{fault:?}");
        }
        let d = deliver(
            &Counter(Cell::new(0)),
            get(),
            Some(Fault::ServerError),
            false,
            true,
        );
        assert_eq!(d.seen.map(|r| r.status).ok(), Some(503));
    }

    #[test]
    fn a_wire_spends_its_faults_in_order_and_traces_each_exchange() {
        let up = Counter(Cell::new(0));
        let mut trace = Trace::new(true);
        let mut stats = Stats::default();
        let now = || 5;
        let mut wire = Wire {
            up: &up,
            server: 0,
            device: "d0",
            device_now: 7,
            server_now: &now,
            faults: VecDeque::from([Some(Fault::RequestLost), None]),
            partitioned: false,
            trace: &mut trace,
            stats: &mut stats,
            ledger: &mut Ledger::default(),
        };
        assert!(wire.send(get()).is_err());
        assert!(wire.send(get()).is_ok());
        assert!(wire.send(get()).is_ok(), "beyond the plan: no fault");
        assert_eq!((stats.exchanges, stats.faults), (3, 1));
        assert_eq!(up.0.get(), 2);
        let text = String::from_utf8(trace.bytes().unwrap().to_vec()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().next().unwrap().contains("request-lost"));
    }
}
