//! Hostile input (issue #7): random methods, paths, query strings, headers
//! and bodies against the in-process router, with proptest as the fuzz
//! engine (cargo-fuzz needs a nightly toolchain; this runs in CI on
//! stable). Properties, for every input:
//!
//! * the router answers (a panic fails the test);
//! * never a 5xx: these are all client mistakes or valid requests (D30);
//! * a 4xx is JSON `{"error": …}`, except the plain-text 404 of unknown
//!   routes kept from Hono;
//! * a 4xx wrote nothing: every user's rows and every file of the data
//!   directory are as before.
//!
//! `PROPTEST_CASES` raises the number of cases (default 400, to keep
//! `cargo test` fast); `scripts/fuzz/run.sh` runs it long.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use crate::common::Srv;

mod inputs;
use inputs::{input, request, TRICKS};

/// Every file of the data directory but SQLite's own (whose bytes move
/// with checkpoints: their rows are compared instead), with sizes.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                out.push(format!("{}/", p.display()));
                out.extend(files(&p));
            } else if !(name.contains(".sqlite") || name.starts_with("system.db")) {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(format!("{} {len}", p.display()));
            }
        }
    }
    out.sort();
    out
}

fn snapshot(s: &Srv) -> String {
    let mut out = String::new();
    for user in ["alice", "bob"] {
        out.push_str(&s.fingerprint(user));
    }
    out.push_str(&files(s.dir.path()).join("\n"));
    out
}

const CASES_PER_SERVER: u32 = 500;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

/// A server with both users' default profiles and a little data, so that
/// later requests hit real rows.
fn seeded(rt: &tokio::runtime::Runtime) -> Srv {
    let s = Srv::new();
    rt.block_on(async {
        for key in ["alice-key", "bob-key"] {
            let r = s
                .as_key(
                    key,
                    Method::POST,
                    "/items",
                    Some(json!({"type":"url","content":"https://seed","tags":["t"],"sync_id":"seed"})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
    });
    s
}

#[test]
fn random_requests_never_5xx_and_rejections_write_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A fresh server every CASES_PER_SERVER cases: the "nothing written"
    // check reads every row, so the data must stay small for long runs.
    let s = std::cell::RefCell::new(seeded(&rt));
    let done = std::cell::Cell::new(0u32);
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&input(), |i| {
        let Some(req) = request(&i) else {
            return Ok(());
        };
        done.set(done.get() + 1);
        if done.get().is_multiple_of(CASES_PER_SERVER) {
            *s.borrow_mut() = seeded(&rt);
        }
        let s = s.borrow();
        let before = snapshot(&s);
        let r = rt.block_on(s.send(req));
        prop_assert!(
            !r.status.is_server_error(),
            "{} {}: {}",
            r.status,
            i.path,
            r.text
        );
        if r.status.is_client_error() {
            let plain_404 = r.status == StatusCode::NOT_FOUND && r.text == "404 Not Found";
            // A HEAD answer has its body stripped.
            let head = i.method == Method::HEAD && r.text.is_empty();
            prop_assert!(
                plain_404 || head || r.body["error"].is_string(),
                "{} is not a JSON error: {:?}",
                r.status,
                r.text
            );
            prop_assert_eq!(&snapshot(&s), &before, "a {} wrote something", r.status);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Profile ids and image names that try to leave the data directory:
/// nothing appears outside it, and every answer is a client error or a
/// fall-back to the caller's own default profile (§1.2).
#[tokio::test]
async fn path_tricks_never_leave_the_data_directory() {
    let parent = tempfile::tempdir().unwrap();
    let s = Srv::new();
    let outside = files(parent.path());
    let png = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"\x89PNG");
    for trick in TRICKS {
        for q in [
            format!("profile={trick}"),
            format!("profile={trick}&strictProfile=true"),
        ] {
            for (method, path, body) in [
                (Method::GET, "/items", None),
                (
                    Method::POST,
                    "/items",
                    Some(json!({"type":"text","content":"x","sync_id":trick})),
                ),
                (
                    Method::POST,
                    "/images",
                    Some(
                        json!({"content": png, "filename": format!("{trick}/../../evil.png"), "mime":"image/png"}),
                    ),
                ),
                (Method::GET, "/images", None),
            ] {
                let r = s
                    .as_key("alice-key", method.clone(), &format!("{path}?{q}"), body)
                    .await;
                assert!(
                    !r.status.is_server_error(),
                    "{method} {path}?{q}: {}",
                    r.text
                );
            }
        }
        for path in [
            format!("/images/{trick}"),
            format!("/profiles/{trick}"),
            format!("/items/{trick}"),
        ] {
            let r = s.get(&path).await;
            assert!(
                matches!(r.status, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST),
                "{path}: {} {}",
                r.status,
                r.text
            );
        }
    }
    // Everything written is in alice's one default profile folder.
    let profiles = s.state.system.profiles("alice").unwrap();
    assert_eq!(profiles.len(), 1, "{profiles:?}");
    let root = s.dir.path();
    for f in files(root).iter().filter(|f| !f.ends_with('/')) {
        let rel = f.strip_prefix(&root.display().to_string()).unwrap_or(f);
        assert!(
            rel.starts_with("/alice/profiles/") && !rel.contains("..")
                || rel == "/alice/"
                || rel == "/alice/profiles/"
                || rel.starts_with("/backups/"),
            "unexpected file {rel}"
        );
        if let Some(name) = rel.strip_prefix(&format!("/alice/profiles/{}/images/", profiles[0].id))
        {
            let name = name.split(' ').next().unwrap_or(name);
            let (hash, ext) = name.split_once('.').unwrap_or((name, ""));
            assert!(
                hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && ext == "png",
                "image file named from the request: {name}"
            );
        }
    }
    assert_eq!(files(parent.path()), outside);
}

/// A declared oversize body is refused before a byte of it is read.
#[tokio::test]
async fn oversize_body_is_refused_before_reading() {
    let s = Srv::new();
    let limit = s.state.limits.body_bytes;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let chunks = futures_chunks(limit + 1, counter);
    for path in ["/items", "/items/batch", "/images", "/webhook", "/nope"] {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", "Bearer alice-key")
            .header("content-type", "application/json")
            .header("content-length", (limit + 1).to_string())
            .body(chunks.clone()())
            .unwrap();
        let r = s.send(req).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(r.body["error"].is_string(), "{path}: {}", r.text);
    }
    assert_eq!(pulled.load(Ordering::SeqCst), 0, "body bytes were read");
}

/// A body of `n` bytes produced only when polled, counting what was pulled.
struct Counting {
    left: usize,
    pulled: Arc<AtomicUsize>,
}

impl http_body::Body for Counting {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(65536);
        self.left -= n;
        self.pulled.fetch_add(n, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(vec![b' '; n])))))
    }
}

fn futures_chunks(n: usize, pulled: Arc<AtomicUsize>) -> impl Fn() -> Body + Clone {
    move || {
        Body::new(Counting {
            left: n,
            pulled: pulled.clone(),
        })
    }
}
