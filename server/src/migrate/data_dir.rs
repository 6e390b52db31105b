//! The data-directory migrations run at server start (§2.5 steps 2–4):
//!
//! 2. a legacy `API_KEY` becomes user `default` when there are no users;
//! 3. a legacy `<user>/peek.db` (+ `images/`) becomes the user's Default
//!    profile, `profiles/<uuid>/datastore.sqlite` (+ `images/`);
//! 4. `profiles/<slug>` folders become `profiles/<uuid>` folders.
//!
//! Departures from the Node server, on purpose:
//!
//! * step 3 moves the database straight to the UUID folder instead of
//!   `profiles/default` (which step 4 would then rename): one move, and no
//!   clash with the stray `profiles/default` of the backup scheduler (§2.1);
//! * SQLite side files (`peek.db-wal`, `-shm`, `-journal`) are backed up and
//!   moved with the database, so WAL contents are not lost;
//! * a dry run changes nothing at all, neither files nor `system.db`, and
//!   plans steps 3–4 against the state earlier steps would have left (the
//!   Node dry run still ran the later steps for real, D17);
//! * symbolic links are never followed, moved or copied: a user folder,
//!   `peek.db`, `images/` or profile folder that is a link is left alone and
//!   reported in [`DataDirReport::notes`].

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::clock::{Clock, IdSource};
use crate::store::system::{Profile, SystemDb};
use crate::timestamp::format_iso;

mod fs_ops;
mod report;

use fs_ops::{copy_file, copy_tree, is_file, safe_name, Undo};
use report::io;
pub use report::{Action, DataDirReport, MigrateError};

/// How [`migrate_data_dir`] runs.
#[derive(Debug, Clone, Default)]
pub struct DataDirOptions {
    /// Report what would be done; change nothing (`MIGRATION_DRY_RUN`).
    pub dry_run: bool,
    /// The legacy single-user `API_KEY` (§2.5 step 2).
    pub legacy_api_key: Option<String>,
}

/// SQLite side files that belong to a database file.
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];
const BACKUP_DB: &str = "peek.db.pre-migration-backup";
const BACKUP_IMAGES: &str = "images.pre-migration-backup";

/// Runs §2.5 steps 2–4 on `data_dir`. Idempotent: a second run reports no
/// actions. Stops at the first error; step 3 restores the user's files
/// first (§2.5 "on error … copy the backup back").
pub fn migrate_data_dir(
    data_dir: &Path,
    system: &SystemDb,
    clock: &dyn Clock,
    ids: &dyn IdSource,
    opts: &DataDirOptions,
) -> Result<DataDirReport, MigrateError> {
    let mut m = Migrator {
        root: data_dir,
        system,
        clock,
        ids,
        dry: opts.dry_run,
        planned: Vec::new(),
        created: HashSet::new(),
        gone: HashSet::new(),
        report: DataDirReport {
            dry_run: opts.dry_run,
            ..DataDirReport::default()
        },
    };
    if let Some(key) = opts.legacy_api_key.as_deref().filter(|k| !k.is_empty()) {
        m.legacy_key(key)?;
    }
    let users = m.user_dirs()?;
    for user in &users {
        m.legacy_db(user)?;
    }
    for user in &users {
        m.slug_folders(user)?;
    }
    // Notes were logged as warnings when they were made.
    let prefix = if m.dry { "[dry run] would " } else { "" };
    for a in &m.report.actions {
        tracing::info!(target: "migrate", "{prefix}{a}");
    }
    Ok(m.report)
}

struct Migrator<'a> {
    root: &'a Path,
    system: &'a SystemDb,
    clock: &'a dyn Clock,
    ids: &'a dyn IdSource,
    dry: bool,
    /// Profile records a dry run would have created.
    planned: Vec<Profile>,
    /// Paths earlier (planned) actions created or removed, so that a dry run
    /// plans later steps against the state a real run would see.
    created: HashSet<PathBuf>,
    gone: HashSet<PathBuf>,
    report: DataDirReport,
}

/// What is at a path, without following a final symlink.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Missing,
    File,
    Dir,
    Link,
}

