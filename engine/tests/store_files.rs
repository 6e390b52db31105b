//! `Store::open` on files that are not (or not yet) peek-sync stores: a
//! foreign file is refused and left byte-identical, with no `-wal`/`-shm`
//! beside it; a store from a build before the `application_id` opens and
//! keeps its data.

use std::path::{Path, PathBuf};

use engine::store::recognize::Foreign;
use engine::store::APPLICATION_ID;
use engine::{Error, Store};
use rusqlite::Connection;

/// The schema of every peek-sync build before `application_id` (commit
/// 3b6d8c1 onwards): builds before the schema revision left
/// `user_version` 0, later ones 1.
const LEGACY_SCHEMA: &str = "
CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL CHECK (type IN ('url','text','tagset','image')),
  content TEXT, metadata TEXT, syncId TEXT NOT NULL DEFAULT '', syncSource TEXT NOT NULL DEFAULT '',
  syncedAt INTEGER NOT NULL DEFAULT 0, createdAt INTEGER NOT NULL, updatedAt INTEGER NOT NULL,
  deletedAt INTEGER NOT NULL DEFAULT 0, localRev INTEGER NOT NULL DEFAULT 1);
CREATE INDEX idx_items_type ON items(type);
CREATE INDEX idx_items_syncId ON items(syncId);
CREATE INDEX idx_items_deletedAt ON items(deletedAt);
CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, frequency INTEGER NOT NULL DEFAULT 1,
  lastUsed INTEGER NOT NULL, frecencyScore REAL NOT NULL DEFAULT 0, createdAt INTEGER NOT NULL,
  updatedAt INTEGER NOT NULL);
CREATE TABLE item_tags (itemId TEXT NOT NULL, tagId TEXT NOT NULL, createdAt INTEGER NOT NULL,
  PRIMARY KEY (itemId, tagId));
CREATE INDEX idx_item_tags_tagId ON item_tags(tagId);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE server_links (serverKey TEXT NOT NULL, localId TEXT NOT NULL, serverId TEXT NOT NULL,
  serverVersion INTEGER, serverUpdatedAt INTEGER NOT NULL DEFAULT 0, pushedRev INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (serverKey, localId));
CREATE UNIQUE INDEX idx_links_server ON server_links(serverKey, serverId);
CREATE TABLE blobs (itemId TEXT PRIMARY KEY, data BLOB NOT NULL);
";

/// A file made by `sql` on a fresh connection (closed afterwards, so a
/// WAL file is checkpointed into it, as after the owner's clean exit).
fn sqlite_file(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let p = dir.join(name);
    let c = Connection::open(&p).expect("open");
    c.execute_batch(sql).expect("sql");
    drop(c);
    p
}

/// Opening `path` is refused, and the file and its directory are exactly
/// as before.
fn refused(path: &Path) -> Foreign {
    let dir = path.parent().expect("dir");
    let listing = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = std::fs::read(path).expect("read");
    let files = listing(dir);
    let err = match Store::open(path) {
        Ok(_) => panic!("{} was opened", path.display()),
        Err(e) => e,
    };
    assert_eq!(
        std::fs::read(path).expect("read"),
        before,
        "{} changed",
        path.display()
    );
    assert_eq!(listing(dir), files, "files appeared next to it");
    let msg = err.to_string();
    assert!(msg.contains("is not a peek-sync database"), "{msg}");
    match err {
        Error::ForeignDatabase { what, .. } => what,
        other => panic!("another error: {other:?}"),
    }
}

#[test]
fn a_server_system_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // A directory name that needs escaping in an SQLite URI.
    let odd = dir.path().join("a b#c%d?e");
    std::fs::create_dir(&odd).unwrap();
    // The tables of server/src/store/system.rs, in WAL as the server keeps it.
    let p = sqlite_file(
        &odd,
        "system.db",
        "PRAGMA journal_mode=WAL;
         CREATE TABLE users (id TEXT PRIMARY KEY, api_key_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
         CREATE TABLE profiles (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, slug TEXT NOT NULL, name TEXT NOT NULL,
           created_at TEXT NOT NULL, last_used_at TEXT NOT NULL);
         INSERT INTO users VALUES ('u1', 'h', '2024-01-01');",
    );
    let what = refused(&p);
    assert!(matches!(what, Foreign::ServerSystem { .. }), "{what:?}");
    assert_eq!(
        what.to_string(),
        "it looks like a peek-server system database (tables: profiles, users)"
    );
}

#[test]
fn a_live_server_system_database_with_its_wal_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("system.db");
    // The server holds it open: the tables are only in the WAL so far.
    let live = Connection::open(&p).unwrap();
    live.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
         CREATE TABLE users (id TEXT PRIMARY KEY);
         CREATE TABLE profiles (id TEXT PRIMARY KEY);",
    )
    .unwrap();
    let wal = std::fs::read(dir.path().join("system.db-wal")).unwrap();
    let what = refused(&p);
    assert!(matches!(what, Foreign::ServerSystem { .. }), "{what:?}");
    assert_eq!(
        std::fs::read(dir.path().join("system.db-wal")).unwrap(),
        wal,
        "the server's log is untouched"
    );
    drop(live);
}

