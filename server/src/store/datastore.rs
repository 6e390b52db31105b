//! Per-profile `datastore.sqlite` connections: one per (user, profile),
//! opened on first use (schema migrated then) and cached for the process.
//!
//! Writes to one profile go through its [`Writer`] thread, so they are
//! serialized (as better-sqlite3 made them) and the change sequence follows
//! commit order; each request is atomic in its own savepoint. Reads use a
//! small pool of read-only connections (WAL lets them run beside the
//! writer and beside each other), so reads of one profile do not queue
//! behind one connection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::txn::Txn;

use crate::store::error::{StoreError, StoreResult};
pub use crate::store::names::is_safe_component;
use crate::store::schema::{self, LegacyUpgrade};
use crate::store::writer::Writer;

/// An open profile database and the folder it lives in (images sit beside it).
///
/// Writes go to the writer thread; reads use `readers`, so a long
/// `GET /items` never holds up a push (WAL lets them run together), nor
/// another read of the same profile.
pub struct ProfileDb {
    pub user: String,
    pub profile: String,
    pub dir: PathBuf,
    writer: Writer,
    readers: ReaderPool,
    /// Used only by [`ProfileDb::checkpoint`], so a checkpoint never waits
    /// for (or holds up) the writer.
    checkpointer: Mutex<Option<Connection>>,
}

/// WAL pages after which a writer checkpoints inline. With background
/// checkpoints on, this is only a backstop (about 40 MiB of WAL).
const BACKSTOP_CHECKPOINT_PAGES: i64 = 10_000;

impl ProfileDb {
    /// Opens (creating if needed) `dir/datastore.sqlite` and brings it to
    /// the current schema (`legacy` upgrades a file an older server left,
    /// see [`schema::ensure`]). With `background_checkpoints`, writers do
    /// not checkpoint the WAL on the request path (someone must call
    /// [`ProfileDb::checkpoint`]).
    pub fn open(
        user: &str,
        profile: &str,
        dir: &Path,
        background_checkpoints: bool,
        legacy: LegacyUpgrade,
    ) -> StoreResult<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("datastore.sqlite");
        let new = !path.exists();
        let conn = open_datastore(&path, legacy)?;
        if new {
            super::items::set_first_epoch(&conn, profile)?;
        }
        if background_checkpoints {
            conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
        }
        // Give back the disk a burst of writes grew the WAL to.
        conn.pragma_update(None, "journal_size_limit", 64i64 * 1024 * 1024)?;
        // The schema's one CHECK, `items.type IN ('url', 'text', 'tagset',
        // 'image')` (the Node server's), made SQLite build a temporary
        // index of the four names for every insert or update of an item:
        // a tenth of a push's instructions. Every `type` this connection
        // writes is an `ItemType`'s name (validated before any write), so
        // the check cannot fail here; it stays in the schema for every
        // other writer of the file.
        conn.pragma_update(None, "ignore_check_constraints", true)?;
        let readers = ReaderPool::new(path, reader_slots())?;
        Ok(Self {
            user: user.to_string(),
            profile: profile.to_string(),
            dir: dir.to_path_buf(),
            writer: Writer::spawn(conn, &format!("{user}/{profile}"))?,
            readers,
            checkpointer: Mutex::new(None),
        })
    }

    /// Runs `f` in the profile's write transaction (its own savepoint) and
    /// answers once committed. A request that returns `Err` writes nothing.
    /// Blocks the calling thread (see [`Writer::submit`]): a handler calls
    /// it inside `AppState::run`. `f` may fail with its caller's error
    /// type, anything a [`StoreError`] converts into.
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.writer.submit(f)
    }

    /// Runs `f` in a read transaction (a consistent snapshot of what is
    /// committed) on a free reader connection. Blocks like
    /// [`ProfileDb::write`].
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.readers.with(|conn| {
            // Ended by rolling back: a reader has nothing to commit.
            let tx = Txn::deferred(conn)?;
            f(tx.conn())
        })
    }

    /// Copies committed WAL frames into the database without blocking
    /// readers or the writer (`PASSIVE`); what the background checkpointer
    /// calls about once a second.
    pub fn checkpoint(&self) -> StoreResult<()> {
        let mut slot = self.checkpointer.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            let c = Connection::open(self.dir.join("datastore.sqlite"))?;
            c.busy_timeout(std::time::Duration::from_millis(100))?;
            *slot = Some(c);
        }
        if let Some(c) = slot.as_ref() {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        }
        Ok(())
    }
}

/// How many reader connections a profile may open: one per core the
/// process may use (more would only queue on the CPU), at most 8.
fn reader_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8))
}

/// Read-only connections to one datastore, opened on demand.
///
/// A read takes the first slot it can lock without waiting (slot 0 first,
/// so a host that reads one request at a time, like the simulator with
/// `Execution::Inline`, only ever uses slot 0 and opens one connection).
/// When every slot is busy it waits for one, picked in turn. No crate:
/// `r2d2_sqlite` does not follow rusqlite 0.37, and this is all we need.
struct ReaderPool {
    path: PathBuf,
    slots: Vec<Mutex<Option<Connection>>>,
    /// The slot the next read that finds none free waits on.
    next_wait: AtomicUsize,
}

