//! The data directory's lock: one process at a time may run what rewrites
//! files under a server's feet (`serve`, `restore`, `migrate`, `user delete
//! --purge`). A second such process fails at once, naming the one that
//! holds the directory, instead of two writers sharing the same SQLite
//! files and caches (a restore under a running server would be served
//! stale, or lost).
//!
//! The lock is an advisory `flock` on `peek-server.lock` in the data
//! directory, taken without waiting and released by the OS when the
//! holder exits, however it exits: a crashed server leaves no stale lock
//! to clear by hand. The file's text says who holds it (command, pid,
//! listen address), only for the message; the `flock` decides.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;

/// The lock file's name in the data directory. A file, so the data
/// directory migration (which looks at folders) never takes it for a user.
pub const LOCK_FILE: &str = "peek-server.lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the data directory {} is in use by {holder}; stop that process first", dir.display())]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock the data directory ({}): {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held for as long as this value lives (the OS drops the `flock` with the
/// file descriptor).
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    path: PathBuf,
    command: String,
}

impl DataDirLock {
    /// Takes the lock of `data_dir` for `command` (e.g. "peek-server
    /// serve"), or fails at once if another process holds it.
    pub fn acquire(data_dir: &Path, command: &str) -> Result<Self, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: data_dir.join(LOCK_FILE),
            source,
        };
        // Not truncated on open: the holder's words must survive until we
        // know we are the new holder.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // The trait's method by name: std's inherent `File::try_lock`
        // needs a newer Rust than the workspace's rust-version.
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim() {
                    "" => "another peek-server process".to_string(),
                    t => t.to_string(),
                };
                return Err(LockError::Held {
                    dir: data_dir.to_path_buf(),
                    holder,
                });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(io(e)),
        }
        let me = Self {
            file,
            path,
            command: command.to_string(),
        };
        me.describe(None).map_err(io)?;
        Ok(me)
    }

    /// Records where the holder listens, once it does, so that a second
    /// `serve` names the address it is in the way of.
    pub fn set_listen(&self, addr: &str) -> std::io::Result<()> {
        self.describe(Some(addr))
    }

    fn describe(&self, listen: Option<&str>) -> std::io::Result<()> {
        let mut text = format!("{} (pid {}", self.command, std::process::id());
        if let Some(a) = listen {
            text.push_str(&format!(", listening on {a}"));
        }
        text.push_str(")\n");
        let mut f = &self.file;
        f.set_len(0)?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(text.as_bytes())?;
        f.flush()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `flock` locks belong to an open file, so a second open in the same
    /// process stands for a second process.
    #[test]
    fn a_second_holder_fails_at_once_and_is_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path(), "peek-server serve").unwrap();
        first.set_listen("127.0.0.1:3000").unwrap();
        let err = DataDirLock::acquire(dir.path(), "peek-server restore").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!(
                "in use by peek-server serve (pid {}, listening on 127.0.0.1:3000)",
                std::process::id()
            )),
            "{msg}"
        );
        drop(first);
        let again = DataDirLock::acquire(dir.path(), "peek-server restore").unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(text.starts_with("peek-server restore (pid "), "{text}");
        assert!(!text.contains("listening"), "{text}");
    }
}
