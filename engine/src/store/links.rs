//! What ties local rows to one server (reference behaviour): the
//! `server_links` table, the pending set, applying pulled items, recording
//! push results, and the per-server pull cursor.
//!
//! `serverKey` = server URL + `#` + server profile id, so every server (and
//! every profile on it) has its own links and cursor: switching re-pushes
//! everything, switching back reuses the old server ids (D14, D15).

use protocol::clock::IdSource;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::items::{self, from_row, tags_of, COLS};
use super::{get_setting, set_setting};
use crate::error::{Error, Result};
use crate::model::{LocalItem, ServerItem};

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub local_id: String,
    pub server_id: String,
    pub server_version: Option<i64>,
    pub server_updated_at: i64,
    pub pushed_rev: i64,
}

fn link_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Link> {
    Ok(Link {
        local_id: r.get(0)?,
        server_id: r.get(1)?,
        server_version: r.get(2)?,
        server_updated_at: r.get(3)?,
        pushed_rev: r.get(4)?,
    })
}

const LINK_COLS: &str = "localId, serverId, serverVersion, serverUpdatedAt, pushedRev";

pub fn by_local(conn: &Connection, key: &str, local_id: &str) -> Result<Option<Link>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {LINK_COLS} FROM server_links WHERE serverKey = ?1 AND localId = ?2"
        ))?
        .query_row(params![key, local_id], link_row)
        .optional()?)
}

pub fn by_server(conn: &Connection, key: &str, server_id: &str) -> Result<Option<Link>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {LINK_COLS} FROM server_links WHERE serverKey = ?1 AND serverId = ?2"
        ))?
        .query_row(params![key, server_id], link_row)
        .optional()?)
}

/// An item that this server has not seen at its current revision.
#[derive(Debug, Clone)]
pub struct Pending {
    pub item: LocalItem,
    pub link: Option<Link>,
}

/// Pending: new here, or changed since the last push here. An image this
/// device never fetched the bytes of cannot be created on a server that
/// never had it (the bytes live elsewhere), so it waits until this device
/// holds them or the server sends the row (found by the simulator). After
/// a restore (`pushedRev` -1) it is pushed in the update form: the server
/// either still has the row or answers that it needs the bytes.
const PENDING_WHERE: &str =
    "FROM items i LEFT JOIN server_links l ON l.localId = i.id AND l.serverKey = ?1
     WHERE (l.localId IS NULL OR l.pushedRev < i.localRev)
       AND NOT (i.type = 'image' AND i.deletedAt = 0 AND l.localId IS NULL
                AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.itemId = i.id))";

/// Whether an item is an image this device cannot bring to a server that
/// does not have it (no bytes held locally).
pub fn uncarriable(conn: &Connection, local_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM items i WHERE i.id = ?1 AND i.type = 'image'
               AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.itemId = i.id)",
        )?
        .exists([local_id])?)
}

