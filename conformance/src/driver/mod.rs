//! The driver protocol (`docs/driver-protocol.md`) on the suite's side. The
//! protocol's types and the process client live in the simulator
//! (`sim::driver`: a driver is a device of the one world); here the
//! process is also a [`Client`] for the documented scenarios, and
//! [`serve`] is a driver's side over any [`Client`] (the reference
//! driver, `peek-conform-driver`, is `serve` over the engine).

pub mod serve;

use std::collections::BTreeMap;
use std::path::Path;

use engine::Mode;
use serde_json::Value;
use sim::front::Front;

pub use sim::driver::{
    Command, DriverClient, DriverError, Envelope, Hello, ItemView, Reply, ReplyError,
};

use crate::client::{Client, ClientError, SyncReport};
use crate::server::Server;

fn owned(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

/// A driver process as a scenario's client. The driver never sees the
/// scenario's server directly: each server URL it is configured with is
/// one HTTP front on 127.0.0.1 (`sim::front`), and every request arriving
/// there is answered by the `Server` the scenario passes to the call in
/// progress. So a scenario that wraps its server (a write slipped into a
/// running sync, a server speaking another version) wraps it for drivers
/// too, and the in-process server's files (restart, legacy rows, the
/// dedup flag) are there for them as for the engine.
pub struct DriverTarget {
    proc: DriverClient,
    /// By the URL the scenario configured.
    fronts: BTreeMap<String, Front>,
}

impl DriverTarget {
    /// Starts `cmd` for one device whose home (data directory and log) is
    /// `home`.
    pub fn spawn(cmd: &str, home: &Path) -> Result<Self, ClientError> {
        Ok(Self {
            proc: DriverClient::spawn(cmd, home)?,
            fronts: BTreeMap::new(),
        })
    }

    /// What the driver said of itself.
    pub fn hello(&self) -> &Hello {
        self.proc.hello()
    }

    /// One command, its requests answered by `server` until its reply.
    fn call(&mut self, server: &dyn Server, cmd: Command) -> Result<Value, ClientError> {
        self.proc.send_serving(cmd, &mut |req| server.call(req))
    }
}

impl Client for DriverTarget {
    fn configure(
        &mut self,
        url: &str,
        key: &str,
        profile: Option<&str>,
    ) -> Result<(), ClientError> {
        if !self.fronts.contains_key(url) {
            let front = Front::open(self.proc.requests())
                .map_err(|e| ClientError::Driver(format!("front: {e}")))?;
            self.fronts.insert(url.to_string(), front);
        }
        let front = self.fronts[url].url().to_string();
        self.proc.send(Command::Configure {
            server_url: front,
            api_key: key.into(),
            server_profile_id: profile.map(str::to_string),
        })?;
        Ok(())
    }

    fn create(
        &mut self,
        server: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
    ) -> Result<String, ClientError> {
        let v = self.call(
            server,
            Command::Create {
                kind: kind.into(),
                content: content.map(str::to_string),
                tags: owned(tags),
                metadata: None,
            },
        )?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Driver("create: no id in the reply".into()))
    }

    fn seed_row(
        &mut self,
        _: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
    ) -> Result<String, ClientError> {
        if !self.proc.hello().capabilities.seed {
            return Err(ClientError::Unsupported(format!(
                "{} cannot seed rows into its database",
                self.proc.name()
            )));
        }
        let v = self.proc.send(Command::SeedRow {
            kind: kind.into(),
            content: content.map(str::to_string),
            tags: owned(tags),
            sync_id: String::new(),
        })?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Driver("seed_row: no id in the reply".into()))
    }

    fn update(
        &mut self,
        server: &dyn Server,
        id: &str,
        content: Option<&str>,
        tags: Option<&[&str]>,
    ) -> Result<(), ClientError> {
        self.call(
            server,
            Command::Update {
                id: id.into(),
                content: content.map(str::to_string),
                tags: tags.map(owned),
            },
        )?;
        Ok(())
    }

    fn delete(&mut self, server: &dyn Server, id: &str) -> Result<(), ClientError> {
        self.call(server, Command::Delete { id: id.into() })?;
        Ok(())
    }

    fn tag(&mut self, server: &dyn Server, id: &str, tag: &str) -> Result<(), ClientError> {
        self.call(
            server,
            Command::Tag {
                id: id.into(),
                tag: tag.into(),
            },
        )?;
        Ok(())
    }

    fn sync(&mut self, server: &dyn Server, mode: Mode) -> Result<SyncReport, ClientError> {
        let mode = match mode {
            Mode::Full => "full",
            Mode::PullOnly => "pull",
            Mode::PushOnly => "push",
        };
        let v = self.call(server, Command::Sync { mode: mode.into() })?;
        serde_json::from_value(v).map_err(|e| ClientError::Driver(format!("sync reply: {e}")))
    }

    fn items(&mut self, include_deleted: bool) -> Result<Vec<ItemView>, ClientError> {
        let v = self.proc.send(Command::Items { include_deleted })?;
        serde_json::from_value(v["items"].clone())
            .map_err(|e| ClientError::Driver(format!("items reply: {e}")))
    }

    fn set_clock_offset(&mut self, ms: i64) -> Result<(), ClientError> {
        self.proc.send(Command::SetClock { offset_ms: ms })?;
        Ok(())
    }

    fn restart(&mut self) -> Result<(), ClientError> {
        self.proc.restart()
    }
}
