//! A stub `tauri`: only the items the iOS app's `lib.rs` names.
//!
//! * `#[command]`, `#[mobile_entry_point]`: no-ops (`tauri-macros`);
//! * `Manager` and `AppHandle::path().app_data_dir()`: the device
//!   directory given by [`set_app_data_dir`];
//! * `async_runtime::spawn` / `block_on`: one process-wide tokio runtime,
//!   like tauri's own;
//! * `Builder`, `generate_handler!`, `generate_context!`: enough for
//!   `run()` to compile; the driver never calls it.

use std::path::PathBuf;
use std::sync::RwLock;

pub use tauri_macros::{command, mobile_entry_point};

static APP_DATA_DIR: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Where `app_data_dir()` points (the driver's device directory).
pub fn set_app_data_dir(dir: PathBuf) {
    *APP_DATA_DIR.write().unwrap_or_else(|p| p.into_inner()) = Some(dir);
}

/// tauri's error type, as far as the app uses it (`Display`).
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The app handle a command may take as an argument.
#[derive(Clone, Debug, Default)]
pub struct AppHandle;

/// `app.path()`.
pub struct PathResolver;

impl PathResolver {
    pub fn app_data_dir(&self) -> Result<PathBuf, Error> {
        APP_DATA_DIR
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error("no app data dir set".into()))
    }
}

/// The trait that brings `path()` into scope.
pub trait Manager {
    fn path(&self) -> PathResolver;
}

impl Manager for AppHandle {
    fn path(&self) -> PathResolver {
        PathResolver
    }
}

pub mod async_runtime {
    use std::future::Future;
    use std::sync::OnceLock;

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RT.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime")
        })
    }

    /// Spawns on the app's runtime (fire and forget, as the app uses it).
    pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        runtime().spawn(future)
    }

    /// Runs a future to completion on the app's runtime.
    pub fn block_on<F: Future>(future: F) -> F::Output {
        runtime().block_on(future)
    }
}

/// The context `generate_context!()` makes (nothing here).
pub struct Context;

/// `tauri::Builder`, enough for `run()` to type-check.
#[derive(Default)]
pub struct Builder;

impl Builder {
    pub fn plugin<P>(self, _plugin: P) -> Self {
        self
    }
    pub fn invoke_handler<H>(self, _handler: H) -> Self {
        self
    }
    pub fn run(self, _context: Context) -> Result<(), Error> {
        Err(Error("the stub tauri has no webview to run".into()))
    }
}

/// Names every command (so none is dead code) and makes nothing.
#[macro_export]
macro_rules! generate_handler {
    ($($command:ident),* $(,)?) => {{
        $( let _ = $command; )*
    }};
}

#[macro_export]
macro_rules! generate_context {
    () => {
        $crate::Context
    };
}
