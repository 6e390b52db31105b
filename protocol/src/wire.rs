//! One HTTP exchange as the sync protocol sees it: a [`Request`] relative to
//! the server URL, a [`Response`], and why a response may not have come
//! ([`TransportError`]). The engine's sync machine produces and consumes
//! these without I/O; every shell (reqwest, an in-process router, the
//! simulator's upstreams, client replay) carries them.
//!
//! They are a thin layer over the `http` crate's types rather than those
//! types themselves: the sans-IO machine, the session format and the
//! simulator's trace want plain owned data (a path string, header pairs
//! in order, a byte body) that compares, clones and serialises without a
//! body type or extensions. [`Request::to_http`] and
//! [`Response::from_http`] are the one crossing point.

use std::future::Future;

/// The engine itself only sends GET and POST; the other methods exist so
/// that tools built on the same transports (session replay) can carry any
/// recorded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Parses an HTTP method name (any case); `None` for others.
    pub fn parse(s: &str) -> Option<Method> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }

    pub fn to_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Patch => http::Method::PATCH,
            Method::Delete => http::Method::DELETE,
        }
    }
}

/// One HTTP request, relative to the server URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Path and query, e.g. `/items/changes?after=3&limit=1000`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The same request as an `http::Request` (for routers and clients
    /// built on the `http` crate). Fails only on a path or header that is
    /// not valid HTTP, which a recorded or hostile session may hold.
    pub fn to_http(&self) -> Result<http::Request<Vec<u8>>, TransportError> {
        let mut b = http::Request::builder()
            .method(self.method.to_http())
            .uri(self.path.as_str());
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(self.body.clone().unwrap_or_default())
            .map_err(|e| TransportError::Io(format!("not a valid HTTP request: {e}")))
    }
}

/// One HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as JSON; the error names the status, since a body that is
    /// not JSON is usually a proxy's error page.
    pub fn json(&self) -> Result<serde_json::Value, NotJson> {
        serde_json::from_slice(&self.body).map_err(|source| NotJson {
            status: self.status,
            source,
        })
    }

    /// The start of the body as text, for error messages.
    pub fn text_start(&self, chars: usize) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(chars)
            .collect()
    }

    /// Status and headers of an `http` response, with its collected body.
    /// Header values that are not UTF-8 are kept lossily (they are only
    /// ever compared or shown).
    pub fn from_http(parts: &http::response::Parts, body: Vec<u8>) -> Self {
        Self {
            status: parts.status.as_u16(),
            headers: header_pairs(&parts.headers),
            body,
        }
    }
}

/// Header pairs of an `http` header map, in its order.
pub fn header_pairs(h: &http::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Whether a header belongs to one connection rather than to the exchange
/// (proxies drop these when they pass a request or answer on). Any case.
pub fn is_hop_by_hop(name: &str) -> bool {
    const HOP: [&str; 5] = [
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "keep-alive",
    ];
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A response body that is not JSON.
#[derive(Debug, thiserror::Error)]
#[error("status {status}: {source}")]
pub struct NotJson {
    pub status: u16,
    #[source]
    pub source: serde_json::Error,
}

/// Why no response came back.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_in_any_case_and_map_to_http() {
        for m in Method::ALL {
            assert_eq!(Method::parse(&m.as_str().to_lowercase()), Some(m));
            assert_eq!(m.to_http().as_str(), m.as_str());
        }
        assert_eq!(Method::parse("HEAD"), None);
    }

    #[test]
    fn a_request_crosses_to_http_and_bad_ones_are_errors() {
        let r = Request {
            method: Method::Post,
            path: "/items?profile=work".into(),
            headers: vec![("X-Peek-Client".into(), "t".into())],
            body: Some(b"{}".to_vec()),
        };
        assert_eq!(r.header("x-peek-client"), Some("t"));
        let h = r.to_http().expect("valid");
        assert_eq!(h.method(), http::Method::POST);
        assert_eq!(h.uri().query(), Some("profile=work"));
        assert_eq!(h.headers()["x-peek-client"], "t");
        assert_eq!(h.body(), b"{}");
        let bad = Request {
            path: "not a path".into(),
            ..r
        };
        assert!(matches!(bad.to_http(), Err(TransportError::Io(_))));
    }

    #[test]
    fn hop_by_hop_headers_are_known_in_any_case() {
        for h in [
            "Host",
            "content-length",
            "Connection",
            "TRANSFER-ENCODING",
            "keep-alive",
        ] {
            assert!(is_hop_by_hop(h), "{h}");
        }
        for h in ["authorization", "x-peek-client", "content-type"] {
            assert!(!is_hop_by_hop(h), "{h}");
        }
    }

    #[test]
    fn a_response_comes_back_from_http_parts() {
        let (parts, ()) = http::Response::builder()
            .status(409)
            .header("X-Peek-Datastore-Version", "1")
            .body(())
            .expect("valid")
            .into_parts();
        let r = Response::from_http(&parts, b"{\"error\":\"x\"}".to_vec());
        assert_eq!(r.status, 409);
        assert_eq!(r.header("x-peek-datastore-version"), Some("1"));
        assert_eq!(r.json().expect("json")["error"], "x");
        assert_eq!(r.text_start(3), "{\"e");
    }
}
