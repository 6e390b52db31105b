//! Disk faults (issue #7): a full disk and a read-only data directory give
//! the client a clear, retryable JSON error (507 / 503 with `reason`) and
//! the log an `ERROR` line; nothing of the refused request is written; the
//! same request succeeds once space returns.
//!
//! In-process, "full" is SQLite's own `max_page_count` (the file cannot
//! grow: SQLITE_FULL, exactly what ENOSPC gives) and "read-only" is
//! `query_only` on the write connection (SQLITE_READONLY). Tests run as root in CI, where file
//! modes do not stop writes; the real thing (a full tmpfs, a read-only
//! remount) is `scripts/diskfault/run.sh`.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use serde_json::json;
use server::store::datastore::ProfileDb;
use server::store::error::StoreError;

use crate::common::Srv;

/// Log lines, captured for the current thread.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let me = self.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || me.clone())
            .finish();
        tracing::subscriber::set_default(sub)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn alices_db(s: &Srv) -> Arc<ProfileDb> {
    let r = s
        .post(
            "/items",
            json!({"type":"text","content":"first","sync_id":"first"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = s.state.system.profiles("alice").unwrap();
    s.state.profile_db("alice", &p[0].id).unwrap()
}

/// Sets a pragma on the profile's write connection (a test hook: the
/// pragma is per connection, so it goes through the writer).
fn pragma(db: &ProfileDb, sql: &str) -> i64 {
    let sql = sql.to_string();
    db.write(move |tx| Ok::<_, StoreError>(tx.query_row(&sql, [], |r| r.get::<_, i64>(0))?))
        .unwrap()
}

fn big(n: usize) -> serde_json::Value {
    json!({"type":"text","content":"x".repeat(32 * 1024), "sync_id": format!("big-{n}")})
}

#[tokio::test]
async fn disk_full_is_507_with_a_log_line_and_recovers() {
    let log = Log::default();
    let _g = log.capture();
    let s = Srv::new();
    let db = alices_db(&s).await;
    let pages = pragma(&db, "PRAGMA page_count");
    pragma(&db, &format!("PRAGMA max_page_count = {}", pages + 20));
    // Fill the allowed pages until a push is refused.
    let mut n = 0;
    let refused = loop {
        let before = s.fingerprint("alice");
        let r = s.post("/items", big(n)).await;
        if r.status != StatusCode::OK {
            assert_eq!(s.fingerprint("alice"), before, "a refused push wrote");
            break r;
        }
        n += 1;
        assert!(n < 100, "max_page_count never bit");
    };
    assert!(n > 0, "some pushes fit");
    assert_eq!(
        refused.status,
        StatusCode::INSUFFICIENT_STORAGE,
        "{}",
        refused.text
    );
    assert_eq!(refused.body["reason"], "disk_full");
    assert!(refused.body["error"]
        .as_str()
        .unwrap()
        .contains("disk is full"));
    assert_eq!(refused.headers["retry-after"], "5");
    let logged = log.text();
    assert!(
        logged.contains("ERROR")
            && logged.contains("disk_full")
            && logged.contains("database or disk is full"),
        "{logged}"
    );
    // A batch is refused whole, reads still work.
    let batch = s
        .post("/items/batch", json!({"items": [big(1000), big(1001)]}))
        .await;
    assert_eq!(
        batch.status,
        StatusCode::INSUFFICIENT_STORAGE,
        "{}",
        batch.text
    );
    let list = s.get("/items").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"].as_array().unwrap().len(), n + 1);
    // Space returns: the same request goes through, nothing else needed.
    pragma(&db, "PRAGMA max_page_count = 1073741823");
    let again = s.post("/items", big(n)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let b = s
        .post("/items/batch", json!({"items": [big(1000), big(1001)]}))
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_eq!(s.all("default").await.len(), n + 4);
    let ok: String = db
        .read(|tx| Ok(tx.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[tokio::test]
async fn read_only_storage_is_503_with_a_log_line_and_recovers() {
    let log = Log::default();
    let _g = log.capture();
    let s = Srv::new();
    let db = alices_db(&s).await;
    let before = s.fingerprint("alice");
    db.write(|tx| Ok::<_, StoreError>(tx.execute_batch("PRAGMA query_only = 1")?))
        .unwrap();
    for (method, path, body) in [
        (Method::POST, "/items", Some(big(1))),
        (
            Method::POST,
            "/items/batch",
            Some(json!({"items": [big(2)]})),
        ),
        (Method::POST, "/texts", Some(json!({"content": "t"}))),
        // A write is refused before it looks anything up.
        (
            Method::PATCH,
            "/items/nope/tags",
            Some(json!({"tags": ["a"]})),
        ),
    ] {
        let r = s.as_key("alice-key", method.clone(), path, body).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(r.body["reason"], "read_only", "{}", r.text);
        assert!(r.body["error"].as_str().unwrap().contains("read-only"));
    }
    assert!(log.text().contains("read_only"), "{}", log.text());
    assert_eq!(s.fingerprint("alice"), before);
    // `query_only` stays on its connection (it even refuses the BEGIN a
    // reset would need), so "the mount is writable again" is simulated by
    // reopening the profile, as the next request does after `forget`.
    drop(db);
    let p = s.state.system.profiles("alice").unwrap();
    s.state.stores.forget("alice", &p[0].id);
    assert_eq!(s.post("/items", big(1)).await.status, StatusCode::OK);
}

/// A profile whose folder cannot be made is not half-created: the row is
/// removed again, and the same request succeeds once storage is back.
#[tokio::test]
async fn a_profile_whose_folder_cannot_be_made_leaves_nothing() {
    let s = Srv::new();
    alices_db(&s).await;
    let before = s.state.system.profiles("alice").unwrap();
    let profiles = s.dir.path().join("alice").join("profiles");
    let aside = s.dir.path().join("aside");
    std::fs::rename(&profiles, &aside).unwrap();
    // A file where the folder should be: no new folder can go in it.
    std::fs::write(&profiles, b"not a folder").unwrap();
    let r = s.post("/profiles", json!({"name": "Work"})).await;
    assert!(r.status.is_server_error(), "{} {}", r.status, r.text);
    assert!(r.body["error"].is_string());
    assert_eq!(s.state.system.profiles("alice").unwrap(), before);
    std::fs::remove_file(&profiles).unwrap();
    std::fs::rename(&aside, &profiles).unwrap();
    let r = s.post("/profiles", json!({"name": "Work"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