impl ReaderPool {
    /// Opens the first connection at once, so a file that cannot be read
    /// fails when the profile is opened, as before the pool.
    fn new(path: PathBuf, size: usize) -> StoreResult<Self> {
        let first = open_reader(&path)?;
        let mut slots = Vec::with_capacity(size.max(1));
        slots.push(Mutex::new(Some(first)));
        slots.resize_with(size.max(1), || Mutex::new(None));
        Ok(Self {
            path,
            slots,
            next_wait: AtomicUsize::new(0),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut guard = self
            .slots
            .iter()
            .find_map(|slot| match slot.try_lock() {
                Ok(g) => Some(g),
                Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            })
            .unwrap_or_else(|| {
                let i = self.next_wait.fetch_add(1, Ordering::Relaxed) % self.slots.len();
                self.slots[i].lock().unwrap_or_else(|e| e.into_inner())
            });
        if guard.is_none() {
            *guard = Some(open_reader(&self.path)?);
        }
        match guard.as_mut() {
            Some(conn) => f(conn),
            None => unreachable!("the slot was filled above"),
        }
    }
}

/// One read-only connection with the readers' pragmas.
fn open_reader(path: &Path) -> StoreResult<Connection> {
    let reader = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    reader.busy_timeout(std::time::Duration::from_secs(5))?;
    // Large list reads straight from the page cache of the OS.
    reader.pragma_update(None, "mmap_size", 256i64 * 1024 * 1024)?;
    Ok(reader)
}

/// Opens a datastore file with the server's pragmas and schema.
pub fn open_datastore(path: &Path, legacy: LegacyUpgrade) -> StoreResult<Connection> {
    // A profile's first open writes a copy of a fresh datastore built once
    // per process (the schema, the dedup flag a new profile is born with,
    // the revision marker), so `ensure` below finds it current: one write
    // instead of running the schema for every new profile (the simulator
    // makes several per world).
    if !path.exists() {
        if let Some(bytes) = fresh_template(legacy) {
            std::fs::write(path, bytes)?;
        }
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // WAL + NORMAL survives a killed process (what docs/reliability.md tests); only an OS
    // crash can lose the last transactions.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The Node server never enabled foreign keys and legacy schemas carry
    // FK clauses that must stay inert (§2.1).
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    schema::ensure(&conn, legacy)?;
    Ok(conn)
}

/// The bytes of a datastore as `schema::ensure` leaves a fresh file
/// (`None` if SQLite could not build one: files are then made the slow way).
fn fresh_template(legacy: LegacyUpgrade) -> Option<&'static [u8]> {
    static TEMPLATE: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let conn = Connection::open_in_memory().ok()?;
            conn.pragma_update(None, "foreign_keys", "OFF").ok()?;
            schema::ensure(&conn, legacy).ok()?;
            Some(conn.serialize(rusqlite::MAIN_DB).ok()?.to_vec())
        })
        .as_deref()
}

/// The cache of open profile databases.
pub struct Datastores {
    open: Mutex<HashMap<(String, String), Arc<ProfileDb>>>,
    background_checkpoints: AtomicBool,
    /// What opening a database runs on a file an older server left: given
    /// by the layer above (`migrate::schema::migrate_legacy_schema`, wired
    /// in `AppState::open`), so the store never depends on the migrations.
    legacy: LegacyUpgrade,
}

impl Datastores {
    pub fn new(legacy: LegacyUpgrade) -> Self {
        Self {
            open: Mutex::default(),
            background_checkpoints: AtomicBool::new(false),
            legacy,
        }
    }

    /// The profile's folder: `<data>/<user>/profiles/<profile>` (§2.1).
    /// Callers pass only validated user ids and profile UUIDs, but the path
    /// is checked here too so nothing can name a folder outside `data_dir`.
    pub fn profile_dir(data_dir: &Path, user: &str, profile: &str) -> StoreResult<PathBuf> {
        for part in [user, profile] {
            if !is_safe_component(part) {
                return Err(StoreError::invalid("invalid profile or user id"));
            }
        }
        Ok(data_dir.join(user).join("profiles").join(profile))
    }

    /// The open database for (user, profile), opening it if needed.
    pub fn get(&self, data_dir: &Path, user: &str, profile: &str) -> StoreResult<Arc<ProfileDb>> {
        let key = (user.to_string(), profile.to_string());
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = open.get(&key) {
            return Ok(db.clone());
        }
        let dir = Self::profile_dir(data_dir, user, profile)?;
        let bg = self.background_checkpoints.load(Ordering::Relaxed);
        let db = Arc::new(ProfileDb::open(user, profile, &dir, bg, self.legacy)?);
        open.insert(key, db.clone());
        Ok(db)
    }