impl Migrator<'_> {
    fn entry(&self, p: &Path) -> Entry {
        if self.created.contains(p) {
            return Entry::Dir; // only folders and moved files are recorded
        }
        if self.gone.contains(p) {
            return Entry::Missing;
        }
        match fs::symlink_metadata(p) {
            Err(_) => Entry::Missing,
            Ok(md) if md.file_type().is_symlink() => Entry::Link,
            Ok(md) if md.is_dir() => Entry::Dir,
            Ok(_) => Entry::File,
        }
    }

    fn rel(&self, p: &Path) -> String {
        let r = p.strip_prefix(self.root).unwrap_or(p);
        r.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    fn note(&mut self, msg: String) {
        tracing::warn!(target: "migrate", "{msg}");
        self.report.notes.push(msg);
    }

    /// Step 2 (§2.5): only when there are no users at all.
    fn legacy_key(&mut self, key: &str) -> Result<(), MigrateError> {
        if self.system.user_count()? > 0 {
            return Ok(());
        }
        if !self.dry {
            let now = format_iso(self.clock.now_ms());
            self.system.create_user("default", key, &now)?;
        }
        self.report.actions.push(Action::CreateLegacyUser {
            user: "default".into(),
        });
        Ok(())
    }

    /// Folders of the data dir that may be users', sorted. `backups` (§2.1)
    /// and symlinks are skipped.
    fn user_dirs(&mut self) -> Result<Vec<String>, MigrateError> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(self.root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            r => r.map_err(io("read", self.root))?,
        };
        for ent in rd {
            let ent = ent.map_err(io("read", self.root))?;
            let Ok(name) = ent.file_name().into_string() else {
                self.note(format!("skipped {:?}: not UTF-8", ent.file_name()));
                continue;
            };
            if name == "backups" {
                continue;
            }
            match self.entry(&ent.path()) {
                Entry::Dir => out.push(name),
                Entry::Link => self.note(format!("skipped {name}: symbolic link")),
                _ => {}
            }
        }
        out.sort();
        Ok(out)
    }

    fn default_profile(&self, user: &str) -> Result<Option<Profile>, MigrateError> {
        if let Some(p) = self.system.profile_by_slug(user, "default")? {
            return Ok(Some(p));
        }
        Ok(self
            .planned
            .iter()
            .find(|p| p.user_id == user && p.slug == "default")
            .cloned())
    }

    /// Creates (or plans) the "Default" profile record; returns it and
    /// whether it is new.
    fn create_default(&mut self, user: &str) -> Result<Profile, MigrateError> {
        let id = self.ids.uuid();
        let now = format_iso(self.clock.now_ms());
        let p = if self.dry {
            let p = Profile {
                id,
                user_id: user.into(),
                slug: "default".into(),
                name: "Default".into(),
                created_at: now.clone(),
                last_used_at: now,
            };
            self.planned.push(p.clone());
            p
        } else {
            self.system
                .create_profile(user, &id, "Default", &now)
                .map_err(|source| MigrateError::Profile {
                    user: user.into(),
                    source,
                })?
        };
        self.report.actions.push(Action::CreateDefaultProfile {
            user: user.into(),
            profile_id: p.id.clone(),
        });
        Ok(p)
    }

    /// Step 3 (§2.5) for one user folder.
    fn legacy_db(&mut self, user: &str) -> Result<(), MigrateError> {
        let dir = self.root.join(user);
        let peek = dir.join("peek.db");
        match self.entry(&peek) {
            Entry::File => {}
            Entry::Link => {
                self.note(format!("{user}/peek.db is a symbolic link; left alone"));
                return Ok(());
            }
            _ => return Ok(()),
        }
        let profiles = dir.join("profiles");
        if !matches!(self.entry(&profiles), Entry::Missing | Entry::Dir) {
            self.note(format!(
                "{user}/profiles is not a folder; peek.db left alone"
            ));
            return Ok(());
        }
        if self.entry(&profiles.join("default").join("datastore.sqlite")) != Entry::Missing {
            self.note(format!(
                "{user}/peek.db left alone: profiles/default/datastore.sqlite exists"
            ));
            return Ok(());
        }
        let existing = self.default_profile(user)?;
        if let Some(p) = &existing {
            let target = profiles.join(&p.id);
            if !matches!(self.entry(&target), Entry::Missing | Entry::Dir) {
                let t = self.rel(&target);
                self.note(format!("{user}/peek.db left alone: {t} is not a folder"));
                return Ok(());
            }
            if self.entry(&profiles.join(&p.id).join("datastore.sqlite")) != Entry::Missing {
                self.note(format!(
                    "{user}/peek.db left alone: profiles/{}/datastore.sqlite exists",
                    p.id
                ));
                return Ok(());
            }
        }
        if !self.system.user_exists(user)? {
            // The Node server migrated these too; the data stays reachable
            // once a user with this id is created.
            self.note(format!("{user} has no users record in system.db"));
        }
        let mut undo = Undo {
            backup: Some((dir.join(BACKUP_DB), peek.clone())),
            ..Undo::default()
        };
        match self.move_legacy(user, existing, &mut undo) {
            Ok(()) => Ok(()),
            Err(e) => {
                let restored = undo.run(self.system, user);
                Err(MigrateError::RolledBack {
                    user: user.into(),
                    restored,
                    source: Box::new(e),
                })
            }
        }
    }

    fn move_legacy(
        &mut self,
        user: &str,
        existing: Option<Profile>,
        undo: &mut Undo,
    ) -> Result<(), MigrateError> {
        let dir = self.root.join(user);
        let peek = dir.join("peek.db");
        let images = dir.join("images");
        // Backups first (§2.5): never overwritten once they exist.
        let backup = dir.join(BACKUP_DB);
        if self.entry(&backup) == Entry::Missing {
            if !self.dry {
                for side in std::iter::once("").chain(SIDE_FILES) {
                    let from = dir.join(format!("peek.db{side}"));
                    if side.is_empty() || is_file(&from) {
                        copy_file(&from, &dir.join(format!("{BACKUP_DB}{side}")))?;
                    }
                }
            }
            let to = self.rel(&backup);
            self.report.actions.push(Action::BackupDatabase {
                user: user.into(),
                to,
            });
        }
        let images_kind = self.entry(&images);
        if images_kind == Entry::Link {
            self.note(format!("{user}/images is a symbolic link; left alone"));
        }
        let backup_images = dir.join(BACKUP_IMAGES);
        if images_kind == Entry::Dir && self.entry(&backup_images) == Entry::Missing {
            if !self.dry {
                let tmp = dir.join(format!("{BACKUP_IMAGES}.tmp"));
                if tmp.exists() {
                    fs::remove_dir_all(&tmp).map_err(io("remove", &tmp))?;
                }
                let skipped = copy_tree(&images, &tmp)?;
                fs::rename(&tmp, &backup_images).map_err(io("rename", &tmp))?;
                for s in skipped {
                    let s = self.rel(&s);
                    self.note(format!("{s} is a symbolic link; not backed up"));
                }
            }
            let to = self.rel(&backup_images);
            self.report.actions.push(Action::BackupImages {
                user: user.into(),
                to,
            });
        }
        let profile = match existing {
            Some(p) => p,
            None => {
                let p = self.create_default(user)?;
                undo.profile = (!self.dry).then(|| p.id.clone());
                p
            }
        };
        let target = dir.join("profiles").join(&profile.id);
        if self.entry(&target) == Entry::Missing && !self.dry {
            fs::create_dir_all(&target).map_err(io("create", &target))?;
            undo.dirs.push(target.clone());
        }
        let db = target.join("datastore.sqlite");
        if !self.dry {
            for side in std::iter::once("").chain(SIDE_FILES) {
                let from = dir.join(format!("peek.db{side}"));
                if side.is_empty() || is_file(&from) {
                    let to = target.join(format!("datastore.sqlite{side}"));
                    fs::rename(&from, &to).map_err(io("move", &from))?;
                    undo.moves.push((from, to));
                }
            }
        }
        self.created.insert(target.clone());
        self.created.insert(db.clone());
        self.gone.insert(peek.clone());
        let (from, to) = (self.rel(&peek), self.rel(&db));
        self.report.actions.push(Action::MoveDatabase {
            user: user.into(),
            from,
            to,
        });
        if images_kind == Entry::Dir {
            let to_images = target.join("images");
            if self.entry(&to_images) != Entry::Missing {
                self.note(format!(
                    "{user}/images left in place: {} exists",
                    self.rel(&to_images)
                ));
            } else {
                if !self.dry {
                    fs::rename(&images, &to_images).map_err(io("move", &images))?;
                    undo.moves.push((images.clone(), to_images.clone()));
                }
                self.gone.insert(images.clone());
                self.created.insert(to_images.clone());
                let (from, to) = (self.rel(&images), self.rel(&to_images));
                self.report.actions.push(Action::MoveImages {
                    user: user.into(),
                    from,
                    to,
                });
            }
        }
        Ok(())
    }

    /// Step 4 (§2.5, `S:users.js:349-398`) for one user folder.
    fn slug_folders(&mut self, user: &str) -> Result<(), MigrateError> {
        let profiles = self.root.join(user).join("profiles");
        if self.entry(&profiles) != Entry::Dir {
            return Ok(());
        }
        if self.entry(&profiles.join("default")) == Entry::Dir
            && self.default_profile(user)?.is_none()
        {
            self.create_default(user)?;
        }
        let mut all = self.system.profiles(user)?;
        all.extend(self.planned.iter().filter(|p| p.user_id == user).cloned());
        all.sort_by(|a, b| a.slug.cmp(&b.slug).then(a.id.cmp(&b.id)));
        for p in all {
            if p.slug == p.id || !safe_name(&p.slug) || !safe_name(&p.id) {
                continue;
            }
            let (from, to) = (profiles.join(&p.slug), profiles.join(&p.id));
            match self.entry(&from) {
                Entry::Dir => {}
                Entry::Link => {
                    let f = self.rel(&from);
                    self.note(format!("{f} is a symbolic link; left alone"));
                    continue;
                }
                _ => continue,
            }
            if self.entry(&to) != Entry::Missing {
                continue;
            }
            if !self.dry {
                fs::rename(&from, &to).map_err(io("rename", &from))?;
            }
            self.gone.insert(from.clone());
            self.created.insert(to.clone());
            let (f, t) = (self.rel(&from), self.rel(&to));
            self.report.actions.push(Action::RenameSlugFolder {
                user: user.into(),
                slug: p.slug.clone(),
                from: f,
                to: t,
            });
        }
        Ok(())
    }
}
