//! `original-tauri-desktop`: the Tauri desktop app's sync, driven through
//! the functions its commands call.
//!
//! `backend/tauri/src-tauri/src/{datastore,profiles,sync}.rs` are compiled
//! unmodified from `$PEEK_ORIGINAL_DIR` (build.rs writes their `#[path]`
//! lines). The rest of the app (windows, extensions, the `peek://`
//! protocol) is not built; this file does what `lib.rs`'s `setup` and the
//! commands in `commands/{sync,profiles,datastore}.rs` do, command by
//! command, citing them. The device directory is the app data dir.

use std::path::Path;
use std::sync::{Arc, Mutex};

use driver_kit::{item_view, Client, Driver, DriverError, Outcome, Source};
use rusqlite::{params, Connection};
use serde_json::{json, Value};

include!(concat!(env!("OUT_DIR"), "/original.rs"));

mod source {
    include!(concat!(env!("OUT_DIR"), "/source.rs"));
}

driver_kit::override_clock!();

fn main() {
    let driver = Driver {
        name: format!("original-tauri-desktop {}", env!("CARGO_PKG_VERSION")),
        source: Source {
            commit: source::COMMIT.map(str::to_string),
            files: source::FILES.to_string(),
            paths: source::PATHS.iter().map(|p| p.to_string()).collect(),
        },
        capabilities: json!({
            "restart": "reexec",
            "syncModes": ["full", "pull", "push"],
            "clock": "offset",
            // sync.rs:276-282 sends the LOCAL profile id as `profile=`, and
            // the configured server profile only as the ignored `slug=`.
            "profiles": "default-only",
            "metadata": true,
            "concurrent": true,
            "seed": true,
        }),
    };
    driver_kit::run(driver, |dir| {
        Ok(Arc::new(Desktop::open(dir)?) as Arc<dyn Client>)
    })
}

struct Desktop {
    /// `AppState.db` / `AppState.profiles_db` (state.rs: Arc<Mutex<Connection>>).
    db: Arc<Mutex<Connection>>,
    pdb: Arc<Mutex<Connection>>,
    /// Tauri's async runtime, for the async sync functions.
    rt: tokio::runtime::Runtime,
}

fn internal(e: impl std::fmt::Display) -> DriverError {
    DriverError::internal(e.to_string())
}

