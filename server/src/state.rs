//! What every handler shares: the data directory, `system.db`, the open
//! profile databases, and the injected clock and id source.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::{Clock, IdSource};
use crate::error::ApiResult;
use crate::store::datastore::{Datastores, ProfileDb};
use crate::store::system::SystemDb;
use crate::timestamp::format_iso;

/// Limits on what a client may send. Defaults fit the largest legitimate
/// request: a 10 MiB image as base64 inside JSON.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted, in bytes (larger: 413).
    pub body_bytes: usize,
    /// Most items in one `POST /items/batch`.
    pub batch_items: usize,
    /// Largest `limit` on paged reads.
    pub page_max: usize,
    /// `limit` of the change feed when the client gives none.
    pub page_default: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 16 * 1024 * 1024,
            batch_items: 1000,
            page_max: 5000,
            page_default: 500,
        }
    }
}

/// Shared server state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub data_dir: PathBuf,
    pub system: SystemDb,
    pub stores: Datastores,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub limits: Limits,
    /// Backups kept per user (the Node server kept 7).
    pub backup_retention: usize,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the data directory (creating it and `system.db` if needed).
    /// Migrations are not run here: see `boot::prepare`.
    pub fn open(data_dir: &Path, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> ApiResult<Self> {
        std::fs::create_dir_all(data_dir)?;
        let system = SystemDb::open(&data_dir.join("system.db"))?;
        Ok(Self(Arc::new(Inner {
            data_dir: data_dir.to_path_buf(),
            system,
            stores: Datastores::default(),
            clock,
            ids,
            limits: Limits::default(),
            backup_retention: 7,
        })))
    }

    /// Same, with non-default limits.
    pub fn with_limits(self, limits: Limits) -> Self {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.limits = limits;
                Self(Arc::new(inner))
            }
            Err(shared) => Self(shared),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn now_iso(&self) -> String {
        format_iso(self.now())
    }

    /// The open database of (user, profile UUID).
    pub fn profile_db(&self, user: &str, profile: &str) -> ApiResult<Arc<ProfileDb>> {
        self.stores.get(&self.data_dir, user, profile)
    }
}
