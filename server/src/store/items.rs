//! Items: the write semantics of §3 and the reads of §3.7, on one
//! transaction handed in by the caller.
//!
//! Kept from the Node server: sync-path identity (server id, then `syncId`),
//! undelete by a live push, born-deleted rows for unknown tombstones,
//! content dedup only off the sync path, `null` metadata keeps the old one.
//! Fixed: see the D-numbers on each function and `docs/compatibility.md`.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::clock::IdSource;
use crate::store::error::{StoreError, StoreResult};
use crate::store::listing::{Listing, COLS as LIST_COLS};
use crate::store::tags;

/// The four item types and the §1.4 message for a missing or unknown one:
/// the ground floor's, so server and clients read the same names.
pub use protocol::item::{ItemType, TYPE_ERROR};

/// A stored item with its tags (its own module, which the list writer
/// reads too without importing the write semantics).
pub use crate::store::item::Item;

/// One item write as it arrives on the sync or non-sync path.
#[derive(Debug, Clone, Default)]
pub struct ItemWrite {
    pub kind: Option<ItemType>,
    pub content: Option<String>,
    pub tags: Vec<String>,
    /// JSON text of the metadata; `None` for absent or null.
    pub metadata: Option<String>,
    pub sync_id: Option<String>,
    /// `Some(ms)` makes this a tombstone (§3.1 step 3).
    pub deleted_at: Option<i64>,
    /// Conflict extension: the `version` this edit was based on.
    pub base_version: Option<i64>,
    /// Conflict extension: when the edit was made (client clock).
    pub edited_at: Option<i64>,
}

impl ItemWrite {
    pub fn is_tombstone(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStatus {
    /// A new row.
    Created,
    /// An existing row changed (also undelete and tombstone).
    Updated,
    /// Identical to what was stored: nothing written, no new version
    /// (fixes the echo and frequency noise of D10/D11/D21).
    Unchanged,
    /// Conflict extension: a concurrent later edit is kept; nothing written.
    Stale,
}

impl WriteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Stale => "stale",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    pub id: String,
    pub kind: String,
    pub status: WriteStatus,
    pub version: i64,
}

const COLS: &str = LIST_COLS;

fn from_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    let metadata: Option<String> = r.get(3)?;
    Ok(Item {
        id: r.get(0)?,
        kind: r.get(1)?,
        content: r.get(2)?,
        metadata: metadata.filter(|m| !m.is_empty()),
        sync_id: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        deleted_at: r.get(7)?,
        version: r.get(8)?,
        edited_at: r.get(9)?,
        tags: Vec::new(),
    })
}

/// Checks the §1.4 rules, in the Node server's order and wording. A
/// tombstone on the sync path needs only a valid type (fixes D23: deleting
/// no longer requires re-sending content and tags).
pub fn validate(w: &ItemWrite) -> StoreResult<ItemType> {
    let kind = w.kind.ok_or_else(|| StoreError::invalid(TYPE_ERROR))?;
    if w.is_tombstone() && w.sync_id.is_some() {
        return Ok(kind);
    }
    let empty = w.content.as_deref().is_none_or(str::is_empty);
    match kind {
        ItemType::Url if empty => Err(StoreError::invalid(
            "content (URL) is required for type 'url'",
        )),
        ItemType::Text if empty => Err(StoreError::invalid("content is required for type 'text'")),
        ItemType::Tagset if w.tags.is_empty() => {
            Err(StoreError::invalid("tags are required for type 'tagset'"))
        }
        _ => Ok(kind),
    }
}

/// The next change-sequence number: above every version in the table (a
/// restore lifts the newest row above every number handed out before it,
/// see `backup::restore_user`, so numbers are not handed out twice unless
/// the backup held no items at all; the feed epoch covers that case).
pub fn next_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(changeSeq), 0) + 1 FROM items")?
        .query_row([], |r| r.get(0))
}

/// The epoch a datastore this server creates starts its feed history at:
/// derived from its profile's id, so a profile deleted and created again
/// under the same name (a new id, an empty history) answers with another
/// epoch than the one its devices knew. A device that names the profile
/// by slug cannot tell otherwise, and would trust links and a cursor into
/// a history that is gone (found by the simulator's profile events). A
/// file made before this, or by the Node server, has none: epoch 1.
pub fn first_epoch(profile_id: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(profile_id.as_bytes());
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(&h[..6]);
    // 2 and up: 1 stays the epoch of files without one.
    i64::from_be_bytes(b) + 2
}

