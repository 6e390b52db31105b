//! An external client as a world's device: a driver process
//! (`docs/driver-protocol.md`) with one HTTP front per world server. It
//! syncs on its own, so it is stepped sync by sync: `advance` sends `sync`
//! and serves every request the driver makes through the world's wire
//! until the reply comes. Its clock is its own (the protocol sets an
//! offset only), it restarts by re-exec (`restart`), and it does not show
//! its links: the world links its items to server rows by sync id.

use std::cell::RefCell;
use std::collections::BTreeMap;

use engine::model::ItemType;
use engine::sync::Summary;
use engine::Model;

use super::{Command, DriverClient, DriverError, ItemView};
use crate::device::{
    Caps, ClockControl, Device, DeviceError, DeviceState, ItemState, Now, Point, Progress, Restart,
    Stepping,
};
use crate::front::Front;
use crate::upstream::Net;
use crate::workload::{self, Change, NewItem};

/// A driver process playing one device.
pub struct DriverDevice {
    name: String,
    proc: RefCell<DriverClient>,
    /// One per world server: the URL is the server's identity to the
    /// client, so a server switch is one to it too.
    fronts: Vec<Front>,
    pending: bool,
    /// The clock offset last sent (`set_clock`).
    offset: Option<i64>,
    /// Origins of the items it created, by local id: for clients that do
    /// not keep metadata.
    made: BTreeMap<String, String>,
}

impl From<DriverError> for DeviceError {
    fn from(e: DriverError) -> Self {
        match e {
            DriverError::Refused(m) => DeviceError::Refused(m),
            other => DeviceError::Driver(other.to_string()),
        }
    }
}

impl DriverDevice {
    /// Starts `cmd` (`sh -c`) for device `name` of a world with `servers`
    /// servers.
    /// Its data directory and log are in `home` (the world's directory
    /// holds one per device).
    pub fn spawn(
        name: &str,
        cmd: &str,
        servers: usize,
        home: &std::path::Path,
    ) -> Result<Self, DeviceError> {
        let proc = DriverClient::spawn(cmd, home)?;
        let fronts = (0..servers.max(1))
            .map(|_| Front::open(proc.requests()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DeviceError::Driver(format!("front: {e}")))?;
        Ok(Self {
            name: name.to_string(),
            proc: RefCell::new(proc),
            fronts,
            pending: false,
            offset: None,
            made: BTreeMap::new(),
        })
    }

    fn send(&self, cmd: Command) -> Result<serde_json::Value, DeviceError> {
        Ok(self.proc.borrow_mut().send(cmd)?)
    }

    fn clock(&mut self, now: Now) -> Result<(), DeviceError> {
        if self.offset != Some(now.offset) {
            self.send(Command::SetClock {
                offset_ms: now.offset,
            })?;
            self.offset = Some(now.offset);
        }
        Ok(())
    }

    fn items(&self, include_deleted: bool) -> Result<Vec<ItemView>, DeviceError> {
        let v = self.send(Command::Items { include_deleted })?;
        let mut items: Vec<ItemView> = serde_json::from_value(v["items"].clone())
            .map_err(|e| DeviceError::Driver(format!("items reply: {e}")))?;
        items.sort();
        Ok(items)
    }

    fn state(&self, v: ItemView) -> ItemState {
        let origin =
            workload::origin_in(v.metadata.as_deref()).or_else(|| self.made.get(&v.id).cloned());
        let mut tags = v.tags;
        tags.sort();
        ItemState {
            kind: ItemType::parse(&v.kind).unwrap_or(ItemType::Text),
            id: v.id,
            content: v.content,
            tags,
            deleted: v.deleted,
            sync_id: v.sync_id,
            origin,
            link: None,
            uncarriable: false,
        }
    }
}

impl Device for DriverDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn caps(&self) -> Caps {
        Caps {
            stepping: Stepping::PerSync,
            clock: ClockControl::OffsetOnly,
            restart: Restart::Reexec,
            links: false,
        }
    }

    /// The last lines of the driver's stderr: a failing world shows them.
    fn log_tail(&self) -> Option<String> {
        Some(self.proc.borrow().log_tail(super::LOG_LINES)).filter(|t| !t.is_empty())
    }

    fn model(&self) -> Model {
        Model::Reference
    }

