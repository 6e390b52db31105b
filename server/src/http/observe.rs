//! What a running server tells its operator about each request: one
//! access-log line at `info` (target `access`) and, when `/metrics` is on,
//! the request tallies of [`crate::metrics`].
//!
//! The line names the matched route template (`/items/{id}`), never the
//! path or its query: a key sent as `?key=`, an item id or a search term
//! never reaches the log. The user is the one the auth layer found (the
//! gate leaves it on the response), `-` before auth.
//!
//! A layer over [`crate::app`] added by the shell (`main.rs`), not part
//! of `app` itself: the simulator and the tests drive `app` on virtual
//! time, and this layer reads the wall clock, for durations shown to
//! people only.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use crate::http::extract::UserId;
use crate::metrics::{Metrics, UNMATCHED};

/// The target of access-log lines, so that `RUST_LOG=info,access=off`
/// silences them alone.
pub const ACCESS_TARGET: &str = "access";

#[derive(Clone)]
struct Observe {
    metrics: Option<Arc<Metrics>>,
}

/// `router` with the access log, and the metrics when `metrics` is given.
/// Added with `Router::layer`, so it runs inside routing (and sees the
/// matched route) and outside the gate (and sees its 401s and 409s).
pub fn layer(router: Router, metrics: Option<Arc<Metrics>>) -> Router {
    router.layer(middleware::from_fn_with_state(Observe { metrics }, observe))
}

async fn observe(State(o): State<Observe>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    #[allow(clippy::disallowed_methods)]
    // a duration shown to people (log, histogram), never read by logic
    let started = Instant::now();
    let resp = next.run(req).await;
    #[allow(clippy::disallowed_methods)] // as above
    let elapsed = started.elapsed();
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let status = resp.status().as_u16();
    let user = resp
        .extensions()
        .get::<UserId>()
        .map_or("-", |u| u.0.as_str());
    // Tenths of a millisecond: a number in JSON, short in text.
    let ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0;
    tracing::info!(
        target: ACCESS_TARGET,
        method = %method,
        route = %route,
        status,
        ms,
        user = %user,
        "request"
    );
    let Some(metrics) = o.metrics else {
        return resp;
    };
    metrics.record(&method, route, status, elapsed.as_secs_f64());
    if !resp.status().is_success() {
        return resp;
    }
    match writes(&method, route) {
        Writes::None => resp,
        Writes::One => {
            metrics.add_items_written(1);
            resp
        }
        Writes::Counted(count) => {
            // The answer is already whole in memory (a `Json`): read it
            // back for its count and send the same bytes on.
            let (parts, body) = resp.into_parts();
            match axum::body::to_bytes(body, usize::MAX).await {
                Ok(bytes) => {
                    metrics.add_items_written(count(&bytes));
                    Response::from_parts(parts, Body::from(bytes))
                }
                Err(_) => Response::from_parts(parts, Body::empty()),
            }
        }
    }
}

/// How many items a successful request wrote.
enum Writes {
    None,
    One,
    /// Read from the answer.
    Counted(fn(&[u8]) -> u64),
}

fn writes(method: &Method, route: &str) -> Writes {
    match (method.as_str(), route) {
        ("POST", "/items/batch") => Writes::Counted(batch_written),
        ("POST", "/webhook") => Writes::Counted(webhook_written),
        ("POST", "/items" | "/texts" | "/tagsets" | "/images") => Writes::One,
        ("DELETE" | "PATCH", r) if !r.starts_with("/profiles") => Writes::One,
        _ => Writes::None,
    }
}

/// `{"results":[{"status":...}, ...]}`: every result but the refused.
fn batch_written(body: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct One {
        status: String,
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        results: Vec<One>,
    }
    serde_json::from_slice::<Answer>(body).map_or(0, |a| {
        a.results.iter().filter(|r| r.status != "error").count() as u64
    })
}

/// `{"received":true,"saved_count":n}`.
fn webhook_written(body: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Answer {
        saved_count: u64,
    }
    serde_json::from_slice::<Answer>(body).map_or(0, |a| a.saved_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_counts_come_from_the_answers() {
        assert_eq!(
            batch_written(
                br#"{"results":[{"index":0,"status":"created","item":{"x":1}},{"index":1,"status":"error","error":"no"},{"index":2,"status":"unchanged"}],"epoch":1}"#
            ),
            2
        );
        assert_eq!(webhook_written(br#"{"received":true,"saved_count":3}"#), 3);
        assert_eq!(batch_written(b"not json"), 0);
        assert!(matches!(writes(&Method::DELETE, "/urls/{id}"), Writes::One));
        assert!(matches!(
            writes(&Method::DELETE, "/profiles/{id}"),
            Writes::None
        ));
        assert!(matches!(writes(&Method::GET, "/items"), Writes::None));
    }
}
