//! Legacy schema shapes (a)–(e) of §2.4 and the D24 timestamp fixes.

use std::fs;

use rusqlite::Connection;
use server::migrate::schema::ensure;
use server::migrate::schema::{migrate_legacy_schema, migrate_legacy_schema_report};

use crate::helpers::*;

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
