//! `peek-bench-floor`: what a request costs on peek-server's stack before
//! the server does any work of its own, so each benchmark row can be read
//! as a fraction of its floor (`scripts/bench/README.md`).
//!
//! * `GET /noop`: answers `{}` from the handler, nothing else: the floor
//!   of every read (HTTP/1.1 parse, axum routing, a response).
//! * `POST /commit`: one SQLite commit in WAL mode per request (one
//!   `INSERT` of a small row in autocommit), on the blocking pool like
//!   every store call of the server: the floor of a push.
//!
//! The database is set up as peek-server sets up a datastore: WAL,
//! `synchronous = NORMAL`, `wal_autocheckpoint` as the server's backstop
//! (10,000 pages) and a passive checkpoint every second from another
//! connection, as the server's background checkpointer does. The server
//! adds one more thread hop per write (its per-profile writer thread);
//! this floor takes a mutex instead, so it is a true lower bound.
//!
//! Bench-only: never part of peek-server or its router.
//!
//! Usage: `peek-bench-floor <listen addr> <database file>`

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use rusqlite::Connection;

type Db = Arc<Mutex<Connection>>;

const JSON: [(axum::http::HeaderName, &str); 1] =
    [(axum::http::header::CONTENT_TYPE, "application/json")];

async fn noop() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (JSON, "{}")
}

async fn commit(State(db): State<Db>, body: axum::body::Bytes) -> (StatusCode, &'static str) {
    let done = tokio::task::spawn_blocking(move || {
        let conn = db.lock().unwrap_or_else(|e| e.into_inner());
        let n = conn
            .prepare_cached("INSERT INTO floor (body) VALUES (?1)")?
            .execute([&body[..]])?;
        Ok::<_, rusqlite::Error>(n)
    })
    .await;
    match done {
        Ok(Ok(_)) => (StatusCode::OK, "{}"),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "{\"error\":\"commit failed\"}",
        ),
    }
}

fn open(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(path)) = (args.next(), args.next()) else {
        return Err("usage: peek-bench-floor <listen addr> <database file>".into());
    };
    let conn = open(&path)?;
    conn.pragma_update(None, "wal_autocheckpoint", 10_000i64)?;
    conn.pragma_update(None, "journal_size_limit", 64i64 * 1024 * 1024)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
    )?;
    let checkpointer = open(&path)?;
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        let _ = checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    });
    let db: Db = Arc::new(Mutex::new(conn));
    let app = Router::new()
        .route("/noop", get(noop))
        .route("/commit", post(commit))
        .with_state(db);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        axum::serve(listener, app).await
    })?;
    Ok(())
}