/// Up to `limit` pending items, oldest row first. Tombstones included.
pub fn pending(conn: &Connection, key: &str, limit: usize) -> Result<Vec<Pending>> {
    let cols = COLS
        .split(", ")
        .map(|c| format!("i.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {cols}, l.serverId {PENDING_WHERE} ORDER BY i.rowid LIMIT ?2");
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st.query_map(params![key, limit as i64], |r| {
        Ok((from_row(r)?, r.get::<_, Option<String>>(11)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mut item, linked) = row?;
        item.tags = tags_of(conn, &item.id)?;
        let link = match linked {
            Some(_) => by_local(conn, key, &item.id)?,
            None => None,
        };
        out.push(Pending { item, link });
    }
    Ok(out)
}

/// Up to `limit` live image rows linked on this server whose bytes this
/// device does not hold: (local id, server id), oldest first.
pub fn images_without_bytes(
    conn: &Connection,
    key: &str,
    limit: usize,
) -> Result<Vec<(String, String)>> {
    let mut st = conn.prepare_cached(
        "SELECT i.id, l.serverId FROM items i
           JOIN server_links l ON l.localId = i.id AND l.serverKey = ?1
           LEFT JOIN blobs b ON b.itemId = i.id
          WHERE i.type = 'image' AND i.deletedAt = 0 AND b.itemId IS NULL
          ORDER BY i.rowid LIMIT ?2",
    )?;
    let rows = st.query_map(params![key, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Up to `limit` live image rows this device holds without bytes that are
/// linked under another profile of the same server (`url#…`): (local id,
/// server id, that profile), oldest first. The same user's key reads every
/// profile, so the bytes can be fetched from where the image came from
/// before the device switched profile.
pub fn images_elsewhere(
    conn: &Connection,
    key: &str,
    limit: usize,
) -> Result<Vec<(String, String, String)>> {
    let Some((url, _)) = key.rsplit_once('#') else {
        return Ok(Vec::new());
    };
    let prefix = format!("{url}#");
    let mut st = conn.prepare_cached(
        "SELECT i.id, l.serverId, substr(l.serverKey, length(?1) + 1) FROM items i
           JOIN server_links l ON l.localId = i.id
          WHERE i.type = 'image' AND i.deletedAt = 0 AND l.serverKey != ?2 AND l.pushedRev >= 0
            AND substr(l.serverKey, 1, length(?1)) = ?1
            AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.itemId = i.id)
          ORDER BY i.rowid LIMIT ?3",
    )?;
    let rows = st.query_map(params![prefix, key, limit as i64], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Stores an image's bytes (fetched from a server).
pub fn set_bytes(conn: &Connection, local_id: &str, data: &[u8]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO blobs (itemId, data) VALUES (?1, ?2)
         ON CONFLICT(itemId) DO UPDATE SET data = excluded.data",
    )?
    .execute(params![local_id, data])?;
    Ok(())
}

pub fn pending_count(conn: &Connection, key: &str) -> Result<i64> {
    Ok(
        conn.query_row(&format!("SELECT COUNT(*) {PENDING_WHERE}"), [key], |r| {
            r.get(0)
        })?,
    )
}

fn upsert_link(conn: &Connection, key: &str, l: &Link) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO server_links (serverKey, localId, serverId, serverVersion, serverUpdatedAt, pushedRev)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(serverKey, localId) DO UPDATE SET serverId = excluded.serverId,
           serverVersion = excluded.serverVersion, serverUpdatedAt = excluded.serverUpdatedAt,
           pushedRev = excluded.pushedRev",
    )?
    .execute(params![key, l.local_id, l.server_id, l.server_version, l.server_updated_at, l.pushed_rev])?;
    Ok(())
}

fn hard_delete(conn: &Connection, id: &str) -> Result<()> {
    for sql in [
        "DELETE FROM item_tags WHERE itemId = ?1",
        "DELETE FROM server_links WHERE localId = ?1",
        "DELETE FROM blobs WHERE itemId = ?1",
        "DELETE FROM items WHERE id = ?1",
    ] {
        conn.execute(sql, [id])?;
    }
    Ok(())
}

/// Makes `server_id` belong to `local_id` only. Another local row linked
/// to the same server row is a pulled copy of our own item (a push whose
/// response was lost, then a pull): if it holds no local edit it is
/// redundant and goes; otherwise it keeps its data and is unlinked, so it
/// is pushed as its own item. Nothing local is lost either way.
fn claim(conn: &Connection, key: &str, local_id: &str, server_id: &str) -> Result<()> {
    if let Some(other) = by_server(conn, key, server_id)?.filter(|o| o.local_id != local_id) {
        let rev: i64 = conn.query_row(
            "SELECT localRev FROM items WHERE id = ?1",
            [&other.local_id],
            |r| r.get(0),
        )?;
        if rev <= other.pushed_rev {
            hard_delete(conn, &other.local_id)?;
        } else {
            conn.execute(
                "DELETE FROM server_links WHERE serverKey = ?1 AND localId = ?2",
                params![key, other.local_id],
            )?;
        }
    }
    Ok(())
}

/// Records a successful push of `local_id` at revision `rev`. `created`:
/// the server made a new row for it, so no other local item can be
/// linked to that id and the claim check is skipped.
#[allow(clippy::too_many_arguments)]
pub fn record_push(
    conn: &Connection,
    key: &str,
    local_id: &str,
    rev: i64,
    server_id: &str,
    version: Option<i64>,
    created: bool,
    now: i64,
) -> Result<()> {
    if !created {
        claim(conn, key, local_id, server_id)?;
    }
    let old = by_local(conn, key, local_id)?;
    let link = Link {
        local_id: local_id.to_string(),
        server_id: server_id.to_string(),
        server_version: version.or(old.as_ref().and_then(|o| o.server_version)),
        server_updated_at: old.as_ref().map_or(0, |o| o.server_updated_at),
        pushed_rev: rev.max(old.map_or(0, |o| o.pushed_rev)),
    };
    upsert_link(conn, key, &link)?;
    // `syncId` is the item's identity across servers: the sync id it was
    // first pushed with (for the creator, its own local id, which is what
    // the server recorded). Every device pushes it to a server it has no
    // link on yet, so two devices bringing the same item to a new server
    // make one row there, not two (found by the simulator).
    conn.prepare_cached(
        "UPDATE items SET syncId = CASE WHEN COALESCE(syncId, '') = '' THEN id ELSE syncId END,
                syncSource = 'server', syncedAt = ?3 WHERE id = ?1",
    )?
    .execute(params![local_id, server_id, now])?;
    Ok(())
}

fn same_json(a: Option<&str>, b: Option<&str>) -> bool {
    let parse = |s: Option<&str>| {
        s.map(|s| serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.into())))
    };
    parse(a) == parse(b)
}

/// Whether the local row already shows exactly this server state.
pub fn same_state(it: &LocalItem, s: &ServerItem) -> bool {
    it.kind == s.kind
        && it.content == s.content
        && same_json(it.metadata.as_deref(), s.metadata.as_deref())
        && it.tags == s.tags
        && (it.deleted_at == 0) == (s.deleted_at == 0)
}

/// What applying one pulled item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Inserted,
    Updated,
    /// Already seen at this version (overlap, echo of our own push: D10).
    Skipped,
    /// A local edit is pending: the push decides (guarantee 5).
    Deferred,
}

/// Overwrites `local` with the server state `s` and links it at that state.
fn overwrite(
    conn: &Connection,
    ids: &dyn IdSource,
    key: &str,
    local: &LocalItem,
    s: &ServerItem,
    now: i64,
) -> Result<()> {
    let rev = local.local_rev + 1;
    conn.prepare_cached(
        "UPDATE items SET type = ?2, content = ?3, metadata = ?4, deletedAt = ?5, updatedAt = ?6,
                localRev = ?7, syncId = CASE WHEN COALESCE(syncId, '') = '' THEN ?8 ELSE syncId END,
                syncedAt = ?9 WHERE id = ?1",
    )?
    .execute(params![
        local.id,
        s.kind.as_str(),
        s.content,
        s.metadata,
        s.deleted_at,
        s.edit_time(),
        rev,
        s.identity(),
        now
    ])?;
    items::set_tags(conn, ids, &local.id, &s.tags, now)?;
    upsert_link(
        conn,
        key,
        &Link {
            local_id: local.id.clone(),
            server_id: s.id.clone(),
            server_version: s.version,
            server_updated_at: s.updated_at,
            pushed_rev: rev,
        },
    )
}

/// Applies one pulled item (reference rules, §3 and guarantee 2–4).
pub fn apply(
    conn: &Connection,
    ids: &dyn IdSource,
    key: &str,
    s: &ServerItem,
    now: i64,
) -> Result<Applied> {
    let Some(link) = by_server(conn, key, &s.id)? else {
        // An image held back here for want of its bytes (never linked
        // here, or its row lost in a restore) that another device brought
        // to this server: the same item, now linked to that row (its bytes
        // are then fetched from here).
        let held: Option<String> = conn
            .prepare_cached(
                "SELECT i.id FROM items i WHERE i.syncId = ?1 AND i.type = 'image'
                   AND NOT EXISTS (SELECT 1 FROM server_links l WHERE l.serverKey = ?2
                                      AND l.localId = i.id AND l.pushedRev >= 0)
                   AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.itemId = i.id)
                 ORDER BY i.rowid LIMIT 1",
            )?
            .query_row(params![s.identity(), key], |r| r.get(0))
            .optional()?;
        if let Some(local) = held {
            if let Some(local) = items::get(conn, &local)? {
                overwrite(conn, ids, key, &local, s, now)?;
                return Ok(Applied::Updated);
            }
        }
        // Never seen: insert, tombstones included (a deleted row, so a
        // later push of an older copy cannot resurrect it).
        let id = ids.uuid();
        let created = if s.created_at == i64::MIN {
            now
        } else {
            s.created_at
        };
        let item = LocalItem {
            id: id.clone(),
            kind: s.kind,
            content: s.content.clone(),
            metadata: s.metadata.clone(),
            tags: s.tags.clone(),
            sync_id: s.identity().to_string(),
            sync_source: "server".into(),
            synced_at: now,
            created_at: created,
            updated_at: s.edit_time(),
            deleted_at: s.deleted_at,
            local_rev: 1,
        };
        items::insert(conn, ids, &item)?;
        upsert_link(
            conn,
            key,
            &Link {
                local_id: id,
                server_id: s.id.clone(),
                server_version: s.version,
                server_updated_at: s.updated_at,
                pushed_rev: 1,
            },
        )?;
        return Ok(Applied::Inserted);
    };
    let local = items::get(conn, &link.local_id)?
        .ok_or_else(|| Error::Malformed(format!("link to missing local item {}", link.local_id)))?;
    let seen = match (link.server_version, s.version) {
        (Some(have), Some(got)) => got <= have,
        // No versions (a v1 server): older is stale; equal time may be a
        // second write in the same millisecond (D9), so compare contents.
        _ => s.updated_at < link.server_updated_at || same_state(&local, s),
    };
    if seen {
        return Ok(Applied::Skipped);
    }
    if local.local_rev > link.pushed_rev {
        return Ok(Applied::Deferred);
    }
    overwrite(conn, ids, key, &local, s, now)?;
    Ok(Applied::Updated)
}

