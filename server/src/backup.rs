//! Backups that work (fixes D18): an SQLite online backup of every profile
//! database of a user, its images, and a manifest, into
//! `backups/<user>/peek-backup-<user>-<timestamp>/`; `system.db` into
//! `backups/_system/`. Taken on demand (`POST /backups`, `peek-server
//! backup`), at start and daily; the newest `retention` are kept.
//!
//! Departures from the Node server: a folder instead of a zip (no zip
//! dependency; `filename` in `GET /backups` names the folder), every UUID
//! profile and its images included, and the last-backup time is read from
//! the backup folders themselves, so no stray `profiles/default` database
//! is ever created.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::{json, Value};

use crate::state::AppState;
use crate::store::datastore::{is_safe_component, Datastores};
use crate::store::error::{StoreError, StoreResult};
use crate::store::system::{is_servable_user_id, User};
use crate::timestamp::{format_iso, parse_iso};

/// One backup as `GET /backups` lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupEntry {
    pub filename: String,
    pub size: u64,
    pub created_at: String,
}

/// Live items of each type, and tags, in one profile database or summed
/// over a backup (`tableCounts` in the manifest and in `POST /backups`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    pub urls: i64,
    pub texts: i64,
    pub tagsets: i64,
    pub images: i64,
    pub tags: i64,
}

impl std::ops::Add for TableCounts {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            urls: self.urls + o.urls,
            texts: self.texts + o.texts,
            tagsets: self.tagsets + o.tagsets,
            images: self.images + o.images,
            tags: self.tags + o.tags,
        }
    }
}

/// One profile in a backup, as its manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackedUpProfile {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub table_counts: TableCounts,
}

/// A backup [`backup_user`] has just completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The folder's name: what `GET /backups` lists and a restore takes.
    pub filename: String,
    pub path: PathBuf,
    /// Bytes on disk, every file of the folder.
    pub size: u64,
    /// When it was taken (server clock, ms).
    pub taken_ms: i64,
    /// The profiles that had a database (a profile never used has none).
    pub profiles: Vec<BackedUpProfile>,
    /// The profiles' counts summed; `None` when there were no profiles
    /// to back up (written as `{}`, as before there were types here).
    pub totals: Option<TableCounts>,
}

/// What [`restore_user`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// The backup restored from.
    pub backup: String,
    /// The profiles whose database was replaced, in id order.
    pub restored: Vec<String>,
}

/// `tableCounts` of a manifest or a response: the counts, or `{}`.
pub fn counts_json(counts: Option<TableCounts>) -> Value {
    counts.map_or_else(|| json!({}), |c| json!(c))
}

const PREFIX: &str = "peek-backup-";
const SYSTEM_DIR: &str = "_system";

fn stamp(ms: i64) -> String {
    format_iso(ms).replace([':', '.'], "-")
}

/// Parses the timestamp back out of `...-2026-01-27T10-00-00-123Z`.
fn stamp_ms(name: &str) -> Option<i64> {
    let s = name.get(name.len().checked_sub(24)?..)?;
    let b = s.as_bytes();
    if b.len() != 24 {
        return None;
    }
    let iso = format!("{}:{}:{}.{}", &s[..13], &s[14..16], &s[17..19], &s[20..]);
    parse_iso(&iso)
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

fn user_backup_dir(state: &AppState, user: &str) -> StoreResult<PathBuf> {
    if !is_safe_component(user) {
        return Err(StoreError::invalid("invalid user id"));
    }
    Ok(state.data_dir.join("backups").join(user))
}

/// Copies a live SQLite file with the online backup API (consistent even
/// while the server writes to it).
/// Copies a live database with SQLite's backup API (a consistent snapshot
/// even while it is written) and returns the copy's connection, so that
/// what is read of the copy next does not open it a second time.
fn copy_db(src: &Path, dst: &Path) -> StoreResult<Connection> {
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut to = Connection::open(dst)?;
    {
        use rusqlite::backup::{Backup, StepResult};
        let backup = Backup::new(&from, &mut to)?;
        // All pages in one step; busy or locked is an error, not a wait
        // (the source's busy timeout has already waited).
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => continue,
                _ => {
                    return Err(StoreError::Unavailable(
                        "database busy during backup".into(),
                    ))
                }
            }
        }
    }
    Ok(to)
}

fn link_or_copy_tree(src: &Path, dst: &Path) -> StoreResult<()> {
    let Ok(rd) = std::fs::read_dir(src) else {
        return Ok(());
    };
    std::fs::create_dir_all(dst)?;
    for e in rd.flatten() {
        let t = e.file_type()?;
        if t.is_file() {
            let to = dst.join(e.file_name());
            if std::fs::hard_link(e.path(), &to).is_err() {
                std::fs::copy(e.path(), &to)?;
            }
        }
    }
    Ok(())
}

