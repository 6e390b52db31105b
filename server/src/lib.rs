//! Peek sync server library: [`app`] is the whole service, called by
//! `main`, the tests and the simulator alike. See `docs/architecture.md`.

pub mod backup;
pub mod boot;
pub mod clock;
pub mod error;
pub mod http;
pub mod migrate;
pub mod state;
pub mod store;
pub mod timestamp;

pub use http::app;
pub use state::AppState;

/// `X-Peek-Datastore-Version` this server speaks (§1.1). Stays 1: every
/// extension is additive and advertised in `GET /` `features`.
pub const DATASTORE_VERSION: i64 = 1;
/// `X-Peek-Protocol-Version` this server speaks (§1.1).
pub const PROTOCOL_VERSION: i64 = 1;
