//! Reads of many items at once (`GET /items`, `/items/since`, the change
//! feed, the legacy lists): the rows and their tags in one compact buffer.
//!
//! A full list of 5,000 items used to cost about 2 µs an item before a
//! byte was written: an owned `Item` per row (five `String`s and a `Vec`),
//! a `HashMap` from every item id to its slot and another from every tag id
//! to a cloned name, all dropped again after serializing. Here the rows'
//! text is copied into one `String`, each row keeps offsets into it, and
//! the tags of every row are indices into the page's tag names: a handful
//! of allocations per answer, whatever its size.
//!
//! The tags are read after the rows, once their number is known, the
//! cheaper of two ways: a lookup of each item's links in the primary key's
//! index when the answer is small next to the profile (an incremental
//! pull; about 1.7 µs an item), else one pass over every link (a full
//! list). A join of `items` with `item_tags` in one statement makes SQLite
//! do the per-item lookup for every row: measured on the bench's 5,000
//! items, 6.1 ms against 2.9 ms for the rows and the pass together. The
//! answer is the same either way: links in insertion (`rowid`) order,
//! links to a tag that does not exist skipped.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use crate::store::item::Item;

/// The columns every list reads, in [`Listing::push`]'s order.
pub const COLS: &str =
    "id, type, content, metadata, COALESCE(syncId, ''), CAST(createdAt AS INTEGER), \
     CAST(updatedAt AS INTEGER), CAST(COALESCE(deletedAt, 0) AS INTEGER), \
     COALESCE(changeSeq, 0), COALESCE(editedAt, 0)";

/// A page of items in answer order, with their tags.
#[derive(Debug, Default)]
pub struct Listing {
    /// Every string field of every row, back to back.
    text: String,
    rows: Vec<RowAt>,
    /// Tag names in use, each once: `names[i]` is a range of `name_text`.
    name_text: String,
    names: Vec<Range<usize>>,
    /// Per row, `rows[r].tags` is a range of this: indices into `names`.
    links: Vec<u32>,
}

/// One row: where its strings are in `Listing::text`, and its numbers.
#[derive(Debug, Clone)]
struct RowAt {
    id: Range<usize>,
    kind: Range<usize>,
    content: Option<Range<usize>>,
    metadata: Option<Range<usize>>,
    sync_id: Range<usize>,
    created_at: i64,
    updated_at: i64,
    deleted_at: i64,
    version: i64,
    edited_at: i64,
    tags: Range<usize>,
}

/// One item of a [`Listing`], borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct ItemView<'a> {
    page: &'a Listing,
    row: &'a RowAt,
}

impl<'a> ItemView<'a> {
    pub fn id(&self) -> &'a str {
        &self.page.text[self.row.id.clone()]
    }
    pub fn kind(&self) -> &'a str {
        &self.page.text[self.row.kind.clone()]
    }
    pub fn content(&self) -> Option<&'a str> {
        self.row.content.clone().map(|r| &self.page.text[r])
    }
    /// The stored JSON text, `None` when absent or empty.
    pub fn metadata(&self) -> Option<&'a str> {
        self.row.metadata.clone().map(|r| &self.page.text[r])
    }
    pub fn sync_id(&self) -> &'a str {
        &self.page.text[self.row.sync_id.clone()]
    }
    pub fn created_at(&self) -> i64 {
        self.row.created_at
    }
    pub fn updated_at(&self) -> i64 {
        self.row.updated_at
    }
    pub fn deleted_at(&self) -> i64 {
        self.row.deleted_at
    }
    pub fn version(&self) -> i64 {
        self.row.version
    }
    pub fn edited_at(&self) -> i64 {
        self.row.edited_at
    }
    /// Tag names in link order.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let page = self.page;
        page.links[self.row.tags.clone()]
            .iter()
            .map(move |&n| &page.name_text[page.names[n as usize].clone()])
    }
}

/// Reads column `i` as text exactly as `Row::get::<String>` accepts it;
/// anything else fails as that call would (and answers 500).
fn text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    if let ValueRef::Text(t) = r.get_ref(i)? {
        if let Ok(s) = std::str::from_utf8(t) {
            return Ok(s);
        }
    }
    r.get::<_, String>(i)
        .and(Err(rusqlite::Error::InvalidColumnType(
            i,
            String::new(),
            rusqlite::types::Type::Text,
        )))
}

