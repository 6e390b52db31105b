//! Legacy migrations (§2.4 schema shapes (a)–(e), §2.5 steps 2–4, D17,
//! D24). Every fixture is built here with raw SQL; nothing binary.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use rusqlite::Connection;
use server::clock::{IdSource, ManualClock, SeededIds};
use server::migrate::data_dir::{migrate_data_dir, Action, DataDirOptions, MigrateError};
use server::migrate::schema::{migrate_legacy_schema, migrate_legacy_schema_report};
use server::store::schema::ensure;
use server::store::system::{hash_key, SystemDb};

/// 2026-01-27T10:00:00Z in ms.
const BASE: i64 = 1_769_508_000_000;

// ---------------------------------------------------------------- helpers

/// Every row of the three tables, each value with its storage class, plus
/// the schema text: what "changes nothing" is compared on.
fn dump(c: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    let mut st = c
        .prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name")
        .unwrap();
    let rows = st
        .query_map([], |r| {
            Ok(format!(
                "{} {} {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .unwrap();
    out.extend(rows.map(Result::unwrap));
    for t in ["items", "tags", "item_tags"] {
        let mut st = c
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2"))
            .unwrap();
        let n = st.column_count();
        let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
        let rows = st
            .query_map([], |r| {
                let mut s = format!("{t}:");
                for (i, name) in names.iter().enumerate().take(n) {
                    let v: rusqlite::types::Value = r.get(i)?;
                    s.push_str(&format!(" {name}={v:?}"));
                }
                Ok(s)
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

fn int(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn text(c: &Connection, sql: &str) -> String {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn col_type(c: &Connection, table: &str, col: &str) -> String {
    let mut st = c.prepare(&format!("PRAGMA table_info({table})")).unwrap();
    let v: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    v.into_iter()
        .find(|(n, _)| n == col)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("{table}.{col} missing"))
}

/// The checks every legacy shape must pass after migration: canonical
/// columns with INTEGER types and integer values, tags joined, `ensure`
/// works, a second run changes nothing, and a new write works.
fn assert_canonical_and_idempotent(c: &Connection) {
    for (t, cols) in [
        (
            "items",
            &["syncedAt", "createdAt", "updatedAt", "deletedAt"][..],
        ),
        ("tags", &["lastUsed", "createdAt", "updatedAt"][..]),
        ("item_tags", &["createdAt"][..]),
    ] {
        for col in cols {
            assert_eq!(col_type(c, t, col), "INTEGER", "{t}.{col} type");
            let bad = int(
                c,
                &format!("SELECT COUNT(*) FROM {t} WHERE typeof({col}) != 'integer'"),
            );
            assert_eq!(bad, 0, "{t}.{col} has non-integer values");
        }
    }
    assert_eq!(col_type(c, "tags", "id"), "TEXT");
    assert_eq!(col_type(c, "item_tags", "tagId"), "TEXT");
    for legacy in [
        "created_at",
        "sync_id",
        "deleted_at",
        "item_id",
        "tag_id",
        "last_used",
    ] {
        for t in ["items", "tags", "item_tags"] {
            assert!(
                !server::store::schema::has_column(c, t, legacy).unwrap(),
                "{t}.{legacy} left"
            );
        }
    }
    let before = dump(c);
    let again = migrate_legacy_schema_report(c).unwrap();
    assert!(again.is_empty(), "second run did {:?}", again.actions);
    assert_eq!(dump(c), before, "second run changed data");

    ensure(c).unwrap();
    assert!(server::store::schema::has_column(c, "items", "changeSeq").unwrap());
    let before = dump(c);
    let changes = c.total_changes();
    let again = migrate_legacy_schema_report(c).unwrap();
    assert!(again.is_empty(), "run after ensure did {:?}", again.actions);
    assert_eq!(c.total_changes(), changes);
    assert_eq!(dump(c), before);
    // New writes work with the canonical column names.
    c.execute(
        "INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES ('new', 'text', 'n', 1, 2)",
        [],
    )
    .unwrap();
}

/// The migration adds none of our own columns: `ensure()` does that.
fn assert_no_extra_columns(c: &Connection) {
    for col in ["changeSeq", "editedAt"] {
        assert!(
            !server::store::schema::has_column(c, "items", col).unwrap(),
            "{col}"
        );
    }
}

/// Tag names of an item, through the join.
fn tags_of(c: &Connection, item: &str) -> Vec<String> {
    let mut st = c
        .prepare(
            "SELECT t.name FROM item_tags it JOIN tags t ON t.id = it.tagId
             WHERE it.itemId = ?1 ORDER BY t.name",
        )
        .unwrap();
    st.query_map([item], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

// ------------------------------------------------------- schema, §2.4 (a)-(e)

#[test]
fn a_snake_case_integer_timestamps() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT, metadata TEXT,
           sync_id TEXT DEFAULT '', sync_source TEXT DEFAULT '', synced_at INTEGER DEFAULT 0,
           created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER DEFAULT 0);
         CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, frequency INTEGER DEFAULT 1,
           last_used_at INTEGER NOT NULL, frecency_score REAL DEFAULT 0,
           created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
         CREATE TABLE item_tags (item_id TEXT NOT NULL, tag_id TEXT NOT NULL,
           created_at INTEGER NOT NULL, PRIMARY KEY (item_id, tag_id));
         INSERT INTO items VALUES ('i1', 'url', 'https://a', '{\"k\":1}', 'sync-1', '', 0, 1000, 2000, 0);
         INSERT INTO items VALUES ('i2', 'text', 'gone', NULL, '', '', 0, 1001, 2001, 3001);
         INSERT INTO tags VALUES ('t1', 'work', 3, 5000, 1.5, 4000, 4500);
         INSERT INTO item_tags VALUES ('i1', 't1', 6000);",
    )
    .unwrap();
    let r = migrate_legacy_schema_report(&c).unwrap();
    assert_eq!(r.rebuilt, ["items", "tags", "item_tags"]);
    assert_eq!(
        text(
            &c,
            "SELECT content || metadata || syncId FROM items WHERE id = 'i1'"
        ),
        "https://a{\"k\":1}sync-1"
    );
    assert_eq!(int(&c, "SELECT createdAt FROM items WHERE id = 'i1'"), 1000);
    assert_eq!(int(&c, "SELECT deletedAt FROM items WHERE id = 'i2'"), 3001);
    assert_eq!(int(&c, "SELECT lastUsed FROM tags WHERE id = 't1'"), 5000);
    assert_eq!(int(&c, "SELECT frequency FROM tags WHERE id = 't1'"), 3);
    assert_eq!(tags_of(&c, "i1"), ["work"]);
    assert_no_extra_columns(&c);
    assert_canonical_and_idempotent(&c);
}

#[test]
fn b_original_production_schema() {
    let c = Connection::open_in_memory().unwrap();
    // Foreign keys on: dropping the old tags must not cascade into links.
    c.execute_batch(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE items (id TEXT PRIMARY KEY,
           type TEXT NOT NULL CHECK(type IN ('url', 'text', 'tagset', 'image')),
           content TEXT, metadata TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
           deleted_at TEXT);
         CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
           frequency INTEGER DEFAULT 1, last_used TEXT, frecency_score REAL DEFAULT 0,
           created_at TEXT, updated_at TEXT);
         CREATE TABLE item_tags (item_id TEXT NOT NULL, tag_id INTEGER NOT NULL, created_at TEXT,
           PRIMARY KEY (item_id, tag_id),
           FOREIGN KEY (item_id) REFERENCES items(id) ON DELETE CASCADE,
           FOREIGN KEY (tag_id) REFERENCES tags(id) ON DELETE CASCADE);
         INSERT INTO items VALUES ('i1', 'url', 'https://a', NULL,
           '2026-01-27T10:00:00.789Z', '2026-01-27T10:00:01.000Z', NULL);
         INSERT INTO items VALUES ('i2', 'tagset', '', '{}',
           '2026-01-27T10:00:00Z', '2026-01-27T10:00:00Z', '2026-01-27T11:00:00.5Z');
         INSERT INTO tags (name, last_used, created_at, updated_at)
           VALUES ('alpha', '2026-01-27T10:00:00.123Z', '2026-01-27T10:00:00Z', '2026-01-27T10:00:00Z');
         INSERT INTO tags (name, last_used, created_at, updated_at)
           VALUES ('beta', '2026-01-27T10:00:00Z', '2026-01-27T10:00:00Z', '2026-01-27T10:00:00Z');
         INSERT INTO item_tags VALUES ('i1', 1, '2026-01-27T10:00:00Z');
         INSERT INTO item_tags VALUES ('i1', 2, '2026-01-27T10:00:00Z');
         INSERT INTO item_tags VALUES ('i2', 2, '2026-01-27T10:00:00Z');",
    )
    .unwrap();
    migrate_legacy_schema(&c).unwrap();
    // Milliseconds kept (D24: the Node server gave ...000).
    assert_eq!(
        int(&c, "SELECT createdAt FROM items WHERE id = 'i1'"),
        BASE + 789
    );
    assert_eq!(
        int(&c, "SELECT updatedAt FROM items WHERE id = 'i1'"),
        BASE + 1000
    );
    assert_eq!(
        int(&c, "SELECT deletedAt FROM items WHERE id = 'i1'"),
        0,
        "NULL -> 0"
    );
    assert_eq!(
        int(&c, "SELECT deletedAt FROM items WHERE id = 'i2'"),
        BASE + 3_600_500
    );
    assert_eq!(text(&c, "SELECT syncId FROM items WHERE id = 'i1'"), "");
    assert_eq!(text(&c, "SELECT id FROM tags WHERE name = 'alpha'"), "1");
    assert_eq!(
        int(
            &c,
            "SELECT typeof(id) = 'text' FROM tags WHERE name = 'alpha'"
        ),
        1
    );
    assert_eq!(
        int(&c, "SELECT lastUsed FROM tags WHERE name = 'alpha'"),
        BASE + 123
    );
    assert_eq!(tags_of(&c, "i1"), ["alpha", "beta"]);
    assert_eq!(tags_of(&c, "i2"), ["beta"]);
    // The CHECK the legacy table had is kept (§2.3).
    assert!(c
        .execute(
            "INSERT INTO items (id, type, createdAt, updatedAt) VALUES ('x', 'bogus', 1, 1)",
            []
        )
        .is_err());
    assert_no_extra_columns(&c);
    assert_canonical_and_idempotent(&c);
}

#[test]
fn c_tags_missing_timestamp_and_frecency_columns() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(server::store::schema::CANONICAL).unwrap();
    c.execute_batch(
        "DROP TABLE tags;
         CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, frequency INTEGER DEFAULT 1);
         INSERT INTO tags VALUES ('t1', 'solo', 4);
         INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES ('i1', 'text', 'x', 5, 6);
         INSERT INTO item_tags VALUES ('i1', 't1', 7);",
    )
    .unwrap();
    let r = migrate_legacy_schema_report(&c).unwrap();
    assert_eq!(r.rebuilt, ["tags"], "only the legacy table is rebuilt");
    assert_eq!(int(&c, "SELECT frequency FROM tags"), 4);
    assert_eq!(int(&c, "SELECT lastUsed FROM tags"), 0);
    assert_eq!(
        int(&c, "SELECT typeof(frecencyScore) = 'real' FROM tags"),
        1
    );
    assert_eq!(tags_of(&c, "i1"), ["solo"]);
    assert_canonical_and_idempotent(&c);
}

#[test]
fn d_camel_case_text_affinity_iso_and_numeric_strings() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT, metadata TEXT,
           syncId TEXT DEFAULT '', syncSource TEXT DEFAULT '', syncedAt TEXT DEFAULT '0',
           createdAt TEXT NOT NULL, updatedAt TEXT NOT NULL, deletedAt TEXT DEFAULT '0');
         CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, frequency INTEGER DEFAULT 1,
           lastUsed TEXT NOT NULL, frecencyScore REAL DEFAULT 0, createdAt TEXT NOT NULL,
           updatedAt TEXT NOT NULL);
         CREATE TABLE item_tags (itemId TEXT NOT NULL, tagId TEXT NOT NULL, createdAt TEXT NOT NULL,
           PRIMARY KEY (itemId, tagId));
         INSERT INTO items VALUES ('iso', 'text', 'a', NULL, 's1', '', '0',
           '2026-01-27T10:00:00.789Z', '2026-01-27 10:00:00', '0');
         INSERT INTO items VALUES ('num', 'text', 'b', NULL, 's2', '', '1769559596439.0',
           '1769559596439.0', '1769559596440', '');
         INSERT INTO tags VALUES ('t', 'n', 1, '1769559596439.0', 0, '2026-01-27 10:00:00',
           '2026-01-27T10:00:00.001Z');
         INSERT INTO item_tags VALUES ('num', 't', '1769559596439.0');",
    )
    .unwrap();
    let r = migrate_legacy_schema_report(&c).unwrap();
    assert_eq!(r.unreadable, 0);
    assert_eq!(
        int(&c, "SELECT createdAt FROM items WHERE id = 'iso'"),
        BASE + 789
    );
    // SQLite-format text: the right ms, not the year 2026 (D24).
    assert_eq!(
        int(&c, "SELECT updatedAt FROM items WHERE id = 'iso'"),
        BASE
    );
    assert_eq!(
        int(&c, "SELECT createdAt FROM items WHERE id = 'num'"),
        1_769_559_596_439
    );
    assert_eq!(
        int(&c, "SELECT syncedAt FROM items WHERE id = 'num'"),
        1_769_559_596_439
    );
    assert_eq!(int(&c, "SELECT deletedAt FROM items WHERE id = 'num'"), 0);
    assert_eq!(int(&c, "SELECT createdAt FROM tags"), BASE);
    assert_eq!(int(&c, "SELECT updatedAt FROM tags"), BASE + 1);
    assert_eq!(tags_of(&c, "num"), ["n"]);
    // Queries comparing numbers work without CAST (no digit text left).
    assert_eq!(
        int(
            &c,
            "SELECT COUNT(*) FROM items WHERE updatedAt > 1769559596439"
        ),
        1
    );
    assert_no_extra_columns(&c);
    assert_canonical_and_idempotent(&c);
}

#[test]
fn e_snake_case_with_text_timestamps_and_integer_tag_ids() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT, metadata TEXT,
           sync_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT);
         CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, frequency INTEGER,
           last_used_at TEXT, frecency_score REAL, created_at TEXT, updated_at TEXT);
         CREATE TABLE item_tags (item_id TEXT NOT NULL, tag_id INTEGER NOT NULL, created_at TEXT);
         INSERT INTO items VALUES ('i1', 'image', 'img', '{\"w\":2}', 'abc',
           '2026-01-27T10:00:00.250Z', '2026-01-27 10:00:00', NULL);
         INSERT INTO tags VALUES (7, 'seven', 2, '2026-01-27T10:00:00Z', 0.5,
           '2026-01-27T10:00:00Z', '2026-01-27T10:00:00Z');
         INSERT INTO item_tags VALUES ('i1', 7, '2026-01-27T10:00:00.999Z');
         INSERT INTO item_tags VALUES ('i1', 7, '2026-01-27T10:00:00.999Z');",
    )
    .unwrap();
    let r = migrate_legacy_schema_report(&c).unwrap();
    assert_eq!(r.dropped_rows, 1, "the duplicate link");
    assert_eq!(text(&c, "SELECT syncId FROM items"), "abc");
    assert_eq!(text(&c, "SELECT metadata FROM items"), "{\"w\":2}");
    assert_eq!(int(&c, "SELECT createdAt FROM items"), BASE + 250);
    assert_eq!(int(&c, "SELECT deletedAt FROM items"), 0);
    assert_eq!(text(&c, "SELECT tagId FROM item_tags"), "7");
    assert_eq!(int(&c, "SELECT createdAt FROM item_tags"), BASE + 999);
    assert_eq!(tags_of(&c, "i1"), ["seven"]);
    assert_no_extra_columns(&c);
    assert_canonical_and_idempotent(&c);
}

