//! The I/O shells' common seam: an async [`Transport`] that carries one
//! [`Request`] and returns one [`Response`]. [`HttpTransport`] is for real
//! use; [`InProcess`] calls an `axum::Router` directly (tests, simulator).

use std::future::Future;
use std::time::Duration;

use crate::sync::{Method, Request, Response};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("request timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    /// Connection dropped, unreadable body, and anything else in between.
    #[error("{0}")]
    Io(String),
}

/// Sends one request. Implementations never retry: retry policy belongs to
/// the caller, and every push is idempotent by its sync id anyway.
pub trait Transport {
    fn send(&self, req: Request) -> impl Future<Output = Result<Response, TransportError>> + Send;
}

/// reqwest over hyper, `rustls-tls` (see `Cargo.toml`): works against
/// `https://` servers without a system TLS library.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    base: String,
}

impl HttpTransport {
    /// `base`: the server URL (`https://host[:port][/prefix]`).
    pub fn new(base: &str, timeout: Duration) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| TransportError::Io(e.to_string()))?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }
}

fn classify(e: &reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(e.to_string())
    } else {
        TransportError::Io(e.to_string())
    }
}

impl Transport for HttpTransport {
    fn send(&self, req: Request) -> impl Future<Output = Result<Response, TransportError>> + Send {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut b = self
            .client
            .request(method, format!("{}{}", self.base, req.path));
        for (k, v) in &req.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        if let Some(body) = req.body {
            b = b.body(body);
        }
        async move {
            let resp = b.send().await.map_err(|e| classify(&e))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = resp.bytes().await.map_err(|e| classify(&e))?.to_vec();
            Ok(Response {
                status,
                headers,
                body,
            })
        }
    }
}

/// Calls a router in-process through `tower::ServiceExt::oneshot`: the
/// whole server stack (auth, version gate, handlers) without a socket.
#[derive(Clone)]
pub struct InProcess {
    router: axum::Router,
}

impl InProcess {
    pub fn new(router: axum::Router) -> Self {
        Self { router }
    }
}

impl Transport for InProcess {
    fn send(&self, req: Request) -> impl Future<Output = Result<Response, TransportError>> + Send {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let router = self.router.clone();
        async move {
            let mut b = axum::http::Request::builder()
                .method(req.method.as_str())
                .uri(req.path.as_str());
            for (k, v) in &req.headers {
                b = b.header(k.as_str(), v.as_str());
            }
            let http_req = b
                .body(axum::body::Body::from(req.body.unwrap_or_default()))
                .map_err(|e| TransportError::Io(e.to_string()))?;
            let resp = router
                .oneshot(http_req)
                .await
                .map_err(|e| TransportError::Io(e.to_string()))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| TransportError::Io(e.to_string()))?
                .to_bytes()
                .to_vec();
            Ok(Response {
                status,
                headers,
                body,
            })
        }
    }
}

/// Wall-clock timeout used by the CLI.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
