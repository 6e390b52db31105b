//! The closed-loop load runner: N workers, exact latency percentiles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use serde_json::{json, Value};

use crate::*;

/// Checks a 2xx body; `Err` turns the request into an error.
pub(crate) type Check = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;
/// Builds request number `i` of a run.
pub(crate) type MakeRequest = Arc<dyn Fn(usize) -> AnyResult<Request<Full<Bytes>>> + Send + Sync>;

/// Outcome of one timed run.
pub(crate) struct RunResult {
    pub(crate) scenario: String,
    pub(crate) conns: usize,
    pub(crate) n: usize,
    pub(crate) ok: usize,
    pub(crate) err: usize,
    pub(crate) elapsed: Duration,
    /// Every completed request's latency, sorted ascending.
    pub(crate) lat: Vec<Duration>,
    pub(crate) body_bytes: u64,
    pub(crate) first_error: Option<String>,
    /// Count of 5xx answers: server faults, as opposed to rejections.
    pub(crate) server_errors: usize,
}

impl RunResult {
    pub(crate) fn rps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.ok + self.err) as f64 / s
        } else {
            0.0
        }
    }

    /// Exact nearest-rank percentile (`p` in 0..=100).
    pub(crate) fn pct(&self, p: f64) -> Duration {
        if self.lat.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.lat.len() as f64).ceil() as usize;
        self.lat[rank.clamp(1, self.lat.len()) - 1]
    }

    pub(crate) fn max(&self) -> Duration {
        self.lat.last().copied().unwrap_or_default()
    }

    pub(crate) fn mean(&self) -> Duration {
        if self.lat.is_empty() {
            return Duration::ZERO;
        }
        self.lat.iter().sum::<Duration>() / self.lat.len() as u32
    }

    pub(crate) fn avg_body(&self) -> u64 {
        let done = (self.ok + self.err) as u64;
        self.body_bytes.checked_div(done).unwrap_or(0)
    }

    pub(crate) fn line(&self) -> String {
        format!(
            "{} conns={} n={} ok={} err={} req/s={:.1} p50={} p99={} max={} body={}",
            self.scenario,
            self.conns,
            self.n,
            self.ok,
            self.err,
            self.rps(),
            fmt_ms(self.pct(50.0)),
            fmt_ms(self.pct(99.0)),
            fmt_ms(self.max()),
            fmt_bytes(self.avg_body()),
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "conns": self.conns,
            "n": self.n,
            "ok": self.ok,
            "err": self.err,
            "server_errors": self.server_errors,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "rps": self.rps(),
            "p50_ms": ms(self.pct(50.0)),
            "p90_ms": ms(self.pct(90.0)),
            "p99_ms": ms(self.pct(99.0)),
            "max_ms": ms(self.max()),
            "mean_ms": ms(self.mean()),
            "avg_body_bytes": self.avg_body(),
            "first_error": self.first_error,
        })
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn fmt_ms(d: Duration) -> String {
    let v = ms(d);
    if v < 10.0 {
        format!("{v:.2}ms")
    } else {
        format!("{v:.1}ms")
    }
}

pub(crate) fn fmt_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1}MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1}KiB", b as f64 / 1024.0)
    } else {
        format!("{b}B")
    }
}

/// What one connection's worker saw.
#[derive(Default)]
pub(crate) struct WorkerStats {
    pub(crate) lat: Vec<Duration>,
    pub(crate) ok: usize,
    pub(crate) err: usize,
    pub(crate) server_errors: usize,
    pub(crate) body_bytes: u64,
    /// (request index, message) of this worker's first error.
    pub(crate) first_error: Option<(usize, String)>,
}

impl WorkerStats {
    pub(crate) fn fail(&mut self, i: usize, msg: String) {
        self.err += 1;
        if self.first_error.is_none() {
            self.first_error = Some((i, msg));
        }
    }
}

/// Sends `n` requests over `conns` concurrent workers. Each worker sends
/// its next request only when the previous one is answered, so the pool
/// holds at most `conns` busy keep-alive connections — a closed-loop load
/// like `conns` real clients. Requests are handed out through a shared
/// counter, so fast workers take more of them and the run ends together.
pub(crate) async fn run_load(
    api: &Arc<Api>,
    scenario: &str,
    n: usize,
    conns: usize,
    make: MakeRequest,
    check: Option<Check>,
) -> RunResult {
    let conns = conns.clamp(1, n.max(1));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (api, next, make, check) = (api.clone(), next.clone(), make.clone(), check.clone());
        handles.push(tokio::spawn(async move {
            let mut st = WorkerStats {
                lat: Vec::with_capacity(n / conns + 1),
                ..WorkerStats::default()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let req = match make(i) {
                    Ok(r) => r,
                    Err(e) => {
                        st.fail(i, format!("building request: {}", chain(e.as_ref())));
                        continue;
                    }
                };
                let t0 = Instant::now();
                let res = api.send(req).await;
                let dt = t0.elapsed();
                match res {
                    Ok(a) => {
                        st.lat.push(dt);
                        st.body_bytes += a.body.len() as u64;
                        if a.status.is_server_error() {
                            st.server_errors += 1;
                        }
                        if !a.status.is_success() {
                            st.fail(i, describe(&a));
                        } else if let Some(Err(msg)) = check.as_ref().map(|c| c(&a.body)) {
                            st.fail(i, msg);
                        } else {
                            st.ok += 1;
                        }
                    }
                    Err(e) => st.fail(i, format!("transport: {}", chain(e.as_ref()))),
                }
            }
            st
        }));
    }
    let mut total = WorkerStats::default();
    let mut lost = 0usize;
    for h in handles {
        match h.await {
            Ok(st) => {
                total.lat.extend(st.lat);
                total.ok += st.ok;
                total.err += st.err;
                total.server_errors += st.server_errors;
                total.body_bytes += st.body_bytes;
                if let Some((i, m)) = st.first_error {
                    if total.first_error.as_ref().is_none_or(|(j, _)| i < *j) {
                        total.first_error = Some((i, m));
                    }
                }
            }
            Err(e) => {
                lost += 1;
                total
                    .first_error
                    .get_or_insert((usize::MAX, format!("worker died: {e}")));
            }
        }
    }
    let elapsed = start.elapsed();
    total.lat.sort_unstable();
    // Requests a dead worker never reported are errors too.
    let accounted = total.ok + total.err;
    if lost > 0 && accounted < n {
        total.err += n - accounted;
    }
    RunResult {
        scenario: scenario.to_string(),
        conns,
        n,
        ok: total.ok,
        err: total.err,
        elapsed,
        lat: total.lat,
        body_bytes: total.body_bytes,
        first_error: total.first_error.map(|(_, m)| m),
        server_errors: total.server_errors,
    }
}
