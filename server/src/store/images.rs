//! Image items (§1.5, §3.9): bytes in `<profile>/images/<sha256>.<ext>`,
//! one row per upload with `{mime,size,hash,ext}` metadata.
//!
//! Departure (D19): an image pushed through `POST /items` with a sync id
//! that is already known updates that row (tags, tombstone) instead of
//! creating a duplicate on every re-push.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::IdSource;
use crate::store::error::{StoreError, StoreResult};
use crate::store::items::{self, ItemType, ItemWrite, WriteOutcome, WriteStatus};
use crate::store::tags;

/// 10 MiB of decoded bytes (`S:db.js:761`).
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// File extension for a MIME type, as the Node server chose it.
pub fn ext_for_mime(mime: &str) -> &'static str {
    match mime.trim_start_matches("image/") {
        "jpeg" | "jpg" => "jpg",
        "png" => "png",
        "gif" => "gif",
        "webp" => "webp",
        "svg+xml" => "svg",
        "bmp" => "bmp",
        "tiff" => "tiff",
        "heic" => "heic",
        "heif" => "heif",
        _ => "bin",
    }
}

/// An upload to store.
pub struct NewImage<'a> {
    pub bytes: &'a [u8],
    pub filename: &'a str,
    pub mime: &'a str,
    pub tags: &'a [String],
    pub sync_id: Option<&'a str>,
    /// Metadata the client sent along (`POST /items`): kept, with the
    /// image's own keys (`mime`, `size`, `hash`, `ext`) on top. The
    /// deployed server drops it (D19).
    pub client_metadata: Option<&'a str>,
    /// A tombstone pushed before the image was ever synced (D19: the
    /// deployed server stores it live).
    pub deleted_at: Option<i64>,
    /// The client's edit time (conflict extension); `now` when absent.
    pub edited_at: Option<i64>,
}

/// The client's metadata object with the image's own keys laid over it.
fn merged_metadata(client: Option<&str>, image: serde_json::Value) -> String {
    let mut out = client
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .and_then(|v| match v {
            serde_json::Value::Object(o) => Some(o),
            _ => None,
        })
        .unwrap_or_default();
    if let serde_json::Value::Object(img) = image {
        out.extend(img);
    }
    serde_json::Value::Object(out).to_string()
}

/// `GET /images` row.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    pub id: String,
    pub filename: Option<String>,
    pub mime: Option<String>,
    pub size: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub tags: Vec<String>,
}

fn images_dir(profile_dir: &Path) -> PathBuf {
    profile_dir.join("images")
}

/// Writes the file (if absent, atomically) and inserts the row.
pub fn save(
    conn: &Connection,
    ids: &dyn IdSource,
    profile_dir: &Path,
    img: &NewImage<'_>,
    now: i64,
) -> StoreResult<WriteOutcome> {
    if !img.mime.starts_with("image/") {
        return Err(StoreError::invalid("file must be an image"));
    }
    if img.bytes.len() > MAX_IMAGE_BYTES {
        return Err(StoreError::invalid("image exceeds maximum size of 10 MB"));
    }
    let hash = hex::encode(Sha256::digest(img.bytes));
    let ext = ext_for_mime(img.mime);
    let dir = images_dir(profile_dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{hash}.{ext}"));
    if !path.exists() {
        let tmp = dir.join(format!(".{hash}.{ext}.tmp"));
        std::fs::write(&tmp, img.bytes)?;
        std::fs::rename(&tmp, &path)?;
    }
    let metadata = merged_metadata(
        img.client_metadata,
        serde_json::json!({
            "mime": img.mime, "size": img.bytes.len(), "hash": hash, "ext": ext,
        }),
    );
    let w = ItemWrite {
        kind: Some(ItemType::Image),
        content: Some(img.filename.to_string()),
        tags: img.tags.to_vec(),
        metadata: Some(metadata),
        ..ItemWrite::default()
    };
    let id = ids.uuid();
    let v = items::next_version(conn)?;
    conn.execute(
        "INSERT INTO items (id, type, content, metadata, syncId, syncSource, syncedAt, createdAt, updatedAt,
                            deletedAt, changeSeq, editedAt)
         VALUES (?1, 'image', ?2, ?3, ?4, '', 0, ?5, ?5, ?6, ?7, ?8)",
        params![
            id,
            w.content,
            w.metadata,
            img.sync_id.unwrap_or(""),
            now,
            img.deleted_at.unwrap_or(0),
            v,
            img.edited_at.unwrap_or(now)
        ],
    )?;
    tags::replace(conn, ids, &id, &w.tags, now)?;
    Ok(WriteOutcome {
        id,
        kind: "image".into(),
        status: WriteStatus::Created,
        version: v,
    })
}

/// The image fields of a `POST /items` body, decoded.
pub struct ImageUpload<'a> {
    pub data: Option<&'a [u8]>,
    pub filename: Option<&'a str>,
    pub mime: Option<&'a str>,
}

