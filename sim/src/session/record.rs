//! `peek-sim record`: a recording reverse proxy. A developer points an app
//! at it; every request is forwarded to the real server and the exchange is
//! appended to the session file (flushed line by line, so a killed proxy
//! loses nothing already answered). Secrets are redacted before a line is
//! built. The device label comes from `X-Peek-Device` (ours), else
//! `X-Peek-Client`, else `device`; `X-Peek-Clock` (ms), when a client sends
//! it, is recorded as the device clock.
//!
//! The recorder is a tool, not the server or the engine: it reads the wall
//! clock, for `at` and `ms`.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body as AxBody, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response as AxResponse};
use engine::sync::{Method, Request};
use engine::transport::{HttpTransport, Transport};
use protocol::wire::is_hop_by_hop;

use super::{Exchange, Header, Line, Req, Resp};

/// Largest request body forwarded (images included).
const MAX_BODY: usize = 64 * 1024 * 1024;

struct Proxy {
    upstream: HttpTransport,
    out: Mutex<std::io::BufWriter<std::fs::File>>,
    seq: AtomicU64,
    limit: Option<u64>,
    done: tokio::sync::Notify,
}

/// The proxy stamps exchanges with real time: it records real clients.
fn now_ms() -> i64 {
    protocol::Clock::now_ms(&protocol::SystemClock)
}

fn write_line(out: &Mutex<std::io::BufWriter<std::fs::File>>, line: &Line) {
    if let Ok(mut f) = out.lock() {
        if serde_json::to_writer(&mut *f, line).is_ok() {
            let _ = f.write_all(b"\n");
        }
        let _ = f.flush();
    }
}

async fn forward(
    State(p): State<Arc<Proxy>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> AxResponse {
    let Some(m) = Method::parse(method.as_str()) else {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [("content-type", "application/json")],
            r#"{"error":"peek-sim record forwards GET, POST, PUT, PATCH and DELETE only"}"#,
        )
            .into_response();
    };
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
    let pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let device = header("x-peek-device")
        .or_else(|| header("x-peek-client"))
        .unwrap_or_else(|| "device".into());
    let clock = header("x-peek-clock").and_then(|c| c.parse::<i64>().ok());
    let req = Request {
        method: m,
        path: target.clone(),
        headers: pairs
            .iter()
            .filter(|(k, _)| !is_hop_by_hop(k))
            .cloned()
            .collect(),
        body: (!body.is_empty()).then(|| body.to_vec()),
    };
    let at = now_ms();
    // The recorded duration is a measurement of the real upstream.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let answer = p.upstream.send(req).await;
    #[allow(clippy::disallowed_methods)]
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let seq = p.seq.fetch_add(1, Ordering::SeqCst);
    let recorded_req = Req::new(
        method.as_str(),
        &target,
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &body,
    );
    let (resp, error, out) = match answer {
        Ok(r) => {
            let rec = Resp::from_response(&r);
            let mut b = AxResponse::builder().status(r.status);
            for (k, v) in &r.headers {
                if !is_hop_by_hop(k) {
                    b = b.header(k.as_str(), v.as_str());
                }
            }
            let out = b
                .body(AxBody::from(r.body))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
            (Some(rec), None, out)
        }
        Err(e) => {
            let out = (
                StatusCode::BAD_GATEWAY,
                [("content-type", "application/json")],
                serde_json::json!({"error": format!("peek-sim record: upstream: {e}")}).to_string(),
            )
                .into_response();
            (None, Some(e.to_string()), out)
        }
    };
    let x = Exchange {
        seq,
        device,
        clock,
        at: Some(at),
        server: None,
        request: recorded_req,
        delivered: u32::from(resp.is_some()),
        response: resp,
        error,
        fault: None,
        ms: Some((ms * 1000.0).round() / 1000.0),
    };
    write_line(&p.out, &Line::Exchange(Box::new(x)));
    if p.limit.is_some_and(|l| seq + 1 >= l) {
        p.done.notify_one();
    }
    out
}

/// Serves the proxy on `listener` until Ctrl-C or, with `limit`, until
/// that many exchanges are recorded. Returns the number recorded.
pub async fn run(
    listener: tokio::net::TcpListener,
    upstream: &str,
    out: &Path,
    limit: Option<u64>,
) -> std::io::Result<u64> {
    let transport = HttpTransport::new(upstream, Duration::from_secs(60))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut header = Header::new("record");
    header.recorder.upstream = Some(upstream.to_string());
    // What the server says about itself (features, versions), if it says.
    if let Ok(r) = transport
        .send(Request {
            method: Method::Get,
            path: "/".into(),
            headers: Vec::new(),
            body: None,
        })
        .await
    {
        header.server = serde_json::from_slice(&r.body).ok();
    }
    let file = std::fs::File::create(out)?;
    let proxy = Arc::new(Proxy {
        upstream: transport,
        out: Mutex::new(std::io::BufWriter::new(file)),
        seq: AtomicU64::new(0),
        limit,
        done: tokio::sync::Notify::new(),
    });
    write_line(&proxy.out, &Line::Header(header));
    let app = axum::Router::new()
        .fallback(forward)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(proxy.clone());
    let stop = proxy.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = stop.done.notified() => {}
            }
        })
        .await?;
    Ok(proxy.seq.load(Ordering::SeqCst))
}
