//! What ties local rows to one server (reference behaviour): the
//! `server_links` table, the pending set, applying pulled items and
//! recording push results. The decisions (what is pending, skip / defer /
//! take, who keeps a claimed row) are the pure rules of `crate::rules`:
//! this module loads their inputs and applies their answers, inside the
//! caller's transaction.
//!
//! `serverKey` = server URL + `#` + server profile id, so every server (and
//! every profile on it) has its own links and cursor: switching re-pushes
//! everything, switching back reuses the old server ids (D14, D15).

use protocol::clock::IdSource;
use rusqlite::{params, Connection, OptionalExtension};

use super::items::{self, from_row, tags_of, COLS};
use crate::error::{Error, Result};
use crate::model::{ItemType, LocalItem, ServerItem};
use crate::rules::pull::{self, Local, PullAction, TwinAction};
use crate::rules::push::{self as push_rules, PushState};
use crate::rules::LinkState;

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub local_id: String,
    pub server_id: String,
    pub server_version: Option<i64>,
    pub server_updated_at: i64,
    pub pushed_rev: i64,
}

impl Link {
    /// The link's state, as the rules read it.
    pub fn state(&self) -> LinkState {
        LinkState {
            server_version: self.server_version,
            server_updated_at: self.server_updated_at,
            pushed_rev: self.pushed_rev,
        }
    }

