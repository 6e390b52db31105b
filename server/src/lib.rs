//! Peek sync server library: [`app`] is the whole service, called by
//! `main`, the tests and the simulator alike. See `docs/architecture.md`.

pub mod backup;
pub mod boot;
pub mod data_lock;
pub mod error;
pub mod http;
pub mod in_process;
pub mod metrics;
pub mod migrate;
pub mod state;
pub mod store;

pub use http::app;
pub use in_process::InProcess;
pub use state::AppState;

/// Time, ids and timestamps are the ground floor's (`protocol`), shared
/// with the engine; the server reads them under its own paths.
pub use protocol::{clock, timestamp};
/// The versions this server speaks (`X-Peek-*-Version`, §1.1). Stay 1:
/// every extension is additive and advertised in `GET /` `features`.
pub use protocol::{DATASTORE_VERSION, PROTOCOL_VERSION};