fn lock(m: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Desktop {
    /// What `lib.rs` `setup` does (lib.rs:110-145), with the device
    /// directory as `app_data_dir` and the profile `default` (the release
    /// build's choice when `PROFILE` is unset, lib.rs:111-117).
    fn open(app_data_dir: &Path) -> Result<Desktop, DriverError> {
        let profile = "default";
        let profile_dir = app_data_dir.join(profile);
        std::fs::create_dir_all(&profile_dir).map_err(internal)?;
        let db =
            datastore::init_database(&profile_dir.join("datastore.sqlite")).map_err(internal)?;
        let pdb =
            profiles::init_profiles_db(&app_data_dir.join("profiles.db")).map_err(internal)?;
        profiles::migrate_existing_profiles(&pdb, app_data_dir);
        let _ = profiles::set_active_profile(&pdb, profile);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(internal)?;
        Ok(Desktop {
            db: Arc::new(Mutex::new(db)),
            pdb: Arc::new(Mutex::new(pdb)),
            rt,
        })
    }

    fn exists(&self, item: &str) -> Result<(), DriverError> {
        let n: i64 = lock(&self.db)
            .query_row(
                "SELECT COUNT(*) FROM items WHERE id = ?1",
                params![item],
                |r| r.get(0),
            )
            .map_err(internal)?;
        if n == 0 {
            return Err(DriverError::refused(format!("unknown item {item}")));
        }
        Ok(())
    }

    /// The UI's tagging: `datastore_get_or_create_tag` then
    /// `datastore_tag_item` (commands/datastore.rs:127, 384), which touch
    /// neither the item's `updatedAt` nor its sync markers
    /// (datastore.rs:1633-1675).
    fn add_tag(conn: &Connection, item: &str, name: &str) -> Result<(), DriverError> {
        let (tag, _) = datastore::get_or_create_tag(conn, name).map_err(internal)?;
        datastore::tag_item(conn, item, &tag.id).map_err(internal)?;
        Ok(())
    }

    fn tag_names(conn: &Connection, item: &str) -> Result<Vec<String>, DriverError> {
        Ok(datastore::get_item_tags(conn, item)
            .map_err(internal)?
            .into_iter()
            .map(|t| t.name)
            .collect())
    }
}

impl Client for Desktop {
    /// The settings page: `sync_set_config` (commands/sync.rs:18-31 →
    /// sync.rs:145-188: server URL, autoSync, and the API key with the
    /// current server profile slug or `default`), then
    /// `profiles_enable_sync(activeId, apiKey, serverProfileSlug)`
    /// (commands/profiles.rs:81-92) with the suite's server profile as the
    /// slug, which sync.rs sends only as the `slug=` parameter.
    fn configure(&self, server_url: &str, api_key: &str, server_profile: Option<&str>) -> Outcome {
        let db = lock(&self.db);
        let pdb = lock(&self.pdb);
        let config = sync::SyncConfig {
            server_url: server_url.to_string(),
            api_key: api_key.to_string(),
            last_sync_time: 0,
            auto_sync: false,
        };
        sync::set_sync_config(&db, &pdb, &config).map_err(internal)?;
        let active = profiles::get_active_profile(&pdb);
        profiles::enable_sync(
            &pdb,
            &active.id,
            api_key,
            server_profile.unwrap_or("default"),
        )
        .map_err(internal)?;
        Ok(json!({}))
    }

    /// `datastore_add_item(type, {content, metadata})`
    /// (commands/datastore.rs:286-298), then a tag per name.
    fn create(
        &self,
        kind: &str,
        content: Option<&str>,
        tags: &[String],
        metadata: Option<&str>,
    ) -> Outcome {
        if !["url", "text", "tagset"].contains(&kind) {
            return Err(DriverError::refused(format!("unknown type {kind}")));
        }
        let conn = lock(&self.db);
        let options = datastore::ItemOptions {
            content: content.map(str::to_string),
            metadata: metadata.map(str::to_string),
            ..Default::default()
        };
        let id = datastore::add_item(&conn, kind, &options).map_err(internal)?;
        for t in tags {
            Self::add_tag(&conn, &id, t)?;
        }
        Ok(json!({ "id": id }))
    }

    /// `datastore_update_item(id, {content})` (commands/datastore.rs:314-325;
    /// datastore.rs:1481-1542 bumps `updatedAt` only when a field is
    /// given), and for tags the UI's untag/tag calls, which do not mark the
    /// item as changed.
    fn update(&self, item: &str, content: Option<&str>, tags: Option<&[String]>) -> Outcome {
        self.exists(item)?;
        let conn = lock(&self.db);
        if let Some(c) = content {
            let options = datastore::ItemOptions {
                content: Some(c.to_string()),
                ..Default::default()
            };
            datastore::update_item(&conn, item, &options).map_err(internal)?;
        }
        if let Some(tags) = tags {
            for t in datastore::get_item_tags(&conn, item).map_err(internal)? {
                if !tags.contains(&t.name) {
                    datastore::untag_item(&conn, item, &t.id).map_err(internal)?;
                }
            }
            for t in tags {
                Self::add_tag(&conn, item, t)?;
            }
        }
        Ok(json!({}))
    }

    /// `datastore_delete_item` (commands/datastore.rs:328-338): a soft delete.
    fn delete(&self, item: &str) -> Outcome {
        self.exists(item)?;
        datastore::delete_item(&lock(&self.db), item).map_err(internal)?;
        Ok(json!({}))
    }

    fn tag(&self, item: &str, tag: &str) -> Outcome {
        self.exists(item)?;
        Self::add_tag(&lock(&self.db), item, tag)?;
        Ok(json!({}))
    }

    /// `full`: `sync_full` → `sync::sync_all` (commands/sync.rs:97-106).
    /// `pull`: `sync_pull` with no options, as the settings page's "Pull
    /// from Server" calls it (`since` None: a full `GET /items`;
    /// commands/sync.rs:34-62). `push`: `sync_push` with no options
    /// (`lastSyncTime` from the profile; commands/sync.rs:65-93). Neither
    /// of the last two moves `last_sync_at`.
    fn sync(&self, mode: &str) -> Outcome {
        let (pulled, pushed) = match mode {
            "full" => {
                let r = self
                    .rt
                    .block_on(sync::sync_all(&self.db, &self.pdb))
                    .map_err(|e| DriverError::sync(format!("Sync failed: {e}")))?;
                (r.pulled, r.pushed)
            }
            "pull" | "push" => {
                let config = {
                    let db = lock(&self.db);
                    let pdb = lock(&self.pdb);
                    sync::get_sync_config(&db, &pdb)
                };
                if config.api_key.is_empty() {
                    return Err(DriverError::sync("Sync not configured: no API key"));
                }
                if mode == "pull" {
                    let r = self
                        .rt
                        .block_on(sync::pull_from_server(
                            &self.db,
                            &self.pdb,
                            &config.server_url,
                            &config.api_key,
                            None,
                        ))
                        .map_err(|e| DriverError::sync(format!("Pull failed: {e}")))?;
                    (r.pulled, 0)
                } else {
                    let r = self
                        .rt
                        .block_on(sync::push_to_server(
                            &self.db,
                            &self.pdb,
                            &config.server_url,
                            &config.api_key,
                            config.last_sync_time,
                        ))
                        .map_err(|e| DriverError::sync(format!("Push failed: {e}")))?;
                    (0, r.pushed)
                }
            }
            other => return Err(DriverError::refused(format!("unknown sync mode {other}"))),
        };
        Ok(json!({"pulled": pulled, "pushed": pushed}))
    }

    fn items(&self, include_deleted: bool) -> Outcome {
        let conn = lock(&self.db);
        let mut stmt = conn
            .prepare("SELECT id, type, content, metadata, syncId, deletedAt FROM items ORDER BY createdAt, rowid")
            .map_err(internal)?;
        let rows: Vec<(String, String, Option<String>, String, String, i64)> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(internal)?
            .collect::<Result<_, _>>()
            .map_err(internal)?;
        let mut items = Vec::new();
        for (id, kind, content, metadata, sync_id, deleted_at) in rows {
            let deleted = deleted_at != 0;
            if deleted && !include_deleted {
                continue;
            }
            let tags = Self::tag_names(&conn, &id)?;
            // "{}" is the schema's default: no metadata kept.
            let md = (!metadata.is_empty() && metadata != "{}").then_some(metadata.as_str());
            items.push(item_view(
                &id,
                &kind,
                content.as_deref(),
                &tags,
                deleted,
                &sync_id,
                md,
            ));
        }
        Ok(json!({ "items": items }))
    }

    /// A row inserted the way scripts/e2e-full-sync-test.sh:211-220 seeds
    /// the desktop database (plain SQL, ms timestamps, no sync markers),
    /// tags linked directly.
    fn seed_row(&self, req: &Value) -> Outcome {
        let kind = req.get("type").and_then(Value::as_str).unwrap_or("url");
        let content = req.get("content").and_then(Value::as_str);
        let sync_id = req.get("syncId").and_then(Value::as_str).unwrap_or("");
        let conn = lock(&self.db);
        let id: String = conn
            .query_row(
                "SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6)))",
                [],
                |r| r.get(0),
            )
            .map_err(internal)?;
        conn.execute(
            "INSERT INTO items (id, type, content, metadata, syncId, syncSource, syncedAt, createdAt, updatedAt, deletedAt)
             VALUES (?1, ?2, ?3, '{}', ?4, ?5, 0, strftime('%s','now') * 1000, strftime('%s','now') * 1000, 0)",
            params![id, kind, content, sync_id, if sync_id.is_empty() { "" } else { "server" }],
        )
        .map_err(internal)?;
        if let Some(tags) = req.get("tags").and_then(Value::as_array) {
            for t in tags.iter().filter_map(Value::as_str) {
                let (tag, _) = datastore::get_or_create_tag(&conn, t).map_err(internal)?;
                conn.execute(
                    "INSERT OR IGNORE INTO item_tags (id, itemId, tagId, createdAt) VALUES (?1, ?2, ?3, strftime('%s','now') * 1000)",
                    params![format!("seed-{id}-{}", tag.id), id, tag.id],
                )
                .map_err(internal)?;
            }
        }
        Ok(json!({ "id": id }))
    }
}
