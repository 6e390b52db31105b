//! The driver protocol (`docs/driver-protocol.md`) on the suite's side. The
//! protocol's types and the process client live in the simulator
//! (`sim::driver`: a driver is a device of the one world); here the
//! process is also a [`Client`] for the documented scenarios, and
//! [`serve`] is a driver's side over any [`Client`] (the reference
//! driver, `peek-conform-driver`, is `serve` over the engine).

pub mod serve;

use engine::Mode;

pub use sim::driver::{Command, DriverClient, DriverError, Envelope, ItemView, Reply, ReplyError};

use crate::client::{Client, ClientError, SyncReport};
use crate::server::Server;

fn owned(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

impl Client for DriverClient {
    fn configure(
        &mut self,
        url: &str,
        key: &str,
        profile: Option<&str>,
    ) -> Result<(), ClientError> {
        self.send(Command::Configure {
            server_url: url.into(),
            api_key: key.into(),
            server_profile_id: profile.map(str::to_string),
        })?;
        Ok(())
    }

    fn create(
        &mut self,
        _: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
    ) -> Result<String, ClientError> {
        let v = self.send(Command::Create {
            kind: kind.into(),
            content: content.map(str::to_string),
            tags: owned(tags),
            metadata: None,
        })?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Driver("create: no id in the reply".into()))
    }

    fn update(
        &mut self,
        _: &dyn Server,
        id: &str,
        content: Option<&str>,
        tags: Option<&[&str]>,
    ) -> Result<(), ClientError> {
        self.send(Command::Update {
            id: id.into(),
            content: content.map(str::to_string),
            tags: tags.map(owned),
        })?;
        Ok(())
    }

    fn delete(&mut self, _: &dyn Server, id: &str) -> Result<(), ClientError> {
        self.send(Command::Delete { id: id.into() })?;
        Ok(())
    }

    fn tag(&mut self, _: &dyn Server, id: &str, tag: &str) -> Result<(), ClientError> {
        self.send(Command::Tag {
            id: id.into(),
            tag: tag.into(),
        })?;
        Ok(())
    }

    fn sync(&mut self, _: &dyn Server, mode: Mode) -> Result<SyncReport, ClientError> {
        let mode = match mode {
            Mode::Full => "full",
            Mode::PullOnly => "pull",
            Mode::PushOnly => "push",
        };
        let v = self.send(Command::Sync { mode: mode.into() })?;
        serde_json::from_value(v).map_err(|e| ClientError::Driver(format!("sync reply: {e}")))
    }

    fn items(&mut self, include_deleted: bool) -> Result<Vec<ItemView>, ClientError> {
        let v = self.send(Command::Items { include_deleted })?;
        serde_json::from_value(v["items"].clone())
            .map_err(|e| ClientError::Driver(format!("items reply: {e}")))
    }

    fn set_clock_offset(&mut self, ms: i64) -> Result<(), ClientError> {
        self.send(Command::SetClock { offset_ms: ms })?;
        Ok(())
    }

    fn restart(&mut self) -> Result<(), ClientError> {
        self.send(Command::Restart)?;
        Ok(())
    }
}