#[test]
fn canonical_table_with_text_values_is_fixed_in_place() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(server::store::schema::CANONICAL).unwrap();
    c.execute_batch(server::store::schema::CANONICAL_INDEXES)
        .unwrap();
    c.execute_batch(
        "INSERT INTO items (id, type, content, createdAt, updatedAt, deletedAt)
           VALUES ('a', 'text', 'x', '2026-01-27T10:00:00.789Z', 5, NULL);
         INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES ('b', 'text', 'y', 1, 2);",
    )
    .unwrap();
    let schema_before = int(&c, "PRAGMA schema_version");
    let r = migrate_legacy_schema_report(&c).unwrap();
    assert!(r.rebuilt.is_empty(), "no rebuild for value fixes");
    assert_eq!(r.converted, 2);
    assert_eq!(int(&c, "PRAGMA schema_version"), schema_before);
    assert_eq!(
        int(&c, "SELECT createdAt FROM items WHERE id = 'a'"),
        BASE + 789
    );
    assert_eq!(int(&c, "SELECT deletedAt FROM items WHERE id = 'a'"), 0);
    assert_canonical_and_idempotent(&c);
}

#[test]
fn unreadable_timestamps_become_zero_and_are_counted() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT,
           createdAt TEXT NOT NULL, updatedAt TEXT NOT NULL);
         INSERT INTO items VALUES ('i', 'text', 'kept', 'not a date', '2026-01-27T10:00:00Z');",
    )
    .unwrap();
    let r = migrate_legacy_schema_report(&c).unwrap();
    assert_eq!(r.unreadable, 1);
    assert_eq!(int(&c, "SELECT createdAt FROM items"), 0);
    assert_eq!(int(&c, "SELECT updatedAt FROM items"), BASE);
    assert_eq!(text(&c, "SELECT content FROM items"), "kept");
    assert_canonical_and_idempotent(&c);
}