#[test]
fn a_server_profile_datastore_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // The canonical tables of server/src/store/schema.rs with its changeSeq.
    let p = sqlite_file(
        dir.path(),
        "datastore.sqlite",
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT, createdAt INTEGER NOT NULL,
           updatedAt INTEGER NOT NULL, deletedAt INTEGER DEFAULT 0, changeSeq INTEGER DEFAULT 0);
         CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
         CREATE TABLE item_tags (itemId TEXT NOT NULL, tagId TEXT NOT NULL);
         CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);",
    );
    let what = refused(&p);
    assert!(matches!(what, Foreign::ServerDatastore { .. }), "{what:?}");
    assert!(what
        .to_string()
        .starts_with("it looks like a peek-server profile datastore"));
}

#[test]
fn a_peek_app_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = sqlite_file(
        dir.path(),
        "peek.db",
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT, content TEXT);
         CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT);
         CREATE TABLE item_tags (itemId TEXT, tagId TEXT);
         CREATE TABLE extensions (id TEXT PRIMARY KEY);",
    );
    assert!(matches!(refused(&p), Foreign::PeekDatastore { .. }));
}

#[test]
fn another_applications_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = sqlite_file(
        dir.path(),
        "other.db",
        "PRAGMA application_id = 0x0F055112; CREATE TABLE notes (body TEXT);",
    );
    let what = refused(&p);
    assert_eq!(
        what,
        Foreign::OtherApplication {
            application_id: 0x0F05_5112,
            user_version: 0,
            tables: vec!["notes".into()],
        }
    );
    assert!(what.to_string().contains("application_id 0x0f055112"));
    // No id but tables we do not know: refused as well.
    let p = sqlite_file(
        dir.path(),
        "places.sqlite",
        "PRAGMA user_version = 7; CREATE TABLE moz_places (url TEXT);",
    );
    assert!(matches!(
        refused(&p),
        Foreign::OtherApplication {
            application_id: 0,
            user_version: 7,
            ..
        }
    ));
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "just some text, long enough to be read as a header?\n").unwrap();
    assert_eq!(refused(&p), Foreign::NotSqlite);
    assert_eq!(
        Foreign::NotSqlite.to_string(),
        "it is not an SQLite database"
    );
    // A valid header over garbage: SQLite cannot read it either.
    let p = dir.path().join("truncated.db");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.resize(4096, 0xAB);
    std::fs::write(&p, &bytes).unwrap();
    assert_eq!(refused(&p), Foreign::NotSqlite);
}

#[test]
fn a_store_of_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("new.db");
    drop(Store::open(&p).unwrap());
    let c = Connection::open(&p).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    c.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(c);
    assert_eq!(refused(&p), Foreign::NewerRevision { revision: 99 });
}

fn application_id(p: &Path) -> i32 {
    Connection::open(p)
        .unwrap()
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap()
}

#[test]
fn legacy_stores_open_keep_their_data_and_get_the_id() {
    for rev in [0, 1] {
        let dir = tempfile::tempdir().unwrap();
        let p = sqlite_file(
            dir.path(),
            "peek.db",
            &format!(
                "PRAGMA journal_mode=WAL; {LEGACY_SCHEMA}
                 PRAGMA user_version = {rev};
                 INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES ('i1', 'url', 'https://a', 1, 1);
                 INSERT INTO settings VALUES ('sync.serverUrl', 'http://s');"
            ),
        );
        assert_eq!(application_id(&p), 0);
        let s = Store::open(&p).unwrap_or_else(|e| panic!("revision {rev}: {e}"));
        assert_eq!(
            s.item("i1").unwrap().unwrap().content.as_deref(),
            Some("https://a")
        );
        assert_eq!(
            s.setting("sync.serverUrl").unwrap().as_deref(),
            Some("http://s")
        );
        drop(s);
        assert_eq!(application_id(&p), APPLICATION_ID, "revision {rev}");
        Store::open(&p).expect("reopens");
    }
}

#[test]
fn new_and_empty_files_become_stores() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fresh.db");
    drop(Store::open(&p).unwrap());
    assert_eq!(application_id(&p), APPLICATION_ID);
    let header = std::fs::read(&p).unwrap();
    assert_eq!(&header[68..72], b"PkSy", "the id is readable in the header");
    // A zero-byte file (`touch`), and an SQLite file without tables.
    let e = dir.path().join("empty.db");
    std::fs::write(&e, b"").unwrap();
    drop(Store::open(&e).unwrap());
    assert_eq!(application_id(&e), APPLICATION_ID);
    let t = sqlite_file(dir.path(), "blank.db", "PRAGMA user_version = 0; VACUUM;");
    drop(Store::open(&t).unwrap());
    assert_eq!(application_id(&t), APPLICATION_ID);
    // And the in-memory store the simulator uses starts from the same template.
    let m = Store::open_in_memory().unwrap();
    let id: i32 = m
        .conn()
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(id, APPLICATION_ID);
}