    fn point(&mut self, at: &Point) -> Result<(), DeviceError> {
        self.pending = false;
        let front = self
            .fronts
            .get(at.server)
            .ok_or_else(|| DeviceError::Driver(format!("no front for server {}", at.server)))?;
        self.send(Command::Configure {
            server_url: front.url().to_string(),
            api_key: at.key.clone(),
            server_profile_id: Some(at.profile_id.clone()),
        })?;
        Ok(())
    }

    fn create(&mut self, now: Now, item: &NewItem) -> Result<String, DeviceError> {
        if item.blob.is_some() {
            return Err(DeviceError::Refused(
                "the driver protocol carries no image bytes".into(),
            ));
        }
        self.clock(now)?;
        let v = self.send(Command::Create {
            kind: item.kind.as_str().to_string(),
            content: item.content.clone(),
            tags: item.tags.clone(),
            metadata: Some(item.metadata.clone()),
        })?;
        let id = v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| DeviceError::Driver("create: no id in the reply".into()))?;
        self.made.insert(id.clone(), item.origin.clone());
        Ok(id)
    }

    fn update(&mut self, now: Now, id: &str, change: &Change) -> Result<(), DeviceError> {
        self.clock(now)?;
        self.send(Command::Update {
            id: id.into(),
            content: change.content.clone(),
            tags: change.tags.clone(),
        })?;
        Ok(())
    }

    fn delete(&mut self, now: Now, id: &str) -> Result<(), DeviceError> {
        self.clock(now)?;
        self.send(Command::Delete { id: id.into() })?;
        Ok(())
    }

    fn tag(&mut self, now: Now, id: &str, tag: &str) -> Result<bool, DeviceError> {
        if self
            .item(id)?
            .is_some_and(|it| it.tags.iter().any(|t| t == tag))
        {
            return Ok(false);
        }
        self.clock(now)?;
        self.send(Command::Tag {
            id: id.into(),
            tag: tag.into(),
        })?;
        Ok(true)
    }

    /// The protocol has no untag: the tags are replaced without it.
    fn untag(&mut self, now: Now, id: &str, tag: &str) -> Result<bool, DeviceError> {
        let Some(it) = self.item(id)? else {
            return Err(DeviceError::Refused(format!("no such item {id}")));
        };
        if !it.tags.iter().any(|t| t == tag) {
            return Ok(false);
        }
        let rest: Vec<String> = it.tags.into_iter().filter(|t| t != tag).collect();
        self.update(
            now,
            id,
            &Change {
                content: None,
                tags: Some(rest),
            },
        )?;
        Ok(true)
    }

    fn live(&self) -> Result<Vec<String>, DeviceError> {
        Ok(self.items(false)?.into_iter().map(|v| v.id).collect())
    }

    fn item(&self, id: &str) -> Result<Option<ItemState>, DeviceError> {
        Ok(self
            .items(true)?
            .into_iter()
            .find(|v| v.id == id)
            .map(|v| self.state(v)))
    }

    fn start_sync(&mut self) {
        self.pending = true;
    }

    fn syncing(&self) -> bool {
        self.pending
    }

    fn advance(&mut self, now: Now, net: &mut dyn Net) -> Progress {
        if !self.pending {
            return Progress::Idle;
        }
        self.pending = false;
        if let Err(e) = self.clock(now) {
            return Progress::Failed(e.to_string());
        }
        let sync = Command::Sync {
            mode: "full".into(),
        };
        let reply = self
            .proc
            .get_mut()
            .send_serving(sync, &mut |req| net.send(req));
        match reply {
            Ok(v) => Progress::Done(Summary {
                pulled: v["pulled"].as_u64().unwrap_or(0),
                pushed: v["pushed"].as_u64().unwrap_or(0),
                ..Summary::default()
            }),
            Err(e) => Progress::Failed(e.to_string()),
        }
    }

    fn crash(&mut self) -> Result<(), DeviceError> {
        self.pending = false;
        match self.proc.get_mut().restart() {
            Ok(()) | Err(DriverError::Unsupported(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn observe(&self) -> Result<DeviceState, DeviceError> {
        Ok(DeviceState {
            items: self
                .items(true)?
                .into_iter()
                .map(|v| self.state(v))
                .collect(),
            cursor: crate::device::Cursor::None,
        })
    }
}
