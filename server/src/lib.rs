//! Peek sync server library: `app(state)` is the whole service, called by
//! `main`, the tests and the simulator alike.

pub mod clock;
pub mod error;
pub mod migrate;
pub mod store;
pub mod timestamp;

/// `X-Peek-Datastore-Version` this server speaks (§1.1). Stays 1: every
/// extension is additive and advertised in `GET /` `features`.
pub const DATASTORE_VERSION: i64 = 1;
/// `X-Peek-Protocol-Version` this server speaks (§1.1).
pub const PROTOCOL_VERSION: i64 = 1;