#[test]
fn already_canonical_database_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("datastore.sqlite");
    {
        let c = Connection::open(&path).unwrap();
        ensure(&c).unwrap();
        c.execute(
            "INSERT INTO items (id, type, content, createdAt, updatedAt) VALUES ('a', 'text', 'x', 1, 2)",
            [],
        )
        .unwrap();
    }
    let before = fs::read(&path).unwrap();
    let c = Connection::open(&path).unwrap();
    let r = migrate_legacy_schema_report(&c).unwrap();
    assert!(r.is_empty(), "{:?}", r.actions);
    assert_eq!(c.total_changes(), 0);
    drop(c);
    assert_eq!(fs::read(&path).unwrap(), before, "file bytes changed");
}

#[test]
fn duplicate_tag_names_are_merged_and_links_follow() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT,
           created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
         CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL, last_used INTEGER);
         CREATE TABLE item_tags (item_id TEXT, tag_id INTEGER, created_at INTEGER);
         INSERT INTO items VALUES ('i1', 'text', 'x', 1, 1), ('i2', 'text', 'y', 1, 1);
         INSERT INTO tags VALUES (1, 'dup', 1), (2, 'dup', 2), (3, 'other', 3);
         INSERT INTO item_tags VALUES ('i1', 1, 1), ('i2', 2, 1), ('i2', 3, 1), (NULL, 3, 1);",
    )
    .unwrap();
    let r = migrate_legacy_schema_report(&c).unwrap();
    assert_eq!(r.merged_tags, 1);
    assert_eq!(r.dropped_rows, 1, "the link with a NULL item id");
    assert_eq!(int(&c, "SELECT COUNT(*) FROM tags"), 2);
    assert_eq!(tags_of(&c, "i1"), ["dup"]);
    assert_eq!(tags_of(&c, "i2"), ["dup", "other"]);
    assert_canonical_and_idempotent(&c);
}

