//! The write oracle's records: what the world remembers of every local
//! write, as data, when it makes the write (`world/local`). The checks
//! judge against them (`check`); a leaf module, so both stand on it.

/// What the oracle remembers of every local write.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub dev: usize,
    /// The item's origin, recorded when the world made or picked it.
    pub origin: String,
    pub what: WriteKind,
    /// True time of the write.
    pub at: i64,
    /// The device's clock at the write.
    pub edited_at: i64,
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
