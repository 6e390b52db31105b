//! The local store: the desktop schema of §4 (`items`, `tags`,
//! `item_tags`, `settings` with `syncId`/`syncSource`/`syncedAt`/
//! `deletedAt`), plus the engine's own `server_links` table and a `blobs`
//! table for image bytes.
//!
//! Crash safety: every multi-row change runs in one SQLite transaction
//! (WAL, `synchronous=NORMAL`), so a crash at any point leaves either the
//! state before or the state after a step, never a mix (guarantee 1).
//! This module owns the schema and the settings; `items` owns local item
//! operations, `links` owns everything that ties local rows to a server,
//! `cursor` the per-server pull cursors, `markers` the desktop sync
//! markers as the platform models use them. The store only loads and
//! stores: the decisions are the rules of `crate::rules`.

pub mod cursor;
pub mod items;
pub mod links;
pub mod markers;
pub mod recognize;

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

/// Which revision of [`SCHEMA`] a file holds (`PRAGMA user_version`).
/// Bump it with every change to `SCHEMA`, so older files run it again.
const SCHEMA_REV: i64 = 1;

/// `PRAGMA application_id` of every peek-sync store: the ASCII bytes
/// `PkSy` (0x506B5379), written into the SQLite header so that `file(1)`
/// and [`recognize`] can tell our files from a server's `system.db`, a
/// profile's `datastore.sqlite` or an app's database, all of which use
/// SQLite too (and 0, the default, for the id). Documented in
/// `docs/architecture.md` ("The peek-sync store file"); never change it:
/// every existing store carries it.
pub const APPLICATION_ID: i32 = 0x506B_5379;

/// Runs [`SCHEMA`] unless the file already holds this revision of it, and
/// stamps [`APPLICATION_ID`] on a store an older build made without it.
/// Only called on files [`recognize`] accepted (or new ones).
fn ensure_schema(conn: &Connection) -> Result<()> {
    let rev: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if rev > SCHEMA_REV {
        return Err(crate::Error::ForeignDatabase {
            path: conn.path().unwrap_or_default().to_string(),
            what: recognize::Foreign::NewerRevision { revision: rev },
        });
    }
    if rev != SCHEMA_REV {
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_REV)?;
    }
    let id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if id != APPLICATION_ID {
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    Ok(())
}

/// The bytes of an empty store at [`SCHEMA_REV`], built once per process
/// (`None` if SQLite could not build it: stores are then made the slow way).
fn template() -> Option<&'static [u8]> {
    static TEMPLATE: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let conn = Connection::open_in_memory().ok()?;
            // Also stamps APPLICATION_ID: every new store carries it.
            ensure_schema(&conn).ok()?;
            let data = conn.serialize(rusqlite::MAIN_DB).ok()?;
            Some(data.to_vec())
        })
        .as_deref()
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL CHECK (type IN ('url','text','tagset','image')),
  content TEXT,
  metadata TEXT,
  syncId TEXT NOT NULL DEFAULT '',
  syncSource TEXT NOT NULL DEFAULT '',
  syncedAt INTEGER NOT NULL DEFAULT 0,
  createdAt INTEGER NOT NULL,
  updatedAt INTEGER NOT NULL,
  deletedAt INTEGER NOT NULL DEFAULT 0,
  localRev INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS idx_items_type ON items(type);