#[test]
fn ensure_on_a_legacy_file_runs_the_migration() {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT,
           created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT);
         INSERT INTO items VALUES ('i1', 'text', 'x', '2026-01-27T10:00:00.789Z',
           '2026-01-27T10:00:00.789Z', NULL);",
    )
    .unwrap();
    ensure(&c).unwrap();
    assert_eq!(int(&c, "SELECT createdAt FROM items"), BASE + 789);
    assert_eq!(int(&c, "SELECT changeSeq FROM items"), 1);
    assert!(server::store::schema::table_exists(&c, "tags").unwrap());
    assert_canonical_and_idempotent(&c);
}

// ---------------------------------------------------- data dir, §2.5 steps 2-4

/// Every file and folder under `root` with its bytes' hash (symlinks by
/// their target): the "changes no byte" check of a dry run.
fn tree(root: &Path) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut ents: Vec<_> = fs::read_dir(dir).unwrap().map(Result::unwrap).collect();
        ents.sort_by_key(|e| e.file_name());
        for e in ents {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(rel, format!("link {:?}", fs::read_link(&p).unwrap()));
            } else if ft.is_dir() {
                out.insert(rel.clone(), "dir".into());
                walk(root, &p, out);
            } else {
                out.insert(rel, hex::encode(Sha256::digest(fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A legacy `peek.db` in the production shape (b), written with raw SQL.
fn write_legacy_db(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL, content TEXT, metadata TEXT,
           created_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT);
         CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
           frequency INTEGER DEFAULT 1, last_used TEXT, frecency_score REAL DEFAULT 0,
           created_at TEXT, updated_at TEXT);
         CREATE TABLE item_tags (item_id TEXT NOT NULL, tag_id INTEGER NOT NULL, created_at TEXT,
           PRIMARY KEY (item_id, tag_id));
         INSERT INTO items VALUES ('legacy-1', 'url', 'https://old', NULL,
           '2026-01-27T10:00:00.789Z', '2026-01-27T10:00:00.789Z', NULL);
         INSERT INTO tags (name, last_used) VALUES ('old', '2026-01-27T10:00:00Z');
         INSERT INTO item_tags VALUES ('legacy-1', 1, '2026-01-27T10:00:00Z');",
    )
    .unwrap();
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    system: SystemDb,
    clock: ManualClock,
    ids: SeededIds,
}

/// A data dir where system.db lives outside the tree that is hashed.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    fs::create_dir(&root).unwrap();
    let system = SystemDb::open(&tmp.path().join("system.db")).unwrap();
    Fixture {
        root,
        system,
        clock: ManualClock::new(BASE),
        ids: SeededIds::new(42),
        _tmp: tmp,
    }
}

