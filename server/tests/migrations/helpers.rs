//! Shared fixtures and checks of the migration tests.

use rusqlite::Connection;
use server::migrate::schema::ensure;
use server::migrate::schema::migrate_legacy_schema_report;

/// 2026-01-27T10:00:00Z in ms.
pub const BASE: i64 = 1_769_508_000_000;

// ---------------------------------------------------------------- helpers

/// Every row of the three tables, each value with its storage class, plus
/// the schema text: what "changes nothing" is compared on.
pub fn dump(c: &Connection) -> Vec<String> {
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

pub fn int(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub fn text(c: &Connection, sql: &str) -> String {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub fn col_type(c: &Connection, table: &str, col: &str) -> String {
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
pub fn assert_canonical_and_idempotent(c: &Connection) {
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
pub fn assert_no_extra_columns(c: &Connection) {
    for col in ["changeSeq", "editedAt"] {
        assert!(
            !server::store::schema::has_column(c, "items", col).unwrap(),
            "{col}"
        );
    }
}

/// Tag names of an item, through the join.
pub fn tags_of(c: &Connection, item: &str) -> Vec<String> {
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
