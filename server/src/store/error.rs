//! What the store can say went wrong, in its own words: no status codes,
//! no response bodies. `crate::error` maps each case to HTTP, in one place,
//! so a store function can be called from a handler, a start-up step, an
//! admin command or the simulator alike.

/// Everything a store function can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input breaks a rule of the store (§1.4's validation, an image
    /// that is not one, an id that could name a path outside the data
    /// directory). The reason is worded for the client and sent verbatim.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken (a profile slug the user already has).
    #[error("{0}")]
    Conflict(String),
    /// Nothing of that name: an item, an image, its file, a backup.
    #[error("{0}")]
    NotFound(String),
    /// The store cannot take the work now, though SQLite named no cause:
    /// a profile's writer has stopped, a commit did not land, a start-up
    /// migration could not run. Retryable.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A piece of store work panicked or its task was cancelled before it
    /// answered. What it wrote was rolled back (a write runs in a
    /// transaction); nothing more is known.
    #[error("store work aborted: {0}")]
    Aborted(String),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid(reason.into())
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    /// Whether (and why) the data directory refused the work: SQLite's or
    /// the file system's "full", "read-only", or another I/O fault.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        use rusqlite::ErrorCode as C;
        use std::io::ErrorKind as K;
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => match e.code {
                C::DiskFull => Some(StorageFault::Full),
                C::ReadOnly => Some(StorageFault::ReadOnly),
                C::SystemIoFailure | C::CannotOpen => Some(StorageFault::Io),
                _ => None,
            },
            StoreError::Io(e) => match e.kind() {
                K::StorageFull | K::QuotaExceeded => Some(StorageFault::Full),
                K::ReadOnlyFilesystem | K::PermissionDenied => Some(StorageFault::ReadOnly),
                _ => None,
            },
            StoreError::Unavailable(_) => Some(StorageFault::Io),
            _ => None,
        }
    }
}

impl From<crate::store::system::CreateProfileError> for StoreError {
    fn from(e: crate::store::system::CreateProfileError) -> Self {
        use crate::store::system::CreateProfileError as E;
        match e {
            E::Sqlite(e) => Self::Sqlite(e),
            e @ E::NameRequired => Self::Invalid(e.to_string()),
            e @ E::Exists { .. } => Self::Conflict(e.to_string()),
        }
    }
}

/// Why a write could not reach the disk. All three are retryable: nothing
/// was written, and the same request succeeds once the operator has freed
/// space or remounted the data directory (`docs/reliability.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// The disk (or a quota) is full.
    Full,
    /// The data directory or a file in it cannot be written.
    ReadOnly,
    /// Any other I/O failure (a failed commit, a stopped writer).
    Io,
}

impl StorageFault {
    /// The stable name of the fault: the `reason` of an error body, and
    /// what the log and the admin commands say.
    pub fn reason(self) -> &'static str {
        match self {
            StorageFault::Full => "disk_full",
            StorageFault::ReadOnly => "read_only",
            StorageFault::Io => "io_error",
        }
    }
}
