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
        Self::with_user_agent(base, timeout, None)
    }

    /// [`HttpTransport::new`] that sends `User-Agent: agent` on every
    /// request (the CLI names itself; the recording proxy forwards what
    /// the app sent and sets none). A URL that is not `http(s)://host…`
    /// is refused here, with why, rather than as reqwest's bare
    /// "builder error" at the first request.
    pub fn with_user_agent(
        base: &str,
        timeout: Duration,
        agent: Option<&str>,
    ) -> Result<Self, TransportError> {
        check_server_url(base).map_err(TransportError::Io)?;
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout);
        if let Some(a) = agent {
            b = b.user_agent(a);
        }
        let client = b.build().map_err(|e| TransportError::Io(chain(&e)))?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }
}

/// Whether `url` can be a server's base URL: `http` or `https`, a host,
/// no query or fragment (the engine appends paths and queries to it).
/// The error says what is wrong, for `peek-sync config` to print.
pub fn check_server_url(url: &str) -> Result<(), String> {
    // `localhost:3000` parses, as scheme `localhost`: say what was meant.
    let hint = if url.contains("://") {
        String::new()
    } else {
        format!(" (did you mean \"http://{url}\"?)")
    };
    let u =
        url::Url::parse(url).map_err(|e| format!("server URL {url:?} is not a URL: {e}{hint}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!(
            "server URL {url:?} must start with http:// or https://{hint}"
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("server URL {url:?} has no host"));
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!(
            "server URL {url:?} must not have a ?query or #fragment"
        ));
    }
    Ok(())
}

/// An error with its causes, outermost first: reqwest's own message is
/// only "error sending request for url (…)", and the reason (connection
/// refused, a DNS failure, a TLS certificate) is in its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        // hyper and std sometimes repeat the inner message verbatim.
        if !m.is_empty() && !out.ends_with(&m) {
            out.push_str(": ");
            out.push_str(&m);
        }
        cur = s.source();
    }
    out
}

fn classify(e: &reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout
    } else if e.is_connect() {
        TransportError::Connect(chain(e))
    } else {
        TransportError::Io(chain(e))
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