/// Records a new datastore's first epoch (`first_epoch`).
pub fn set_first_epoch(conn: &Connection, profile_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO settings (key, value) VALUES ('feed_epoch', ?1)",
        [first_epoch(profile_id).to_string()],
    )?;
    Ok(())
}

/// The change feed's epoch: where a datastore's history began
/// (`first_epoch`, or 1), raised by every restore, so a client whose
/// cursor belongs to another history can tell.
pub fn feed_epoch(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'feed_epoch'), 1)")?
        .query_row([], |r| r.get(0))
}

fn with_tags(conn: &Connection, mut item: Item) -> rusqlite::Result<Item> {
    item.tags = tags::of_item(conn, &item.id)?;
    Ok(item)
}

/// Any row by server id (live or deleted).
pub fn by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<Item>> {
    let row = conn
        .prepare_cached(&format!("SELECT {COLS} FROM items WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?;
    row.map(|i| with_tags(conn, i)).transpose()
}

/// The live row with this id, as `GET /items/:id` wants it.
pub fn live_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Option<Item>> {
    Ok(by_id(conn, id)?.filter(Item::is_live))
}

/// §3.1 steps 1–2: server id first, then the `syncId` column. Where several
/// rows share a `syncId` the choice is deterministic (live first, then the
/// newest), not arbitrary (D31).
pub fn by_sync_id(conn: &Connection, sid: &str) -> rusqlite::Result<Option<Item>> {
    if let Some(i) = by_id(conn, sid)? {
        return Ok(Some(i));
    }
    // Usually no row has this sync id (a new item) or one does: found in
    // the index alone. Only several rows need the ordering, whose sorter
    // (a temporary b-tree, zeroed pages) was a tenth of a push's
    // instructions when it ran for every new item.
    let rowids: Vec<i64> = conn
        .prepare_cached("SELECT rowid FROM items WHERE syncId = ?1 LIMIT 2")?
        .query_map([sid], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let row = match rowids[..] {
        [] => None,
        [one] => conn
            .prepare_cached(&format!("SELECT {COLS} FROM items WHERE rowid = ?1"))?
            .query_row([one], from_row)
            .optional()?,
        _ => conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM items WHERE syncId = ?1
                 ORDER BY (COALESCE(deletedAt, 0) = 0) DESC, updatedAt DESC, rowid DESC LIMIT 1"
            ))?
            .query_row([sid], from_row)
            .optional()?,
    };
    row.map(|i| with_tags(conn, i)).transpose()
}

/// Saves one item by the rules of §3.1 (with a sync id) or §3.2 (without).
/// Images go through `store::images` instead.
pub fn save(
    conn: &Connection,
    ids: &dyn IdSource,
    w: &ItemWrite,
    now: i64,
) -> StoreResult<WriteOutcome> {
    let kind = validate(w)?;
    match w.sync_id.as_deref() {
        Some(sid) => save_synced(conn, ids, kind, sid, w, now),
        None => save_unsynced(conn, ids, kind, w, now),
    }
}

fn outcome(item: &Item, status: WriteStatus) -> WriteOutcome {
    WriteOutcome {
        id: item.id.clone(),
        kind: item.kind.clone(),
        status,
        version: item.version,
    }
}

/// §3.1 step 4: null metadata keeps the old value (D25 kept for v1:
/// mobile sends null on every push) unless the client uses the conflict
/// extension, where null means "none".
fn merged_metadata(row: &Item, w: &ItemWrite) -> Option<String> {
    match (&w.metadata, w.base_version) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(_)) => None,
        (None, None) => row.metadata.clone(),
    }
}

/// Whether an edit based on `base` and made at `edited` may overwrite
/// `row` (conflict extension, `docs/protocol.md`). v1 writes carry no base
/// and always apply, exactly as before.
fn wins_over(row: &Item, w: &ItemWrite, now: i64) -> bool {
    let Some(base) = w.base_version else {
        return true;
    };
    if base == row.version {
        return true; // a fast-forward: nobody wrote in between
    }
    let stored = if row.edited_at > 0 {
        row.edited_at
    } else {
        row.updated_at
    };
    w.edited_at.unwrap_or(now) > stored
}

