//! Endpoint tests through the real `Router`, in-process (one test binary).
#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod boot;
mod disk_faults;
mod execution;
mod extensions;
mod hostile;
mod isolation;
mod items;
mod legacy;
mod ops;
mod pipeline;
mod profiles_backups;
mod snapshots;