/// `Option<String>` of column `i`, as `Row::get` reads it.
fn opt_text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    match r.get_ref(i)? {
        ValueRef::Null => Ok(None),
        _ => text(r, i).map(Some),
    }
}

/// `i64` of column `i`, as `Row::get` reads it.
fn int(r: &Row<'_>, i: usize) -> rusqlite::Result<i64> {
    match r.get_ref(i)? {
        ValueRef::Integer(v) => Ok(v),
        _ => r.get(i),
    }
}

impl Listing {
    /// Runs `sql` (which selects [`COLS`]) and keeps at most `limit` rows;
    /// says whether more rows followed them. Tags are not attached yet.
    pub fn query(
        conn: &Connection,
        sql: &str,
        params: impl rusqlite::Params,
        limit: Option<usize>,
    ) -> rusqlite::Result<(Self, bool)> {
        let mut page = Self::default();
        let mut st = conn.prepare_cached(sql)?;
        let mut rows = st.query(params)?;
        while let Some(r) = rows.next()? {
            if limit.is_some_and(|l| page.rows.len() == l) {
                return Ok((page, true));
            }
            page.push(r)?;
        }
        Ok((page, false))
    }

    fn push(&mut self, r: &Row<'_>) -> rusqlite::Result<()> {
        let row = self.read(r, 0)?;
        self.rows.push(row);
        Ok(())
    }

    /// Copies the row's text into `self.text`; [`COLS`] start at column `at`.
    fn read(&mut self, r: &Row<'_>, at: usize) -> rusqlite::Result<RowAt> {
        let mut put = |s: &str| {
            let start = self.text.len();
            self.text.push_str(s);
            start..self.text.len()
        };
        let id = put(text(r, at)?);
        let kind = put(text(r, at + 1)?);
        let content = opt_text(r, at + 2)?.map(&mut put);
        let metadata = opt_text(r, at + 3)?.filter(|m| !m.is_empty()).map(&mut put);
        let sync_id = put(text(r, at + 4)?);
        Ok(RowAt {
            id,
            kind,
            content,
            metadata,
            sync_id,
            created_at: int(r, at + 5)?,
            updated_at: int(r, at + 6)?,
            deleted_at: int(r, at + 7)?,
            version: int(r, at + 8)?,
            edited_at: int(r, at + 9)?,
            tags: 0..0,
        })
    }

    /// The whole answer of an index-ordered query without reading the
    /// table in index order: `order_sql` selects the rowids in answer
    /// order (from the index alone, about 40 ns a row), `rows_sql` the same
    /// rows as `rowid, COLS` in table order (no seek per row), and each
    /// row is put in its place. For a full list this is a fifth cheaper
    /// than one ordered query, whose every row was a b-tree seek from the
    /// index into the table. Both run in the caller's transaction, so on
    /// one snapshot; should the two ever disagree, `fallback_sql` (the
    /// ordered query) answers instead.
    pub fn query_in_index_order(
        conn: &Connection,
        order_sql: &str,
        rows_sql: &str,
        fallback_sql: &str,
        params: impl rusqlite::Params + Copy,
    ) -> rusqlite::Result<Self> {
        let order: Vec<i64> = conn
            .prepare_cached(order_sql)?
            .query_map(params, |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let place = Places::new(&order);
        let mut page = Self::default();
        let mut slots: Vec<Option<RowAt>> = vec![None; order.len()];
        let mut consistent = true;
        {
            let mut st = conn.prepare_cached(rows_sql)?;
            let mut rows = st.query(params)?;
            while let Some(r) = rows.next()? {
                let slot = int(r, 0)
                    .ok()
                    .and_then(|rowid| place.get(rowid))
                    .and_then(|i| slots.get_mut(i));
                match slot {
                    Some(slot) if slot.is_none() => *slot = Some(page.read(r, 1)?),
                    _ => {
                        consistent = false;
                        break;
                    }
                }
            }
        }
        page.rows = slots.into_iter().map_while(|s| s).collect();
        if !consistent || page.rows.len() != order.len() {
            return Ok(Self::query(conn, fallback_sql, params, None)?.0);
        }
        Ok(page)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = ItemView<'_>> {
        self.rows.iter().map(|row| ItemView { page: self, row })
    }

    pub fn last(&self) -> Option<ItemView<'_>> {
        self.rows.last().map(|row| ItemView { page: self, row })
    }