/// `POST /items` with `type: "image"`. A known sync id updates the row it
/// names (tags, tombstone, file name, client metadata) without needing the
/// bytes again: `content` is the file name unless bytes come along, when
/// `filename` is. The bytes and the image's own metadata keys never change.
/// Otherwise the upload rules of §1.4 apply.
pub fn save_from_items(
    conn: &Connection,
    ids: &dyn IdSource,
    profile_dir: &Path,
    w: &ItemWrite,
    up: &ImageUpload<'_>,
    now: i64,
) -> StoreResult<WriteOutcome> {
    if let Some(sid) = w.sync_id.as_deref() {
        if let Some(row) = items::by_sync_id(conn, sid)?.filter(|r| r.kind == "image") {
            // With `filename` the content is the bytes (a re-sent upload);
            // without it, the content is the file name.
            let filename = match up.filename {
                Some(f) => Some(f.to_string()),
                None => w.content.clone(),
            };
            let image_keys = row
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
                .map(|m| {
                    let keys = ["mime", "size", "hash", "ext"];
                    serde_json::Value::Object(
                        m.as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(k, _)| keys.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    )
                })
                .unwrap_or_default();
            let as_update = ItemWrite {
                content: filename.or_else(|| row.content.clone()),
                metadata: match w.metadata.as_deref() {
                    Some(client) => Some(merged_metadata(Some(client), image_keys)),
                    None => row.metadata.clone(),
                },
                ..w.clone()
            };
            return items::save(conn, ids, &as_update, now);
        }
    }
    if up.data.is_none() && w.is_tombstone() {
        // A delete of an image this server never had: kept as a tombstone
        // (no file), so no later push of an older copy can bring it back.
        let tomb = ItemWrite {
            metadata: Some(merged_metadata(
                w.metadata.as_deref(),
                serde_json::json!({}),
            )),
            base_version: None,
            ..w.clone()
        };
        return items::save(conn, ids, &tomb, now);
    }
    let data = up.data.ok_or_else(|| {
        StoreError::invalid("content (base64 image data) is required for type 'image'")
    })?;
    let filename = up
        .filename
        .ok_or_else(|| StoreError::invalid("filename is required for type 'image'"))?;
    let mime = up
        .mime
        .ok_or_else(|| StoreError::invalid("mime type is required for type 'image'"))?;
    if !mime.starts_with("image/") {
        return Err(StoreError::invalid("Invalid MIME type: must be an image"));
    }
    save(
        conn,
        ids,
        profile_dir,
        &NewImage {
            bytes: data,
            filename,
            mime,
            tags: &w.tags,
            sync_id: w.sync_id.as_deref(),
            client_metadata: w.metadata.as_deref(),
            deleted_at: w.deleted_at,
            edited_at: w.edited_at,
        },
        now,
    )
}

fn meta_field<'a>(meta: &'a Option<serde_json::Value>, k: &str) -> Option<&'a serde_json::Value> {
    meta.as_ref().and_then(|m| m.get(k))
}

/// Live images, newest first.
pub fn list(conn: &Connection) -> StoreResult<Vec<ImageInfo>> {
    let (items, _) = items::list(
        conn,
        &items::ListQuery {
            kind: Some(ItemType::Image),
            ..Default::default()
        },
    )?;
    Ok(items
        .into_iter()
        .map(|i| {
            let meta: Option<serde_json::Value> = i
                .metadata
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok());
            ImageInfo {
                filename: i.content.clone(),
                mime: meta_field(&meta, "mime")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                size: meta_field(&meta, "size").and_then(serde_json::Value::as_i64),
                id: i.id,
                created_at: i.created_at,
                updated_at: i.updated_at,
                tags: i.tags,
            }
        })
        .collect())
}

/// A stored image's bytes and headers, for `GET /images/:id`.
pub struct ImageFile {
    pub bytes: Vec<u8>,
    pub mime: String,
    pub filename: String,
}

pub fn read(conn: &Connection, profile_dir: &Path, id: &str) -> StoreResult<ImageFile> {
    let item = items::live_by_id(conn, id)?
        .filter(|i| i.kind == "image")
        .ok_or_else(|| StoreError::not_found("image not found"))?;
    let meta: Option<serde_json::Value> = item
        .metadata
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok());
    let hash = meta_field(&meta, "hash")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let ext = meta_field(&meta, "ext")
        .and_then(|v| v.as_str())
        .unwrap_or("bin");
    let mime = meta_field(&meta, "mime")
        .and_then(|v| v.as_str())
        .unwrap_or("application/octet-stream");
    // The name comes from our own metadata, but check it anyway: a hex hash
    // and a known extension cannot name anything outside images/.
    let safe = !hash.is_empty()
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric());
    if !safe {
        return Err(StoreError::not_found("image file not found"));
    }
    let path = images_dir(profile_dir).join(format!("{hash}.{ext}"));
    let bytes = std::fs::read(&path).map_err(|_| StoreError::not_found("image file not found"))?;
    Ok(ImageFile {
        bytes,
        mime: mime.to_string(),
        filename: item.content.unwrap_or_default(),
    })
}
