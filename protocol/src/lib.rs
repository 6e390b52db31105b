//! The ground floor of the workspace: what the Peek server, the client
//! engine and the simulator must agree on, and nothing that belongs to one
//! of them. See `docs/architecture.md`.
//!
//! * [`clock`]: `Clock` and `IdSource`, the only doors to time and
//!   randomness, with production and deterministic implementations.
//! * [`timestamp`]: timestamps as the clients spell them, on jiff.
//! * [`item`]: the item types.
//! * [`version`]: protocol versions and header names.
//! * [`wire`]: one HTTP exchange as plain data, and the `Transport` seam.

pub mod clock;
pub mod item;
pub mod timestamp;
pub mod version;
pub mod wire;

pub use clock::{Clock, IdSource, ManualClock, OsIds, SeededIds, SystemClock};
pub use item::ItemType;
pub use version::{DATASTORE_VERSION, PROTOCOL_VERSION};
pub use wire::{Method, NotJson, Request, Response, Transport, TransportError};