fn save_synced(
    conn: &Connection,
    ids: &dyn IdSource,
    kind: ItemType,
    sid: &str,
    w: &ItemWrite,
    now: i64,
) -> StoreResult<WriteOutcome> {
    let Some(row) = by_sync_id(conn, sid)? else {
        return insert(conn, ids, kind, sid, w, now);
    };
    // A write identical to the stored row is never a conflict: nothing to
    // do (a retried push, a copy brought from another server).
    let metadata = merged_metadata(&row, w);
    let same = match w.deleted_at {
        Some(_) => !row.is_live(),
        None => {
            row.kind == kind.as_str()
                && row.content == w.content
                && row.metadata == metadata
                && row.is_live()
                && tags::same_set(&row.tags, &w.tags)
        }
    };
    if same {
        // Nothing to write, but a later edit time for the same state
        // strengthens it: a second, later delete of a deleted row must
        // still beat an edit made between the two deletes.
        let stored = if row.edited_at > 0 {
            row.edited_at
        } else {
            row.updated_at
        };
        if let Some(e) = w.edited_at.filter(|e| *e > stored) {
            conn.prepare_cached("UPDATE items SET editedAt = ?2 WHERE id = ?1")?
                .execute(params![row.id, e])?;
        }
        return Ok(outcome(&row, WriteStatus::Unchanged));
    }
    if !wins_over(&row, w, now) {
        return Ok(outcome(&row, WriteStatus::Stale));
    }
    let edited = w.edited_at.unwrap_or(now);
    if let Some(deleted_at) = w.deleted_at {
        // §3.1 step 3. Departure (D23): the tags of the deleted row stay
        // as they were instead of gaining the request's tags, and a second
        // tombstone is a no-op (above).
        let v = next_version(conn)?;
        conn.prepare_cached(
            "UPDATE items SET deletedAt = ?2, updatedAt = ?3, changeSeq = ?4, editedAt = ?5 WHERE id = ?1",
        )?
        .execute(params![row.id, deleted_at, now, v, edited])?;
        return Ok(WriteOutcome {
            version: v,
            ..outcome(&row, WriteStatus::Updated)
        });
    }
    // §3.1 step 4: live update, also undelete.
    let v = next_version(conn)?;
    conn.prepare_cached(
        "UPDATE items SET type = ?2, content = ?3, metadata = ?4, deletedAt = 0, updatedAt = ?5,
                changeSeq = ?6, editedAt = ?7 WHERE id = ?1",
    )?
    .execute(params![
        row.id,
        kind.as_str(),
        w.content,
        metadata,
        now,
        v,
        edited
    ])?;
    tags::replace(conn, ids, &row.id, &w.tags, now)?;
    Ok(WriteOutcome {
        id: row.id,
        kind: kind.as_str().to_string(),
        status: WriteStatus::Updated,
        version: v,
    })
}

fn insert(
    conn: &Connection,
    ids: &dyn IdSource,
    kind: ItemType,
    sync_id: &str,
    w: &ItemWrite,
    now: i64,
) -> StoreResult<WriteOutcome> {
    let id = ids.uuid();
    let v = next_version(conn)?;
    conn.prepare_cached(
        "INSERT INTO items (id, type, content, metadata, syncId, syncSource, syncedAt, createdAt, updatedAt,
                            deletedAt, changeSeq, editedAt)
         VALUES (?1, ?2, ?3, ?4, ?5, '', 0, ?6, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        kind.as_str(),
        w.content,
        w.metadata,
        sync_id,
        now,
        w.deleted_at.unwrap_or(0),
        v,
        w.edited_at.unwrap_or(now)
    ])?;
    tags::add(conn, ids, &id, &w.tags, now)?;
    Ok(WriteOutcome {
        id,
        kind: kind.as_str().to_string(),
        status: WriteStatus::Created,
        version: v,
    })
}

