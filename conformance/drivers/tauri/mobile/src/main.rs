//! `original-tauri-mobile`: the Tauri iOS app, driven through its own
//! `#[tauri::command]` functions.
//!
//! All of `backend/tauri-mobile/src-tauri/src/lib.rs` is compiled
//! unmodified from `$PEEK_ORIGINAL_DIR` (build.rs writes an `include!` of
//! it into `mod app`), against the stub `tauri` and `tauri-plugin-opener`
//! crates of this workspace. The App Group bridge (`AppGroupBridge.m` on
//! iOS) is the three C functions below. The glue that maps protocol
//! commands to the app's commands is `glue.rs`, a child module of `app` so
//! that it may call the app's private functions.
//!
//! The app keeps its state in statics (`PROFILE_CONFIG`, `DB_INIT`), so a
//! restart is a re-exec (driver-kit), exactly an app relaunch.

use std::ffi::CString;
use std::os::raw::c_char;
use std::path::Path;
use std::sync::RwLock;

use driver_kit::{Driver, Source};
use serde_json::json;

include!(concat!(env!("OUT_DIR"), "/original.rs"));

mod source {
    include!(concat!(env!("OUT_DIR"), "/source.rs"));
}

driver_kit::override_clock!();

/// The App Group container: the device directory.
static CONTAINER: RwLock<Option<CString>> = RwLock::new(None);

pub(crate) fn set_container(dir: &Path) {
    let c = CString::new(dir.to_string_lossy().as_bytes()).expect("no NUL in a path");
    *CONTAINER.write().unwrap_or_else(|p| p.into_inner()) = Some(c);
}

/// `AppGroupBridge.m`: the App Group container path, malloc'ed (lib.rs
/// `get_container_path` frees it).
#[no_mangle]
pub extern "C" fn get_app_group_container_path() -> *const c_char {
    match &*CONTAINER.read().unwrap_or_else(|p| p.into_inner()) {
        // SAFETY: strdup of a valid C string; the caller frees it.
        Some(c) => unsafe { libc::strdup(c.as_ptr()) },
        None => std::ptr::null(),
    }
}

/// `AppGroupBridge.m`: light mode.
#[no_mangle]
pub extern "C" fn get_system_is_dark_mode() -> i32 {
    0
}

/// `AppGroupBridge.m`: not an App Store build (an Xcode install: the app
/// then starts on its "Development" profile, lib.rs:587-620).
#[no_mangle]
pub extern "C" fn is_app_store_build() -> i32 {
    0
}

fn main() {
    let driver = Driver {
        name: format!("original-tauri-mobile {}", env!("CARGO_PKG_VERSION")),
        source: Source {
            commit: source::COMMIT.map(str::to_string),
            files: source::FILES.to_string(),
            paths: source::PATHS.iter().map(|p| p.to_string()).collect(),
        },
        capabilities: json!({
            "restart": "reexec",
            "syncModes": ["full", "pull", "push"],
            "clock": "offset",
            // lib.rs:654-667: `profile=<server_profile_id>` of the current
            // local profile, else the local profile id.
            "profiles": "id",
            "metadata": true,
            "concurrent": true,
            "seed": true,
        }),
    };
    driver_kit::run(driver, app::glue::open)
}
