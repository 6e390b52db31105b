//! The canonical per-profile tables of §2.3, described column by column
//! with the legacy names each column had (§2.4), so that
//! [`super::schema`] can tell a legacy table from a canonical one and
//! rebuild it. Must agree with [`crate::store::schema::CANONICAL`]; the
//! `spec_matches_canonical_ddl` test checks that.

use rusqlite::types::Value;

/// How a column's values are converted when a table is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Copied as is.
    Plain,
    /// An id: must have TEXT affinity; integers become their decimal text.
    Id,
    /// Milliseconds: must have INTEGER affinity; text, real and NULL are
    /// converted by [`super::schema::to_millis`].
    Timestamp,
}

/// The value a rebuilt table gets when the legacy table lacks the column.
#[derive(Debug, Clone, Copy)]
pub enum Fill {
    /// The table cannot be migrated without it.
    Required,
    Null,
    Int(i64),
    Real(f64),
    Text(&'static str),
}

impl Fill {
    pub fn value(self) -> Value {
        match self {
            Fill::Required | Fill::Null => Value::Null,
            Fill::Int(i) => Value::Integer(i),
            Fill::Real(f) => Value::Real(f),
            Fill::Text(s) => Value::Text(s.to_string()),
        }
    }
}

/// One canonical column.
#[derive(Debug)]
pub struct ColSpec {
    pub name: &'static str,
    /// Legacy names, in the order they are preferred (§2.4 renames).
    pub aliases: &'static [&'static str],
    /// Column definition after the name, as in `CANONICAL`.
    pub ddl: &'static str,
    pub kind: Kind,
    pub fill: Fill,
}

/// One canonical table. For `tags` the first two columns must be `id` and
/// `name`, for `item_tags` `itemId` and `tagId` (the rebuild relies on it).
#[derive(Debug)]
pub struct TableSpec {
    pub name: &'static str,
    pub cols: &'static [ColSpec],
    /// Table constraints appended after the columns.
    pub constraints: &'static [&'static str],
    /// A CHECK kept by a rebuild only if the legacy table had one (§2.3).
    pub check: Option<&'static str>,
}

const fn col(
    name: &'static str,
    aliases: &'static [&'static str],
    ddl: &'static str,
    kind: Kind,
    fill: Fill,
) -> ColSpec {
    ColSpec {
        name,
        aliases,
        ddl,
        kind,
        fill,
    }
}

pub const ITEMS: TableSpec = TableSpec {
    name: "items",
    cols: &[
        col("id", &[], "TEXT PRIMARY KEY", Kind::Id, Fill::Required),
        col("type", &[], "TEXT NOT NULL", Kind::Plain, Fill::Required),
        col("content", &[], "TEXT", Kind::Plain, Fill::Null),
        col("metadata", &[], "TEXT", Kind::Plain, Fill::Null),
        col(
            "syncId",
            &["sync_id"],
            "TEXT DEFAULT ''",
            Kind::Plain,
            Fill::Text(""),
        ),
        col(
            "syncSource",
            &["sync_source"],
            "TEXT DEFAULT ''",
            Kind::Plain,
            Fill::Text(""),
        ),
        col(
            "syncedAt",
            &["synced_at"],
            "INTEGER DEFAULT 0",
            Kind::Timestamp,
            Fill::Int(0),
        ),
        col(
            "createdAt",
            &["created_at"],
            "INTEGER NOT NULL",
            Kind::Timestamp,
            Fill::Int(0),
        ),
        col(
            "updatedAt",
            &["updated_at"],
            "INTEGER NOT NULL",
            Kind::Timestamp,
            Fill::Int(0),
        ),
        col(
            "deletedAt",
            &["deleted_at"],
            "INTEGER DEFAULT 0",
            Kind::Timestamp,
            Fill::Int(0),
        ),
    ],
    constraints: &[],
    check: Some("type IN ('url', 'text', 'tagset', 'image')"),
};

pub const TAGS: TableSpec = TableSpec {
    name: "tags",
    cols: &[
        col("id", &[], "TEXT PRIMARY KEY", Kind::Id, Fill::Required),
        col(
            "name",
            &[],
            "TEXT NOT NULL UNIQUE",
            Kind::Plain,
            Fill::Required,
        ),
        col(
            "frequency",
            &[],
            "INTEGER DEFAULT 1",
            Kind::Plain,
            Fill::Int(1),
        ),
        col(
            "lastUsed",
            &["last_used", "last_used_at"],
            "INTEGER NOT NULL",
            Kind::Timestamp,
            Fill::Int(0),
        ),
        col(
            "frecencyScore",
            &["frecency_score"],
            "REAL DEFAULT 0",
            Kind::Plain,
            Fill::Real(0.0),
        ),
        col(
            "createdAt",
            &["created_at"],
            "INTEGER NOT NULL",
            Kind::Timestamp,
            Fill::Int(0),
        ),
        col(
            "updatedAt",
            &["updated_at"],
            "INTEGER NOT NULL",
            Kind::Timestamp,
            Fill::Int(0),
        ),
    ],
    constraints: &[],
    check: None,
};

pub const ITEM_TAGS: TableSpec = TableSpec {
    name: "item_tags",
    cols: &[
        col(
            "itemId",
            &["item_id"],
            "TEXT NOT NULL",
            Kind::Id,
            Fill::Required,
        ),
        col(
            "tagId",
            &["tag_id"],
            "TEXT NOT NULL",
            Kind::Id,
            Fill::Required,
        ),
        col(
            "createdAt",
            &["created_at"],
            "INTEGER NOT NULL",
            Kind::Timestamp,
            Fill::Int(0),
        ),
    ],
    constraints: &["PRIMARY KEY (itemId, tagId)"],
    check: None,
};

/// SQLite column affinity (https://sqlite.org/datatype3.html §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affinity {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

/// The affinity SQLite gives a declared type, by its substring rules.
pub fn affinity(decl: &str) -> Affinity {
    let d = decl.to_ascii_uppercase();
    if d.contains("INT") {
        Affinity::Integer
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        Affinity::Text
    } else if d.contains("BLOB") || d.trim().is_empty() {
        Affinity::Blob
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        Affinity::Real
    } else {
        Affinity::Numeric
    }
}

/// Quotes an SQL identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn spec_matches_canonical_ddl() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(crate::store::schema::CANONICAL).unwrap();
        for spec in [&ITEMS, &TAGS, &ITEM_TAGS] {
            let mut st = c
                .prepare(&format!("PRAGMA table_info({})", spec.name))
                .unwrap();
            let cols: Vec<(String, String)> = st
                .query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
            let want: Vec<&str> = spec.cols.iter().map(|c| c.name).collect();
            assert_eq!(names, want, "{}", spec.name);
            for ((_, decl), spec_col) in cols.iter().zip(spec.cols) {
                assert!(spec_col.ddl.starts_with(decl.as_str()), "{}", spec_col.name);
            }
        }
    }

    #[test]
    fn affinity_rules() {
        assert_eq!(affinity("INTEGER"), Affinity::Integer);
        assert_eq!(affinity("bigint"), Affinity::Integer);
        assert_eq!(affinity("TEXT"), Affinity::Text);
        assert_eq!(affinity("VARCHAR(10)"), Affinity::Text);
        assert_eq!(affinity(""), Affinity::Blob);
        assert_eq!(affinity("DATETIME"), Affinity::Numeric);
        assert_eq!(affinity("REAL"), Affinity::Real);
    }
}
