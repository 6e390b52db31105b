//! Tags and item–tag links (§3.4).
//!
//! Departure (D21): frequency, `lastUsed` and the frecency score move only
//! when a link is really added, not on every re-push of an unchanged item,
//! so frecency measures use rather than sync traffic.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::clock::IdSource;
use crate::store::error::StoreResult;

/// `GET /tags` row, with the deployed camelCase keys.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagStat {
    pub name: String,
    pub frequency: i64,
    pub last_used: i64,
    pub frecency_score: f64,
}

/// The distinct names of a request, first spelling kept, order kept.
pub fn distinct(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

fn tag_id(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT id FROM tags WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()
}

/// Links `name` to `item`, creating the tag if needed. Counts a use only
/// when the link is new.
fn link(
    conn: &Connection,
    ids: &dyn IdSource,
    item: &str,
    name: &str,
    now: i64,
) -> StoreResult<()> {
    let tid = match tag_id(conn, name)? {
        Some(t) => t,
        None => {
            let t = ids.uuid();
            conn.prepare_cached(
                "INSERT INTO tags (id, name, frequency, lastUsed, frecencyScore, createdAt, updatedAt)
                 VALUES (?1, ?2, 0, ?3, 0, ?3, ?3)",
            )?
            .execute(params![t, name, now])?;
            t
        }
    };
    let added = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO item_tags (itemId, tagId, createdAt) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![item, tid, now])?;
    if added == 1 {
        // §3.4: frequency × 10 / (1 + days/7), with days = 0 because
        // `lastUsed` is set to now in the same statement.
        conn.prepare_cached(
            "UPDATE tags SET frequency = COALESCE(frequency, 0) + 1, lastUsed = ?2, updatedAt = ?2,
                    frecencyScore = (COALESCE(frequency, 0) + 1) * 10.0 WHERE id = ?1",
        )?
        .execute(params![tid, now])?;
    }
    Ok(())
}

/// Links the tags of an item that has none yet (a fresh insert).
pub fn add(
    conn: &Connection,
    ids: &dyn IdSource,
    item: &str,
    names: &[String],
    now: i64,
) -> StoreResult<()> {
    for n in distinct(names) {
        link(conn, ids, item, &n, now)?;
    }
    Ok(())
}

/// Makes `item`'s tags exactly `names`; returns whether anything changed.
pub fn replace(
    conn: &Connection,
    ids: &dyn IdSource,
    item: &str,
    names: &[String],
    now: i64,
) -> StoreResult<bool> {
    let want = distinct(names);
    let have = of_item(conn, item)?;
    if same_set(&have, &want) {
        return Ok(false);
    }
    for old in &have {
        if !want.contains(old) {
            conn.prepare_cached(
                "DELETE FROM item_tags WHERE itemId = ?1 AND tagId IN (SELECT id FROM tags WHERE name = ?2)",
            )?
            .execute(params![item, old])?;
        }
    }
    for n in &want {
        if !have.contains(n) {
            link(conn, ids, item, n, now)?;
        }
    }
    Ok(true)
}

/// Order-insensitive equality of two tag lists.
pub fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&String> = a.iter().collect();
    let mut b: Vec<&String> = b.iter().collect();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

/// An item's tag names in link (insertion) order.
pub fn of_item(conn: &Connection, item: &str) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT t.name FROM item_tags it JOIN tags t ON t.id = it.tagId
         WHERE it.itemId = ?1 ORDER BY it.rowid",
    )?;
    let rows = st.query_map([item], |r| r.get(0))?;
    rows.collect()
}

/// `GET /tags`: every tag (orphans included), stored score descending.
pub fn stats(conn: &Connection) -> rusqlite::Result<Vec<TagStat>> {
    let mut st = conn.prepare(
        "SELECT name, COALESCE(frequency, 0), CAST(COALESCE(lastUsed, 0) AS INTEGER), COALESCE(frecencyScore, 0)
         FROM tags ORDER BY frecencyScore DESC, name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(TagStat {
            name: r.get(0)?,
            frequency: r.get(1)?,
            last_used: r.get(2)?,
            frecency_score: r.get(3)?,
        })
    })?;
    rows.collect()
}
