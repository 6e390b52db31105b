//! The protocol's commands as calls of the iOS app's `#[tauri::command]`
//! functions (lib.rs), as its webview invokes them. A child module of the
//! included `lib.rs`, so `super::*` is the app's own namespace.
//!
//! The commands return no item id: `create` finds it in the app's
//! database afterwards (the new row, or the row `save_url` updated).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use driver_kit::{item_view, Client, DriverError, Outcome};
use serde_json::{json, Value};

use super::*;

pub(crate) struct Mobile;

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tauri::async_runtime::block_on(f)
}

fn internal(e: impl std::fmt::Display) -> DriverError {
    DriverError::internal(e.to_string())
}

/// An error the app's command returned for a local edit.
fn app_refused(e: String) -> DriverError {
    DriverError::refused(format!("app: {e}"))
}

/// The app at launch, over the device directory as its App Group
/// container: it loads (and on first launch writes) `profiles.json`; the
/// database opens lazily on the first command, as in the app.
pub(crate) fn open(dir: &Path) -> Result<Arc<dyn Client>, DriverError> {
    crate::set_container(dir);
    tauri::set_app_data_dir(dir.join("app-data"));
    let _ = load_profile_config();
    get_connection().map_err(internal)?;
    Ok(Arc::new(Mobile))
}

fn ids(conn: &Connection) -> Result<HashSet<String>, DriverError> {
    let mut stmt = conn.prepare("SELECT id FROM items").map_err(internal)?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    Ok(ids)
}