/// What the manifest says a profile's copy holds: live items by type, and
/// tags. One pass over `items`.
fn counts(c: &Connection) -> StoreResult<TableCounts> {
    let live = "COALESCE(deletedAt, 0) = 0";
    let sql = format!(
        "SELECT COALESCE(SUM(type = 'url' AND {live}), 0), COALESCE(SUM(type = 'text' AND {live}), 0),
                COALESCE(SUM(type = 'tagset' AND {live}), 0), COALESCE(SUM(type = 'image' AND {live}), 0),
                (SELECT COUNT(*) FROM tags)
           FROM items"
    );
    Ok(c.query_row(&sql, [], |r| {
        Ok(TableCounts {
            urls: r.get(0)?,
            texts: r.get(1)?,
            tagsets: r.get(2)?,
            images: r.get(3)?,
            tags: r.get(4)?,
        })
    })?)
}

/// Backs up every profile of `user`; `None` when there is no such user.
/// The folder appears under its final name only when complete.
pub fn backup_user(state: &AppState, user: &str) -> StoreResult<Option<Backup>> {
    if !state.system.user_exists(user)? {
        return Ok(None);
    }
    let now = state.now();
    let root = user_backup_dir(state, user)?;
    let name = format!("{PREFIX}{user}-{}", stamp(now));
    let tmp = root.join(format!(".{name}.partial"));
    let done = root.join(&name);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let mut profiles = Vec::new();
    for p in state.system.profiles(user)? {
        let src_dir = Datastores::profile_dir(&state.data_dir, user, &p.id)?;
        let src = src_dir.join("datastore.sqlite");
        if !src.exists() {
            continue;
        }
        let dst_dir = tmp.join("profiles").join(&p.id);
        std::fs::create_dir_all(&dst_dir)?;
        let dst = dst_dir.join("datastore.sqlite");
        let copy = copy_db(&src, &dst)?;
        let table_counts = counts(&copy)?;
        drop(copy);
        link_or_copy_tree(&src_dir.join("images"), &dst_dir.join("images"))?;
        profiles.push(BackedUpProfile {
            table_counts,
            id: p.id,
            slug: p.slug,
            name: p.name,
        });
    }
    let totals = profiles.iter().map(|p| p.table_counts).reduce(|a, b| a + b);
    let manifest = json!({
        "version": "2.0", "timestamp": format_iso(now), "userId": user,
        "backupType": "snapshot", "profiles": profiles, "tableCounts": counts_json(totals),
    });
    std::fs::write(
        tmp.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
    )?;
    if done.exists() {
        std::fs::remove_dir_all(&done)?;
    }
    std::fs::rename(&tmp, &done)?;
    prune(&root, user, state.backup_retention)?;
    tracing::info!(user, backup = %name, "backup created");
    Ok(Some(Backup {
        size: dir_size(&done),
        filename: name,
        path: done,
        taken_ms: now,
        profiles,
        totals,
    }))
}

/// Backs up `system.db` into `backups/_system/`.
pub fn backup_system(state: &AppState) -> StoreResult<PathBuf> {
    let root = state.data_dir.join("backups").join(SYSTEM_DIR);
    std::fs::create_dir_all(&root)?;
    let name = format!("system-{}.db", stamp(state.now()));
    let tmp = root.join(format!(".{name}.partial"));
    state
        .system
        .with_conn(|c| c.backup(rusqlite::MAIN_DB, &tmp, None))?;
    let done = root.join(&name);
    std::fs::rename(&tmp, &done)?;
    let mut all: Vec<_> = std::fs::read_dir(&root)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("system-") && n.ends_with(".db"))
        .collect();
    all.sort();
    let excess = all.len().saturating_sub(state.backup_retention);
    for n in &all[..excess] {
        std::fs::remove_file(root.join(n))?;
    }
    Ok(done)
}

/// The users whose data can be backed up. A row whose id no path may be
/// built from has no data to back up; it is named in the log and skipped,
/// so that one bad row cannot stop every other user's backups.
fn servable_users(state: &AppState) -> StoreResult<Vec<User>> {
    let (good, bad): (Vec<_>, Vec<_>) = state
        .system
        .users()?
        .into_iter()
        .partition(|u| is_servable_user_id(&u.id));
    for u in bad {
        tracing::warn!(user = ?u.id, "not backing up user {:?}: its name is not a valid user id (see `peek-server user delete`)", u.id);
    }
    Ok(good)
}

