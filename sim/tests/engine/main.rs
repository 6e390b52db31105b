//! The reference engine and the platform models against the real server
//! in-process: the engine's guarantees, crash safety, the documented
//! multi-device scenarios, one reproduction per model bug, and the CLI on
//! a loopback socket. They live with the simulator because they need both
//! the engine and the server, and the engine itself never builds the
//! server (`docs/architecture.md`). One test binary, so one link.

mod common;
mod crash;
mod guarantees;
mod loopback;
mod platform_models;
mod scenarios;
