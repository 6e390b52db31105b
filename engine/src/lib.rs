//! The reference Peek sync client.
//!
//! * [`sync`]: the sync logic as an I/O-free state machine, and [`sync::run`].
//! * [`rules`]: the engine's decisions as pure functions (what is pending,
//!   what a pulled item or a push answer does, how cursors move).
//! * [`store`]: the local rusqlite store (desktop schema of §4).
//! * [`model`]: item and wire types, lenient parsing of server items.
//! * [`transport`]: the HTTP shell and the in-process shell.
//! * [`platform`]: models of the five original clients.

pub mod error;
pub mod model;
pub mod platform;
pub mod rules;
pub mod store;
pub mod sync;
pub mod transport;

pub use error::{Error, Result};
pub use platform::Model;
pub use store::Store;
pub use sync::{drive, run, Mode, Summary, SyncConfig, SyncSession};
