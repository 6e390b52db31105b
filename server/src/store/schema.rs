//! The per-profile `datastore.sqlite` schema: the Node server's canonical
//! schema (§2.3) plus two additive columns of ours.
//!
//! * `changeSeq`: the per-profile change sequence behind `GET /items/changes`
//!   (fixes D8/D9). Every write sets it to `MAX(changeSeq) + 1` inside the
//!   write's transaction, so it is strictly increasing in commit order.
//! * `editedAt`: the client's edit time of the version the row holds, used
//!   by the conflict extension (fixes D12; `docs/protocol.md`).
//!
//! Both have defaults, so the Node server can still open and write the
//! file (it names its columns on insert and checks only its own).

use rusqlite::Connection;
use rusqlite::OptionalExtension;

/// Brings a database an older server (the Node server, or one of ours
/// before a table changed) left into the canonical tables of §2.3. The
/// store only knows the canonical shape; the upgrade from every legacy
/// shape is `migrate::schema::migrate_legacy_schema`, handed in from
/// above (`AppState::open`), so `store` never imports `migrate`.
pub type LegacyUpgrade = fn(&Connection) -> rusqlite::Result<()>;

/// The canonical tables of §2.3, as a fresh Node server creates them.
pub const CANONICAL: &str = "
CREATE TABLE IF NOT EXISTS items (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL CHECK(type IN ('url', 'text', 'tagset', 'image')),
  content TEXT,
  metadata TEXT,
  syncId TEXT DEFAULT '',
  syncSource TEXT DEFAULT '',
  syncedAt INTEGER DEFAULT 0,
  createdAt INTEGER NOT NULL,
  updatedAt INTEGER NOT NULL,
  deletedAt INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tags (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  frequency INTEGER DEFAULT 1,
  lastUsed INTEGER NOT NULL,
  frecencyScore REAL DEFAULT 0,
  createdAt INTEGER NOT NULL,
  updatedAt INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS item_tags (
  itemId TEXT NOT NULL,
  tagId TEXT NOT NULL,
  createdAt INTEGER NOT NULL,
  PRIMARY KEY (itemId, tagId)
);
CREATE TABLE IF NOT EXISTS settings (
  key TEXT PRIMARY KEY,
  value TEXT
);
";

/// The index of §2.3 that earns its keep. The Node server also made
/// `idx_items_type`, `idx_items_deletedAt` (two- and four-valued columns),
/// `idx_tags_name` (a copy of the UNIQUE index), `idx_item_tags_itemId`
/// (a prefix of the primary key), `idx_tags_frecency` (a sort over a few
/// hundred tags) and `idx_item_tags_tagId` (no query looks items up by tag):
/// each costs a page write on every push and serves no query here, so
/// [`ensure`] drops them (`docs/compatibility.md`; the Node server
/// re-creates them if it opens the file again).
pub const CANONICAL_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS idx_items_syncId ON items(syncId);
";

/// The redundant indexes of the Node schema (see [`CANONICAL_INDEXES`]).
const REDUNDANT_INDEXES: &str = "
DROP INDEX IF EXISTS idx_items_type;
DROP INDEX IF EXISTS idx_items_deletedAt;
DROP INDEX IF EXISTS idx_tags_name;
DROP INDEX IF EXISTS idx_item_tags_itemId;
DROP INDEX IF EXISTS idx_tags_frecency;
DROP INDEX IF EXISTS idx_item_tags_tagId;
";

/// Settings key set once a profile's one-time dedup cleanup has run (§2.5).
pub const DEDUP_FLAG: &str = "dedup_cleanup_v1";

pub fn has_column(conn: &Connection, table: &str, col: &str) -> rusqlite::Result<bool> {
    let mut st = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = st.query_map([], |r| r.get::<_, String>(1))?;
    for n in names {
        if n? == col {
            return Ok(true);
        }
    }
    Ok(false)
}

pub fn table_exists(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Whether this database has never been opened by a server (no items
/// table). A fresh profile has nothing to dedup, so it gets its flag at birth
/// instead of having live cross-device copies collapsed at the next restart
/// (fixes the second half of D17).
pub fn is_fresh(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(!table_exists(conn, "items")?)
}

/// Gives a fresh database the canonical schema, or brings one the Node
/// server (or an older one) left into it with `legacy`; then adds our
/// columns and back-fills the change sequence. Idempotent; each step is
/// transactional.
pub fn ensure(conn: &Connection, legacy: LegacyUpgrade) -> rusqlite::Result<()> {
    // Every connection runs this when it opens (a reader, a restart). A
    // file this revision of the code already brought up to date says so
    // in `settings`: one read instead of a write transaction that re-runs
    // the whole schema. A file without the marker (the Node server's, an
    // older one's) takes the full path below, which ends by writing it.
    if current(conn)? {
        return Ok(());
    }
    let fresh = is_fresh(conn)?;
    if fresh {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(CANONICAL)?;
        tx.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, '1')",
            [DEDUP_FLAG],
        )?;
        tx.commit()?;
    } else {
        legacy(conn)?;
    }
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(CANONICAL)?; // settings etc. if a legacy file lacked them
    if !has_column(&tx, "items", "changeSeq")? {
        tx.execute_batch("ALTER TABLE items ADD COLUMN changeSeq INTEGER DEFAULT 0;")?;
    }
    if !has_column(&tx, "items", "editedAt")? {
        tx.execute_batch("ALTER TABLE items ADD COLUMN editedAt INTEGER DEFAULT 0;")?;
    }
    tx.execute_batch(CANONICAL_INDEXES)?;
    tx.execute_batch(REDUNDANT_INDEXES)?;
    tx.execute_batch(
        "CREATE INDEX IF NOT EXISTS idx_items_changeSeq ON items(changeSeq);
         DROP INDEX IF EXISTS idx_items_createdAt;
         CREATE INDEX IF NOT EXISTS idx_items_created_id ON items(createdAt, id);
         CREATE INDEX IF NOT EXISTS idx_items_updatedAt ON items(updatedAt);",
    )?;
    backfill_change_seq(&tx)?;
    tx.execute(
        "INSERT OR REPLACE INTO settings (key, value) VALUES ('datastore_version', ?1)",
        [crate::DATASTORE_VERSION.to_string()],
    )?;
    tx.execute(
        "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
        [SCHEMA_REV_KEY, SCHEMA_REV],
    )?;
    tx.commit()
}

/// The `settings` key that records which revision of [`ensure`] last
/// completed on this file. Bump [`SCHEMA_REV`] whenever `ensure` gains a
/// step, so every file runs the new step once.
pub const SCHEMA_REV_KEY: &str = "peek_server_schema_rev";
pub const SCHEMA_REV: &str = "1";

/// Whether `ensure` of this revision already completed on this file.
fn current(conn: &Connection) -> rusqlite::Result<bool> {
    if !table_exists(conn, "settings")? {
        return Ok(false);
    }
    let rev: Option<String> = conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([SCHEMA_REV_KEY], |r| r.get(0))
        .optional()?;
    Ok(rev.as_deref() == Some(SCHEMA_REV))
}

/// Rows written by the Node server (or before this column existed) have
/// `changeSeq` 0; give them sequence numbers after the current maximum, in
/// `updatedAt` order, so a change-feed reader starting from 0 sees them.
fn backfill_change_seq(conn: &Connection) -> rusqlite::Result<()> {
    let pending: i64 = conn.query_row(
        "SELECT COUNT(*) FROM items WHERE changeSeq IS NULL OR changeSeq = 0",
        [],
        |r| r.get(0),
    )?;
    if pending == 0 {
        return Ok(());
    }
    let max: i64 = conn.query_row("SELECT COALESCE(MAX(changeSeq), 0) FROM items", [], |r| {
        r.get(0)
    })?;
    let ids: Vec<String> = conn
        .prepare(
            "SELECT id FROM items WHERE changeSeq IS NULL OR changeSeq = 0
             ORDER BY CAST(updatedAt AS INTEGER), rowid",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = conn.prepare("UPDATE items SET changeSeq = ?2 WHERE id = ?1")?;
    for (n, id) in (max + 1..).zip(&ids) {
        st.execute(rusqlite::params![id, n])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The upgrade of a file that is already canonical: nothing to do
    /// (the legacy shapes are tested with the real one, in `migrate`).
    fn canonical_already(_: &Connection) -> rusqlite::Result<()> {
        Ok(())
    }

    #[test]
    fn fresh_database_gets_canonical_schema_our_columns_and_dedup_flag() {
        let c = Connection::open_in_memory().unwrap();
        ensure(&c, canonical_already).unwrap();
        ensure(&c, canonical_already).unwrap(); // idempotent
        for col in ["syncId", "deletedAt", "changeSeq", "editedAt"] {
            assert!(has_column(&c, "items", col).unwrap(), "{col}");
        }
        let flag: String = c
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [DEDUP_FLAG],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(flag, "1");
    }

    #[test]
    fn node_written_rows_get_sequence_numbers_in_update_order() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(CANONICAL).unwrap();
        c.execute_batch(
            "INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES
             ('b', 'text', 'b', 1, 20), ('a', 'text', 'a', 1, 10), ('c', 'text', 'c', 1, 30);",
        )
        .unwrap();
        ensure(&c, canonical_already).unwrap();
        let order: Vec<String> = c
            .prepare("SELECT id FROM items ORDER BY changeSeq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(order, ["a", "b", "c"]);
        let min: i64 = c
            .query_row("SELECT MIN(changeSeq) FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(min, 1);
    }
}
