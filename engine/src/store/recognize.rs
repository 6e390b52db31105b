//! Whose database a file is, before the store writes a byte to it.
//!
//! `Store::open` used to run its schema on whatever file it was given: a
//! server's `system.db` silently grew peek-sync's tables, and a server
//! profile's `datastore.sqlite` (the same desktop tables, other columns)
//! failed much later with a raw SQL error. Now a file is recognised first,
//! from the SQLite header and, when that is not conclusive, through a
//! read-only connection (which never checkpoints, so a foreign file stays
//! byte-identical): our `application_id` opens, an empty file is
//! initialised, a store an older peek-sync build wrote (no
//! `application_id` yet, only our tables) opens and is stamped, and
//! anything else is refused with what the file looks like.

use std::fmt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{APPLICATION_ID, SCHEMA_REV};

/// The tables of a peek-sync store ([`super::SCHEMA`]). A file whose
/// tables are all among these and that has `server_links` (a table no
/// Peek app or server has) is a store of an older peek-sync build.
const OUR_TABLES: [&str; 6] = [
    "blobs",
    "item_tags",
    "items",
    "server_links",
    "settings",
    "tags",
];

/// What a file that is not a peek-sync store looks like: the reason
/// [`crate::Error::ForeignDatabase`] gives, so a user can tell which file
/// they pointed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Foreign {
    /// No SQLite header.
    NotSqlite,
    /// `users` and `profiles`: the server's `system.db`.
    ServerSystem { tables: Vec<String> },
    /// `items` with the server's `changeSeq` column: a server profile's
    /// `datastore.sqlite`.
    ServerDatastore { tables: Vec<String> },
    /// The desktop tables without ours: the Node server's datastore or a
    /// Peek app's own database.
    PeekDatastore { tables: Vec<String> },
    /// Another application's `application_id`, or none and tables we do
    /// not know.
    OtherApplication {
        application_id: i32,
        user_version: i64,
        tables: Vec<String>,
    },
    /// Our `application_id` at a schema revision this build does not know:
    /// a newer peek-sync wrote it, and running our schema on it could undo
    /// that build's changes.
    NewerRevision { revision: i64 },
}

/// At most this many table names in a message.
const SHOWN_TABLES: usize = 8;

fn table_list(tables: &[String]) -> String {
    let mut s = tables
        .iter()
        .take(SHOWN_TABLES)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if tables.len() > SHOWN_TABLES {
        s.push_str(&format!(", … {} more", tables.len() - SHOWN_TABLES));
    }
    s
}

impl fmt::Display for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Foreign::NotSqlite => write!(f, "it is not an SQLite database"),
            Foreign::ServerSystem { tables } => write!(
                f,
                "it looks like a peek-server system database (tables: {})",
                table_list(tables)
            ),
            Foreign::ServerDatastore { tables } => write!(
                f,
                "it looks like a peek-server profile datastore (tables: {})",
                table_list(tables)
            ),
            Foreign::PeekDatastore { tables } => write!(
                f,
                "it looks like a Peek datastore of a server or an app, not a peek-sync store (tables: {})",
                table_list(tables)
            ),
            Foreign::OtherApplication {
                application_id,
                user_version,
                tables,
            } => {
                write!(
                    f,
                    "it looks like an SQLite database of another application (application_id {application_id:#010x}, user_version {user_version}"
                )?;
                if tables.is_empty() {
                    write!(f, ", no tables)")
                } else {
                    write!(f, ", tables: {})", table_list(tables))
                }
            }
            Foreign::NewerRevision { revision } => write!(
                f,
                "it is a peek-sync store of a newer build (schema revision {revision}; this build knows {SCHEMA_REV})"
            ),
        }
    }
}

/// What the store does with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Our `application_id`: open it.
    Ours,
    /// No tables (and no other application's id): initialise it.
    Empty,
    /// A store of a peek-sync build from before the `application_id`:
    /// open it and stamp the id.
    Legacy,
    Foreign(Foreign),
}

/// The decision, from what the file holds: its `application_id`,
/// `user_version`, user tables (sorted) and the columns of `items` (if it
/// has one). Pure, so every kind of file is a unit test.
pub(crate) fn judge(
    application_id: i32,
    user_version: i64,
    tables: &[String],
    items_columns: &[String],
) -> Verdict {
    let has = |t: &str| tables.iter().any(|x| x == t);
    let tables_vec = || tables.to_vec();
    if application_id == APPLICATION_ID {
        return if user_version > SCHEMA_REV {
            Verdict::Foreign(Foreign::NewerRevision {
                revision: user_version,
            })
        } else {
            Verdict::Ours
        };
    }
    if application_id != 0 {
        return Verdict::Foreign(Foreign::OtherApplication {
            application_id,
            user_version,
            tables: tables_vec(),
        });
    }
    if tables.is_empty() {
        return Verdict::Empty;
    }
    if has("users") && has("profiles") {
        return Verdict::Foreign(Foreign::ServerSystem {
            tables: tables_vec(),
        });
    }
    let only_ours = tables.iter().all(|t| OUR_TABLES.contains(&t.as_str()));
    // Builds before SCHEMA_REV left user_version 0; the first with it, 1.
    if has("server_links") && only_ours && (0..=SCHEMA_REV).contains(&user_version) {
        return Verdict::Legacy;
    }
    if has("items") && items_columns.iter().any(|c| c == "changeSeq") {
        return Verdict::Foreign(Foreign::ServerDatastore {
            tables: tables_vec(),
        });
    }
    if has("items") && has("tags") && has("item_tags") && !has("server_links") {
        return Verdict::Foreign(Foreign::PeekDatastore {
            tables: tables_vec(),
        });
    }
    Verdict::Foreign(Foreign::OtherApplication {
        application_id,
        user_version,
        tables: tables_vec(),
    })
}

