//! The real server on a loopback socket: the CLI end to end, and the
//! benchmark (ignored by default; run with `--ignored --release`).
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::T0;
use engine::model::ItemType;
use engine::store::items::NewItem;
use engine::transport::HttpTransport;
use engine::{Mode, Model, Store, SyncConfig};
use protocol::clock::{ManualClock, SeededIds, SystemClock};
use server::AppState;

struct Live {
    url: String,
    _dir: tempfile::TempDir,
    state: AppState,
}

async fn serve(seed: u64) -> Live {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(
        dir.path(),
        Arc::new(SystemClock),
        Arc::new(SeededIds::new(seed)),
    )
    .unwrap();
    state
        .system
        .create_user("alice", "alice-key", "2026-01-01T00:00:00.000Z")
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = server::app(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Live {
        url,
        _dir: dir,
        state,
    }
}

/// The `peek-sync` binary of the engine package, beside this test's own
/// executable (`target/<profile>/deps/…` → `target/<profile>/peek-sync`).
/// `cargo test --workspace` builds it (the engine has integration tests of
/// its own); `cargo test -p sim` alone does not, hence the message.
fn peek_sync() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .expect("target directory");
    let bin = dir.join(format!("peek-sync{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p engine --bin peek-sync` first \
         (`cargo test --workspace` builds it)",
        bin.display()
    );
    bin
}

fn cli(db: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(peek_sync())
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run peek-sync");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_round_trip_between_two_devices() {
    let live = serve(1).await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let url = live.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut log = Vec::new();
        for db in [&a, &b] {
            log.push(cli(db, &["config", "--server", &url, "--key", "alice-key"]));
        }
        let (ok, id) = cli(
            &a,
            &[
                "add",
                "url",
                "https://example.com/x",
                "--tag",
                "t1",
                "--tag",
                "t2",
            ],
        );
        log.push((ok, id.clone()));
        log.push(cli(&a, &["add", "text", "hello"]));
        log.push(cli(&a, &["sync"]));
        log.push(cli(&b, &["sync"]));
        log.push(cli(&b, &["list", "--json"]));
        log.push(cli(&a, &["delete", id.trim()]));
        log.push(cli(&a, &["status"]));
        log.push(cli(&a, &["sync", "--push-only"]));
        log.push(cli(&b, &["sync", "--pull-only"]));
        log.push(cli(&b, &["list"]));
        log.push(cli(&b, &["sync"]));
        log.push(cli(&a, &["update", "nope", "--content", "x"]));
        log
    })
    .await
    .unwrap();
    for (i, (ok, text)) in out.iter().enumerate() {
        assert_eq!(*ok, i != 13, "step {i}: {text}");
    }
    assert!(
        out[4]
            .1
            .contains("pulled 0, pushed 2, conflicts 0, failed 0"),
        "{}",
        out[4].1
    );
    assert!(out[5].1.contains("pulled 2, pushed 0"), "{}", out[5].1);
    assert!(
        out[6].1.contains("\"content\":\"https://example.com/x\"")
            && out[6].1.contains("\"tags\":[\"t1\",\"t2\"]")
    );
    assert!(out[8].1.contains("pending: 1"), "{}", out[8].1);
    assert!(out[10].1.contains("pulled 1"), "{}", out[10].1);
    assert!(
        !out[11].1.contains("example.com/x") && out[11].1.contains("hello"),
        "{}",
        out[11].1
    );
    assert!(out[12].1.contains("pulled 0, pushed 0"), "{}", out[12].1);
    let _ = &live.state;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --release --nocapture"]
#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
async fn bench_10k_push_and_initial_pull_on_loopback() {
    const N: usize = 10_000;
    let live = serve(2).await;
    let cfg = SyncConfig {
        server_url: live.url.clone(),
        api_key: "alice-key".into(),
        server_profile: None,
        model: Model::Reference,
    };
    let t = HttpTransport::new(&live.url, Duration::from_secs(60)).unwrap();
    let clock = ManualClock::new(T0);
    let dir = tempfile::tempdir().unwrap();
    let mut a = Store::open(&dir.path().join("a.db")).unwrap();
    let ids = Arc::new(SeededIds::new(7));
    let start = Instant::now();
    a.tx(|_| Ok(())).unwrap();
    for i in 0..N {
        a.add_item(
            ids.as_ref(),
            T0 + i as i64,
            NewItem {
                kind: Some(ItemType::Url),
                content: Some(format!("https://example.com/{i}")),
                tags: vec!["bench".into(), format!("t{}", i % 10)],
                ..NewItem::default()
            },
        )
        .unwrap();
    }
    let local = start.elapsed();
    let start = Instant::now();
    let s = engine::run(&mut a, &t, &clock, ids.clone(), cfg.clone(), Mode::PushOnly)
        .await
        .unwrap();
    let push = start.elapsed();
    assert_eq!(s.pushed, N as u64);
    let mut b = Store::open(&dir.path().join("b.db")).unwrap();
    let start = Instant::now();
    let s = engine::run(
        &mut b,
        &t,
        &clock,
        Arc::new(SeededIds::new(8)),
        cfg,
        Mode::Full,
    )
    .await
    .unwrap();
    let pull = start.elapsed();
    assert_eq!(s.pulled, N as u64);
    let rate = |d: Duration| N as f64 / d.as_secs_f64();
    println!(
        "local adds:   {N} items in {local:?} ({:.0} items/s)",
        rate(local)
    );
    println!(
        "batch push:   {N} items in {push:?} ({:.0} items/s)",
        rate(push)
    );
    println!(
        "initial pull: {N} items in {pull:?} ({:.0} items/s, change feed)",
        rate(pull)
    );
}
