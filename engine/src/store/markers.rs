//! The desktop schema's sync markers (`syncId`, `syncSource`, `syncedAt`
//! on `items`, §4) as the platform models read and write them
//! (`sync::legacy`). The reference does not use them to decide anything;
//! it keeps its own `server_links`.

use rusqlite::{params, Connection, OptionalExtension};

use super::items::{self, from_row, COLS};
use crate::error::Result;
use crate::model::{ItemType, LocalItem};

/// Whether any live row came from a server (the extension's first-run
/// check, D14).
pub fn any_live_from_server(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM items WHERE deletedAt = 0 AND syncSource = 'server' LIMIT 1",
        )?
        .exists([])?)
}

/// Forgets every live row's sync markers: the model's reset on a server
/// change, after which everything is pushed again (D14, D15).
pub fn forget_live(conn: &Connection) -> Result<()> {
    conn.prepare_cached(
        "UPDATE items SET syncSource = '', syncedAt = 0, syncId = '' WHERE deletedAt = 0",
    )?
    .execute([])?;
    Ok(())
}

/// One live row's markers, as `rules::models::marked_for_push` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    pub id: String,
    pub sync_source: String,
    pub synced_at: i64,
    pub updated_at: i64,
}

/// Every live row's markers, oldest row first.
pub fn live_markers(conn: &Connection) -> Result<Vec<Markers>> {
    let mut st = conn.prepare_cached(
        "SELECT id, syncSource, syncedAt, updatedAt FROM items WHERE deletedAt = 0 ORDER BY rowid",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Markers {
            id: r.get(0)?,
            sync_source: r.get(1)?,
            synced_at: r.get(2)?,
            updated_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A push the server accepted: the row now carries the server's id.
pub fn mark_pushed(conn: &Connection, id: &str, server_id: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE items SET syncId = ?2, syncSource = 'server', syncedAt = ?3 WHERE id = ?1",
    )?
    .execute(params![id, server_id, now])?;
    Ok(())
}

/// The first live row with this sync id (deleted rows are not matched:
/// D5).
pub fn live_by_sync_id(conn: &Connection, sync_id: &str) -> Result<Option<LocalItem>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {COLS} FROM items WHERE deletedAt = 0 AND syncId = ?1 LIMIT 1"
        ))?
        .query_row([sync_id], from_row)
        .optional()?;
    items::with_tags(conn, row)
}

/// Whether a deleted row has this sync id.
pub fn deleted_with_sync_id(conn: &Connection, sync_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM items WHERE syncId = ?1 AND deletedAt != 0 LIMIT 1")?
        .exists([sync_id])?)
}

/// A pulled update as a model writes it: the fields it copies, its sync
/// time; `localRev` and `deletedAt` untouched (D4). Tags are set apart
/// (`items::set_tags`).
pub fn write_pulled(
    conn: &Connection,
    id: &str,
    kind: ItemType,
    content: Option<&str>,
    metadata: Option<&str>,
    updated_at: i64,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE items SET type = ?2, content = ?3, metadata = ?4, updatedAt = ?5, syncedAt = ?6 WHERE id = ?1",
    )?
    .execute(params![id, kind.as_str(), content, metadata, updated_at, now])?;
    Ok(())
}
