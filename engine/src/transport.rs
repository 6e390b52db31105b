//! The HTTP shell: [`HttpTransport`] carries one [`Request`] over reqwest
//! and returns one [`Response`]. The seam itself ([`Transport`],
//! [`TransportError`]) is the ground floor's (`protocol::wire`), so the
//! server's in-process router (`server::InProcess`) and the simulator's
//! upstreams plug into the same sync driver without the engine knowing
//! about axum.

use std::future::Future;
use std::time::Duration;

use protocol::{Request, Response};
pub use protocol::{Transport, TransportError};

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
        let method = req.method.to_http();
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
            let headers = protocol::wire::header_pairs(resp.headers());
            let body = resp.bytes().await.map_err(|e| classify(&e))?.to_vec();
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