/// §3.2: the non-sync path dedups live rows by content (tagsets by their
/// tag set). A `deletedAt` on a matched row is ignored, as deployed.
fn save_unsynced(
    conn: &Connection,
    ids: &dyn IdSource,
    kind: ItemType,
    w: &ItemWrite,
    now: i64,
) -> StoreResult<WriteOutcome> {
    let found = match w.content.as_deref().filter(|c| !c.is_empty()) {
        Some(content) => conn
            .prepare_cached(&format!(
                "SELECT {COLS} FROM items WHERE type = ?1 AND content = ?2 AND COALESCE(deletedAt, 0) = 0
                 ORDER BY createdAt, rowid LIMIT 1"
            ))?
            .query_row(params![kind.as_str(), content], from_row)
            .optional()?
            .map(|i| with_tags(conn, i))
            .transpose()?,
        None if kind == ItemType::Tagset => live_tagset_with(conn, &w.tags)?,
        None => None,
    };
    let Some(row) = found else {
        return insert(conn, ids, kind, "", w, now);
    };
    let metadata = w.metadata.clone().or(row.metadata.clone());
    if metadata == row.metadata && tags::same_set(&row.tags, &w.tags) {
        return Ok(outcome(&row, WriteStatus::Unchanged));
    }
    let v = next_version(conn)?;
    conn.prepare_cached("UPDATE items SET metadata = ?2, updatedAt = ?3, changeSeq = ?4, editedAt = ?3 WHERE id = ?1")?
        .execute(params![row.id, metadata, now, v])?;
    tags::replace(conn, ids, &row.id, &w.tags, now)?;
    Ok(WriteOutcome {
        version: v,
        ..outcome(&row, WriteStatus::Updated)
    })
}

fn live_tagset_with(conn: &Connection, want: &[String]) -> rusqlite::Result<Option<Item>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM items WHERE type = 'tagset' AND COALESCE(deletedAt, 0) = 0 ORDER BY createdAt, rowid"
    ))?;
    let rows = st.query_map([], from_row)?;
    for r in rows {
        let item = with_tags(conn, r?)?;
        if tags::same_set(&item.tags, want) {
            return Ok(Some(item));
        }
    }
    Ok(None)
}

/// `DELETE /items/:id` (§3.5): soft delete of a live row; `false` when
/// there was nothing live to delete.
pub fn soft_delete(conn: &Connection, id: &str, now: i64) -> StoreResult<bool> {
    let v = next_version(conn)?;
    let n = conn
        .prepare_cached(
            "UPDATE items SET deletedAt = ?2, updatedAt = ?2, changeSeq = ?3, editedAt = ?2
             WHERE id = ?1 AND COALESCE(deletedAt, 0) = 0",
        )?
        .execute(params![id, now, v])?;
    Ok(n == 1)
}

/// `PATCH /items/:id/tags` (§3.6). Departure (D22): unknown or deleted
/// items are left alone, so no orphan links and no spurious `updatedAt`.
pub fn set_tags(
    conn: &Connection,
    ids: &dyn IdSource,
    id: &str,
    names: &[String],
    now: i64,
) -> StoreResult<bool> {
    let Some(item) = live_by_id(conn, id)? else {
        return Ok(false);
    };
    if tags::replace(conn, ids, &item.id, names, now)? {
        let v = next_version(conn)?;
        conn.prepare_cached(
            "UPDATE items SET updatedAt = ?2, changeSeq = ?3, editedAt = ?2 WHERE id = ?1",
        )?
        .execute(params![id, now, v])?;
    }
    Ok(true)
}

/// `GET /items` filters and its paging extension.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub kind: Option<ItemType>,
    pub include_deleted: bool,
    pub limit: Option<usize>,
    /// `(createdAt, id)` of the last item of the previous page.
    pub after: Option<(i64, String)>,
}

/// `GET /items`: `createdAt` descending (ties by id, so paging is exact).
/// Returns the page, tags attached, and whether more rows follow it.
pub fn list_page(conn: &Connection, q: &ListQuery) -> rusqlite::Result<(Listing, bool)> {
    // A full pull (every row, tombstones included, one page): the order
    // from the index, the rows in table order (see the function).
    if q.include_deleted && q.kind.is_none() && q.limit.is_none() && q.after.is_none() {
        let mut page = Listing::query_in_index_order(
            conn,
            "SELECT rowid FROM items ORDER BY createdAt DESC, id DESC",
            &format!("SELECT rowid, {LIST_COLS} FROM items"),
            &format!("SELECT {LIST_COLS} FROM items ORDER BY createdAt DESC, id DESC"),
            params![],
        )?;
        page.attach_tags(conn)?;
        return Ok((page, false));
    }
    let (ca, cid) = q.after.clone().unwrap_or((i64::MAX, String::new()));
    let has_after = q.after.is_some();
    // One row past the page says whether more follow.
    let limit = q.limit.map_or(-1, |l| l as i64 + 1);
    let sql = format!(
        "SELECT {LIST_COLS} FROM items
         WHERE (?1 IS NULL OR type = ?1) AND (?2 OR COALESCE(deletedAt, 0) = 0)
           AND (NOT ?3 OR createdAt < ?4 OR (createdAt = ?4 AND id < ?5))
         ORDER BY createdAt DESC, id DESC LIMIT ?6 + 0"
    );
    let (mut page, more) = Listing::query(
        conn,
        &sql,
        params![
            q.kind.map(ItemType::as_str),
            q.include_deleted,
            has_after,
            ca,
            cid,
            limit
        ],
        q.limit,
    )?;
    page.attach_tags(conn)?;
    Ok((page, more))
}