    /// Bytes of row text, a floor for the size of the answer.
    pub fn text_len(&self) -> usize {
        self.text.len() + self.name_text.len()
    }

    /// Owned items, for callers that keep them (the legacy lists, images).
    pub fn into_items(self) -> Vec<Item> {
        self.iter()
            .map(|v| Item {
                id: v.id().to_string(),
                kind: v.kind().to_string(),
                content: v.content().map(str::to_string),
                metadata: v.metadata().map(str::to_string),
                sync_id: v.sync_id().to_string(),
                created_at: v.created_at(),
                updated_at: v.updated_at(),
                deleted_at: v.deleted_at(),
                version: v.version(),
                edited_at: v.edited_at(),
                tags: v.tags().map(str::to_string).collect(),
            })
            .collect()
    }

    /// Attaches every row's tags (see the module doc for how).
    pub fn attach_tags(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        match self.rows.len() {
            0 => Ok(()),
            // One item: its own links, names joined in SQL (`GET` of a
            // single-item page reads no other tag).
            1 => self.attach_one(conn),
            n => {
                // The number of links, about: the last rowid is one seek,
                // where COUNT(*) walks the whole index (on 40,000 links, a
                // tenth of an incremental pull's instructions). Links
                // deleted since only make it high.
                let links: i64 = conn
                    .prepare_cached("SELECT COALESCE(MAX(rowid), 0) FROM item_tags")?
                    .query_row([], |r| r.get(0))?;
                // A lookup per item costs about as much as reading sixteen
                // links in a full pass.
                let subset = (n as i64).saturating_mul(16) < links;
                self.attach_many(conn, subset)
            }
        }
    }

    fn attach_one(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let mut st = conn.prepare_cached(
            "SELECT t.name FROM item_tags it JOIN tags t ON t.id = it.tagId
             WHERE it.itemId = ?1 ORDER BY it.rowid",
        )?;
        let id = self.rows[0].id.clone();
        let mut rows = st.query([&self.text[id]])?;
        let start = self.links.len();
        while let Some(r) = rows.next()? {
            let name = text(r, 0)?;
            let at = self.name_text.len();
            self.name_text.push_str(name);
            self.links.push(self.names.len() as u32);
            self.names.push(at..self.name_text.len());
        }
        self.rows[0].tags = start..self.links.len();
        Ok(())
    }

