//! The `peek-sync` binary as a user runs it: arguments, messages, exit
//! codes, and the headers it sends.

use std::path::Path;
use std::process::{Command, Output};

use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_peek-sync");

/// Runs the binary in a clean environment (no PEEK_* from the caller).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("PEEK_SYNC_DB")
        .env_remove("PEEK_API_KEY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run peek-sync")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects exit 0; stdout.
fn ok(args: &[&str]) -> String {
    let o = run(args, &[]);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

fn db(dir: &Path) -> String {
    dir.join("peek.db").display().to_string()
}

#[test]
fn version_and_help() {
    let v = ok(&["--version"]);
    assert_eq!(v.trim(), format!("peek-sync {}", env!("CARGO_PKG_VERSION")));
    let help = ok(&["--help"]);
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("PEEK_API_KEY"), "{help}");
    let add = ok(&["add", "--help"]);
    assert!(add.contains("peek-sync add image"), "{add}");
    assert!(add.contains("A tag (repeat for several)"), "{add}");
}

#[test]
fn db_goes_before_or_after_the_command_or_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    ok(&["--db", &db, "add", "text", "before"]);
    ok(&["add", "text", "after", "--db", &db]);
    let o = run(&["list"], &[("PEEK_SYNC_DB", &db)]);
    let out = stdout(&o);
    assert!(out.contains("before") && out.contains("after"), "{out}");
    let none = run(&["list"], &[]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("--db"), "{}", stderr(&none));
}

#[test]
fn config_checks_the_url_and_reads_the_key_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let bad = run(
        &[
            "--db",
            &db,
            "config",
            "--server",
            "localhost:3000",
            "--key",
            "k",
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("did you mean \"http://localhost:3000\""),
        "{}",
        stderr(&bad)
    );
    assert!(
        ok(&["--db", &db, "status"]).contains("not configured"),
        "a refused URL is not saved"
    );
    let o = run(
        &["--db", &db, "config", "--server", "http://127.0.0.1:9"],
        &[("PEEK_API_KEY", "from-env")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(ok(&["--db", &db, "status"]).contains("server: http://127.0.0.1:9#"));
}

#[test]
fn list_shortens_content_to_one_line_unless_full() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    // Too long for a command line: added through the library.
    let long = format!("first line\nsecond {}", "x".repeat(3_000_000));
    let mut store = engine::Store::open(Path::new(&db)).unwrap();
    store
        .add_item(
            &protocol::clock::SeededIds::new(1),
            1,
            engine::store::items::NewItem {
                kind: Some(engine::model::ItemType::Text),
                content: Some(long.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    drop(store);
    let out = ok(&["--db", &db, "list"]);
    assert_eq!(out.lines().count(), 1, "one line per item");
    assert!(out.len() < 300, "{} bytes", out.len());
    assert!(out.contains("first line second xxx"), "{out}");
    assert!(out.contains('…'));
    let full = ok(&["--db", &db, "list", "--full"]);
    assert!(full.contains(&long));
    let json = ok(&["--db", &db, "list", "--json"]);
    assert!(json.len() > 3_000_000, "JSON keeps the whole content");
}

#[test]
fn deleting_twice_says_already_deleted_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let id = ok(&["--db", &db, "add", "url", "https://a"]);
    let id = id.trim();
    assert_eq!(ok(&["--db", &db, "delete", id]).trim(), "deleted");
    assert_eq!(ok(&["--db", &db, "delete", id]).trim(), "already deleted");
    let unknown = run(&["--db", &db, "delete", "no-such-id"], &[]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("no such item"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn images_are_added_from_files_within_the_servers_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let png = dir.path().join("cat.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nbytes").unwrap();
    let png = png.display().to_string();
    ok(&["--db", &db, "add", "image", &png, "--tag", "cats"]);
    let json = ok(&["--db", &db, "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["type"], "image");
    assert_eq!(v["content"], "cat.png");
    assert!(v["metadata"].as_str().unwrap().contains("image/png"));
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, "hello").unwrap();
    let o = run(
        &["--db", &db, "add", "image", &txt.display().to_string()],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not an image"), "{}", stderr(&o));
    let big = dir.path().join("big.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(10 * 1024 * 1024 + 1, 0);
    std::fs::write(&big, bytes).unwrap();
    let o = run(
        &["--db", &db, "add", "image", &big.display().to_string()],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("10 MiB"), "{}", stderr(&o));
    let missing = run(&["--db", &db, "add", "image", "/no/such.png"], &[]);
    assert!(stderr(&missing).contains("cannot read /no/such.png"));
}

#[test]
fn a_foreign_database_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("system.db");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("CREATE TABLE users (id TEXT); CREATE TABLE profiles (id TEXT);")
        .unwrap();
    drop(c);
    let before = std::fs::read(&p).unwrap();
    let o = run(&["--db", &p.display().to_string(), "add", "text", "x"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("looks like a peek-server system database (tables: profiles, users)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn connection_refused_is_said_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    ok(&["--db", &db, "config", "--server", &url, "--key", "k"]);
    let o = run(&["--db", &db, "sync"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).to_lowercase().contains("connection refused"),
        "{}",
        stderr(&o)
    );
}

/// Each install names itself: two stores (even on one machine) send
/// different `X-Peek-Client`/`X-Peek-Device`, and a configured name wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_the_version_and_the_device_name() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.uri();
    let dir = tokio::task::spawn_blocking(move || {
        let a = dir.path().join("a.db").display().to_string();
        let b = dir.path().join("b.db").display().to_string();
        ok(&[
            "--db", &a, "config", "--server", &url, "--key", "k", "--device", "laptop",
        ]);
        ok(&["--db", &b, "config", "--server", &url, "--key", "k"]);
        for db in [&a, &b] {
            let o = run(&["--db", db, "sync"], &[]);
            assert_eq!(o.status.code(), Some(1), "the 503 stops it");
        }
        dir
    })
    .await
    .unwrap();
    drop(dir);
    let got: Vec<(String, String, String)> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let h = |n: &str| {
                r.headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            (h("x-peek-client"), h("x-peek-device"), h("user-agent"))
        })
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(got[0].0, format!("peek-sync/{version} (laptop)"));
    assert_eq!(got[0].1, "laptop");
    assert_eq!(got[0].2, format!("peek-sync/{version}"));
    assert!(got[1].0.starts_with(&format!("peek-sync/{version} (")));
    assert_ne!(got[1].1, "laptop");
    assert!(!got[1].1.is_empty());
}
