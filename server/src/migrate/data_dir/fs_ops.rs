//! File operations of step 3 (§2.5): copies that never follow symlinks,
//! and the undo log that restores a user's files on error.

use std::fs;
use std::path::{Path, PathBuf};

use super::report::{io, MigrateError};
use crate::store::system::SystemDb;

/// A single path component that stays inside its parent folder.
pub(super) fn safe_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\', '\0'])
}

/// What step 3 did for one user, to put back on error.
#[derive(Default)]
pub(super) struct Undo {
    pub moves: Vec<(PathBuf, PathBuf)>,
    pub dirs: Vec<PathBuf>,
    pub profile: Option<String>,
    /// `(backup, peek.db)`: the last resort of §2.5 if `peek.db` is still
    /// missing after the moves back.
    pub backup: Option<(PathBuf, PathBuf)>,
}

impl Undo {
    /// Puts everything back, newest first. Returns false if something could
    /// not be restored (each failure is logged).
    pub fn run(self, system: &SystemDb, user: &str) -> bool {
        let mut ok = true;
        for (from, to) in self.moves.iter().rev() {
            if let Err(e) = fs::rename(to, from) {
                tracing::error!(target: "migrate", ?from, ?to, %e, "could not move back");
                ok = false;
            }
        }
        if let Some((backup, peek)) = &self.backup {
            if !is_file(peek) && is_file(backup) {
                match fs::copy(backup, peek) {
                    Ok(_) => tracing::warn!(target: "migrate", ?peek, "restored from the backup"),
                    Err(e) => {
                        tracing::error!(target: "migrate", ?peek, %e, "could not restore");
                        ok = false;
                    }
                }
            }
        }
        for d in self.dirs.iter().rev() {
            let _ = fs::remove_dir(d); // only if still empty
        }
        if let Some(id) = self.profile {
            if let Err(e) = system.delete_profile(user, &id) {
                tracing::error!(target: "migrate", user, id, %e, "could not delete profile");
                ok = false;
            }
        }
        ok
    }
}

/// A regular file, not a symlink to one.
pub(super) fn is_file(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
}

/// Copies a file through a temporary name, so that an interrupted copy
/// never looks like a finished backup.
pub(super) fn copy_file(from: &Path, to: &Path) -> Result<(), MigrateError> {
    let mut tmp = to.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // A stale temporary from an interrupted run, possibly a symlink: remove
    // it rather than write through it.
    if fs::symlink_metadata(&tmp).is_ok() {
        fs::remove_file(&tmp).map_err(io("remove", &tmp))?;
    }
    fs::copy(from, &tmp).map_err(io("copy", from))?;
    fs::rename(&tmp, to).map_err(io("rename", &tmp))?;
    Ok(())
}

/// Recursive copy that does not follow symlinks; returns the links skipped.
pub(super) fn copy_tree(from: &Path, to: &Path) -> Result<Vec<PathBuf>, MigrateError> {
    let mut skipped = Vec::new();
    fs::create_dir_all(to).map_err(io("create", to))?;
    let mut entries: Vec<_> = fs::read_dir(from)
        .map_err(io("read", from))?
        .collect::<Result<_, _>>()
        .map_err(io("read", from))?;
    entries.sort_by_key(|e| e.file_name());
    for ent in entries {
        let path = ent.path();
        let ft = ent.file_type().map_err(io("stat", &path))?;
        let dest = to.join(ent.file_name());
        if ft.is_symlink() {
            skipped.push(path);
        } else if ft.is_dir() {
            skipped.extend(copy_tree(&path, &dest)?);
        } else {
            fs::copy(&path, &dest).map_err(io("copy", &path))?;
        }
    }
    Ok(skipped)
}
