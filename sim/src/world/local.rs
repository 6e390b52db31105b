//! The world's local operations and its write oracle: items are made and
//! changed with the workload's inputs (`crate::workload`), and every write
//! is logged with its origin, as data, when the world makes it.

use engine::store::items::normalize_tags;

use super::{World, WorldError};
use crate::device::ItemState;
use crate::event::Kind;
use crate::oracle::{Write, WriteKind, Writer};
use crate::workload;

impl World {
    pub(super) fn pick(&self, dev: usize, pick: u32) -> Result<Option<ItemState>, WorldError> {
        let d = &self.devices[dev].device;
        let live = d.live()?;
        if live.is_empty() {
            return Ok(None);
        }
        Ok(d.item(&live[pick as usize % live.len()])?)
    }

    pub(super) fn origin_of(item: &ItemState) -> String {
        item.origin
            .clone()
            .unwrap_or_else(|| format!("?{}", item.id))
    }

    pub(super) fn record(&mut self, dev: usize, origin: String, what: WriteKind) {
        let edited_at = self.device_now(dev);
        self.writes.push(Write {
            by: Writer::Device(dev),
            origin,
            what,
            at: self.t,
            edited_at,
        });
    }

    /// Runs `events`, heals, and runs one more sync per device; returns
    /// that last round's summaries (for `stability`). A device stepped
    /// sync by sync runs each sync whole at its `Sync`, its requests
    /// Points the device at another (server, profile): its running sync is
    /// dropped, and everything it holds may now go there.
    pub(super) fn switch(
        &mut self,
        dev: usize,
        server: usize,
        profile: usize,
    ) -> Result<(), WorldError> {
        self.devices[dev].server = server;
        self.devices[dev].profile = profile;
        let at = self.point_of(dev);
        self.devices[dev]
            .ledger
            .point(format!("{}/{}", at.url, at.profile_id));
        self.devices[dev].pointed = Some(at.clone());
        let d = &mut self.devices[dev].device;
        d.point(&at)?;
        for it in d.observe()?.items {
            self.allowed
                .entry(Self::origin_of(&it))
                .or_default()
                .insert((server, profile));
        }
        self.trace.emit(&crate::trace::TraceEvent::Switch {
            t: self.t,
            dev,
            server,
            profile,
        });
        Ok(())
    }

    /// Creates an item (`crate::workload`); `body` replaces the unique
    /// part of its content when two devices must create the same thing.
    pub(super) fn create(
        &mut self,
        dev: usize,
        kind: Kind,
        tags: &[String],
        unicode: bool,
        body: Option<&str>,
    ) -> Result<(), WorldError> {
        let d = &mut self.devices[dev];
        d.creates += 1;
        let origin = workload::origin(&d.spec.name, d.creates);
        let item = workload::create(&origin, kind, tags, unicode, body);
        let now = self.now(dev);
        self.devices[dev].device.create(now, &item)?;
        let tags = normalize_tags(&item.tags);
        let target = (self.devices[dev].server, self.devices[dev].profile);
        self.allowed
            .entry(origin.clone())
            .or_default()
            .insert(target);
        let content = item.content;
        self.record(dev, origin, WriteKind::Create { content, tags });
        Ok(())
    }

    pub(super) fn edit(&mut self, dev: usize, pick: u32) -> Result<(), WorldError> {
        let Some(it) = self.pick(dev, pick)? else {
            return Ok(());
        };
        let d = &mut self.devices[dev];
        d.edits += 1;
        let mark = workload::edit_mark(&d.spec.name, d.edits);
        let change = workload::edit(it.kind, it.content.as_deref(), &mark);
        let now = self.now(dev);
        self.devices[dev].device.update(now, &it.id, &change)?;
        self.record_current(dev, &it.id)
    }

    /// Records the item's state after a local edit or tag change.
    pub(super) fn record_current(&mut self, dev: usize, id: &str) -> Result<(), WorldError> {
        if let Some(it) = self.devices[dev].device.item(id)? {
            let origin = Self::origin_of(&it);
            let what = WriteKind::Edit {
                content: it.content,
                tags: it.tags,
            };
            self.record(dev, origin, what);
        }
        Ok(())
    }
}