/// `system.db` and every user: what start-up and `peek-server backup` run.
pub fn backup_all(state: &AppState) -> StoreResult<Vec<Backup>> {
    backup_system(state)?;
    let mut out = Vec::new();
    for u in servable_users(state)? {
        out.extend(backup_user(state, &u.id)?);
    }
    Ok(out)
}

fn names(root: &Path, user: &str) -> Vec<String> {
    let prefix = format!("{PREFIX}{user}-");
    let mut v: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix) && stamp_ms(n).is_some())
        .collect();
    v.sort_by_key(|n| std::cmp::Reverse(stamp_ms(n)));
    v
}

fn prune(root: &Path, user: &str, keep: usize) -> StoreResult<()> {
    for old in names(root, user).iter().skip(keep) {
        std::fs::remove_dir_all(root.join(old))?;
    }
    Ok(())
}

fn seq_and_epoch(db: &Path) -> StoreResult<(i64, i64)> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    seq_and_epoch_of(&c)
}

/// The highest change sequence and the feed epoch (at least 1) of a
/// datastore, or of a copy of one.
fn seq_and_epoch_of(c: &Connection) -> StoreResult<(i64, i64)> {
    let max: i64 = c.query_row("SELECT COALESCE(MAX(changeSeq), 0) FROM items", [], |r| {
        r.get(0)
    })?;
    let setting = |k: &str| -> rusqlite::Result<i64> {
        c.query_row(
            "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?1), 0)",
            [k],
            |r| r.get(0),
        )
    };
    Ok((max, setting("feed_epoch")?.max(1)))
}

/// Restores every profile of `user` from backup `name` (stop-the-world for
/// those profiles). The change sequence continues above everything handed
/// out before and the feed epoch is raised, so clients
/// notice, push what they have and read the feed again from 0: writes the
/// backup predates come back from the devices instead of being lost.
pub fn restore_user(state: &AppState, user: &str, name: &str) -> StoreResult<Restored> {
    if !is_safe_component(name) || !name.starts_with(PREFIX) {
        return Err(StoreError::invalid("invalid backup name"));
    }
    let backup_dir = user_backup_dir(state, user)?.join(name);
    if !backup_dir.join("manifest.json").exists() {
        return Err(StoreError::not_found("backup not found"));
    }
    // A backup taken before a profile had any data holds no folder for it:
    // such profiles are left as they are.
    let src_root = backup_dir.join("profiles");
    let mut restored = Vec::new();
    let mut ids: Vec<String> = std::fs::read_dir(&src_root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| is_safe_component(n))
        .collect();
    ids.sort();
    for profile in ids {
        let src = src_root.join(&profile).join("datastore.sqlite");
        if !src.exists() {
            continue;
        }
        let live_dir = Datastores::profile_dir(&state.data_dir, user, &profile)?;
        let live = live_dir.join("datastore.sqlite");
        state.stores.forget(user, &profile);
        let (live_seq, live_epoch) = if live.exists() {
            seq_and_epoch(&live)?
        } else {
            (0, 1)
        };
        std::fs::create_dir_all(&live_dir)?;
        for ext in ["-wal", "-shm"] {
            let p = live_dir.join(format!("datastore.sqlite{ext}"));
            if p.exists() {
                std::fs::remove_file(p)?;
            }
        }
        let tmp = live_dir.join(".datastore.sqlite.restoring");
        std::fs::copy(&src, &tmp)?;
        {
            let c = Connection::open(&tmp)?;
            // Read from the copy: the same bytes as the backup's file,
            // without opening that a second time.
            let (old_seq, old_epoch) = seq_and_epoch_of(&c)?;
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT)",
            )?;
            let set = "INSERT INTO settings (key, value) VALUES (?1, ?2)
                       ON CONFLICT(key) DO UPDATE SET value = excluded.value";
            // Lift the newest restored row above every number handed out
            // before, so the sequence continues from there.
            c.execute(
                "UPDATE items SET changeSeq = ?1
                 WHERE id = (SELECT id FROM items ORDER BY changeSeq DESC LIMIT 1) AND changeSeq < ?1",
                [live_seq.max(old_seq)],
            )?;
            c.execute(
                set,
                rusqlite::params!["feed_epoch", (live_epoch.max(old_epoch) + 1).to_string()],
            )?;
        }
        std::fs::rename(&tmp, &live)?;
        link_or_copy_tree(
            &src_root.join(&profile).join("images"),
            &live_dir.join("images"),
        )?;
        restored.push(profile);
    }
    tracing::warn!(
        user,
        backup = name,
        profiles = restored.len(),
        "restored from backup"
    );
    Ok(Restored {
        backup: name.to_string(),
        restored,
    })
}

