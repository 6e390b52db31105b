//! The one-time dedup cleanup of §3.8, fixed (D17).
//!
//! The Node server hard-deleted every live row sharing content with
//! another, cross-device sync copies included, and told no client. Here:
//! * only rows **off the sync path** (`syncId = ''`) are candidates; copies
//!   that clients pushed with different sync ids are distinct items on
//!   purpose (§3.1 step 6, §5.6);
//! * a removed duplicate becomes a **tombstone** with a new version, so
//!   every client learns of it through `/items/since` or the change feed;
//! * it runs once per profile (flag `dedup_cleanup_v1`), and profiles
//!   created by this server are born with the flag (see `schema::ensure`).

use std::collections::BTreeMap;

use rusqlite::{params, Connection};

use crate::store::error::StoreResult;
use crate::store::schema::DEDUP_FLAG;

/// What a cleanup did (or would do, in a dry run).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DedupReport {
    /// Ids turned into tombstones, in a stable order.
    pub tombstoned: Vec<String>,
    pub already_done: bool,
}

pub fn flag_set(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM settings WHERE key = ?1 AND value = '1'",
        [DEDUP_FLAG],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Groups of duplicate ids, newest first inside each group; the first of
/// each group is kept.
fn duplicate_groups(conn: &Connection) -> rusqlite::Result<Vec<Vec<String>>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut st = conn.prepare(
        "SELECT id, type, content FROM items
         WHERE COALESCE(deletedAt, 0) = 0 AND COALESCE(syncId, '') = '' AND type IN ('url', 'text')
           AND COALESCE(content, '') <> ''
         ORDER BY updatedAt DESC, id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (id, kind, content) = row?;
        groups
            .entry(format!("{kind}\0{content}"))
            .or_default()
            .push(id);
    }
    let mut st = conn.prepare(
        "SELECT i.id, COALESCE(group_concat(t.name, char(0)), '') FROM
           (SELECT id, updatedAt FROM items WHERE COALESCE(deletedAt, 0) = 0 AND COALESCE(syncId, '') = ''
              AND type = 'tagset') i
         LEFT JOIN (SELECT it.itemId, t.name FROM item_tags it JOIN tags t ON t.id = it.tagId ORDER BY t.name) t
           ON t.itemId = i.id
         GROUP BY i.id ORDER BY i.updatedAt DESC, i.id",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (id, names) = row?;
        let mut sorted: Vec<&str> = names.split('\0').filter(|s| !s.is_empty()).collect();
        if sorted.is_empty() {
            continue;
        }
        sorted.sort_unstable();
        groups
            .entry(format!("tagset\0{}", sorted.join("\0")))
            .or_default()
            .push(id);
    }
    Ok(groups.into_values().filter(|g| g.len() > 1).collect())
}

/// Runs the cleanup once, inside the caller's transaction. With `dry_run`,
/// reports without writing.
pub fn run(conn: &Connection, now: i64, dry_run: bool) -> StoreResult<DedupReport> {
    if flag_set(conn)? {
        return Ok(DedupReport {
            already_done: true,
            ..DedupReport::default()
        });
    }
    let mut report = DedupReport::default();
    for group in duplicate_groups(conn)? {
        report.tombstoned.extend(group.into_iter().skip(1));
    }
    if dry_run {
        return Ok(report);
    }
    let tx = conn;
    let mut v: i64 = crate::store::items::next_version(tx)? - 1;
    for id in &report.tombstoned {
        v += 1;
        tx.execute(
            "UPDATE items SET deletedAt = ?2, updatedAt = ?2, changeSeq = ?3, editedAt = ?2 WHERE id = ?1",
            params![id, now, v],
        )?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, '1')",
        [DEDUP_FLAG],
    )?;
    Ok(report)
}
