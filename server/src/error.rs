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
    /// The data directory cannot be written: disk full, read-only, quota.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }

    fn is_disk_full(&self) -> bool {
        match self {
            ApiError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::ReadOnly
            ),
            ApiError::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::ReadOnlyFilesystem
                    | std::io::ErrorKind::PermissionDenied
            ),
            _ => false,
        }
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
            e if e.is_disk_full() || matches!(e, ApiError::StorageUnavailable(_)) => {
                tracing::error!(error = %e, "storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "error": "storage unavailable: the server cannot write its data directory; nothing was changed, retry later" }),
                )
            }
            e => {
                tracing::error!(error = %e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "internal server error" }),
                )
            }
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
