//! The write oracle's records: what the world remembers of every local
//! write, as data, when it makes the write (`world/local`). The checks
//! judge against them (`check`); a leaf module, so both stand on it.

/// Who made a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// A device, by index: a local write, synced later.
    Device(usize),
    /// A writer outside the sync path (the extension's save button, a
    /// shortcut, a script) on one server profile, straight to the server
    /// through its non-sync endpoints.
    Api { server: usize, profile: usize },
}

/// What the oracle remembers of every write.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub by: Writer,
    /// The item's origin, recorded when the world made or picked it.
    pub origin: String,
    pub what: WriteKind,
    /// True time of the write.
    pub at: i64,
    /// The writer's clock at the write (the server's, for an API write).
    pub edited_at: i64,
}

impl Write {
    /// The device that wrote, if a device did.
    pub fn dev(&self) -> Option<usize> {
        match self.by {
            Writer::Device(d) => Some(d),
            Writer::Api { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteKind {
    Create {
        content: Option<String>,
        tags: Vec<String>,
    },
    Edit {
        content: Option<String>,
        tags: Vec<String>,
    },
    Delete,
}