CREATE INDEX IF NOT EXISTS idx_items_syncId ON items(syncId);
CREATE INDEX IF NOT EXISTS idx_items_deletedAt ON items(deletedAt);
CREATE TABLE IF NOT EXISTS tags (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  frequency INTEGER NOT NULL DEFAULT 1,
  lastUsed INTEGER NOT NULL,
  frecencyScore REAL NOT NULL DEFAULT 0,
  createdAt INTEGER NOT NULL,
  updatedAt INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS item_tags (
  itemId TEXT NOT NULL,
  tagId TEXT NOT NULL,
  createdAt INTEGER NOT NULL,
  PRIMARY KEY (itemId, tagId)
);
CREATE INDEX IF NOT EXISTS idx_item_tags_tagId ON item_tags(tagId);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
-- One row per (server, local item): serverKey = URL + '#' + server profile.
-- Switching servers finds no link and re-pushes everything with the local
-- id as sync id; switching back finds the old links (D14, D15).
CREATE TABLE IF NOT EXISTS server_links (
  serverKey TEXT NOT NULL,
  localId TEXT NOT NULL,
  serverId TEXT NOT NULL,
  serverVersion INTEGER,
  serverUpdatedAt INTEGER NOT NULL DEFAULT 0,
  pushedRev INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (serverKey, localId)
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_links_server ON server_links(serverKey, serverId);
CREATE TABLE IF NOT EXISTS blobs (itemId TEXT PRIMARY KEY, data BLOB NOT NULL);
";

/// Prepared statements kept per connection; above the number of distinct
/// statements the store runs.
const STATEMENT_CACHE: usize = 96;

/// The local database of one local profile.
pub struct Store {
    conn: Connection,
    /// Whether a tag-only edit marks the item changed. Always true for
    /// the reference; a platform model of an app whose tag functions
    /// write only the link turns it off (`Behaviour::tag_edits_mark_changed`).
    tag_edits_mark_changed: bool,
}

impl Store {
    /// Opens the store at `path`, creating it if there is no file (or an
    /// empty one). A file that is not a peek-sync store (another
    /// application's database, a server's, not SQLite at all) is refused
    /// with [`crate::Error::ForeignDatabase`] before anything is written
    /// to it ([`recognize`]).
    pub fn open(path: &Path) -> Result<Self> {
        let new = match std::fs::metadata(path) {
            Ok(m) => m.len() == 0,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                return Err(crate::Error::Invalid(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        if new {
            // A new file starts as a copy of an empty store built once per
            // process: one write instead of parsing and running the schema
            // for every device the simulator creates.
            if let Some(bytes) = template() {
                std::fs::write(path, bytes).map_err(|e| {
                    crate::Error::Invalid(format!("cannot create {}: {e}", path.display()))
                })?;
            }
        } else {
            match recognize::inspect(path)? {
                recognize::Verdict::Ours
                | recognize::Verdict::Empty
                | recognize::Verdict::Legacy => {}
                recognize::Verdict::Foreign(what) => {
                    return Err(crate::Error::ForeignDatabase {
                        path: path.display().to_string(),
                        what,
                    })
                }
            }
        }
        Self::init(Connection::open(path)?)
    }

    /// A store that lives only in this process's memory: real SQLite and
    /// real transactions, no file and no system calls, for worlds that
    /// never reopen a device's database (the simulator's). Started from the
    /// same template as a new file.
    pub fn open_in_memory() -> Result<Self> {
        let mut conn = Connection::open_in_memory()?;
        if let Some(bytes) = template() {
            conn.deserialize_read_exact(rusqlite::MAIN_DB, bytes, bytes.len(), false)?;
        }
        Self::init(conn)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL + NORMAL: a crash (even a power loss) keeps every transaction
        // atomic; at worst the last few commits roll back, which the sync
        // design tolerates (an unrecorded push is re-sent under the same
        // sync id, an unapplied page is re-pulled). FULL would fsync every
        // commit for no consistency gain.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Room for every statement the store prepares (about 40): with
        // rusqlite's default of 16 the cache evicts in a cycle and a sync
        // re-parses its SQL on nearly every call.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        ensure_schema(&conn)?;
        Ok(Self {
            conn,
            tag_edits_mark_changed: true,
        })
    }

    /// Makes tag-only edits mark the item changed or not: what a platform
    /// model's local writes do (`Behaviour::tag_edits_mark_changed`).
    pub fn set_tag_edits_mark_changed(&mut self, yes: bool) {
        self.tag_edits_mark_changed = yes;
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in one immediate transaction: all of it or none of it.
    ///
    /// `BEGIN`, `COMMIT` and `ROLLBACK` are cached statements rather than
    /// rusqlite's `Transaction`, which parses its SQL text on every call.
    /// A guard rolls back when `f` fails or panics, or `COMMIT` fails.
    pub fn tx<T>(&mut self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        struct Open<'c>(&'c Connection, bool);
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    // Nothing to report a failed rollback to: SQLite rolls
                    // back by itself when a transaction cannot go on.
                    let _ = self
                        .0
                        .prepare_cached("ROLLBACK")
                        .and_then(|mut st| st.execute([]));
                }
            }
        }
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let mut open = Open(&self.conn, false);
        let out = f(open.0)?;
        open.0.prepare_cached("COMMIT")?.execute([])?;
        open.1 = true;
        Ok(out)
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        get_setting(&self.conn, key)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        set_setting(&self.conn, key, value)
    }
}

pub fn get_setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

pub fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value")?
        .execute(params![key, value])?;
    Ok(())
}

pub fn delete_setting(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM settings WHERE key = ?1", [key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in memory starts from the template: the whole schema at
    /// this revision, writable, and with real transactions.
    #[test]
    fn an_in_memory_store_has_the_schema_and_rolls_back() {
        let mut s = Store::open_in_memory().expect("open");
        let rev: i64 = s
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("user_version");
        assert_eq!(rev, SCHEMA_REV);
        let tables: i64 = s
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(tables, 6);
        s.set_setting("a", "1").expect("set");
        let failed: Result<()> = s.tx(|tx| {
            set_setting(tx, "a", "2")?;
            Err(crate::Error::Invalid("undo".into()))
        });
        assert!(failed.is_err());
        assert_eq!(s.setting("a").expect("get").as_deref(), Some("1"));
    }

    /// A transaction whose body panics is rolled back, and the store
    /// takes the next one (no transaction left open behind it).
    #[test]
    fn a_panicking_transaction_rolls_back() {
        let mut s = Store::open_in_memory().expect("open");
        s.set_setting("a", "1").expect("set");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = s.tx(|tx| -> Result<()> {
                set_setting(tx, "a", "2")?;
                panic!("mid-transaction");
            });
        }));
        assert!(panicked.is_err());
        assert_eq!(s.setting("a").expect("get").as_deref(), Some("1"));
        s.tx(|tx| set_setting(tx, "a", "3")).expect("next tx");
        assert_eq!(s.setting("a").expect("get").as_deref(), Some("3"));
    }
}