fn run(f: &Fixture, dry_run: bool, key: Option<&str>) -> server::migrate::data_dir::DataDirReport {
    let opts = DataDirOptions {
        dry_run,
        legacy_api_key: key.map(str::to_string),
    };
    migrate_data_dir(&f.root, &f.system, &f.clock, &f.ids, &opts).unwrap()
}

/// `alice` has a legacy `peek.db` + `images/`; `bob` has slug folders;
/// `backups/` and a stray file must be ignored.
fn legacy_layout(f: &Fixture) {
    f.system.create_user("alice", "ka", "t").unwrap();
    f.system.create_user("bob", "kb", "t").unwrap();
    let alice = f.root.join("alice");
    fs::create_dir_all(alice.join("images/sub")).unwrap();
    write_legacy_db(&alice.join("peek.db"));
    fs::write(alice.join("images/abc.png"), b"png-bytes").unwrap();
    fs::write(alice.join("images/sub/d.jpg"), b"jpg").unwrap();
    let bob = f.root.join("bob/profiles");
    fs::create_dir_all(bob.join("work")).unwrap();
    fs::create_dir_all(bob.join("default")).unwrap();
    fs::write(bob.join("work/datastore.sqlite"), b"work-db").unwrap();
    fs::write(bob.join("default/datastore.sqlite"), b"default-db").unwrap();
    f.system
        .create_profile("bob", "bob-work-uuid", "Work", "t")
        .unwrap();
    fs::create_dir_all(f.root.join("backups/alice")).unwrap();
    fs::write(f.root.join("backups/alice/peek.db"), b"not a user").unwrap();
    fs::write(f.root.join("README"), b"stray").unwrap();
}

