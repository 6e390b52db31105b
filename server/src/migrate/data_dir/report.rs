//! What a data-directory migration did, and why it stopped (§2.5).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::store::system::{CreateProfileError, CreateUserError};

/// One change to the data directory or `system.db`. Paths are relative to
/// the data directory, with `/` separators, so reports are stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Step 2: user `default` with the hash of the legacy key.
    CreateLegacyUser { user: String },
    /// Step 3: `peek.db` (and side files) copied before anything moves.
    BackupDatabase { user: String, to: String },
    /// Step 3: `images/` copied before it moves.
    BackupImages { user: String, to: String },
    /// Steps 3–4: the user's `default`-slug profile record, "Default".
    CreateDefaultProfile { user: String, profile_id: String },
    /// Step 3: `peek.db` (and side files) moved into the profile folder.
    MoveDatabase {
        user: String,
        from: String,
        to: String,
    },
    /// Step 3: `images/` moved into the profile folder.
    MoveImages {
        user: String,
        from: String,
        to: String,
    },
    /// Step 4: a slug folder renamed to its profile's UUID.
    RenameSlugFolder {
        user: String,
        slug: String,
        from: String,
        to: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateLegacyUser { user } => {
                write!(f, "create user '{user}' from the legacy API_KEY")
            }
            Action::BackupDatabase { user, to } => write!(f, "back up {user}/peek.db to {to}"),
            Action::BackupImages { user, to } => write!(f, "back up {user}/images to {to}"),
            Action::CreateDefaultProfile { user, profile_id } => {
                write!(
                    f,
                    "create profile 'Default' ({profile_id}) for user '{user}'"
                )
            }
            Action::MoveDatabase { from, to, .. } | Action::MoveImages { from, to, .. } => {
                write!(f, "move {from} to {to}")
            }
            Action::RenameSlugFolder { from, to, .. } => write!(f, "rename {from} to {to}"),
        }
    }
}

/// Everything [`migrate_data_dir`] did (or, in a dry run, would do), in the
/// order it happened: step 2, then step 3 per user folder in name order,
/// then step 4 likewise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DataDirReport {
    pub dry_run: bool,
    pub actions: Vec<Action>,
    /// Things left alone on purpose (symlinks, conflicting targets). Not
    /// actions: they recur on every run.
    pub notes: Vec<String>,
}

impl DataDirReport {
    /// True when nothing was (or would be) changed.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The actions as log lines, prefixed `[dry run] would` in a dry run.
    pub fn lines(&self) -> Vec<String> {
        let prefix = if self.dry_run { "[dry run] would " } else { "" };
        self.actions
            .iter()
            .map(|a| format!("{prefix}{a}"))
            .chain(self.notes.iter().map(|n| format!("note: {n}")))
            .collect()
    }
}

/// Why a data-directory migration stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("system.db: {0}")]
    System(#[from] rusqlite::Error),
    #[error("cannot create the legacy user: {0}")]
    User(#[from] CreateUserError),
    #[error("cannot create the Default profile of user '{user}': {source}")]
    Profile {
        user: String,
        #[source]
        source: CreateProfileError,
    },
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Step 3 failed for one user; what had moved was moved back
    /// (`restored` false: not all of it, see the log).
    #[error("migrating the legacy data of user '{user}' failed and was rolled back{}: {source}",
        if *restored { "" } else { " INCOMPLETELY" })]
    RolledBack {
        user: String,
        restored: bool,
        #[source]
        source: Box<MigrateError>,
    },
}

pub(super) fn io<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> MigrateError + 'a {
    move |source| MigrateError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