/// (type, url, content) of a row.
fn row(
    conn: &Connection,
    item: &str,
) -> Result<(String, Option<String>, Option<String>), DriverError> {
    conn.query_row(
        "SELECT type, url, content FROM items WHERE id = ?",
        params![item],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .map_err(|_| DriverError::refused(format!("unknown item {item}")))
}

fn metadata_value(md: Option<&str>) -> Option<serde_json::Value> {
    md.map(|m| serde_json::from_str(m).unwrap_or_else(|_| serde_json::Value::String(m.to_string())))
}

impl Mobile {
    /// A tag change as the app's edit screens make it: `update_url_tags`
    /// (url), `update_text` with the same content (text), `update_tagset`.
    fn set_tags(&self, item: &str, tags: Vec<String>) -> Result<(), DriverError> {
        let conn = get_connection().map_err(internal)?;
        let (kind, _url, content) = row(&conn, item)?;
        drop(conn);
        match kind.as_str() {
            "url" | "page" => block_on(update_url_tags(item.to_string(), tags)),
            "text" => block_on(update_text(
                item.to_string(),
                content.unwrap_or_default(),
                tags,
            )),
            "tagset" => block_on(update_tagset(item.to_string(), tags)),
            other => return Err(DriverError::unsupported(format!("tags of a {other} item"))),
        }
        .map_err(app_refused)
    }
}

impl Client for Mobile {
    /// Settings: `set_webhook_url`, `set_webhook_api_key` (lib.rs:2800-2821).
    /// The server profile has no command (the e2e scripts write
    /// `profiles.json` by hand): it is set on the current profile entry
    /// with the app's own `save_profile_config` (lib.rs:622-651).
    fn configure(&self, server_url: &str, api_key: &str, server_profile: Option<&str>) -> Outcome {
        block_on(set_webhook_url(server_url.to_string())).map_err(internal)?;
        block_on(set_webhook_api_key(api_key.to_string())).map_err(internal)?;
        let mut config = load_profile_config();
        let current = config.current_profile_id.clone();
        for p in config.profiles.iter_mut().filter(|p| p.id == current) {
            p.server_profile_id = server_profile.map(str::to_string);
        }
        if !save_profile_config(&config) {
            return Err(DriverError::internal("save_profile_config failed"));
        }
        Ok(json!({}))
    }

    /// `save_url` / `save_text` / `save_tagset` (lib.rs:1414, 1960, 2046).
    fn create(
        &self,
        kind: &str,
        content: Option<&str>,
        tags: &[String],
        metadata: Option<&str>,
    ) -> Outcome {
        let before = ids(&get_connection().map_err(internal)?)?;
        let md = metadata_value(metadata);
        let tags = tags.to_vec();
        match kind {
            "url" => {
                let url =
                    content.ok_or_else(|| DriverError::refused("a url item needs content"))?;
                block_on(save_url(url.to_string(), tags, md))
            }
            "text" => block_on(save_text(content.unwrap_or("").to_string(), Some(tags), md)),
            "tagset" => block_on(save_tagset(tags, md)),
            other => return Err(DriverError::refused(format!("unknown type {other}"))),
        }
        .map_err(app_refused)?;
        let conn = get_connection().map_err(internal)?;
        let new: Vec<String> = ids(&conn)?.difference(&before).cloned().collect();
        let id = match new.as_slice() {
            [one] => one.clone(),
            // save_url of a URL already saved updates that row.
            _ => conn
                .query_row(
                    "SELECT id FROM items WHERE deleted_at IS NULL ORDER BY updated_at DESC, rowid DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .map_err(internal)?,
        };
        Ok(json!({ "id": id }))
    }

    /// `update_url` (lib.rs:1705; it looks the row up as `type = 'url'`),
    /// `update_url_tags` for a tags-only change of a url, `update_text`,
    /// `update_tagset`: the app's edit commands take the whole new state,
    /// so absent fields are filled from the row.
    fn update(&self, item: &str, content: Option<&str>, tags: Option<&[String]>) -> Outcome {
        let conn = get_connection().map_err(internal)?;
        let (kind, url, old_content) = row(&conn, item)?;
        let old_tags = get_item_tags(&conn, item).map_err(internal)?;
        drop(conn);
        let tags = tags.map(<[String]>::to_vec);
        match (kind.as_str(), content) {
            ("url" | "page", Some(c)) => block_on(update_url(
                item.to_string(),
                c.to_string(),
                tags.unwrap_or(old_tags),
            ))
            .map_err(app_refused)?,
            ("url" | "page", None) => {
                if let Some(t) = tags {
                    self.set_tags(item, t)?;
                }
            }
            ("text", c) => block_on(update_text(
                item.to_string(),
                c.map(str::to_string).or(old_content).unwrap_or_default(),
                tags.unwrap_or(old_tags),
            ))
            .map_err(app_refused)?,
            ("tagset", _) => block_on(update_tagset(item.to_string(), tags.unwrap_or(old_tags)))
                .map_err(app_refused)?,
            (other, _) => {
                return Err(DriverError::unsupported(format!(
                    "update of a {other} item"
                )))
            }
        }
        let _ = url;
        Ok(json!({}))
    }

    /// `delete_url` (lib.rs:1685): the app's delete for every type.
    fn delete(&self, item: &str) -> Outcome {
        row(&get_connection().map_err(internal)?, item)?;
        block_on(delete_url(item.to_string())).map_err(app_refused)?;
        Ok(json!({}))
    }

    fn tag(&self, item: &str, tag: &str) -> Outcome {
        let conn = get_connection().map_err(internal)?;
        row(&conn, item)?;
        let mut tags = get_item_tags(&conn, item).map_err(internal)?;
        drop(conn);
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
        self.set_tags(item, tags)?;
        Ok(json!({}))
    }

    /// `sync_all` / `pull_from_server` / `push_to_server` (lib.rs:3751,
    /// 3480, 3586); counts as the app reports them (a push whose items
    /// failed is still `Ok` there, with `success: false`).
    fn sync(&self, mode: &str) -> Outcome {
        let r = match mode {
            "full" => block_on(sync_all()),
            "pull" => block_on(pull_from_server()),
            "push" => block_on(push_to_server()),
            other => return Err(DriverError::refused(format!("unknown sync mode {other}"))),
        }
        .map_err(DriverError::sync)?;
        if !r.success {
            eprintln!(
                "[original-tauri-mobile] sync reported failure: {}",
                r.message
            );
        }
        Ok(json!({"pulled": r.pulled, "pushed": r.pushed}))
    }

    /// Every row; `url` items show their `url` column as content. A `page`
    /// row (what `save_url` inserts until the next launch rewrites it,
    /// lib.rs:1456, 901-917) is reported as `url`, its type on the wire.
    fn items(&self, include_deleted: bool) -> Outcome {
        let conn = get_connection().map_err(internal)?;
        let mut stmt = conn
            .prepare("SELECT id, type, url, content, metadata, COALESCE(sync_id, ''), deleted_at FROM items ORDER BY created_at, rowid")
            .map_err(internal)?;
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .map_err(internal)?
            .collect::<Result<_, _>>()
            .map_err(internal)?;
        let mut items = Vec::new();
        for (id, kind, url, content, metadata, sync_id, deleted_at) in rows {
            let deleted = deleted_at.is_some();
            if deleted && !include_deleted {
                continue;
            }
            let (kind, content) = match kind.as_str() {
                "url" | "page" => ("url".to_string(), url),
                _ => (kind, content),
            };
            let tags = get_item_tags(&conn, &id).map_err(internal)?;
            let md = metadata.filter(|m| !m.is_empty() && m != "null");
            items.push(item_view(
                &id,
                &kind,
                content.as_deref(),
                &tags,
                deleted,
                &sync_id,
                md.as_deref(),
            ));
        }
        Ok(json!({ "items": items }))
    }

    /// A row inserted the way scripts/e2e-full-sync-test.sh:352-372 seeds
    /// the iOS database: plain SQL, SQLite `datetime('now')` timestamps,
    /// `sync_source` '' (a given sync id is stored with source `server`).
    fn seed_row(&self, req: &Value) -> Outcome {
        let kind = req.get("type").and_then(Value::as_str).unwrap_or("url");
        let content = req.get("content").and_then(Value::as_str).unwrap_or("");
        let sync_id = req.get("syncId").and_then(Value::as_str).unwrap_or("");
        let (url, text) = if kind == "url" {
            (content, "")
        } else {
            ("", content)
        };
        let conn = get_connection().map_err(internal)?;
        let id: String = conn
            .query_row("SELECT 'ios-seed-' || lower(hex(randomblob(8)))", [], |r| {
                r.get(0)
            })
            .map_err(internal)?;
        conn.execute(
            "INSERT INTO items (id, type, url, content, metadata, sync_id, sync_source, created_at, updated_at)
             VALUES (?, ?, ?, ?, '', ?, ?, datetime('now'), datetime('now'))",
            params![id, kind, url, text, sync_id, if sync_id.is_empty() { "" } else { "server" }],
        )
        .map_err(internal)?;
        if let Some(tags) = req.get("tags").and_then(Value::as_array) {
            for t in tags.iter().filter_map(Value::as_str) {
                conn.execute(
                    "INSERT OR IGNORE INTO tags (name, frequency, last_used, frecency_score, created_at, updated_at)
                     VALUES (?, 1, datetime('now'), 1.0, datetime('now'), datetime('now'))",
                    params![t],
                )
                .map_err(internal)?;
                conn.execute(
                    "INSERT OR IGNORE INTO item_tags (item_id, tag_id, created_at)
                     SELECT ?, id, datetime('now') FROM tags WHERE name = ?",
                    params![id, t],
                )
                .map_err(internal)?;
            }
        }
        Ok(json!({ "id": id }))
    }
}