/// The SQLite file header: 16 magic bytes; `user_version` at 60 and
/// `application_id` at 68, both big-endian (sqlite.org/fileformat.html).
const MAGIC: &[u8; 16] = b"SQLite format 3\0";
const HEADER: usize = 100;

/// A connection that cannot leave anything behind. Even a read-only
/// SQLite connection creates `-wal` and `-shm` files beside a WAL database
/// that has none, and leaves them there; so a file without a `-wal` (no
/// writer has it open, everything is in the file) is opened `immutable`,
/// which reads the file alone. One with a `-wal` (a live server's) is
/// read through its log, whose files already exist.
fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if Path::new(&wal).exists() {
        return Connection::open_with_flags(path, flags);
    }
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
}

/// Reads what [`judge`] needs from an existing, non-empty file, without
/// writing to it. The header alone settles the common case (our id); the
/// rest goes through a read-only connection, since a WAL file's header can
/// lag behind its log.
pub(crate) fn inspect(path: &Path) -> crate::Result<Verdict> {
    let cannot =
        |e: std::io::Error| crate::Error::Invalid(format!("cannot read {}: {e}", path.display()));
    let mut header = [0u8; HEADER];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(cannot)?;
        let mut n = 0;
        while n < HEADER {
            match f.read(&mut header[n..]).map_err(cannot)? {
                0 => break,
                k => n += k,
            }
        }
        n
    };
    if n < HEADER || &header[..16] != MAGIC {
        return Ok(Verdict::Foreign(Foreign::NotSqlite));
    }
    let id = i32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if id == APPLICATION_ID {
        let rev = i32::from_be_bytes([header[60], header[61], header[62], header[63]]);
        if i64::from(rev) <= SCHEMA_REV {
            return Ok(Verdict::Ours);
        }
    }
    let conn = open_read_only(path)?;
    let read = || -> rusqlite::Result<Verdict> {
        let id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let rev: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let mut st = conn.prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let tables = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut st = conn.prepare("SELECT name FROM pragma_table_info('items')")?;
        let columns = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(judge(id, rev, &tables, &columns))
    };
    match read() {
        Ok(v) => Ok(v),
        // A valid header over a body SQLite cannot read (truncated, or
        // encrypted): not a database we can open either.
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(
                e.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            Ok(Verdict::Foreign(Foreign::NotSqlite))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn each_kind_of_file_gets_its_verdict() {
        let ours = s(&OUR_TABLES);
        assert_eq!(judge(APPLICATION_ID, SCHEMA_REV, &ours, &[]), Verdict::Ours);
        assert_eq!(
            judge(APPLICATION_ID, SCHEMA_REV + 1, &ours, &[]),
            Verdict::Foreign(Foreign::NewerRevision {
                revision: SCHEMA_REV + 1
            })
        );
        assert_eq!(judge(0, 0, &[], &[]), Verdict::Empty);
        assert_eq!(
            judge(0, 0, &ours, &[]),
            Verdict::Legacy,
            "before SCHEMA_REV"
        );
        assert_eq!(judge(0, 1, &ours, &[]), Verdict::Legacy, "SCHEMA_REV 1");
        assert!(matches!(
            judge(0, 0, &s(&["profiles", "users"]), &[]),
            Verdict::Foreign(Foreign::ServerSystem { .. })
        ));
        let desktop = s(&["item_tags", "items", "settings", "tags"]);
        assert!(matches!(
            judge(0, 0, &desktop, &s(&["id", "changeSeq"])),
            Verdict::Foreign(Foreign::ServerDatastore { .. })
        ));
        assert!(matches!(
            judge(0, 0, &desktop, &s(&["id", "type"])),
            Verdict::Foreign(Foreign::PeekDatastore { .. })
        ));
        assert!(matches!(
            judge(0x1234_5678, 0, &[], &[]),
            Verdict::Foreign(Foreign::OtherApplication { .. })
        ));
        assert!(
            matches!(
                judge(0, 0, &s(&["server_links", "moz_places"]), &[]),
                Verdict::Foreign(Foreign::OtherApplication { .. })
            ),
            "our table name among others is not ours"
        );
    }

    #[test]
    fn the_messages_say_what_the_file_looks_like() {
        let m = Foreign::ServerSystem {
            tables: s(&["profiles", "users"]),
        }
        .to_string();
        assert_eq!(
            m,
            "it looks like a peek-server system database (tables: profiles, users)"
        );
        let m = Foreign::OtherApplication {
            application_id: 0x1234_5678,
            user_version: 3,
            tables: (0..10).map(|i| format!("t{i}")).collect(),
        }
        .to_string();
        assert!(m.contains("application_id 0x12345678"), "{m}");
        assert!(m.contains("t7, … 2 more"), "{m}");
    }
}
