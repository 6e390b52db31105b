//! The one place where failures become HTTP responses.
//!
//! Client mistakes are 4xx with a JSON `{"error": ...}` body (fixes D30:
//! the Node server answered malformed input with a plain-text 500). Only
//! genuine server faults are 5xx, and their details go to the log, not to
//! the client.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

pub use crate::store::error::StorageFault;
use crate::store::error::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input the client can fix; message is sent verbatim (§1.4 wording).
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    /// §1.1: 409 with the Node server's exact body.
    #[error("version mismatch")]
    VersionMismatch {
        datastore: bool,
        client: i64,
        server: i64,
    },
    #[error("request body too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    /// A failure of the store the client cannot fix: the data directory
    /// refused the work (507/503) or something broke (500). The store's
    /// client-fixable cases never land here: see the `From` below.
    #[error(transparent)]
    Store(StoreError),
    /// A fault of the HTTP layer itself (a response that would not
    /// serialize): 500, details in the log only.
    #[error("{0}")]
    Internal(String),
}

/// The one mapping from the store's words to HTTP. Invalid input and name
/// conflicts are the Node server's 400s, a missing thing its 404; every
/// other case is judged by [`StoreError::storage_fault`] when answered.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) | StoreError::Conflict(m) => ApiError::BadRequest(m),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            e => ApiError::Store(e),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e).into()
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e).into()
    }
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }

    /// Whether (and why) the data directory refused the request.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            ApiError::Store(e) => e.storage_fault(),
            _ => None,
        }
    }
}

/// 507 for a full disk, 503 for the rest: all three are retryable.
fn fault_status(fault: StorageFault) -> StatusCode {
    match fault {
        StorageFault::Full => StatusCode::INSUFFICIENT_STORAGE,
        StorageFault::ReadOnly | StorageFault::Io => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn fault_message(fault: StorageFault) -> &'static str {
    match fault {
        StorageFault::Full => "storage full: the server's disk is full; nothing was changed, retry later",
        StorageFault::ReadOnly => "storage read-only: the server cannot write its data directory; nothing was changed, retry later",
        StorageFault::Io => "storage unavailable: the server cannot write its data directory; nothing was changed, retry later",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({ "error": m })),
            ApiError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, json!({ "error": "Unauthorized" }))
            }
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, json!({ "error": m })),
            ApiError::VersionMismatch {
                datastore,
                client,
                server,
            } => {
                let (kind, label) = if *datastore {
                    ("datastore_version_mismatch", "Datastore")
                } else {
                    ("protocol_version_mismatch", "Protocol")
                };
                (
                    StatusCode::CONFLICT,
                    json!({
                        "error": "Version mismatch",
                        "message": format!("{label} version mismatch: client={client}, server={server}. Please update your app."),
                        "type": kind,
                        "client_version": client,
                        "server_version": server,
                    }),
                )
            }
            ApiError::PayloadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "error": format!("request body too large (limit {limit} bytes)") }),
            ),
            e => match e.storage_fault() {
                Some(fault) => {
                    let message = fault_message(fault);
                    tracing::error!(error = %e, reason = fault.reason(), "storage unavailable: {message}");
                    (
                        fault_status(fault),
                        json!({ "error": message, "reason": fault.reason() }),
                    )
                }
                None => {
                    tracing::error!(error = %e, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json!({ "error": "internal server error" }),
                    )
                }
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if matches!(
            status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::INSUFFICIENT_STORAGE
        ) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::items::{self, ItemWrite, TYPE_ERROR};

    /// Status, `Retry-After` and body of what a store error answers.
    async fn answer(e: StoreError) -> (u16, Option<String>, String) {
        let resp = ApiError::from(e).into_response();
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap_or_default().to_string());
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        (status, retry, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn sqlite(code: i32) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    /// What the store says, as the Node server (and this server before the
    /// store had its own error type) put it on the wire.
    #[tokio::test]
    async fn store_errors_keep_their_status_and_body() {
        let cases = [
            (
                StoreError::invalid("content is required for type 'text'"),
                (
                    400,
                    None,
                    r#"{"error":"content is required for type 'text'"}"#,
                ),
            ),
            (
                StoreError::Conflict("Profile 'work' already exists for user 'u'".into()),
                (
                    400,
                    None,
                    r#"{"error":"Profile 'work' already exists for user 'u'"}"#,
                ),
            ),
            (
                StoreError::not_found("image not found"),
                (404, None, r#"{"error":"image not found"}"#),
            ),
            (
                sqlite(rusqlite::ffi::SQLITE_FULL),
                (
                    507,
                    Some("5"),
                    r#"{"error":"storage full: the server's disk is full; nothing was changed, retry later","reason":"disk_full"}"#,
                ),
            ),
            (
                sqlite(rusqlite::ffi::SQLITE_READONLY),
                (
                    503,
                    Some("5"),
                    r#"{"error":"storage read-only: the server cannot write its data directory; nothing was changed, retry later","reason":"read_only"}"#,
                ),
            ),
            (
                StoreError::Io(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
                (
                    503,
                    Some("5"),
                    r#"{"error":"storage read-only: the server cannot write its data directory; nothing was changed, retry later","reason":"read_only"}"#,
                ),
            ),
            (
                StoreError::Unavailable("profile writer stopped".into()),
                (
                    503,
                    Some("5"),
                    r#"{"error":"storage unavailable: the server cannot write its data directory; nothing was changed, retry later","reason":"io_error"}"#,
                ),
            ),
            (
                sqlite(rusqlite::ffi::SQLITE_CONSTRAINT),
                (500, None, r#"{"error":"internal server error"}"#),
            ),
            (
                StoreError::Aborted("store work panicked".into()),
                (500, None, r#"{"error":"internal server error"}"#),
            ),
        ];
        for (e, (status, retry, body)) in cases {
            let what = format!("{e:?}");
            let got = answer(e).await;
            assert_eq!(
                (got.0, got.1.as_deref(), got.2.as_str()),
                (status, retry, body),
                "{what}"
            );
        }
    }

    /// A store function's refusal reaches the client in §1.4's words.
    #[tokio::test]
    async fn a_store_validation_error_is_the_node_servers_400() {
        let e = items::validate(&ItemWrite::default()).expect_err("no type");
        assert!(matches!(&e, StoreError::Invalid(m) if m == TYPE_ERROR));
        let (status, _, body) = answer(e).await;
        assert_eq!(status, 400);
        assert_eq!(body, json!({ "error": TYPE_ERROR }).to_string());
    }
}
