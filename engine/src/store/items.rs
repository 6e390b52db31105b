//! Local item operations (add, update, soft delete, tag, untag) and reads.
//! Every local edit bumps `localRev` in the same transaction, which is
//! what makes the item pending for every server (guarantee 1).

use protocol::clock::IdSource;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::Store;
use crate::error::{Error, Result};
use crate::model::{ItemType, LocalItem};

/// A new local item.
#[derive(Debug, Clone, Default)]
pub struct NewItem {
    pub kind: Option<ItemType>,
    pub content: Option<String>,
    pub metadata: Option<String>,
    pub tags: Vec<String>,
    /// Image bytes (`content` is then the file name, as on the server).
    pub blob: Option<Vec<u8>>,
}

/// Largest image a device adds: the server refuses more than 10 MiB of
/// decoded bytes (`server/src/store/images.rs`, `MAX_IMAGE_BYTES`, as the
/// Node server did), and an image it refuses would stay pending forever.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// The image types the server stores under their own extension, by their
/// first bytes; SVG (text) by its name.
fn sniff_image(bytes: &[u8], name: &str) -> Option<&'static str> {
    let starts = |m: &[u8]| bytes.starts_with(m);
    let mime = if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else if starts(b"BM") {
        "image/bmp"
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        "image/tiff"
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        match &bytes[8..12] {
            b"heic" | b"heix" | b"heim" | b"heis" => "image/heic",
            b"mif1" | b"msf1" => "image/heif",
            _ => return None,
        }
    } else if name.to_ascii_lowercase().ends_with(".svg") {
        "image/svg+xml"
    } else {
        return None;
    };
    Some(mime)
}

impl NewItem {
    /// An image item from a file's name and bytes: `content` is the file
    /// name and the MIME type goes in `metadata` (what the push sends, as
    /// the apps do). Refused when the bytes are not an image the server
    /// takes (png, jpeg, gif, webp, bmp, tiff, heic/heif, svg) or larger
    /// than [`MAX_IMAGE_BYTES`].
    pub fn image(file_name: &str, bytes: Vec<u8>, tags: Vec<String>) -> Result<Self> {
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(Error::Invalid(format!(
                "{file_name} is {} bytes; the server takes images up to {} bytes (10 MiB)",
                bytes.len(),
                MAX_IMAGE_BYTES
            )));
        }
        if bytes.is_empty() {
            return Err(Error::Invalid(format!("{file_name} is empty")));
        }
        let mime = sniff_image(&bytes, file_name).ok_or_else(|| {
            Error::Invalid(format!(
                "{file_name} is not an image the server takes (png, jpeg, gif, webp, bmp, tiff, heic, svg)"
            ))
        })?;
        Ok(Self {
            kind: Some(ItemType::Image),
            content: Some(file_name.to_string()),
            metadata: Some(serde_json::json!({ "mime": mime, "size": bytes.len() }).to_string()),
            tags,
            blob: Some(bytes),
        })
    }
}

/// What [`Store::soft_delete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The item was live and is now a tombstone (pending for every server).
    Now,
    /// It already was a tombstone; nothing changed.
    Already,
}

/// A local edit; `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub content: Option<String>,
    pub metadata: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
}

pub(crate) const COLS: &str = "id, type, content, metadata, syncId, syncSource, syncedAt, createdAt, updatedAt, deletedAt, localRev";

pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<LocalItem> {
    let kind: String = r.get(1)?;
    Ok(LocalItem {
        id: r.get(0)?,
        kind: ItemType::parse_lenient(&kind).unwrap_or(ItemType::Text),
        content: r.get(2)?,
        metadata: r.get(3)?,
        tags: Vec::new(),
        sync_id: r.get(4)?,
        sync_source: r.get(5)?,
        synced_at: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        deleted_at: r.get(9)?,
        local_rev: r.get(10)?,
    })
}

/// Tag names: trimmed, empty ones dropped, sorted, unique. Case is kept:
/// the server's names are case-sensitive (D21).
pub fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut t: Vec<String> = tags
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    t.sort();
    t.dedup();
    t
}

