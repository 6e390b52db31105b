//! What every handler shares: the data directory, `system.db`, the open
//! profile databases, the injected clock and id source, and where the
//! blocking SQLite work of a request runs ([`AppState::run`]).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::clock::{Clock, IdSource};
use crate::error::ApiResult;
use crate::store::datastore::{Datastores, ProfileDb};
use crate::store::error::{StoreError, StoreResult};
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

/// Where [`AppState::run`] runs a request's store work. SQLite calls block
/// (a read, a commit, an image file, a backup), so on a multi-threaded
/// server they belong on tokio's blocking pool, where they cannot hold up
/// the async workers that accept connections and stream bodies.
///
/// Both strategies run the same closure over the same state, once, to
/// completion, and turn a panic into the same error: a response and what
/// is written are identical either way. Only the thread differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Execution {
    /// Off the async workers: production, and every test or tool that
    /// serves over a socket. A request whose store work is the only one
    /// in flight, on a multi-threaded runtime, uses
    /// `tokio::task::block_in_place`: the worker that polls the handler
    /// hands its other tasks to another thread and runs the work itself,
    /// so the request never waits for a thread to wake up (with
    /// `spawn_blocking` that wait, there and back, was most of a
    /// one-connection push: 2,800 -> 6,400 req/s without it). Otherwise
    /// (concurrent requests, or a current-thread runtime, which cannot
    /// hand its worker over) `tokio::task::spawn_blocking`: a thread hop
    /// per call.
    #[default]
    BlockingPool,
    /// On the thread that polls the handler. For a host that sends one
    /// request at a time on its own current-thread runtime (the
    /// simulator's `ServerHost`): nothing else waits on that thread, so
    /// the pool would only add two thread hops per exchange and a pool of
    /// threads per simulated world. Same answers, same trace hash (checked
    /// by `server/tests/api/execution.rs` and on the simulator's seeds).
    /// Wrong for a server with concurrent clients: a slow read would hold
    /// up every other request.
    Inline,
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
    pub execution: Execution,
    /// Store work running now (see [`AppState::run`]).
    in_flight: AtomicUsize,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the data directory (creating it and `system.db` if needed).
    /// The data-directory migrations are not run here (see
    /// `boot::prepare`); each profile database is brought to the current
    /// schema when first opened, legacy shapes by
    /// [`crate::migrate::schema::migrate_legacy_schema`].
    pub fn open(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)?;
        let system = SystemDb::open(&data_dir.join("system.db"))?;
        Ok(Self(Arc::new(Inner {
            data_dir: data_dir.to_path_buf(),
            system,
            stores: Datastores::new(crate::migrate::schema::migrate_legacy_schema),
            clock,
            ids,
            limits: Limits::default(),
            backup_retention: 7,
            execution: Execution::default(),
            in_flight: AtomicUsize::new(0),
        })))
    }

    /// Same, with non-default limits. Call it on the state `open` returned,
    /// before cloning it (a shared state is returned unchanged).
    pub fn with_limits(self, limits: Limits) -> Self {
        self.with_inner(|inner| inner.limits = limits)
    }

    /// Same, running store work as `execution` says (see [`Execution`]).
    /// Like [`AppState::with_limits`], before cloning.
    pub fn with_execution(self, execution: Execution) -> Self {
        self.with_inner(|inner| inner.execution = execution)
    }

    fn with_inner(self, change: impl FnOnce(&mut Inner)) -> Self {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                change(&mut inner);
                Self(Arc::new(inner))
            }
            Err(shared) => Self(shared),
        }
    }

    /// Runs a request's store work (SQLite, image files, backups) where
    /// [`Execution`] says, and waits for its answer. Every handler goes
    /// through here, so no SQLite call runs on an async worker (but one:
    /// the API-key lookup of `http::gate`, a single indexed read done in
    /// place when the connection is free). A closure
    /// that panics, or whose task is cancelled, answers
    /// [`StoreError::Aborted`] (a 500 with a JSON body, by the one mapping
    /// in `crate::error`): never a panic across the handler.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&AppState) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        // With other store work in flight the runtime is busy: handing a
        // worker over for each request put a thread wake-up before the
        // next request could even be read (32 connections lost throughput
        // and p99), so `block_in_place` is kept for a request alone.
        let in_flight = InFlight::enter(&self.in_flight);
        let alone = in_flight.others == 0;
        match self.execution {
            Execution::Inline => catch_unwind(AssertUnwindSafe(|| work(self)))
                .unwrap_or_else(|_| Err(aborted("panicked").into())),
            Execution::BlockingPool if alone && on_multi_thread_runtime() => {
                tokio::task::block_in_place(|| catch_unwind(AssertUnwindSafe(|| work(self))))
                    .unwrap_or_else(|_| Err(aborted("panicked").into()))
            }
            Execution::BlockingPool => {
                let state = self.clone();
                tokio::task::spawn_blocking(move || work(&state))
                    .await
                    .unwrap_or_else(|e| {
                        Err(aborted(if e.is_panic() {
                            "panicked"
                        } else {
                            "cancelled"
                        })
                        .into())
                    })
            }
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn now_iso(&self) -> String {
        format_iso(self.now())
    }

    /// The open database of (user, profile UUID); blocking (it may open
    /// and migrate the file).
    pub fn profile_db(&self, user: &str, profile: &str) -> StoreResult<Arc<ProfileDb>> {
        self.stores.get(&self.data_dir, user, profile)
    }
}

/// Counts one piece of store work in flight until dropped.
struct InFlight<'a> {
    count: &'a AtomicUsize,
    /// How many were in flight when this one started.
    others: usize,
}

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        let others = count.fetch_add(1, Ordering::AcqRel);
        Self { count, others }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether `block_in_place` may be called here (it panics on a
/// current-thread runtime).
fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

fn aborted(how: &str) -> StoreError {
    tracing::error!("a request's store work {how}; answered 500");
    StoreError::Aborted(format!("store work {how}"))
}