    /// Every tag name is read (as the one-pass list always did, so a tag
    /// row that does not read as text fails the answer either way), then
    /// the links of this page's items, in link order.
    fn attach_many(&mut self, conn: &Connection, subset: bool) -> rusqlite::Result<()> {
        let mut tag_ids = String::new();
        let mut tag_spans: Vec<(Range<usize>, Range<usize>)> = Vec::new();
        {
            let mut st = conn.prepare_cached("SELECT id, name FROM tags")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let (id, name) = (text(r, 0)?, text(r, 1)?);
                let at = tag_ids.len();
                tag_ids.push_str(id);
                let n = self.name_text.len();
                self.name_text.push_str(name);
                tag_spans.push((at..tag_ids.len(), n..self.name_text.len()));
            }
        }
        // Tag id -> name index; a later row with the same id wins, as in a
        // map filled in table order.
        let base_name = self.names.len() as u32;
        let tag_of = StrIndex::new(
            tag_spans
                .iter()
                .map(|(id, _)| &tag_ids[id.clone()])
                .collect(),
        );
        self.names
            .extend(tag_spans.into_iter().map(|(_, name)| name));
        // (row, name) in link order; grouped by row below.
        let mut found: Vec<(u32, u32)> = Vec::new();
        if subset {
            // Each item's links from the primary key's index (itemId,
            // tagId, rowid): no table read, no sort in SQLite (a lookup of
            // every id at once through json_each, as before, cost twice as
            // much: a temporary table for the ids and a sorter for rowid).
            let mut st =
                conn.prepare_cached("SELECT rowid, tagId FROM item_tags WHERE itemId = ?1")?;
            let mut mine: Vec<(i64, u32)> = Vec::new();
            for (slot, row) in self.rows.iter().enumerate() {
                mine.clear();
                let mut rows = st.query([&self.text[row.id.clone()]])?;
                while let Some(r) = rows.next()? {
                    let tag = r.get_ref(1)?.as_str().unwrap_or_default();
                    if let Some(name) = tag_of.get(tag) {
                        mine.push((r.get(0)?, base_name + name));
                    }
                }
                mine.sort_unstable_by_key(|&(rowid, _)| rowid);
                found.extend(mine.iter().map(|&(_, name)| (slot as u32, name)));
            }
        } else {
            let slot_of =
                StrIndex::new(self.rows.iter().map(|r| &self.text[r.id.clone()]).collect());
            let mut st =
                conn.prepare_cached("SELECT itemId, tagId FROM item_tags ORDER BY rowid")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let item = r.get_ref(0)?.as_str().unwrap_or_default();
                let Some(slot) = slot_of.get(item) else {
                    continue;
                };
                let tag = r.get_ref(1)?.as_str().unwrap_or_default();
                if let Some(name) = tag_of.get(tag) {
                    found.push((slot, base_name + name));
                }
            }
        }
        // Counting sort by row, stable, so each row keeps link order.
        let mut count = vec![0usize; self.rows.len() + 1];
        for &(slot, _) in &found {
            count[slot as usize + 1] += 1;
        }
        for i in 1..count.len() {
            count[i] += count[i - 1];
        }
        let base = self.links.len();
        self.links.resize(base + found.len(), 0);
        let mut next = count.clone();
        for (slot, name) in found {
            let at = &mut next[slot as usize];
            self.links[base + *at] = name;
            *at += 1;
        }
        for (i, row) in self.rows.iter_mut().enumerate() {
            row.tags = base + count[i]..base + count[i + 1];
        }
        Ok(())
    }
}

/// Rowid -> place in the answer: a table when the rowids are dense (they
/// mostly are: SQLite hands them out in order), else a map.
enum Places {
    Dense { first: i64, at: Vec<u32> },
    Sparse(HashMap<i64, u32>),
}

impl Places {
    fn new(order: &[i64]) -> Self {
        let (lo, hi) = order
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let span = hi.checked_sub(lo).and_then(|s| usize::try_from(s).ok());
        match span {
            Some(span) if span < order.len().saturating_mul(4) + 1024 => {
                let mut at = vec![u32::MAX; span + 1];
                for (i, &r) in order.iter().enumerate() {
                    at[(r - lo) as usize] = i as u32;
                }
                Places::Dense { first: lo, at }
            }
            _ => Places::Sparse(
                order
                    .iter()
                    .enumerate()
                    .map(|(i, &r)| (r, i as u32))
                    .collect(),
            ),
        }
    }

    fn get(&self, rowid: i64) -> Option<usize> {
        let i = match self {
            Places::Dense { first, at } => {
                let off = usize::try_from(rowid.checked_sub(*first)?).ok()?;
                *at.get(off)?
            }
            Places::Sparse(m) => *m.get(&rowid)?,
        };
        (i != u32::MAX).then_some(i as usize)
    }
}

/// Strings to indices, for the ids of one answer. Each key is hashed once
/// into 64 bits and the map holds only the hash (a hit is checked against
/// the string); std's `HashMap<&str, _>` with SipHash took a sixth of a
/// 5,000-item list, hashing and comparing 36-byte UUIDs. Should two
/// different keys ever share a hash, the index falls back to a map keyed
/// by the strings themselves. A key given twice keeps its last index, as
/// a map filled in order does.
struct StrIndex<'a> {
    keys: Vec<&'a str>,
    by_hash: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    by_key: Option<HashMap<&'a str, u32>>,
}

