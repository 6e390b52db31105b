//! Deterministic simulator of Peek Sync: virtual devices, each with its own
//! clock, against the real server in-process, under network and crash
//! faults, with invariants checked. See `docs/architecture.md`.

pub mod account;
pub mod cast;
pub mod check;
pub mod config;
pub mod device;
pub mod diagnose;
pub mod driver;
pub mod event;
pub mod explore;
pub mod front;
pub mod host;
pub mod invariant;
pub mod junit;
pub mod markup;
pub mod observe;
pub mod oracle;
pub mod report;
pub mod rng;
pub mod run;
pub mod scratch;
pub mod session;
pub mod timeline;
pub mod trace;
pub mod transfer;
pub mod upstream;
pub mod vclock;
pub mod workload;
pub mod world;