/// The server decided against our edit (`stale`): take its state.
pub fn adopt(
    conn: &Connection,
    ids: &dyn IdSource,
    key: &str,
    local_id: &str,
    s: &ServerItem,
    now: i64,
) -> Result<()> {
    claim(conn, key, local_id, &s.id)?;
    let local = items::get(conn, local_id)?.ok_or_else(|| Error::NoSuchItem(local_id.into()))?;
    overwrite(conn, ids, key, &local, s, now)
}

pub fn cursor(conn: &Connection, key: &str) -> Result<Option<i64>> {
    Ok(get_setting(conn, &format!("sync.cursor.{key}"))?.and_then(|v| v.parse().ok()))
}

pub fn set_cursor(conn: &Connection, key: &str, value: i64) -> Result<()> {
    set_setting(conn, &format!("sync.cursor.{key}"), &value.to_string())
}

/// Local rows, as the reference sees them for one server (tests, status).
pub fn linked_item(conn: &Connection, key: &str, server_id: &str) -> Result<Option<LocalItem>> {
    match by_server(conn, key, server_id)? {
        Some(l) => items::get(conn, &l.local_id),
        None => Ok(None),
    }
}

/// All local rows, raw (used by the platform models' selection).
pub fn all_rows(conn: &Connection) -> Result<Vec<LocalItem>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM items ORDER BY rowid"))?;
    let rows = st.query_map([], from_row)?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    for it in &mut out {
        it.tags = tags_of(conn, &it.id)?;
    }
    Ok(out)
}