pub fn tags_of(conn: &Connection, item_id: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare_cached(
        "SELECT t.name FROM item_tags it JOIN tags t ON t.id = it.tagId WHERE it.itemId = ?1 ORDER BY t.name",
    )?;
    let rows = st.query_map([item_id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<LocalItem>> {
    let row = conn
        .prepare_cached(&format!("SELECT {COLS} FROM items WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?;
    with_tags(conn, row)
}

/// A row read without its tags (`from_row`), completed with them.
pub(crate) fn with_tags(conn: &Connection, row: Option<LocalItem>) -> Result<Option<LocalItem>> {
    match row {
        Some(mut it) => {
            it.tags = tags_of(conn, &it.id)?;
            Ok(Some(it))
        }
        None => Ok(None),
    }
}

fn tag_id(conn: &Connection, ids: &dyn IdSource, name: &str, now: i64) -> Result<String> {
    let found: Option<(String, i64)> = conn
        .prepare_cached("SELECT id, frequency FROM tags WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, freq)) = found {
        conn.prepare_cached(
            "UPDATE tags SET frequency = ?2, lastUsed = ?3, updatedAt = ?3, frecencyScore = ?4 WHERE id = ?1",
        )?
        .execute(params![id, freq + 1, now, (freq + 1) as f64 * 10.0])?;
        return Ok(id);
    }
    let id = ids.uuid();
    conn.prepare_cached(
        "INSERT INTO tags (id, name, frequency, lastUsed, frecencyScore, createdAt, updatedAt) VALUES (?1, ?2, 1, ?3, 10, ?3, ?3)",
    )?
    .execute(params![id, name, now])?;
    Ok(id)
}

/// Replaces the tags of `item_id`; `false` when they were already equal.
pub fn set_tags(
    conn: &Connection,
    ids: &dyn IdSource,
    item_id: &str,
    tags: &[String],
    now: i64,
) -> Result<bool> {
    let want = normalize_tags(tags);
    if tags_of(conn, item_id)? == want {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM item_tags WHERE itemId = ?1")?
        .execute([item_id])?;
    for name in &want {
        let tid = tag_id(conn, ids, name, now)?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO item_tags (itemId, tagId, createdAt) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![item_id, tid, now])?;
    }
    Ok(true)
}

/// Inserts a row exactly as given (pulls and local adds share this).
pub fn insert(conn: &Connection, ids: &dyn IdSource, it: &LocalItem) -> Result<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO items ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        it.id,
        it.kind.as_str(),
        it.content,
        it.metadata,
        it.sync_id,
        it.sync_source,
        it.synced_at,
        it.created_at,
        it.updated_at,
        it.deleted_at,
        it.local_rev
    ])?;
    set_tags(conn, ids, &it.id, &it.tags, it.updated_at)?;
    Ok(())
}

fn validate(kind: ItemType, content: Option<&str>, tags: &[String]) -> Result<()> {
    let empty = content.is_none_or(str::is_empty);
    match kind {
        ItemType::Url | ItemType::Text | ItemType::Image if empty => Err(Error::Invalid(format!(
            "{} items need content",
            kind.as_str()
        ))),
        ItemType::Tagset if normalize_tags(tags).is_empty() => {
            Err(Error::Invalid("tagset items need at least one tag".into()))
        }
        _ => Ok(()),
    }
}

fn bump(conn: &Connection, id: &str, now: i64) -> Result<()> {
    // Edit times of one item only move forward, even if the device clock
    // jumps back: the item's own edits must never compete as "older".
    conn.prepare_cached(
        "UPDATE items SET updatedAt = MAX(?2, updatedAt + 1), localRev = localRev + 1 WHERE id = ?1",
    )?
        .execute(params![id, now])?;
    Ok(())
}

fn live(conn: &Connection, id: &str) -> Result<LocalItem> {
    get(conn, id)?
        .filter(LocalItem::is_live)
        .ok_or_else(|| Error::NoSuchItem(id.to_string()))
}

impl Store {
    /// Adds a local item and returns its local id (a UUID from `ids`).
    pub fn add_item(&mut self, ids: &dyn IdSource, now: i64, new: NewItem) -> Result<String> {
        let kind = new
            .kind
            .ok_or_else(|| Error::Invalid("type is required".into()))?;
        validate(kind, new.content.as_deref(), &new.tags)?;
        let id = ids.uuid();
        let item = LocalItem {
            id: id.clone(),
            kind,
            content: new.content,
            metadata: new.metadata,
            tags: new.tags,
            sync_id: String::new(),
            sync_source: String::new(),
            synced_at: 0,
            created_at: now,
            updated_at: now,
            deleted_at: 0,
            local_rev: 1,
        };
        self.tx(|tx| {
            insert(tx, ids, &item)?;
            if let Some(b) = &new.blob {
                tx.execute(
                    "INSERT INTO blobs (itemId, data) VALUES (?1, ?2)",
                    params![id, b],
                )?;
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Edits a live item. Unchanged values do not make it pending.
    pub fn update_item(
        &mut self,
        ids: &dyn IdSource,
        now: i64,
        id: &str,
        edit: Edit,
    ) -> Result<bool> {
        let tags_mark = self.tag_edits_mark_changed;
        self.tx(|tx| {
            let cur = live(tx, id)?;
            let content = edit.content.clone().or(cur.content.clone());
            let metadata = edit.metadata.clone().unwrap_or(cur.metadata.clone());
            let tags = edit.tags.clone().unwrap_or(cur.tags.clone());
            validate(cur.kind, content.as_deref(), &tags)?;
            let changed = content != cur.content || metadata != cur.metadata;
            if changed {
                tx.execute(
                    "UPDATE items SET content = ?2, metadata = ?3 WHERE id = ?1",
                    params![id, content, metadata],
                )?;
            }
            let retagged = set_tags(tx, ids, id, &tags, now)?;
            if changed || (retagged && tags_mark) {
                bump(tx, id, now)?;
            }
            Ok(changed || retagged)
        })
    }

    /// Soft delete: a tombstone that is pushed like any edit (D4). An
    /// item that is already a tombstone is [`Error::NoSuchItem`], as for
    /// any edit of one; [`Store::soft_delete`] tells the two apart.
    pub fn delete_item(&mut self, now: i64, id: &str) -> Result<()> {
        match self.soft_delete(now, id)? {
            Deleted::Now => Ok(()),
            Deleted::Already => Err(Error::NoSuchItem(id.to_string())),
        }
    }

    /// [`Store::delete_item`] that treats deleting a tombstone as done
    /// ([`Deleted::Already`], nothing written) rather than an error: the
    /// CLI's `delete` is idempotent, and an unknown id is still
    /// [`Error::NoSuchItem`].
    pub fn soft_delete(&mut self, now: i64, id: &str) -> Result<Deleted> {
        self.tx(|tx| {
            let it = get(tx, id)?.ok_or_else(|| Error::NoSuchItem(id.to_string()))?;
            if !it.is_live() {
                return Ok(Deleted::Already);
            }
            tx.execute(
                "UPDATE items SET deletedAt = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            bump(tx, id, now)?;
            Ok(Deleted::Now)
        })
    }

    pub fn tag_item(&mut self, ids: &dyn IdSource, now: i64, id: &str, tag: &str) -> Result<bool> {
        let mut tags = self
            .item(id)?
            .ok_or_else(|| Error::NoSuchItem(id.into()))?
            .tags;
        tags.push(tag.to_string());
        self.update_item(
            ids,
            now,
            id,
            Edit {
                tags: Some(tags),
                ..Edit::default()
            },
        )
    }

    pub fn untag_item(
        &mut self,
        ids: &dyn IdSource,
        now: i64,
        id: &str,
        tag: &str,
    ) -> Result<bool> {
        let mut tags = self
            .item(id)?
            .ok_or_else(|| Error::NoSuchItem(id.into()))?
            .tags;
        tags.retain(|t| t != tag.trim());
        self.update_item(
            ids,
            now,
            id,
            Edit {
                tags: Some(tags),
                ..Edit::default()
            },
        )
    }

    pub fn item(&self, id: &str) -> Result<Option<LocalItem>> {
        get(&self.conn, id)
    }

    /// All items in creation order (ties by id), tombstones on request.
    pub fn items(&self, include_deleted: bool) -> Result<Vec<LocalItem>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM items WHERE ?1 OR deletedAt = 0 ORDER BY createdAt, id"
        ))?;
        let rows = st.query_map([include_deleted], from_row)?;
        let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        // Every item's tags in one pass rather than one query per item.
        let mut tags: std::collections::BTreeMap<String, Vec<String>> =
            std::collections::BTreeMap::new();
        let mut st = self.conn.prepare_cached(
            "SELECT it.itemId, t.name FROM item_tags it JOIN tags t ON t.id = it.tagId ORDER BY it.itemId, t.name",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (item, name) = row?;
            tags.entry(item).or_default().push(name);
        }
        for it in &mut out {
            it.tags = tags.remove(&it.id).unwrap_or_default();
        }
        Ok(out)
    }

    /// The ids of live items in creation order (ties by id): the order of
    /// `items(false)`, without loading them.
    pub fn live_ids(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id FROM items WHERE deletedAt = 0 ORDER BY createdAt, id")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn blob(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row("SELECT data FROM blobs WHERE itemId = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::clock::SeededIds;

    #[test]
    fn edits_bump_the_revision_only_when_something_changes() {
        let mut s = Store::open_in_memory().unwrap();
        let ids = SeededIds::new(1);
        let id = s
            .add_item(
                &ids,
                10,
                NewItem {
                    kind: Some(ItemType::Url),
                    content: Some("u".into()),
                    tags: vec![" b ".into(), "a".into()],
                    ..NewItem::default()
                },
            )
            .unwrap();
        assert_eq!(s.item(&id).unwrap().unwrap().tags, vec!["a", "b"]);
        assert!(!s
            .update_item(
                &ids,
                11,
                &id,
                Edit {
                    content: Some("u".into()),
                    ..Edit::default()
                }
            )
            .unwrap());
        assert_eq!(s.item(&id).unwrap().unwrap().local_rev, 1);
        assert!(s.tag_item(&ids, 12, &id, "c").unwrap());
        s.delete_item(13, &id).unwrap();
        let it = s.item(&id).unwrap().unwrap();
        assert_eq!((it.local_rev, it.deleted_at, it.updated_at), (3, 13, 13));
        assert!(
            s.delete_item(14, &id).is_err(),
            "a tombstone is not deleted twice"
        );
        assert_eq!(s.items(false).unwrap().len(), 0);
        assert_eq!(s.items(true).unwrap().len(), 1);
    }

    #[test]
    fn deleting_a_tombstone_is_told_apart_from_an_unknown_id() {
        let mut s = Store::open_in_memory().unwrap();
        let ids = SeededIds::new(1);
        let id = s
            .add_item(
                &ids,
                10,
                NewItem {
                    kind: Some(ItemType::Text),
                    content: Some("t".into()),
                    ..NewItem::default()
                },
            )
            .unwrap();
        assert_eq!(s.soft_delete(11, &id).unwrap(), Deleted::Now);
        assert_eq!(s.soft_delete(12, &id).unwrap(), Deleted::Already);
        let it = s.item(&id).unwrap().unwrap();
        assert_eq!(
            (it.deleted_at, it.local_rev),
            (11, 2),
            "a second delete writes nothing"
        );
        assert!(matches!(
            s.soft_delete(13, "nope"),
            Err(Error::NoSuchItem(_))
        ));
        assert!(matches!(s.delete_item(13, &id), Err(Error::NoSuchItem(_))));
    }

    #[test]
    fn images_are_sniffed_and_limited_to_the_servers_size() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        let it = NewItem::image("a.png", png.clone(), vec!["t".into()]).unwrap();
        assert_eq!(it.kind, Some(ItemType::Image));
        assert_eq!(it.content.as_deref(), Some("a.png"));
        let meta: serde_json::Value =
            serde_json::from_str(it.metadata.as_deref().unwrap()).unwrap();
        assert_eq!(meta["mime"], "image/png");
        assert_eq!(it.blob.as_deref(), Some(&png[..]));
        let jpeg = NewItem::image("x", b"\xFF\xD8\xFF\xE0".to_vec(), vec![]).unwrap();
        assert!(jpeg.metadata.unwrap().contains("image/jpeg"));
        let svg = NewItem::image("d.SVG", b"<svg/>".to_vec(), vec![]).unwrap();
        assert!(svg.metadata.unwrap().contains("image/svg+xml"));
        assert!(NewItem::image("n.txt", b"hello".to_vec(), vec![]).is_err());
        assert!(NewItem::image("e.png", Vec::new(), vec![]).is_err());
        let mut big = png.clone();
        big.resize(MAX_IMAGE_BYTES, 0);
        assert!(NewItem::image("max.png", big.clone(), vec![]).is_ok());
        big.push(0);
        let err = NewItem::image("big.png", big, vec![]).unwrap_err();
        assert!(err.to_string().contains("up to 10485760 bytes"), "{err}");
        let mut s = Store::open_in_memory().unwrap();
        let id = s.add_item(&SeededIds::new(1), 1, it).unwrap();
        assert_eq!(s.blob(&id).unwrap(), Some(png));
    }

    #[test]
    fn invalid_items_are_refused() {
        let mut s = Store::open_in_memory().unwrap();
        let ids = SeededIds::new(1);
        assert!(s
            .add_item(
                &ids,
                1,
                NewItem {
                    kind: Some(ItemType::Url),
                    ..NewItem::default()
                }
            )
            .is_err());
        assert!(s
            .add_item(
                &ids,
                1,
                NewItem {
                    kind: Some(ItemType::Tagset),
                    tags: vec![" ".into()],
                    ..NewItem::default()
                }
            )
            .is_err());
    }
}
