//! The world's HTTP front for an external client: a listener on 127.0.0.1
//! that hands every request it receives to the world (as a
//! [`Msg::Request`]) and answers with what the world's wire returns. The
//! faults happen on the world's side (`crate::upstream::deliver`), the same
//! as for in-process devices; the front only carries them to HTTP: an
//! answer is an answer (a 503 included), a lost request or response is a
//! connection closed without one.

use std::net::SocketAddr;
use std::sync::mpsc::Sender;

use engine::sync::{Method, Request, Response};
use engine::transport::TransportError;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use protocol::wire::is_hop_by_hop;

/// Why the front refused a request without asking the world.
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("the world dropped the request")]
    Dropped,
    #[error("the wire lost it: {0}")]
    Lost(String),
    #[error("body: {0}")]
    Body(String),
}

/// What reaches the world's side of an external client: a line its
/// driver wrote, or a request its front received (answered through the
/// sender; an error closes the connection unanswered).
pub enum Msg {
    Line(String),
    Request(
        Request,
        tokio::sync::oneshot::Sender<Result<Response, TransportError>>,
    ),
}

/// One listening front; requests go to `to` until it is dropped.
pub struct Front {
    url: String,
    /// Runs the listener; dropping it stops the front.
    _rt: tokio::runtime::Runtime,
}

impl Front {
    pub fn open(to: Sender<Msg>) -> std::io::Result<Front> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr: SocketAddr = std_listener.local_addr()?;
        rt.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                let to = to.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, to.clone()));
                    // A connection the world closed (a lost request or
                    // answer) ends here, unanswered: that is the fault.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Front {
            url: format!("http://{addr}"),
            _rt: rt,
        })
    }

    /// The base URL to configure the client with.
    pub fn url(&self) -> &str {
        &self.url
    }
}

async fn handle(
    req: hyper::Request<Incoming>,
    to: Sender<Msg>,
) -> Result<hyper::Response<Full<Bytes>>, Closed> {
    let method = Method::parse(req.method().as_str());
    let path = req.uri().path_and_query().map_or_else(
        || req.uri().path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(k, _)| !is_hop_by_hop(k.as_str()))
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| Closed::Body(e.to_string()))?
        .to_bytes();
    let Some(method) = method else {
        return Ok(answer(Response {
            status: 405,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"error":"method not allowed"}"#.to_vec(),
        }));
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let r = Request {
        method,
        path,
        headers,
        body: (!body.is_empty()).then(|| body.to_vec()),
    };
    to.send(Msg::Request(r, tx)).map_err(|_| Closed::Dropped)?;
    match rx.await {
        Ok(Ok(resp)) => Ok(answer(resp)),
        Ok(Err(e)) => Err(Closed::Lost(e.to_string())),
        Err(_) => Err(Closed::Dropped),
    }
}

fn answer(r: Response) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder().status(r.status);
    for (k, v) in &r.headers {
        if !is_hop_by_hop(k) {
            b = b.header(k.as_str(), v.as_str());
        }
    }
    b.body(Full::new(Bytes::from(r.body)))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use engine::transport::{HttpTransport, Transport, TransportError};

    use super::*;

    /// The front carries an answer as an answer, and a lost one as a
    /// connection closed without one (what a client sees of the fault).
    #[test]
    fn answers_pass_and_lost_answers_close_the_connection() {
        let (tx, rx) = std::sync::mpsc::channel();
        let front = Front::open(tx).unwrap();
        let world = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (i, msg) in rx.iter().enumerate().take(2) {
                let Msg::Request(req, answer) = msg else {
                    continue;
                };
                seen.push((req.method, req.path.clone(), req.body.clone()));
                let r = if i == 0 {
                    Ok(Response {
                        status: 503,
                        headers: vec![("x-peek".into(), "1".into())],
                        body: b"{\"error\":\"e\"}".to_vec(),
                    })
                } else {
                    Err(TransportError::Io("response lost".into()))
                };
                let _ = answer.send(r);
            }
            seen
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = HttpTransport::new(front.url(), Duration::from_secs(5)).unwrap();
        let post = |path: &str| Request {
            method: Method::Post,
            path: path.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(b"{\"a\":1}".to_vec()),
        };
        let first = rt.block_on(http.send(post("/items?x=1"))).unwrap();
        assert_eq!(first.status, 503);
        assert_eq!(first.header("x-peek"), Some("1"));
        assert!(rt.block_on(http.send(post("/items"))).is_err());
        let seen = world.join().unwrap();
        assert_eq!(seen[0].1, "/items?x=1");
        assert_eq!(seen[0].2.as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(seen.len(), 2);
    }
}
