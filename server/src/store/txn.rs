//! Transactions through each connection's statement cache.
//!
//! rusqlite's `Transaction` runs `BEGIN …`, `COMMIT` and `ROLLBACK` with
//! `execute_batch`, which parses the SQL text every time: on the request
//! path that parse cost about as much as a small write. Here the same
//! statements are prepared once per connection and reused; [`Txn`] rolls
//! back on drop (an error or a panic in between), as `Transaction` does.

use rusqlite::Connection;

/// Runs one statement without parameters through the connection's cache.
pub(crate) fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// An open transaction on `conn`; rolled back when dropped unless
/// [`Txn::commit`] was called.
pub(crate) struct Txn<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Txn<'c> {
    /// `BEGIN IMMEDIATE`: takes the write lock now (a writer).
    pub fn immediate(conn: &'c Connection) -> rusqlite::Result<Self> {
        exec_cached(conn, "BEGIN IMMEDIATE")?;
        Ok(Self { conn, open: true })
    }

    /// `BEGIN DEFERRED`: a snapshot from the first read on (a reader).
    pub fn deferred(conn: &'c Connection) -> rusqlite::Result<Self> {
        exec_cached(conn, "BEGIN DEFERRED")?;
        Ok(Self { conn, open: true })
    }

    pub fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// Commits. On failure SQLite may leave the transaction open; it is
    /// then rolled back here, so nothing of it is written either way.
    pub fn commit(mut self) -> rusqlite::Result<()> {
        let r = exec_cached(self.conn, "COMMIT");
        if r.is_ok() || self.conn.is_autocommit() {
            self.open = false;
        }
        r
    }

    pub fn rollback(mut self) -> rusqlite::Result<()> {
        self.open = false;
        self.end()
    }

    fn end(&self) -> rusqlite::Result<()> {
        if self.conn.is_autocommit() {
            // SQLite already rolled it back (disk full, I/O error).
            return Ok(());
        }
        exec_cached(self.conn, "ROLLBACK")
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.end() {
                tracing::error!(error = %e, "rollback failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        c
    }

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn committed_writes_stay_and_dropped_ones_are_rolled_back() {
        let c = table();
        let t = Txn::immediate(&c).unwrap();
        t.conn().execute("INSERT INTO t VALUES (1)", []).unwrap();
        t.commit().unwrap();
        assert_eq!(count(&c), 1);
        {
            let t = Txn::immediate(&c).unwrap();
            t.conn().execute("INSERT INTO t VALUES (2)", []).unwrap();
        }
        assert_eq!(count(&c), 1);
        assert!(c.is_autocommit(), "no transaction left open");
        let t = Txn::deferred(&c).unwrap();
        t.conn().execute("INSERT INTO t VALUES (3)", []).unwrap();
        t.rollback().unwrap();
        assert_eq!(count(&c), 1);
    }

    #[test]
    fn a_panic_inside_rolls_back() {
        let c = table();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let t = Txn::immediate(&c).unwrap();
            t.conn().execute("INSERT INTO t VALUES (1)", []).unwrap();
            panic!("mid-transaction");
        }));
        assert!(r.is_err());
        assert_eq!(count(&c), 0);
        assert!(c.is_autocommit());
    }
}