#[test]
fn legacy_peek_db_moves_to_a_default_profile_folder() {
    let f = fixture();
    legacy_layout(&f);
    let original_db = fs::read(f.root.join("alice/peek.db")).unwrap();
    let report = run(&f, false, None);

    let p = f
        .system
        .profile_by_slug("alice", "default")
        .unwrap()
        .unwrap();
    assert_eq!(p.name, "Default");
    assert_eq!(
        p.created_at, "2026-01-27T10:00:00.000Z",
        "from the injected clock"
    );
    let prof = f.root.join("alice/profiles").join(&p.id);
    assert!(!f.root.join("alice/peek.db").exists());
    assert!(!f.root.join("alice/images").exists());
    assert_eq!(fs::read(prof.join("images/abc.png")).unwrap(), b"png-bytes");
    assert_eq!(fs::read(prof.join("images/sub/d.jpg")).unwrap(), b"jpg");
    // Backups (§2.5 step 3).
    assert_eq!(
        fs::read(f.root.join("alice/peek.db.pre-migration-backup")).unwrap(),
        original_db
    );
    assert_eq!(
        fs::read(f.root.join("alice/images.pre-migration-backup/sub/d.jpg")).unwrap(),
        b"jpg"
    );
    // The moved database opens and migrates with its data.
    let c = Connection::open(prof.join("datastore.sqlite")).unwrap();
    ensure(&c).unwrap();
    assert_eq!(
        int(&c, "SELECT createdAt FROM items WHERE id = 'legacy-1'"),
        BASE + 789
    );
    assert_eq!(tags_of(&c, "legacy-1"), ["old"]);

    // bob: default record created for the stray folder, slug folders renamed.
    let bd = f.system.profile_by_slug("bob", "default").unwrap().unwrap();
    let bob = f.root.join("bob/profiles");
    assert_eq!(
        fs::read(bob.join("bob-work-uuid/datastore.sqlite")).unwrap(),
        b"work-db"
    );
    assert_eq!(
        fs::read(bob.join(&bd.id).join("datastore.sqlite")).unwrap(),
        b"default-db"
    );
    assert!(!bob.join("work").exists() && !bob.join("default").exists());
    // Ignored: backups/ and the stray file.
    assert!(f.root.join("backups/alice/peek.db").exists());
    assert!(f.system.profiles("backups").unwrap().is_empty());

    let kinds: Vec<&str> = report
        .actions
        .iter()
        .map(|a| match a {
            Action::CreateLegacyUser { .. } => "user",
            Action::BackupDatabase { .. } => "backup-db",
            Action::BackupImages { .. } => "backup-images",
            Action::CreateDefaultProfile { .. } => "profile",
            Action::MoveDatabase { .. } => "move-db",
            Action::MoveImages { .. } => "move-images",
            Action::RenameSlugFolder { .. } => "rename",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "backup-db",
            "backup-images",
            "profile",
            "move-db",
            "move-images",
            "profile",
            "rename",
            "rename"
        ]
    );
    assert!(report.lines()[3].starts_with("move alice/peek.db to alice/profiles/"));

    // Idempotent: nothing left to do, nothing changes.
    let before = tree(&f.root);
    let again = run(&f, false, None);
    assert!(again.is_empty(), "{:?}", again.lines());
    assert_eq!(tree(&f.root), before);
}

