//! The engine's decisions, as pure functions over plain values: (local
//! item state + link state + server answer) → action.
//!
//! Nothing here touches SQLite, a clock or the network. The store loads
//! the inputs, asks a rule, and applies the action in the transaction it
//! already runs; the sync sessions ask the rules how to read each answer.
//! So every rule can be tested from a table (`#[cfg(test)]` below each
//! one) without a database or a server, and the SQL says only what is
//! stored where.
//!
//! * [`pull`]: what a pulled item does to the local row (insert, take,
//!   skip, defer), and what happens to a second local row that claims the
//!   same server row (hard delete or unlink).
//! * [`push`]: what is pending, what is held back (images without bytes),
//!   what a push carries (bytes, `baseVersion`), and what each push answer
//!   means (recorded, refused, `stale` adopted or refetched).
//! * [`cursor`]: how the pull cursors move, and what a new feed epoch (a
//!   restored server) resets.
//! * [`models`]: the platform models' `syncAll` merge (§4.1), bugs
//!   included on purpose; not held to the guarantees.

pub mod cursor;
pub mod models;
pub mod pull;
pub mod push;

/// What this device knows of one server row: the `server_links` row,
/// without its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    /// The server's change sequence of the last version seen or pushed.
    pub server_version: Option<i64>,
    /// The server `updatedAt` of the last version pulled (v1 servers).
    pub server_updated_at: i64,
    /// The local revision this server last holds; -1 after a restore (the
    /// row may be gone there, see [`cursor::on_epoch`]).
    pub pushed_rev: i64,
}

impl LinkState {
    /// Whether the link's version can be trusted: a link marked by a
    /// restore (`pushedRev` -1) may point at a row the server lost.
    pub fn trusted(&self) -> bool {
        self.pushed_rev >= 0
    }
}
