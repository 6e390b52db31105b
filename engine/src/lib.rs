//! The reference Peek sync client.
//!
//! * [`sync`]: the sync logic as an I/O-free state machine, and [`sync::run`].
//! * [`store`]: the local rusqlite store (desktop schema of §4).
//! * [`model`]: item and wire types, lenient parsing of server items.
//! * [`transport`]: the HTTP shell and the in-process shell.
//! * [`platform`]: models of the five original clients.

pub mod error;
pub mod model;
pub mod platform;
pub mod store;
pub mod sync;
pub mod transport;

pub use error::{Error, Result};
pub use platform::Model;
pub use store::Store;
pub use sync::{run, Mode, Summary, SyncConfig, SyncSession};
