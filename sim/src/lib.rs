//! Deterministic simulator of Peek Sync: virtual devices, each with its own
//! clock, against the real server in-process, under network and crash
//! faults, with invariants checked. See `docs/architecture.md`.

pub mod check;
pub mod config;
pub mod diagnose;
pub mod event;
pub mod explore;
pub mod host;
pub mod observe;
pub mod report;
pub mod rng;
pub mod run;
pub mod scratch;
pub mod session;
pub mod timeline;
pub mod trace;
pub mod vclock;
pub mod world;