#[test]
fn dry_run_changes_no_byte_and_reports_what_a_real_run_does() {
    let f = fixture();
    legacy_layout(&f);
    let before = tree(&f.root);
    let sys_before = f.system.with_conn(dump_system);
    let dry = run(&f, true, Some("legacy-key"));
    assert_eq!(tree(&f.root), before, "dry run touched the data dir");
    assert_eq!(
        f.system.with_conn(dump_system),
        sys_before,
        "dry run touched system.db"
    );
    assert!(dry
        .lines()
        .iter()
        .all(|l| l.starts_with("[dry run] would ") || l.starts_with("note:")));

    // A real run with the same ids does the same things (D17: the dry run
    // plans later steps against the state earlier steps would leave).
    let real_ids = SeededIds::new(42);
    let real = migrate_data_dir(
        &f.root,
        &f.system,
        &f.clock,
        &real_ids,
        &DataDirOptions {
            dry_run: false,
            legacy_api_key: Some("legacy-key".into()),
        },
    )
    .unwrap();
    assert_eq!(dry.actions, real.actions);
    // Users exist, so the legacy key was not used.
    assert!(!dry
        .actions
        .iter()
        .any(|a| matches!(a, Action::CreateLegacyUser { .. })));
}

fn dump_system(c: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT id || api_key_hash || created_at FROM users ORDER BY id",
        "SELECT id || user_id || slug || name FROM profiles ORDER BY id",
    ] {
        let mut st = c.prepare(sql).unwrap();
        out.extend(
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap),
        );
    }
    out
}

#[test]
fn legacy_api_key_creates_default_user_only_without_users() {
    let f = fixture();
    // Dry run: reported, not done.
    let r = run(&f, true, Some("secret"));
    assert_eq!(
        r.lines(),
        ["[dry run] would create user 'default' from the legacy API_KEY"]
    );
    assert_eq!(f.system.user_count().unwrap(), 0);
    let r = run(&f, false, Some("secret"));
    assert_eq!(
        r.actions,
        [Action::CreateLegacyUser {
            user: "default".into()
        }]
    );
    assert_eq!(
        f.system.user_for_key("secret").unwrap().as_deref(),
        Some("default")
    );
    f.system.with_conn(|c| {
        assert_eq!(
            text(c, "SELECT api_key_hash FROM users"),
            hash_key("secret")
        );
    });
    // Now there is a user: a different key is ignored.
    let r = run(&f, false, Some("other"));
    assert!(r.is_empty());
    assert_eq!(f.system.user_for_key("other").unwrap(), None);
    // Empty key: ignored even without users.
    let g = fixture();
    assert!(run(&g, false, Some("")).is_empty());
    assert_eq!(g.system.user_count().unwrap(), 0);
}

#[test]
fn existing_backup_is_not_overwritten_and_existing_default_profile_is_used() {
    let f = fixture();
    f.system.create_user("u", "k", "t").unwrap();
    f.system
        .create_profile("u", "existing-uuid", "Default", "t")
        .unwrap();
    let u = f.root.join("u");
    fs::create_dir_all(&u).unwrap();
    write_legacy_db(&u.join("peek.db"));
    fs::write(u.join("peek.db.pre-migration-backup"), b"older backup").unwrap();
    let r = run(&f, false, None);
    assert_eq!(
        fs::read(u.join("peek.db.pre-migration-backup")).unwrap(),
        b"older backup"
    );
    assert!(u.join("profiles/existing-uuid/datastore.sqlite").is_file());
    assert_eq!(f.system.profiles("u").unwrap().len(), 1);
    assert!(matches!(
        r.actions.as_slice(),
        [Action::MoveDatabase { .. }]
    ));
}

