//! The schema migration of a per-profile database when a connection opens
//! (§2.4): brings every legacy shape to the canonical schema of §2.3.
//!
//! Unlike the Node server, which renames columns in place and converts
//! timestamps with SQL, every table that is not structurally canonical is
//! **rebuilt** from a Rust copy of its rows. That fixes D24:
//!
//! * ISO text keeps its milliseconds (`...10:00:00.789Z` → `...789`);
//! * SQLite-format text (`2026-01-27 10:00:00`) becomes the right ms (read
//!   as UTC by [`crate::timestamp::parse_iso`]) instead of the year number;
//! * numeric text (`"1769559596439.0"`) becomes the integer;
//! * columns with TEXT affinity get the canonical INTEGER type, so no digit
//!   text is left behind and reads need no `CAST`.
//!
//! A table that is already canonical costs a `PRAGMA table_info`, one read
//! of `sqlite_master` and one `EXISTS` probe for non-integer timestamps.
//! Nothing is written unless something is wrong, so the function is
//! idempotent and cheap on every open.
//!
//! Our own extra columns (`changeSeq`, `editedAt`) are **not** added here;
//! [`crate::store::schema::ensure`] does that afterwards ([`ensure`] runs
//! both in order). Extra columns a
//! legacy table already has are kept by a rebuild.

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use crate::migrate::schema_spec::{affinity, quote, Affinity, ColSpec, Fill, Kind, TableSpec};
use crate::migrate::schema_spec::{ITEMS, ITEM_TAGS, TAGS};
use crate::migrate::schema_values::to_id;
pub use crate::migrate::schema_values::{to_millis, Outcome};
use crate::store::schema::{CANONICAL, CANONICAL_INDEXES};

/// What [`migrate_legacy_schema_report`] did. Empty when the database was
/// already canonical (the idempotence contract: a second run reports
/// nothing).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SchemaReport {
    /// Human-readable lines, in the order the steps ran.
    pub actions: Vec<String>,
    /// Tables rebuilt with the canonical column names and types.
    pub rebuilt: Vec<String>,
    /// Timestamp values rewritten as integer milliseconds (text, real or
    /// NULL before).
    pub converted: u64,
    /// Timestamps that could not be read as a number or a date; set to 0,
    /// as the Node server's `CAST` would have.
    pub unreadable: u64,
    /// Rows that could not be kept: duplicate primary keys, `item_tags`
    /// rows with a NULL id.
    pub dropped_rows: u64,
    /// Tags whose name duplicated an earlier tag (legacy tables without the
    /// UNIQUE constraint); their links now point at the surviving tag.
    pub merged_tags: u64,
}

