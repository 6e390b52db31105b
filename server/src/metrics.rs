//! What `/metrics` tells an operator, in Prometheus' text format (0.0.4):
//! requests by matched route, method and status; their latency as a
//! histogram; items written; and, read from the backup folders at each
//! scrape, how stale the stalest user's newest backup is.
//!
//! Written here rather than with a metrics crate: the whole format is a
//! few `# TYPE` lines and samples, our series are a handful of counters
//! and one histogram, and `BTreeMap`s keep the output in a stable order
//! (the project's rule: no hash-map order in output; the Prometheus
//! clients' families are hash maps). No dependency, nothing global: each
//! server owns its [`Metrics`], so tests and simulated worlds never share.
//!
//! `/metrics` is served only on the separate `--metrics-listen` address
//! (see `main.rs` and `docs/deploy.md`), unauthenticated like any scrape
//! target and meant for localhost or a private network: its labels are
//! route templates and status codes, never a user, a path or a query.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::backup;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::system::is_servable_user_id;

/// Upper bounds of the latency buckets, in seconds: from a cached read
/// (well under a millisecond) to a large batch or image on a slow disk.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The route label of a request no route matched (a 404, or a 401 before
/// it): never the raw path, which would let clients mint label values.
pub const UNMATCHED: &str = "unmatched";

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket of [`LATENCY_BUCKETS`], not cumulative (summed when
    /// written out).
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += secs;
    }
}

