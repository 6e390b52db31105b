//! Cached statements must be reused, not re-prepared on every run.
//!
//! The bundled SQLite re-prepares a statement whose `LIMIT` is a bare
//! bound parameter each time the parameter is bound again (it reads the
//! value while planning and marks the statement stale on re-binding). The
//! store writes such limits as `?N + 0`. These tests pin the SQLite
//! behaviour (if a new SQLite stops doing it, the first test fails and the
//! workaround can go) and keep bare `LIMIT ?` out of the store's SQL.

use rusqlite::{params, Connection, StatementStatus};

fn reprepares(conn: &Connection, sql: &str) -> i32 {
    for k in 0..3i64 {
        let mut st = conn.prepare_cached(sql).expect("prepare");
        let n = st
            .query_map(params![k + 1], |_| Ok(()))
            .expect("query")
            .count();
        assert_eq!(n, 0);
    }
    let st = conn.prepare_cached(sql).expect("prepare");
    st.get_status(StatementStatus::RePrepare)
}

#[test]
fn a_bare_limit_parameter_reprepares_and_limit_plus_zero_does_not() {
    let conn = Connection::open_in_memory().expect("open");
    conn.execute_batch("CREATE TABLE t (v INTEGER)")
        .expect("schema");
    assert!(
        reprepares(&conn, "SELECT v FROM t ORDER BY v LIMIT ?1") >= 2,
        "this SQLite no longer re-prepares `LIMIT ?`: the `+ 0` in the store's limits can go"
    );
    assert_eq!(
        reprepares(&conn, "SELECT v FROM t ORDER BY v LIMIT ?1 + 0"),
        0
    );
}

#[test]
fn the_store_writes_no_bare_limit_parameter() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                for (i, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with("//") {
                        continue;
                    }
                    if let Some(at) = line.find("LIMIT ?") {
                        let rest = &line[at + "LIMIT ?".len()..];
                        let after_digits = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                        if !after_digits.starts_with(" + 0") {
                            offenders.push(format!("{}:{}", path.display(), i + 1));
                        }
                    }
                }
            }
        }
    }
    offenders.sort();
    assert!(
        offenders.is_empty(),
        "bare `LIMIT ?` (write `LIMIT ?N + 0`): {offenders:?}"
    );
}