    /// Moves WAL checkpoints off the request path for databases opened from
    /// now on; the caller then runs [`Datastores::checkpoint_all`] regularly.
    pub fn use_background_checkpoints(&self) {
        self.background_checkpoints.store(true, Ordering::Relaxed);
    }

    /// Checkpoints every open database (see [`ProfileDb::checkpoint`]).
    /// Failures are logged, not fatal: the next round retries.
    pub fn checkpoint_all(&self) {
        let dbs: Vec<Arc<ProfileDb>> = {
            let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            open.values().cloned().collect()
        };
        for db in dbs {
            if let Err(e) = db.checkpoint() {
                tracing::warn!(user = %db.user, profile = %db.profile, error = %e, "checkpoint failed");
            }
        }
    }

    /// Closes one profile's connections (its writer thread is joined when
    /// the last request holding it finishes), so its files can be replaced.
    pub fn forget(&self, user: &str, profile: &str) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(&(user.to_string(), profile.to_string()));
    }

    /// Forgets every open connection (server restart in the simulator).
    pub fn close_all(&self) {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::items::ItemType;

    #[test]
    fn path_components_that_escape_are_refused() {
        for bad in ["", ".", "..", "a/b", "a\\b", "..%2f", "x\0y"] {
            assert!(!is_safe_component(bad), "{bad:?}");
        }
        assert!(is_safe_component("2f1c6f7e-0000-4000-8000-000000000000"));
        assert!(is_safe_component("default"));
        let data = Path::new("/data");
        assert!(Datastores::profile_dir(data, "u", "../x").is_err());
    }

    #[test]
    fn a_failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        // A fresh file: the legacy upgrade is never called.
        let db = ProfileDb::open("u", "p", dir.path(), false, |_| Ok(())).unwrap();
        let r: StoreResult<()> = db.write(|tx| {
            tx.execute("INSERT INTO settings (key, value) VALUES ('x', '1')", [])?;
            Err(StoreError::invalid("no"))
        });
        assert!(r.is_err());
        let n: i64 = db
            .read(|tx| {
                Ok(
                    tx.query_row("SELECT COUNT(*) FROM settings WHERE key='x'", [], |r| {
                        r.get(0)
                    })?,
                )
            })
            .unwrap();
        assert_eq!(n, 0);
    }

    /// The writer skips the schema's CHECK (see `ProfileDb::open`): the
    /// file keeps it for every other connection, and every type the
    /// store writes is one the check accepts.
    #[test]
    fn the_type_check_stays_in_the_file_and_never_fails_for_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let db = ProfileDb::open("u", "p", dir.path(), false, |_| Ok(())).unwrap();
        let other = Connection::open(dir.path().join("datastore.sqlite")).unwrap();
        for (seed, kind) in [
            ItemType::Url,
            ItemType::Text,
            ItemType::Tagset,
            ItemType::Image,
        ]
        .into_iter()
        .enumerate()
        {
            let ids = protocol::clock::SeededIds::new(seed as u64);
            let w = crate::store::items::ItemWrite {
                kind: Some(kind),
                content: Some("c".into()),
                tags: vec!["t".into()],
                ..Default::default()
            };
            let out = db
                .write(move |tx| crate::store::items::save(tx, &ids, &w, 1))
                .unwrap();
            other
                .execute(
                    "INSERT INTO items (id, type, createdAt, updatedAt)
                     SELECT id || '-copy', type, 1, 1 FROM items WHERE id = ?1",
                    [&out.id],
                )
                .unwrap();
        }
        let bogus = other.execute(
            "INSERT INTO items (id, type, createdAt, updatedAt) VALUES ('x', 'bogus', 1, 1)",
            [],
        );
        assert!(bogus.is_err(), "the CHECK is still in the schema");
    }

    #[test]
    fn a_busy_reader_does_not_hold_up_another_read() {
        let dir = tempfile::tempdir().unwrap();
        let db = ProfileDb::open("u", "p", dir.path(), false, |_| Ok(())).unwrap();
        db.write(|tx| {
            tx.execute("INSERT INTO settings (key, value) VALUES ('x', '1')", [])?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let pool = ReaderPool::new(dir.path().join("datastore.sqlite"), 2).unwrap();
        let count = |c: &mut Connection| -> StoreResult<i64> {
            Ok(
                c.query_row("SELECT COUNT(*) FROM settings WHERE key='x'", [], |r| {
                    r.get(0)
                })?,
            )
        };
        // A read inside a read: slot 0 is busy, so the inner one opens
        // slot 1 instead of waiting (with one connection it would wait
        // for itself forever). Both see the committed row.
        let (outer, inner) = pool
            .with(|c| {
                let outer = count(c)?;
                let inner = pool.with(|c2| count(c2))?;
                Ok((outer, inner))
            })
            .unwrap();
        assert_eq!((outer, inner), (1, 1));
        assert!(pool.slots[1].lock().unwrap().is_some(), "opened on demand");
    }
}
