//! The reference's per-server pull state in `settings`: the change-feed
//! cursor, the timestamp cursor and the last feed epoch seen, one of each
//! per server key (URL + `#` + server profile, so every server and every
//! profile has its own: D14, D15).
//!
//! The setting key of each is built here and nowhere else
//! ([`setting_key`]); readers outside the engine (the simulator's checker)
//! call [`get`].

use rusqlite::Connection;

use super::{delete_setting, get_setting, set_setting};
use crate::error::Result;

/// Which of a server's cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cursor {
    /// The change feed's `cursor` (`GET /items/changes?after=`).
    Feed,
    /// The largest server `updatedAt` seen minus the overlap
    /// (`GET /items/since/`), for servers without the feed.
    Timestamp,
    /// The feed `epoch` last seen: a new one means a restored server.
    Epoch,
}

impl Cursor {
    fn name(self) -> &'static str {
        match self {
            Cursor::Feed => "feed",
            Cursor::Timestamp => "ts",
            Cursor::Epoch => "epoch",
        }
    }
}

/// Every cursor's setting key starts with this (tests that drop every
/// cursor at once match on it).
pub const PREFIX: &str = "sync.cursor.";

/// The `settings` key of one server's cursor: `sync.cursor.<kind>.<server key>`.
pub fn setting_key(kind: Cursor, server_key: &str) -> String {
    format!("{PREFIX}{}.{server_key}", kind.name())
}

/// The cursor's value, `None` when never set (or unreadable).
pub fn get(conn: &Connection, kind: Cursor, server_key: &str) -> Result<Option<i64>> {
    Ok(get_setting(conn, &setting_key(kind, server_key))?.and_then(|v| v.parse().ok()))
}

pub fn set(conn: &Connection, kind: Cursor, server_key: &str, value: i64) -> Result<()> {
    set_setting(conn, &setting_key(kind, server_key), &value.to_string())
}

/// Drops the cursor: the next pull starts from the beginning.
pub fn forget(conn: &Connection, kind: Cursor, server_key: &str) -> Result<()> {
    delete_setting(conn, &setting_key(kind, server_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn keys_are_per_kind_and_server() {
        assert_eq!(
            setting_key(Cursor::Feed, "http://s1#p"),
            "sync.cursor.feed.http://s1#p"
        );
        assert_eq!(setting_key(Cursor::Timestamp, "k"), "sync.cursor.ts.k");
        assert_eq!(setting_key(Cursor::Epoch, "k"), "sync.cursor.epoch.k");
        let s = Store::open_in_memory().unwrap();
        set(s.conn(), Cursor::Feed, "a", 7).unwrap();
        set(s.conn(), Cursor::Timestamp, "a", 9).unwrap();
        assert_eq!(get(s.conn(), Cursor::Feed, "a").unwrap(), Some(7));
        assert_eq!(get(s.conn(), Cursor::Feed, "b").unwrap(), None);
        forget(s.conn(), Cursor::Feed, "a").unwrap();
        assert_eq!(get(s.conn(), Cursor::Feed, "a").unwrap(), None);
        assert_eq!(get(s.conn(), Cursor::Timestamp, "a").unwrap(), Some(9));
    }
}
