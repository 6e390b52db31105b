//! Where worlds keep their SQLite files. They are real files, opened by the
//! production server and engine code, but a world lives for well under a
//! second and is thrown away, so durability buys nothing: on Linux they go
//! to the memory file system (`/dev/shm`) when it is usable, which makes
//! `fsync` and WAL checkpoints nearly free and a run about five times faster
//! on a busy disk. `PEEK_SIM_TMPDIR` chooses another place (for example a
//! real disk, to exercise the file system as well).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable that overrides the scratch directory.
pub const ENV: &str = "PEEK_SIM_TMPDIR";

fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        if let Some(dir) = std::env::var_os(ENV).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let shm = Path::new("/dev/shm");
        let usable = shm.is_dir()
            && tempfile::Builder::new()
                .prefix("peek-sim-probe-")
                .tempdir_in(shm)
                .is_ok();
        if usable {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    })
}

/// A fresh directory for one server or one world's devices, removed when
/// dropped.
pub fn tempdir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("peek-sim-")
        .tempdir_in(base())
}

/// The directory worlds are created in (for reports).
pub fn location() -> &'static Path {
    base()
}

#[cfg(test)]
mod tests {
    #[test]
    fn scratch_dirs_are_fresh_and_removed() {
        let a = super::tempdir().unwrap();
        let b = super::tempdir().unwrap();
        assert_ne!(a.path(), b.path());
        assert!(a.path().starts_with(super::location()));
        let p = a.path().to_path_buf();
        drop(a);
        assert!(!p.exists());
    }
}