/// After [`restore_user`]: gives every restored profile that has no row in
/// `system.db` (its user was deleted and created again, or the profile
/// was deleted) its row back, with the id and name the backup's manifest
/// lists, so that its data is served again. A profile whose slug has been
/// taken since is left without a row and named in the answer. Returns
/// (re-registered, left out) profile ids.
pub fn reregister_profiles(
    state: &AppState,
    user: &str,
    name: &str,
    restored: &Restored,
) -> StoreResult<(Vec<String>, Vec<String>)> {
    #[derive(serde::Deserialize)]
    struct Listed {
        id: String,
        name: String,
    }
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(default)]
        profiles: Vec<Listed>,
    }
    let path = user_backup_dir(state, user)?
        .join(name)
        .join("manifest.json");
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(&path)?)
        .map_err(|e| StoreError::invalid(format!("{}: {e}", path.display())))?;
    let (mut back, mut left) = (Vec::new(), Vec::new());
    for p in manifest.profiles {
        if !restored.restored.contains(&p.id) || state.system.profile(user, &p.id)?.is_some() {
            continue;
        }
        match state
            .system
            .create_profile(user, &p.id, &p.name, &state.now_iso())
        {
            Ok(_) => back.push(p.id),
            Err(crate::store::system::CreateProfileError::Sqlite(e)) => return Err(e.into()),
            Err(_) => left.push(p.id),
        }
    }
    Ok((back, left))
}

/// A user's backups, newest first.
pub fn list(state: &AppState, user: &str) -> StoreResult<Vec<BackupEntry>> {
    let root = user_backup_dir(state, user)?;
    Ok(names(&root, user)
        .into_iter()
        .map(|n| BackupEntry {
            size: dir_size(&root.join(&n)),
            created_at: stamp_ms(&n).map(format_iso).unwrap_or_default(),
            filename: n,
        })
        .collect())
}

/// One backup on disk, for `peek-server backup list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedBackup {
    /// The user it belongs to (its folder under `backups/`), or `None`
    /// for a copy of `system.db`.
    pub user: Option<String>,
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    /// When it was taken, from its name.
    pub taken_ms: i64,
}

/// Every backup under `backups/`: `system.db` copies first, then each
/// user's folder in name order, newest first within it. Read from the
/// folders, not from `system.db`, so the backups of a deleted user (the
/// only copy after `user delete --purge`) are listed too.
pub fn list_all(data_dir: &Path) -> StoreResult<Vec<ListedBackup>> {
    let root = data_dir.join("backups");
    let mut out = Vec::new();
    let sys = root.join(SYSTEM_DIR);
    let mut system: Vec<String> = std::fs::read_dir(&sys)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("system-") && n.ends_with(".db"))
        .collect();
    system.sort_by(|a, b| b.cmp(a));
    for n in system {
        let path = sys.join(&n);
        let Some(taken_ms) = n.strip_suffix(".db").and_then(stamp_ms) else {
            continue;
        };
        out.push(ListedBackup {
            user: None,
            size: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            name: n,
            path,
            taken_ms,
        });
    }
    let mut users: Vec<String> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != SYSTEM_DIR && is_safe_component(n))
        .collect();
    users.sort();
    for user in users {
        let dir = root.join(&user);
        for n in names(&dir, &user) {
            let path = dir.join(&n);
            out.push(ListedBackup {
                user: Some(user.clone()),
                size: dir_size(&path),
                taken_ms: stamp_ms(&n).unwrap_or_default(),
                name: n,
                path,
            });
        }
    }
    Ok(out)
}

/// When `user` was last backed up, if ever.
pub fn last_backup_ms(state: &AppState, user: &str) -> StoreResult<Option<i64>> {
    let root = user_backup_dir(state, user)?;
    Ok(names(&root, user).first().and_then(|n| stamp_ms(n)))
}

/// The daily check: back up every user whose newest backup is missing or
/// at least 24 h old. Returns how many were taken.
pub fn run_due(state: &AppState) -> StoreResult<usize> {
    let day = 24 * 3600 * 1000;
    let mut n = 0;
    for u in servable_users(state)? {
        let due = last_backup_ms(state, &u.id)?.is_none_or(|t| state.now() - t >= day);
        if due {
            backup_user(state, &u.id)?;
            n += 1;
        }
    }
    if n > 0 {
        backup_system(state)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let ms = 1_769_508_000_123;
        let name = format!("{PREFIX}alice-{}", stamp(ms));
        assert_eq!(name, "peek-backup-alice-2026-01-27T10-00-00-123Z");
        assert_eq!(stamp_ms(&name), Some(ms));
        assert_eq!(stamp_ms("peek-backup-x"), None);
        let sys = format!("system-{}", stamp(ms));
        assert_eq!(stamp_ms(&sys), Some(ms));
    }
}