#[test]
fn peek_db_is_left_when_the_profile_already_has_a_datastore() {
    let f = fixture();
    f.system.create_user("u", "k", "t").unwrap();
    let u = f.root.join("u");
    fs::create_dir_all(u.join("profiles/default")).unwrap();
    fs::write(u.join("peek.db"), b"legacy").unwrap();
    fs::write(u.join("profiles/default/datastore.sqlite"), b"current").unwrap();
    let r = run(&f, false, None);
    assert_eq!(fs::read(u.join("peek.db")).unwrap(), b"legacy");
    assert!(!u.join("peek.db.pre-migration-backup").exists());
    // Step 4 still turns the slug folder into the UUID folder.
    let p = f.system.profile_by_slug("u", "default").unwrap().unwrap();
    assert_eq!(
        fs::read(u.join("profiles").join(&p.id).join("datastore.sqlite")).unwrap(),
        b"current"
    );
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(run(&f, false, None).is_empty());
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_followed_out_of_the_data_dir() {
    use std::os::unix::fs::symlink;
    let f = fixture();
    let outside = f._tmp.path().join("outside");
    fs::create_dir_all(outside.join("profiles/work")).unwrap();
    fs::write(outside.join("peek.db"), b"outside").unwrap();
    f.system.create_user("linked", "k", "t").unwrap();
    f.system.create_user("u", "k2", "t").unwrap();
    f.system
        .create_profile("u", "work-uuid", "Work", "t")
        .unwrap();
    symlink(&outside, f.root.join("linked")).unwrap();
    let u = f.root.join("u");
    fs::create_dir_all(u.join("profiles")).unwrap();
    symlink(outside.join("profiles/work"), u.join("profiles/work")).unwrap();
    symlink(outside.join("peek.db"), u.join("peek.db")).unwrap();
    // An existing Default profile whose folder is a link out of the tree.
    f.system.create_user("w", "k3", "t").unwrap();
    f.system
        .create_profile("w", "w-uuid", "Default", "t")
        .unwrap();
    let w = f.root.join("w");
    fs::create_dir_all(w.join("profiles")).unwrap();
    fs::write(w.join("peek.db"), b"w legacy").unwrap();
    symlink(&outside, w.join("profiles/w-uuid")).unwrap();
    let outside_before = tree(&outside);
    let before = tree(&f.root);
    let r = run(&f, false, None);
    assert!(r.is_empty(), "{:?}", r.lines());
    assert_eq!(r.notes.len(), 4, "{:?}", r.notes);
    assert!(r
        .notes
        .iter()
        .any(|n| n.contains("w/profiles/w-uuid is not a folder")));
    assert_eq!(tree(&outside), outside_before);
    assert_eq!(tree(&f.root), before);
}

#[test]
fn failed_move_is_rolled_back() {
    let f = fixture();
    f.system.create_user("u", "k", "t").unwrap();
    let u = f.root.join("u");
    fs::create_dir_all(u.join("images")).unwrap();
    fs::write(u.join("peek.db"), b"legacy").unwrap();
    fs::write(u.join("peek.db-wal"), b"wal").unwrap();
    fs::write(u.join("images/a.png"), b"a").unwrap();
    // The profile id the migration will draw: block the move of the WAL
    // (after the database itself has moved) with a non-empty folder.
    let id = SeededIds::new(42).uuid();
    let blocker = u.join("profiles").join(&id).join("datastore.sqlite-wal");
    fs::create_dir_all(&blocker).unwrap();
    fs::write(blocker.join("x"), b"x").unwrap();
    let opts = DataDirOptions::default();
    let err = migrate_data_dir(&f.root, &f.system, &f.clock, &f.ids, &opts).unwrap_err();
    assert!(
        matches!(err, MigrateError::RolledBack { restored: true, .. }),
        "{err}"
    );
    assert_eq!(fs::read(u.join("peek.db")).unwrap(), b"legacy");
    assert_eq!(fs::read(u.join("peek.db-wal")).unwrap(), b"wal");
    assert!(!u
        .join("profiles")
        .join(&id)
        .join("datastore.sqlite")
        .exists());
    assert_eq!(fs::read(u.join("images/a.png")).unwrap(), b"a");
    assert!(
        f.system.profile_by_slug("u", "default").unwrap().is_none(),
        "the profile record created for the move is removed again"
    );
    // The backup (with its WAL) is complete and stays.
    assert_eq!(
        fs::read(u.join("peek.db.pre-migration-backup")).unwrap(),
        b"legacy"
    );
    assert_eq!(
        fs::read(u.join("peek.db.pre-migration-backup-wal")).unwrap(),
        b"wal"
    );
}
