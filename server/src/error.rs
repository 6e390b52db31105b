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

    /// Whether (and why) the data directory refused the request: SQLite's
    /// or the file system's "full", "read-only", or another I/O fault.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        use rusqlite::ErrorCode as C;
        use std::io::ErrorKind as K;
        match self {
            ApiError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => match e.code {
                C::DiskFull => Some(StorageFault::Full),
                C::ReadOnly => Some(StorageFault::ReadOnly),
                C::SystemIoFailure | C::CannotOpen => Some(StorageFault::Io),
                _ => None,
            },
            ApiError::Io(e) => match e.kind() {
                K::StorageFull | K::QuotaExceeded => Some(StorageFault::Full),
                K::ReadOnlyFilesystem | K::PermissionDenied => Some(StorageFault::ReadOnly),
                _ => None,
            },
            ApiError::StorageUnavailable(_) => Some(StorageFault::Io),
            _ => None,
        }
    }
}

/// Why a write could not reach the disk. All three are retryable: nothing
/// was written, and the same request succeeds once the operator has freed
/// space or remounted the data directory (`docs/reliability.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// 507 Insufficient Storage.
    Full,
    /// 503: the data directory or a file in it cannot be written.
    ReadOnly,
    /// 503: any other I/O failure (a failed commit, a stopped writer).
    Io,
}

impl StorageFault {
    pub fn status(self) -> StatusCode {
        match self {
            StorageFault::Full => StatusCode::INSUFFICIENT_STORAGE,
            StorageFault::ReadOnly | StorageFault::Io => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable `reason` of the error body.
    pub fn reason(self) -> &'static str {
        match self {
            StorageFault::Full => "disk_full",
            StorageFault::ReadOnly => "read_only",
            StorageFault::Io => "io_error",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            StorageFault::Full => "storage full: the server's disk is full; nothing was changed, retry later",
            StorageFault::ReadOnly => "storage read-only: the server cannot write its data directory; nothing was changed, retry later",
            StorageFault::Io => "storage unavailable: the server cannot write its data directory; nothing was changed, retry later",
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
            e => match e.storage_fault() {
                Some(fault) => {
                    tracing::error!(error = %e, reason = fault.reason(), "storage unavailable: {}", fault.message());
                    (
                        fault.status(),
                        json!({ "error": fault.message(), "reason": fault.reason() }),
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