impl<'a> StrIndex<'a> {
    fn new(keys: Vec<&'a str>) -> Self {
        let mut by_hash: HashMap<u64, u32, _> = HashMap::default();
        by_hash.reserve(keys.len());
        let mut clash = false;
        for (i, k) in keys.iter().enumerate() {
            if let Some(old) = by_hash.insert(hash_str(k), i as u32) {
                clash |= keys[old as usize] != *k;
            }
        }
        let by_key = clash.then(|| {
            keys.iter()
                .enumerate()
                .map(|(i, k)| (*k, i as u32))
                .collect()
        });
        Self {
            keys,
            by_hash,
            by_key,
        }
    }

    fn get(&self, k: &str) -> Option<u32> {
        if let Some(m) = &self.by_key {
            return m.get(k).copied();
        }
        let i = *self.by_hash.get(&hash_str(k))?;
        (self.keys[i as usize] == k).then_some(i)
    }
}

/// A 64-bit hash of a string: FxHash's multiply and rotate per 8 bytes,
/// then MurmurHash3's finisher so that the low bits (hashbrown's bucket)
/// depend on every byte. Keys are ids the server wrote, and a map lives
/// for one answer, so flooding it is not a concern.
#[inline]
fn hash_str(s: &str) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let bytes = s.as_bytes();
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hasher of a map whose keys already are hashes.
#[derive(Default, Clone, Copy)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; anything else still hashes.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    #[inline]
    fn write_u64(&mut self, h: u64) {
        self.0 = h;
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        crate::store::schema::ensure(&c, |_| Ok(())).unwrap();
        c
    }

    fn all(c: &Connection, subset: bool) -> Vec<(String, Vec<String>)> {
        let (mut page, more) = Listing::query(
            c,
            &format!("SELECT {COLS} FROM items ORDER BY id"),
            [],
            None,
        )
        .unwrap();
        assert!(!more);
        if page.len() == 1 {
            page.attach_one(c).unwrap();
        } else {
            page.attach_many(c, subset).unwrap();
        }
        page.iter()
            .map(|v| (v.id().to_string(), v.tags().map(str::to_string).collect()))
            .collect()
    }

    /// Both ways of reading the links give every item its tags in link
    /// order, skip links to missing tags, and leave untagged items empty.
    #[test]
    fn both_tag_passes_agree_and_keep_link_order() {
        let c = db();
        c.execute_batch(
            "INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES
               ('a', 'url', 'u', 1, 1), ('b', 'url', 'v', 2, 2), ('c', 'text', 't', 3, 3);
             INSERT INTO tags (id, name, lastUsed, createdAt, updatedAt) VALUES
               ('t1', 'zeta', 0, 0, 0), ('t2', 'alpha', 0, 0, 0), ('t3', 'mid', 0, 0, 0);
             INSERT INTO item_tags (itemId, tagId, createdAt) VALUES
               ('b', 't3', 0), ('a', 't1', 0), ('b', 't1', 0), ('a', 'gone', 0),
               ('a', 't2', 0), ('x', 't2', 0);",
        )
        .unwrap();
        let want = vec![
            (
                "a".to_string(),
                vec!["zeta".to_string(), "alpha".to_string()],
            ),
            ("b".to_string(), vec!["mid".to_string(), "zeta".to_string()]),
            ("c".to_string(), vec![]),
        ];
        assert_eq!(all(&c, true), want);
        assert_eq!(all(&c, false), want);
    }

    fn ids(page: &Listing) -> Vec<String> {
        page.iter().map(|v| v.id().to_string()).collect()
    }

    const ORDER: &str = "SELECT rowid FROM items ORDER BY createdAt DESC, id DESC";

    fn ordered(c: &Connection) -> Vec<String> {
        let sql = format!("SELECT {COLS} FROM items ORDER BY createdAt DESC, id DESC");
        ids(&Listing::query(c, &sql, [], None).unwrap().0)
    }

    /// Rows put in index order from a table scan come out as the ordered
    /// query returns them: ties on `createdAt` by id, dense rowids and
    /// rowids far apart alike.
    #[test]
    fn rows_read_in_table_order_are_put_in_index_order() {
        let c = db();
        for (n, rowid) in [(0, 1i64), (1, 2), (2, 3), (3, 9), (4, 5), (5, 4)] {
            c.execute(
                "INSERT INTO items (rowid, id, type, content, createdAt, updatedAt)
                 VALUES (?1, ?2, 'url', 'u', ?3, 1)",
                rusqlite::params![rowid, format!("i{}", (n * 7) % 6), 10 - n / 2],
            )
            .unwrap();
        }
        let rows = format!("SELECT rowid, {COLS} FROM items");
        let fallback = format!("SELECT {COLS} FROM items ORDER BY createdAt DESC, id DESC");
        let page = Listing::query_in_index_order(&c, ORDER, &rows, &fallback, []).unwrap();
        assert_eq!(ids(&page), ordered(&c));
        assert_eq!(page.len(), 6);
        // Far apart: the map instead of the table.
        c.execute(
            "INSERT INTO items (rowid, id, type, content, createdAt, updatedAt)
             VALUES (1000000000, 'far', 'url', 'u', 7, 1)",
            [],
        )
        .unwrap();
        let page = Listing::query_in_index_order(&c, ORDER, &rows, &fallback, []).unwrap();
        assert_eq!(ids(&page), ordered(&c));
        assert_eq!(page.len(), 7);
    }

    /// Should the scan return a row the order does not have (or miss
    /// one), the ordered query answers.
    #[test]
    fn rows_that_do_not_match_the_order_fall_back_to_the_ordered_query() {
        let c = db();
        c.execute_batch(
            "INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES
               ('a', 'url', 'u', 1, 1), ('b', 'url', 'v', 2, 2), ('c', 'url', 'w', 3, 3);",
        )
        .unwrap();
        let fallback = format!("SELECT {COLS} FROM items ORDER BY createdAt DESC, id DESC");
        let short = "SELECT rowid FROM items WHERE id <> 'b' ORDER BY createdAt DESC, id DESC";
        let rows = format!("SELECT rowid, {COLS} FROM items");
        let page = Listing::query_in_index_order(&c, short, &rows, &fallback, []).unwrap();
        assert_eq!(ids(&page), ["c", "b", "a"]);
        let fewer = format!("SELECT rowid, {COLS} FROM items WHERE id <> 'a'");
        let page = Listing::query_in_index_order(&c, ORDER, &fewer, &fallback, []).unwrap();
        assert_eq!(ids(&page), ["c", "b", "a"]);
    }

    #[test]
    fn an_index_finds_each_key_and_only_those() {
        let keys = ["a", "bb", "", "2f1c6f7e-0000-4000-8000-000000000000", "bb"];
        let idx = StrIndex::new(keys.to_vec());
        assert_eq!(idx.get("a"), Some(0));
        assert_eq!(
            idx.get("bb"),
            Some(4),
            "a repeated key keeps its last index"
        );
        assert_eq!(idx.get(""), Some(2));
        assert_eq!(idx.get("2f1c6f7e-0000-4000-8000-000000000000"), Some(3));
        assert_eq!(idx.get("2f1c6f7e-0000-4000-8000-000000000001"), None);
        assert_eq!(idx.get("b"), None);
        assert!(idx.by_key.is_none());
    }

    #[test]
    fn a_limit_keeps_that_many_rows_and_says_more_follow() {
        let c = db();
        c.execute_batch(
            "INSERT INTO items (id, type, content, metadata, createdAt, updatedAt) VALUES
               ('a', 'url', 'u', '', 1, 1), ('b', 'url', NULL, '{}', 2, 2);",
        )
        .unwrap();
        let sql = format!("SELECT {COLS} FROM items ORDER BY id");
        let (page, more) = Listing::query(&c, &sql, [], Some(1)).unwrap();
        assert_eq!((page.len(), more), (1, true));
        let (page, more) = Listing::query(&c, &sql, [], Some(2)).unwrap();
        assert_eq!((page.len(), more), (2, false));
        let items = page.into_items();
        assert_eq!(items[0].metadata, None, "empty metadata reads as none");
        assert_eq!(items[1].content, None);
        assert_eq!(items[1].metadata.as_deref(), Some("{}"));
    }

    #[test]
    fn a_row_that_is_not_text_fails_like_a_string_read() {
        let c = db();
        c.execute_batch(
            "INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES
               ('a', 'url', X'FF00', 1, 1);",
        )
        .unwrap();
        let sql = format!("SELECT {COLS} FROM items");
        assert!(Listing::query(&c, &sql, [], None).is_err());
    }
}