#[derive(Debug, Default)]
struct Tallies {
    /// (route, method, status) → requests.
    requests: BTreeMap<(String, &'static str, u16), u64>,
    /// (route, method) → latency.
    latency: BTreeMap<(String, &'static str), Histogram>,
    items_written: u64,
}

/// One server's request metrics; cheap to share (`Arc`), updated once per
/// request under a short lock.
#[derive(Debug, Default)]
pub struct Metrics {
    tallies: Mutex<Tallies>,
}

/// A method as a label: the standard ones by name, anything else "other"
/// (so a client cannot mint label values with made-up methods).
fn method_label(m: &Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// What the backup folders say at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BackupGauges {
    /// Users that can be served (and so backed up).
    pub users: u64,
    /// Of those, how many have no backup at all.
    pub users_without_backup: u64,
    /// Seconds since the stalest user's newest backup: the number to alert
    /// on (the daily backup keeps it under a day). `None` when no user has
    /// a backup.
    pub stalest_age_secs: Option<f64>,
}

/// Reads [`BackupGauges`] from the backup folders (one directory listing
/// per user), on the caller's thread.
pub fn backup_gauges(state: &AppState) -> ApiResult<BackupGauges> {
    let now = state.now();
    let mut g = BackupGauges::default();
    for u in state.system.users()? {
        if !is_servable_user_id(&u.id) {
            continue;
        }
        g.users += 1;
        match backup::last_backup_ms(state, &u.id)? {
            None => g.users_without_backup += 1,
            Some(t) => {
                let age = (now - t).max(0) as f64 / 1000.0;
                g.stalest_age_secs = Some(g.stalest_age_secs.map_or(age, |a: f64| a.max(age)));
            }
        }
    }
    Ok(g)
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn tallies(&self) -> std::sync::MutexGuard<'_, Tallies> {
        self.tallies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one answered request. `route` is the matched route template
    /// (or [`UNMATCHED`]); `secs` its wall time, for people only.
    pub fn record(&self, method: &Method, route: &str, status: u16, secs: f64) {
        let m = method_label(method);
        let mut t = self.tallies();
        *t.requests
            .entry((route.to_string(), m, status))
            .or_default() += 1;
        t.latency
            .entry((route.to_string(), m))
            .or_default()
            .observe(secs);
    }

    pub fn add_items_written(&self, n: u64) {
        self.tallies().items_written += n;
    }

    /// The text exposition: every series, in a stable order.
    pub fn render(&self, backups: &BackupGauges) -> String {
        let t = self.tallies();
        let mut out = String::new();
        // `write!` to a String cannot fail.
        let w = &mut out;
        let _ = writeln!(
            w,
            "# HELP peek_build_info The running peek-server's version.\n# TYPE peek_build_info gauge\npeek_build_info{{version=\"{}\"}} 1",
            escape(env!("CARGO_PKG_VERSION"))
        );
        let _ = writeln!(w, "# HELP peek_http_requests_total HTTP requests answered, by matched route template, method and status.\n# TYPE peek_http_requests_total counter");
        for ((route, method, status), n) in &t.requests {
            let _ = writeln!(
                w,
                "peek_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        let _ = writeln!(w, "# HELP peek_http_request_duration_seconds Time to answer a request, from its head to its response head, by matched route template and method.\n# TYPE peek_http_request_duration_seconds histogram");
        for ((route, method), h) in &t.latency {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
            let mut cumulative = 0;
            for (le, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    w,
                    "peek_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                w,
                "peek_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\npeek_http_request_duration_seconds_sum{{{labels}}} {}\npeek_http_request_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = writeln!(w, "# HELP peek_items_written_total Items accepted by write requests (a batch or webhook counts its items, refused ones excluded; an idempotent re-send counts again).\n# TYPE peek_items_written_total counter\npeek_items_written_total {}", t.items_written);
        let _ = writeln!(w, "# HELP peek_users Users served (rows with an invalid name are not).\n# TYPE peek_users gauge\npeek_users {}", backups.users);
        let _ = writeln!(w, "# HELP peek_users_without_backup Served users with no backup at all.\n# TYPE peek_users_without_backup gauge\npeek_users_without_backup {}", backups.users_without_backup);
        if let Some(age) = backups.stalest_age_secs {
            let _ = writeln!(w, "# HELP peek_backup_age_seconds Seconds since the stalest user's newest backup (daily backups keep it under 86400).\n# TYPE peek_backup_age_seconds gauge\npeek_backup_age_seconds {age}");
        }
        out
    }
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `CONTENT_TYPE` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct Scrape {
    state: AppState,
    metrics: Arc<Metrics>,
}

async fn scrape(State(s): State<Scrape>) -> Response {
    let gauges = s.state.run(backup_gauges).await;
    match gauges {
        Ok(g) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], s.metrics.render(&g)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The metrics listener's whole service: `GET /metrics`, `GET /healthz`,
/// a plain 404 for anything else.
pub fn router(state: AppState, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(crate::http::healthz))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 Not Found") })
        .with_state(Scrape { state, metrics })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_series_ordered() {
        let m = Metrics::default();
        m.record(&Method::POST, "/items", 200, 0.003);
        m.record(&Method::GET, "/items", 200, 0.0004);
        m.record(&Method::GET, "/items", 200, 7.0);
        m.record(&Method::GET, "/items/{id}", 404, 0.002);
        m.record(&Method::from_bytes(b"BREW").unwrap(), UNMATCHED, 401, 0.0);
        m.add_items_written(3);
        let text = m.render(&BackupGauges {
            users: 2,
            users_without_backup: 1,
            stalest_age_secs: Some(90.5),
        });
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let requests: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("peek_http_requests_total"))
            .collect();
        assert_eq!(
            requests,
            [
                r#"peek_http_requests_total{route="/items",method="GET",status="200"} 2"#,
                r#"peek_http_requests_total{route="/items",method="POST",status="200"} 1"#,
                r#"peek_http_requests_total{route="/items/{id}",method="GET",status="404"} 1"#,
                r#"peek_http_requests_total{route="unmatched",method="other",status="401"} 1"#,
            ]
        );
        let get_items = |le: &str| {
            format!(
                r#"peek_http_request_duration_seconds_bucket{{route="/items",method="GET",le="{le}"}}"#
            )
        };
        assert!(lines.contains(&format!("{} 1", get_items("0.001")).as_str()));
        assert!(lines.contains(&format!("{} 1", get_items("5")).as_str()));
        assert!(lines.contains(&format!("{} 2", get_items("+Inf")).as_str()));
        assert!(lines.contains(
            &r#"peek_http_request_duration_seconds_count{route="/items",method="GET"} 2"#
        ));
        assert!(lines.contains(&"peek_items_written_total 3"));
        assert!(lines.contains(&"peek_backup_age_seconds 90.5"));
        assert!(lines.contains(&"peek_users_without_backup 1"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
