//! The whole server called without a socket: [`InProcess`] sends a
//! `protocol::Request` through the production router with
//! `tower::ServiceExt::oneshot` (auth, version gate, handlers, everything
//! `main` serves), so tests, the simulator and conformance runs exercise
//! the real stack. It lives here, not in the engine, so that a client build
//! never compiles axum.

use std::future::Future;

use http_body_util::BodyExt;
use protocol::{Request, Response, Transport, TransportError};
use tower::ServiceExt;

/// A router (usually `server::app(state)`) as a [`Transport`].
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
        let router = self.router.clone();
        async move {
            let http_req = req.to_http()?.map(axum::body::Body::from);
            let resp = router
                .oneshot(http_req)
                .await
                .map_err(|e| TransportError::Io(e.to_string()))?;
            let (parts, body) = resp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| TransportError::Io(e.to_string()))?
                .to_bytes()
                .to_vec();
            Ok(Response::from_http(&parts, body))
        }
    }
}