impl SchemaReport {
    /// True when nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Brings a legacy per-profile database to the canonical schema of §2.3.
/// The store's [`crate::store::schema::LegacyUpgrade`]: handed to the store
/// by `AppState::open`, and called by [`crate::store::schema::ensure`] for
/// any database that already has an `items` table. Must not be called
/// inside an open transaction: every table is migrated in its own.
pub fn migrate_legacy_schema(conn: &Connection) -> rusqlite::Result<()> {
    migrate_legacy_schema_report(conn).map(|_| ())
}

/// Any per-profile database, whatever server left it, to the schema this
/// server writes: the legacy upgrade, then the store's additive steps.
/// What opening a profile does (`store::datastore`), for callers that hold
/// a bare connection (tests, tools).
pub fn ensure(conn: &Connection) -> rusqlite::Result<()> {
    crate::store::schema::ensure(conn, migrate_legacy_schema)
}

/// [`migrate_legacy_schema`], returning what was done (for logs and tests).
pub fn migrate_legacy_schema_report(conn: &Connection) -> rusqlite::Result<SchemaReport> {
    // §2.1: the Node server never enabled foreign keys, so legacy FK clauses
    // were inert. With enforcement on, dropping the old `tags` table would
    // cascade into `item_tags`; switch it off for the duration.
    let fk_on: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    if fk_on != 0 {
        conn.pragma_update(None, "foreign_keys", 0)?;
    }
    let result = run(conn);
    if fk_on != 0 {
        conn.pragma_update(None, "foreign_keys", 1)?;
    }
    result
}

/// The tables and indexes `CANONICAL` and `CANONICAL_INDEXES` create.
const CANONICAL_OBJECTS: [&str; 5] = ["items", "tags", "item_tags", "settings", "idx_items_syncId"];

fn run(conn: &Connection) -> rusqlite::Result<SchemaReport> {
    let mut report = SchemaReport::default();
    // Tag ids merged away (old id → surviving id), applied to item_tags.
    let mut tag_alias: HashMap<String, String> = HashMap::new();
    for spec in [&ITEMS, &TAGS, &ITEM_TAGS] {
        let Some(shape) = Shape::read(conn, spec)? else {
            continue;
        };
        if let Some(reason) = shape.needs_rebuild(spec) {
            let tx = conn.unchecked_transaction()?;
            rebuild(&tx, spec, &shape, &reason, &mut tag_alias, &mut report)?;
            tx.commit()?;
        } else {
            fix_values(conn, spec, &mut report)?;
            if spec.name == "item_tags" && !tag_alias.is_empty() {
                relink_merged_tags(conn, &tag_alias, &mut report)?;
            }
        }
    }
    // Tables a legacy file lacked, and the indexes (§2.4 step 7). Only when
    // one is missing, so a canonical database is not even locked for write.
    let present: i64 = conn.query_row(
        &format!(
            "SELECT COUNT(*) FROM sqlite_master WHERE name IN ({})",
            CANONICAL_OBJECTS
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        [],
        |r| r.get(0),
    )?;
    if usize::try_from(present).ok() != Some(CANONICAL_OBJECTS.len()) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(CANONICAL)?;
        tx.execute_batch(CANONICAL_INDEXES)?;
        tx.commit()?;
        report
            .actions
            .push("created missing canonical tables and indexes".into());
    }
    for line in &report.actions {
        tracing::info!(target: "migrate", "{line}");
    }
    Ok(report)
}

/// One column of an existing table, from `PRAGMA table_info`.
struct Column {
    name: String,
    decl: String,
    default: Option<String>,
}

/// The current shape of a table.
struct Shape {
    cols: Vec<Column>,
    sql: String,
}

impl Shape {
    fn read(conn: &Connection, spec: &TableSpec) -> rusqlite::Result<Option<Self>> {
        if !crate::store::schema::table_exists(conn, spec.name)? {
            return Ok(None);
        }
        let mut st = conn.prepare(&format!("PRAGMA table_info({})", quote(spec.name)))?;
        let cols = st
            .query_map([], |r| {
                Ok(Column {
                    name: r.get(1)?,
                    decl: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    default: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let sql: String = conn.query_row(
            "SELECT COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [spec.name],
            |r| r.get(0),
        )?;
        Ok(Some(Self { cols, sql }))
    }

    fn find(&self, name: &str) -> Option<&Column> {
        self.cols.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Why the table must be rebuilt, or `None` if its structure is already
    /// canonical (values may still need [`fix_values`]).
    fn needs_rebuild(&self, spec: &TableSpec) -> Option<String> {
        if self.sql.to_ascii_uppercase().contains("WITHOUT ROWID") {
            return Some("WITHOUT ROWID table".into());
        }
        for col in spec.cols {
            if let Some(alias) = col.aliases.iter().find(|a| self.find(a).is_some()) {
                return Some(format!("legacy column {alias}"));
            }
            let Some(have) = self.cols.iter().find(|c| c.name == col.name) else {
                return Some(format!("column {} missing", col.name));
            };
            let aff = affinity(&have.decl);
            match col.kind {
                Kind::Timestamp if aff != Affinity::Integer => {
                    return Some(format!("{} declared {:?}", col.name, have.decl));
                }
                Kind::Id if aff != Affinity::Text => {
                    return Some(format!("{} declared {:?}", col.name, have.decl));
                }
                _ => {}
            }
        }
        None
    }
}

/// Recreates `spec.name` with the canonical columns and types, copying and
/// converting every row in Rust (§2.4 "rebuild", with the D24 fixes).
fn rebuild(
    tx: &Connection,
    spec: &TableSpec,
    shape: &Shape,
    reason: &str,
    tag_alias: &mut HashMap<String, String>,
    report: &mut SchemaReport,
) -> rusqlite::Result<()> {
    let table = spec.name;
    let tmp = format!("_{table}_rebuild");
    // Where each canonical column reads from: the canonical name first,
    // then the legacy aliases (the first non-NULL wins).
    let mut sources: Vec<Vec<usize>> = Vec::with_capacity(spec.cols.len());
    let mut used = vec![false; shape.cols.len()];
    for col in spec.cols {
        let mut idx = Vec::new();
        for name in std::iter::once(&col.name).chain(col.aliases.iter()) {
            if let Some(i) = shape
                .cols
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
            {
                if !used[i] {
                    used[i] = true;
                    idx.push(i);
                }
            }
        }
        if idx.is_empty() && matches!(col.fill, Fill::Required) {
            return Err(rusqlite::Error::InvalidColumnName(format!(
                "{table}.{} is missing; the table cannot be migrated",
                col.name
            )));
        }
        sources.push(idx);
    }
    let extras: Vec<usize> = (0..shape.cols.len()).filter(|i| !used[*i]).collect();

    // Keep the items CHECK if the legacy table had one and every row passes.
    let keep_check = match spec.check {
        Some(check) if shape.sql.to_ascii_uppercase().contains("CHECK") => {
            let bad: i64 = tx.query_row(
                &format!("SELECT COUNT(*) FROM {} WHERE NOT ({check})", quote(table)),
                [],
                |r| r.get(0),
            )?;
            bad == 0
        }
        _ => false,
    };
    let mut defs: Vec<String> = spec
        .cols
        .iter()
        .map(|c| format!("{} {}", quote(c.name), c.ddl))
        .collect();
    for &i in &extras {
        let c = &shape.cols[i];
        let mut d = format!("{} {}", quote(&c.name), c.decl);
        if let Some(dflt) = &c.default {
            d.push_str(&format!(" DEFAULT {dflt}"));
        }
        defs.push(d);
    }
    if let (true, Some(check)) = (keep_check, spec.check) {
        defs.push(format!("CHECK({check})"));
    }
    defs.extend(spec.constraints.iter().map(|c| c.to_string()));
    tx.execute_batch(&format!(
        "DROP TABLE IF EXISTS {tmp_q}; CREATE TABLE {tmp_q} (\n  {}\n);",
        defs.join(",\n  "),
        tmp_q = quote(&tmp)
    ))?;

    let names: Vec<String> = spec
        .cols
        .iter()
        .map(|c| quote(c.name))
        .chain(extras.iter().map(|&i| quote(&shape.cols[i].name)))
        .collect();
    let placeholders = vec!["?"; names.len()].join(", ");
    let mut insert = tx.prepare(&format!(
        "INSERT OR IGNORE INTO {} ({}) VALUES ({placeholders})",
        quote(&tmp),
        names.join(", ")
    ))?;
    let select_cols: Vec<String> = shape.cols.iter().map(|c| quote(&c.name)).collect();
    let order = if shape.sql.to_ascii_uppercase().contains("WITHOUT ROWID") {
        ""
    } else {
        " ORDER BY rowid"
    };
    let mut select = tx.prepare(&format!(
        "SELECT {} FROM {}{order}",
        select_cols.join(", "),
        quote(table)
    ))?;
    let mut rows = select.query([])?;
    let mut seen_names: HashMap<String, String> = HashMap::new();
    let (mut copied, mut dropped) = (0u64, 0u64);
    'rows: while let Some(row) = rows.next()? {
        let mut out: Vec<Value> = Vec::with_capacity(names.len());
        for (col, idx) in spec.cols.iter().zip(&sources) {
            let mut v = Value::Null;
            for &i in idx {
                v = row.get::<_, Value>(i)?;
                if v != Value::Null {
                    break;
                }
            }
            if idx.is_empty() {
                v = col.fill.value();
            }
            let v = match col.kind {
                Kind::Timestamp => {
                    let (ms, outcome) = to_millis(&v);
                    match outcome {
                        Outcome::Same => {}
                        Outcome::Converted => report.converted += 1,
                        Outcome::Unreadable => report.unreadable += 1,
                    }
                    Value::Integer(ms)
                }
                Kind::Id => to_id(v),
                Kind::Plain => v,
            };
            out.push(v);
        }
        for &i in &extras {
            out.push(row.get::<_, Value>(i)?);
        }
        match table {
            "tags" => {
                // Merge tags whose name repeats (legacy tables without UNIQUE).
                if let (Value::Text(id), Value::Text(name)) = (&out[0], &out[1]) {
                    if let Some(keep) = seen_names.get(name) {
                        tag_alias.insert(id.clone(), keep.clone());
                        report.merged_tags += 1;
                        continue 'rows;
                    }
                    seen_names.insert(name.clone(), id.clone());
                }
            }
            "item_tags" => {
                if out[0] == Value::Null || out[1] == Value::Null {
                    dropped += 1;
                    continue 'rows;
                }
                if let Value::Text(tag) = &out[1] {
                    if let Some(keep) = tag_alias.get(tag) {
                        out[1] = Value::Text(keep.clone());
                    }
                }
            }
            _ => {}
        }
        if insert.execute(params_from_iter(out.iter()))? == 1 {
            copied += 1;
        } else {
            dropped += 1;
        }
    }
    drop(rows);
    drop(select);
    drop(insert);
    tx.execute_batch(&format!(
        "DROP TABLE {}; ALTER TABLE {} RENAME TO {};",
        quote(table),
        quote(&tmp),
        quote(table)
    ))?;
    report.dropped_rows += dropped;
    report.rebuilt.push(table.to_string());
    report.actions.push(format!(
        "rebuilt {table} ({reason}): {copied} rows copied, {dropped} dropped"
    ));
    if dropped > 0 {
        tracing::warn!(target: "migrate", table, dropped, "rows dropped while rebuilding");
    }
    Ok(())
}

/// A structurally canonical table may still hold text, real or NULL
/// timestamps (§2.4 steps 5–6). Probe once; rewrite only the bad values.
fn fix_values(
    conn: &Connection,
    spec: &TableSpec,
    report: &mut SchemaReport,
) -> rusqlite::Result<()> {
    let ts: Vec<&ColSpec> = spec
        .cols
        .iter()
        .filter(|c| c.kind == Kind::Timestamp)
        .collect();
    let cond = ts
        .iter()
        .map(|c| format!("typeof({}) != 'integer'", quote(c.name)))
        .collect::<Vec<_>>()
        .join(" OR ");
    let table = quote(spec.name);
    let dirty: bool = conn.query_row(
        &format!("SELECT EXISTS(SELECT 1 FROM {table} WHERE {cond})"),
        [],
        |r| r.get(0),
    )?;
    if !dirty {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    let mut fixed = 0u64;
    for col in ts {
        let c = quote(col.name);
        let bad: Vec<(i64, Value)> = tx
            .prepare(&format!(
                "SELECT rowid, {c} FROM {table} WHERE typeof({c}) != 'integer'"
            ))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut upd = tx.prepare(&format!("UPDATE {table} SET {c} = ?1 WHERE rowid = ?2"))?;
        for (rowid, v) in bad {
            let (ms, outcome) = to_millis(&v);
            if outcome == Outcome::Unreadable {
                report.unreadable += 1;
            } else {
                report.converted += 1;
            }
            upd.execute(rusqlite::params![ms, rowid])?;
            fixed += 1;
        }
    }
    tx.commit()?;
    report.actions.push(format!(
        "converted {fixed} non-integer timestamps in {}",
        spec.name
    ));
    Ok(())
}

/// Points canonical `item_tags` rows at the tag that survived a merge.
fn relink_merged_tags(
    conn: &Connection,
    alias: &HashMap<String, String>,
    report: &mut SchemaReport,
) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let mut n = 0;
    for (old, keep) in alias {
        n += tx.execute(
            "UPDATE OR IGNORE item_tags SET tagId = ?2 WHERE tagId = ?1",
            [old, keep],
        )?;
        report.dropped_rows += tx.execute("DELETE FROM item_tags WHERE tagId = ?1", [old])? as u64;
    }
    tx.commit()?;
    report
        .actions
        .push(format!("relinked {n} item_tags rows to merged tags"));
    Ok(())
}
