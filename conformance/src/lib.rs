//! The Peek Sync conformance suite: one set of scenarios run unchanged
//! against any server and any client implementation, with a compliance
//! matrix (`peek-conform`). See `docs/architecture.md` and
//! `docs/driver-protocol.md`.
//!
//! * [`property`]: the four property groups (proptest over the simulator's
//!   world and invariants).
//! * [`documented`]: the documented scenarios of `docs/original-system.md` §5,
//!   as fixed tests over the [`client::Client`] and [`server::Server`]
//!   targets.
//! * [`client`], [`server`], [`driver`]: the targets; [`spec`]: which
//!   client a run names.
//! * [`matrix`], [`expect`], [`report`], [`junit`]: running, expectations,
//!   output (the matrix, and the JUnit report CI reads).

pub mod client;
pub mod documented;
pub mod driver;
pub mod expect;
pub mod junit;
pub mod matrix;
pub mod property;
pub mod report;
pub mod server;
pub mod spec;