/// [`list_page`] as owned items, for callers that keep them.
pub fn list(conn: &Connection, q: &ListQuery) -> rusqlite::Result<(Vec<Item>, bool)> {
    let (page, more) = list_page(conn, q)?;
    Ok((page.into_items(), more))
}

/// `GET /items/since/:ts`: strictly newer `updatedAt`, tombstones included,
/// oldest first (§3.7). The range is read from `idx_items_updatedAt`.
pub fn since(conn: &Connection, ts: i64, kind: Option<ItemType>) -> rusqlite::Result<Listing> {
    let sql = format!(
        "SELECT {LIST_COLS} FROM items WHERE updatedAt > ?1 AND (?2 IS NULL OR type = ?2)
         ORDER BY updatedAt, changeSeq"
    );
    let (mut page, _) = Listing::query(conn, &sql, params![ts, kind.map(ItemType::as_str)], None)?;
    page.attach_tags(conn)?;
    Ok(page)
}

/// The change feed: every item whose latest version is after `after`, in
/// version order, at most `limit`. Returns the page and whether more follow.
pub fn changes(conn: &Connection, after: i64, limit: usize) -> rusqlite::Result<(Listing, bool)> {
    // `LIMIT ?2 + 0`, not `LIMIT ?2`: the bundled SQLite re-prepares a
    // statement with a bare bound limit every time it is re-bound (see
    // engine/tests/statement_reuse.rs), and this one runs on every pull.
    let sql = format!(
        "SELECT {LIST_COLS} FROM items WHERE changeSeq > ?1 ORDER BY changeSeq LIMIT ?2 + 0"
    );
    let (mut page, more) =
        Listing::query(conn, &sql, params![after, limit as i64 + 1], Some(limit))?;
    page.attach_tags(conn)?;
    Ok((page, more))
}

/// The newest version in this profile (the change feed's head).
pub fn head_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(changeSeq), 0) FROM items", [], |r| {
        r.get(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        crate::store::schema::ensure(&c, |_| Ok(())).unwrap();
        c
    }

    fn add(c: &Connection, id: &str, sid: &str, updated: i64, deleted: i64) {
        c.execute(
            "INSERT INTO items (id, type, content, syncId, createdAt, updatedAt, deletedAt)
             VALUES (?1, 'text', 'x', ?2, 1, ?3, ?4)",
            params![id, sid, updated, deleted],
        )
        .unwrap();
    }

    fn found(c: &Connection, sid: &str) -> Option<String> {
        by_sync_id(c, sid).unwrap().map(|i| i.id)
    }

    /// D31: none, one, or several rows with one sync id; with several, a
    /// live row first, then the newest `updatedAt`, then the last written.
    #[test]
    fn a_sync_id_finds_the_live_then_newest_row() {
        let c = db();
        assert_eq!(found(&c, "s"), None);
        add(&c, "a", "s", 10, 5);
        assert_eq!(found(&c, "s").as_deref(), Some("a"));
        add(&c, "b", "s", 5, 0);
        assert_eq!(
            found(&c, "s").as_deref(),
            Some("b"),
            "live beats newer deleted"
        );
        add(&c, "c", "s", 7, 0);
        assert_eq!(found(&c, "s").as_deref(), Some("c"), "newest live");
        add(&c, "d", "s", 7, 0);
        assert_eq!(
            found(&c, "s").as_deref(),
            Some("d"),
            "same time: last written"
        );
        // The server id comes first (§3.1 step 1).
        assert_eq!(found(&c, "a").as_deref(), Some("a"));
    }
}