    fn new(local_id: &str, server_id: &str, st: LinkState) -> Self {
        Link {
            local_id: local_id.to_string(),
            server_id: server_id.to_string(),
            server_version: st.server_version,
            server_updated_at: st.server_updated_at,
            pushed_rev: st.pushed_rev,
        }
    }
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

/// What the pending rule reads of every local row that may not be synced
/// here, oldest row first: (local id, its `PushState` here, linked here).
///
/// The `WHERE` leaves out only rows the rule calls `Synced` (linked, and
/// `pushedRev >= localRev`), so the rule still decides every other row;
/// without it every sync built a string for every row of the store.
fn push_states(conn: &Connection, key: &str) -> Result<Vec<(String, PushState, bool)>> {
    let mut st = conn.prepare_cached(
        "SELECT i.id, i.type, i.deletedAt, i.localRev, l.pushedRev,
                EXISTS (SELECT 1 FROM blobs b WHERE b.itemId = i.id)
           FROM items i LEFT JOIN server_links l ON l.localId = i.id AND l.serverKey = ?1
          WHERE l.pushedRev IS NULL OR l.pushedRev < i.localRev
          ORDER BY i.rowid",
    )?;
    let rows = st.query_map([key], |r| {
        let kind = ItemType::parse(&r.get::<_, String>(1)?).unwrap_or(ItemType::Text);
        let linked: Option<i64> = r.get(4)?;
        let state =
            push_rules::push_state(kind, r.get::<_, i64>(2)? == 0, r.get(3)?, linked, r.get(5)?);
        Ok((r.get(0)?, state, linked.is_some()))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Whether an item is an image this device cannot bring to a server that
/// does not have it (no bytes held locally): `rules::push::uncarriable`.
pub fn uncarriable(conn: &Connection, local_id: &str) -> Result<bool> {
    let row: Option<(String, bool)> = conn
        .prepare_cached(
            "SELECT i.type, EXISTS (SELECT 1 FROM blobs b WHERE b.itemId = i.id)
               FROM items i WHERE i.id = ?1",
        )?
        .query_row([local_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.is_some_and(|(kind, bytes)| {
        push_rules::uncarriable(ItemType::parse(&kind).unwrap_or(ItemType::Text), bytes)
    }))
}

/// Up to `limit` pending items (`rules::push::push_state`), oldest row
/// first. Tombstones included; images held back are not.
pub fn pending(conn: &Connection, key: &str, limit: usize) -> Result<Vec<Pending>> {
    let mut out = Vec::new();
    for (id, state, linked) in push_states(conn, key)? {
        if out.len() == limit {
            break;
        }
        if state != PushState::Pending {
            continue;
        }
        let item = items::get(conn, &id)?.ok_or_else(|| Error::NoSuchItem(id.clone()))?;
        let link = if linked {
            by_local(conn, key, &id)?
        } else {
            None
        };
        out.push(Pending { item, link });
    }
    Ok(out)
}

/// Up to `limit` live image rows linked on this server whose bytes this
/// device does not hold: (local id, server id), oldest first.
///
/// The limit is written `?N + 0` on purpose: this SQLite re-prepares a
/// statement with a bare `LIMIT ?N` on every run (it reads the bound value
/// to plan the limit and marks the statement stale when it is re-bound),
/// which cost a sync more than the query itself; `tests/statement_reuse.rs`
/// pins both halves.
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
          ORDER BY i.rowid LIMIT ?2 + 0",
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
          ORDER BY i.rowid LIMIT ?3 + 0",
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

/// How many items are pending on this server (CLI `status`).
pub fn pending_count(conn: &Connection, key: &str) -> Result<i64> {
    let n = push_states(conn, key)?
        .into_iter()
        .filter(|(_, state, _)| *state == PushState::Pending)
        .count();
    Ok(n as i64)
}

/// A restored server (a new feed epoch, `rules::cursor::on_epoch`): every
/// link here is marked pending and untrusted (`pushedRev` -1), so each
/// item is pushed again under its identity (`wire::push_body`).
pub fn mark_restored(conn: &Connection, key: &str) -> Result<()> {
    conn.prepare_cached("UPDATE server_links SET pushedRev = -1 WHERE serverKey = ?1")?
        .execute([key])?;
    Ok(())
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

/// Makes `server_id` belong to `local_id` only: another local row linked
/// to the same server row is a pulled copy of our own item (a push whose
/// response was lost, then a pull); `rules::pull::on_twin` says whether it
/// goes or only loses its link.
fn claim(conn: &Connection, key: &str, local_id: &str, server_id: &str) -> Result<()> {
    if let Some(other) = by_server(conn, key, server_id)?.filter(|o| o.local_id != local_id) {
        let rev: i64 = conn
            .prepare_cached("SELECT localRev FROM items WHERE id = ?1")?
            .query_row([&other.local_id], |r| r.get(0))?;
        match pull::on_twin(rev, other.pushed_rev) {
            TwinAction::HardDelete => hard_delete(conn, &other.local_id)?,
            TwinAction::Unlink => {
                conn.prepare_cached(
                    "DELETE FROM server_links WHERE serverKey = ?1 AND localId = ?2",
                )?
                .execute(params![key, other.local_id])?;
            }
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
    let old = by_local(conn, key, local_id)?.map(|o| o.state());
    let state = pull::link_after_push(old.as_ref(), rev, version);
    upsert_link(conn, key, &Link::new(local_id, server_id, state))?;
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
        &Link::new(&local.id, &s.id, pull::link_after_pull(s, rev)),
    )
}

/// The first local image (oldest row) with this identity that was held
/// back from this server for want of its bytes
/// (`rules::pull::held_for_bytes`).
fn held_image(conn: &Connection, key: &str, identity: &str) -> Result<Option<String>> {
    let mut st = conn.prepare_cached(
        "SELECT i.id, i.type, EXISTS (SELECT 1 FROM blobs b WHERE b.itemId = i.id),
                l.serverVersion, l.serverUpdatedAt, l.pushedRev
           FROM items i LEFT JOIN server_links l ON l.localId = i.id AND l.serverKey = ?2
          WHERE i.syncId = ?1 ORDER BY i.rowid",
    )?;
    let mut rows = st.query(params![identity, key])?;
    while let Some(r) = rows.next()? {
        let kind = ItemType::parse(&r.get::<_, String>(1)?).unwrap_or(ItemType::Text);
        let link = match r.get::<_, Option<i64>>(5)? {
            Some(pushed_rev) => Some(LinkState {
                server_version: r.get(3)?,
                server_updated_at: r.get(4)?,
                pushed_rev,
            }),
            None => None,
        };
        if pull::held_for_bytes(kind, r.get(2)?, link.as_ref()) {
            return Ok(Some(r.get(0)?));
        }
    }
    Ok(None)
}

/// Applies one pulled item: loads what the device holds for it, asks
/// `rules::pull::on_pulled`, and does what it answers.
pub fn apply(
    conn: &Connection,
    ids: &dyn IdSource,
    key: &str,
    s: &ServerItem,
    now: i64,
) -> Result<PullAction> {
    let link = by_server(conn, key, &s.id)?;
    let local = match &link {
        Some(l) => Some(items::get(conn, &l.local_id)?.ok_or_else(|| {
            Error::Malformed(format!("link to missing local item {}", l.local_id))
        })?),
        None => match held_image(conn, key, s.identity())? {
            Some(id) => items::get(conn, &id)?,
            None => None,
        },
    };
    let known = match (&link, &local) {
        (Some(l), Some(it)) => Local::Linked(l.state(), it),
        (None, Some(it)) => Local::HeldImage(it),
        _ => Local::Unknown,
    };
    let action = pull::on_pulled(known, s);
    match (action, &local) {
        (PullAction::Take, Some(local)) => overwrite(conn, ids, key, local, s, now)?,
        (PullAction::Insert, _) => insert_pulled(conn, ids, key, s, now)?,
        (PullAction::Keep, Some(local)) => {
            upsert_link(conn, key, &Link::new(&local.id, &s.id, pull::link_kept(s)))?
        }
        _ => {}
    }
    Ok(action)
}

/// A pulled item never seen here: a new local row, linked at its state.
fn insert_pulled(
    conn: &Connection,
    ids: &dyn IdSource,
    key: &str,
    s: &ServerItem,
    now: i64,
) -> Result<()> {
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
        &Link::new(&id, &s.id, pull::link_after_pull(s, 1)),
    )
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

/// Takes the server's winning copy `s` after a `stale` answer to a push
/// that sent revision `sent_rev` of `local_id` (`rules::push::on_stale`):
/// adopted if the item is unchanged since, else only linked to the
/// server's row and version, the newer local edit kept pending.
#[allow(clippy::too_many_arguments)]
pub fn adopt_stale(
    conn: &Connection,
    ids: &dyn IdSource,
    key: &str,
    local_id: &str,
    sent_rev: i64,
    s: &ServerItem,
    now: i64,
) -> Result<()> {
    let local = items::get(conn, local_id)?.ok_or_else(|| Error::NoSuchItem(local_id.into()))?;
    match push_rules::on_stale(sent_rev, local.local_rev) {
        push_rules::OnStale::Adopt => adopt(conn, ids, key, local_id, s, now),
        push_rules::OnStale::KeepNewer => {
            record_push(conn, key, local_id, sent_rev, &s.id, s.version, false, now)
        }
    }
}

/// After a refused push of `local_id`: drops its link on this server
/// when the server cannot have the row (`rules::push::refused_for_good`).
pub fn on_refused(conn: &Connection, key: &str, local_id: &str) -> Result<()> {
    let Some(item) = items::get(conn, local_id)? else {
        return Ok(());
    };
    let has_bytes = !uncarriable(conn, local_id)?;
    let link = by_local(conn, key, local_id)?.map(|l| l.state());
    if push_rules::refused_for_good(item.kind, has_bytes, link.as_ref()) {
        conn.prepare_cached("DELETE FROM server_links WHERE serverKey = ?1 AND localId = ?2")?
            .execute([key, local_id])?;
    }
    Ok(())
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
