//! Who plays a world: which implementation runs its devices and which
//! answers as its servers. The configuration (`WorldConfig`) says what the
//! world is, drawn from the seed; the cast says what plays it: the engine
//! in this process (the default, deterministic), an external client behind
//! the driver protocol, the in-process server or a server by URL. A cast
//! that cannot take the virtual clock (a driver, a server by URL) needs a
//! [`RealTime`]: then the world's time base is the wall clock, injected by
//! the shell that asked for it.

use std::sync::Arc;

use crate::account::Scratch;
use crate::config::{WorldConfig, EPOCH_MS};
use crate::device::{Device, DeviceError, EngineDevice};
use crate::driver::DriverDevice;
use crate::host::ServerHost;
use crate::upstream::{HttpServer, Upstream, UpstreamError};

/// What runs the world's devices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Clients {
    /// Each device's `DeviceSpec::model`, in this process.
    #[default]
    Engine,
    /// Every device a process of this shell command (`docs/driver-protocol.md`).
    Driver(String),
}

/// What answers as the world's servers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Servers {
    /// The production server in this process, one per world server.
    #[default]
    InProcess,
    /// A running server: each world server is a fresh set of profiles in
    /// the run's scratch space on it.
    Url(Arc<Scratch>),
}

/// The wall clock, for worlds whose devices or servers cannot take the
/// virtual one. Only shells construct one.
pub trait RealTime {
    fn now_ms(&self) -> i64;
    /// Lets (a little) real time pass for a world's `Wait`.
    fn pause(&self, ms: i64);
}

/// The wall clock (through `protocol::clock::SystemClock`, the one place
/// that reads it), for worlds played by a driver or a server by URL: a
/// `Wait` lets a little real time pass, so "later" stays later without
/// making a run slow.
pub struct Wall;

impl RealTime for Wall {
    fn now_ms(&self) -> i64 {
        use protocol::clock::Clock as _;
        protocol::clock::SystemClock.now_ms()
    }
    fn pause(&self, ms: i64) {
        std::thread::sleep(std::time::Duration::from_millis(ms.clamp(0, 20) as u64));
    }
}

/// Who plays a world.
#[derive(Clone, Default)]
pub struct Cast {
    pub clients: Clients,
    pub servers: Servers,
    pub real_time: Option<Arc<dyn RealTime>>,
}

/// Why the cast could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum CastError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("this cast cannot take the virtual clock: give it a RealTime")]
    NeedsRealTime,
}

impl Cast {
    /// The world's servers.
    pub fn servers(&self, cfg: &WorldConfig) -> Result<Vec<Box<dyn Upstream>>, CastError> {
        (0..cfg.servers)
            .map(|i| -> Result<Box<dyn Upstream>, CastError> {
                Ok(match &self.servers {
                    Servers::InProcess => Box::new(
                        ServerHost::new(
                            &format!("s{i}"),
                            cfg.seed.wrapping_add(i as u64 * 7919),
                            EPOCH_MS,
                        )
                        .map_err(UpstreamError::from)?,
                    ),
                    Servers::Url(scratch) => Box::new(HttpServer::connect(
                        scratch,
                        &format!("sim {} s{i}", cfg.seed),
                    )?),
                })
            })
            .collect()
    }

    /// The world's devices: engine devices with their databases in memory,
    /// drivers with their homes under `dir`.
    pub fn devices(
        &self,
        cfg: &WorldConfig,
        dir: &std::path::Path,
    ) -> Result<Vec<Box<dyn Device>>, CastError> {
        cfg.devices
            .iter()
            .enumerate()
            .map(|(i, spec)| -> Result<Box<dyn Device>, CastError> {
                Ok(match &self.clients {
                    Clients::Engine => Box::new(EngineDevice::in_memory(
                        &spec.name,
                        spec.model,
                        cfg.seed ^ (0xD0_0000 + i as u64),
                    )?),
                    Clients::Driver(cmd) => {
                        let home = dir.join(format!("{}.driver", spec.name));
                        Box::new(DriverDevice::spawn(&spec.name, cmd, cfg.servers, &home)?)
                    }
                })
            })
            .collect()
    }
}
