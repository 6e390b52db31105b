//! The HTTP client side: one `Api` handle (base URL, key, hyper client)
//! and small helpers for paths and error text.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::*;

pub(crate) struct Api {
    pub(crate) client: Client<HttpConnector, Full<Bytes>>,
    pub(crate) base: String,
    pub(crate) auth: HeaderValue,
}

/// One answer: status and the whole body (read fully so that the
/// connection can be reused and the latency covers the transfer).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

impl Api {
    pub(crate) fn new(url: &str, key: &str) -> AnyResult<Self> {
        let base = url.trim_end_matches('/').to_string();
        let uri: Uri = format!("{base}/")
            .parse()
            .map_err(|e| format!("bad --url {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--url must start with http:// (got {url:?})").into());
        }
        let mut conn = HttpConnector::new();
        // Without TCP_NODELAY, small request/response pairs on a keep-alive
        // connection can stall on Nagle + delayed ACK (~40 ms) and the
        // benchmark would measure the TCP stack instead of the server.
        conn.set_nodelay(true);
        // Node's HTTP server closes a keep-alive connection after 5 s idle
        // (`keepAliveTimeout`); a client that picks such a connection from
        // its pool just then gets a reset instead of an answer (seen once
        // in 300 GET /items against the original server). Dropping idle
        // connections well before any server does avoids that race; within
        // a run no connection idles that long.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(2))
            .build(conn);
        let auth = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| "the API key contains characters not allowed in a header")?;
        Ok(Api { client, base, auth })
    }

    /// A request to `path` (path and query, starting with `/`) with the
    /// headers every Peek client sends.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> AnyResult<Request<Full<Bytes>>> {
        let uri: Uri = format!("{}{}", self.base, path).parse()?;
        Ok(Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("x-peek-datastore-version", "1")
            .header("x-peek-protocol-version", "1")
            .body(Full::new(body))?)
    }

    pub(crate) async fn send(&self, req: Request<Full<Bytes>>) -> AnyResult<Answer> {
        let resp = self.client.request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }

    /// Untimed call for set-up steps: non-2xx and non-JSON answers are
    /// errors (with the body), since a bad set-up would make the numbers
    /// meaningless.
    pub(crate) async fn call_json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> AnyResult<Value> {
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let a = self
            .send(self.request(method.clone(), path, bytes)?)
            .await?;
        if !a.status.is_success() {
            return Err(format!("{method} {path}: {}", describe(&a)).into());
        }
        serde_json::from_slice(&a.body)
            .map_err(|e| format!("{method} {path}: answer is not JSON ({e})").into())
    }
}

/// "HTTP 500: <body>" with the body cut to [`MAX_ERROR_BODY`].
pub(crate) fn describe(a: &Answer) -> String {
    let text = String::from_utf8_lossy(&a.body);
    let mut s: String = text.chars().take(MAX_ERROR_BODY).collect();
    if text.chars().count() > MAX_ERROR_BODY {
        s.push('…');
    }
    format!("HTTP {}: {}", a.status.as_u16(), s)
}

/// An error and its sources on one line: hyper's top-level errors
/// ("client error (Connect)") say little without their causes.
pub(crate) fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let _ = write!(s, ": {c}");
        cur = c.source();
    }
    s
}

/// Percent-encodes a query value (profile ids are UUIDs, but slugs from
/// the command line may hold anything).
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `path` with `profile=<p>` appended to its query, if a profile is given.
pub(crate) fn with_profile(path: &str, profile: Option<&str>) -> String {
    match profile {
        None => path.to_string(),
        Some(p) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}profile={}", enc(p))
        }
    }
}

pub(crate) fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Timed runs
