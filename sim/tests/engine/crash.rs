//! Device crash safety (issue #7): the process dies between any two steps
//! of a sync that spans several pushes and several feed pages, while the
//! user keeps editing. After the store is reopened from disk, nothing
//! local is lost, the file passes `PRAGMA integrity_check`, and the next
//! syncs converge with the server, without duplicates.
//!
//! `guarantees.rs::g1_crash_between_any_two_steps_loses_nothing` covers
//! one crash point (answer lost after the server committed) on a one-page
//! sync; this covers every crash point of a multi-batch, multi-page sync
//! with writes between the steps (D13: a sync must never lose a change
//! made while it runs).
use crate::common::*;
use engine::sync::{Step, SyncSession};
use std::sync::Arc;

use engine::{Mode, Store};
use protocol::clock::{ManualClock, SeededIds};
use protocol::Transport;
use serde_json::json;
use server::AppState;
use server::InProcess;

/// Steps before which the user adds an item and edits another.
const EDITING_STEPS: usize = 4;

/// Where in step `k` the process dies.
#[derive(Debug, Clone, Copy)]
enum CrashPoint {
    /// The request was built but never sent.
    BeforeSend,
    /// The server committed it; the answer is lost with the process.
    AnswerLost,
    /// The answer was applied (one local transaction), then the crash.
    AfterApply,
}

/// Local items pushed in this sync: two batches (the engine's batch is 1000).
const LOCAL: usize = 1_050;
/// Items other devices wrote: two feed pages (the engine's page is 1000).
const REMOTE: usize = 1_050;

struct Run {
    dir: tempfile::TempDir,
    net: Net,
    dev: Device,
    /// Content every local item must have after the crash.
    expected_local: Vec<String>,
}

/// Copies every file of `from` into `to` (no writer is running).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// The starting point of every run, built once: a server data directory
/// with the other devices' items and a device file with the local ones.
struct Template {
    server: tempfile::TempDir,
    device: tempfile::TempDir,
    clock: i64,
}

async fn template() -> Template {
    let net = Net::new("http://s1", 1);
    let items: Vec<_> = (0..REMOTE)
        .map(|i| json!({"type":"text","content":format!("remote {i}"),"sync_id":format!("r{i}")}))
        .collect();
    for chunk in items.chunks(1000) {
        let (s, v) = net
            .raw(
                engine::sync::Method::Post,
                "/items/batch",
                Some(json!({ "items": chunk })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let Net { dir, state, .. } = net;
    state.stores.close_all();
    drop(state);
    let device = tempfile::tempdir().unwrap();
    let mut dev = Device::with_store(
        Store::open(&device.path().join("peek.db")).unwrap(),
        10,
        "http://s1",
        None,
    );
    for i in 0..LOCAL {
        dev.add(
            engine::model::ItemType::Text,
            Some(&format!("local {i}")),
            &[],
        );
    }
    let clock = dev.now();
    Template {
        server: dir,
        device,
        clock,
    }
}

/// A fresh copy of the template: its own server and device files.
fn setup(t: &Template) -> Run {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(t.device.path(), dir.path());
    let server_dir = tempfile::tempdir().unwrap();
    copy_dir(t.server.path(), server_dir.path());
    let clock = Arc::new(ManualClock::new(T0 + 1));
    let state = AppState::open(
        server_dir.path(),
        clock.clone(),
        Arc::new(SeededIds::new(7)),
    )
    .unwrap();
    let net = Net {
        dir: server_dir,
        t: InProcess::new(server::app(state.clone())),
        state,
        clock,
        url: "http://s1".into(),
    };
    let store = Store::open(&dir.path().join("peek.db")).unwrap();
    let dev = Device::with_store(store, 11, "http://s1", None);
    dev.clock.set(t.clock);
    let expected_local = local_lines(&dev);
    Run {
        dir,
        net,
        dev,
        expected_local,
    }
}

/// Runs one sync up to step `k` and dies at `point`, with a new item and
/// an edit made by the user before every step. Returns whether step `k`
/// existed (false once the sync ends earlier).
async fn crash_at(run: &mut Run, k: usize, point: CrashPoint) -> bool {
    let mut session = SyncSession::new(run.dev.cfg.clone(), Mode::Full, run.dev.ids.clone());
    let first = run.dev.store.items(false).unwrap()[0].id.clone();
    for step in 1..=k {
        // The user keeps working while the sync runs (during its first
        // steps: a user who never stops keeps the push phase going).
        if step <= EDITING_STEPS {
            run.dev.url(&format!("https://during/{step}"));
            run.dev.edit(&first, &format!("edited during step {step}"));
        }
        let now = run.dev.now();
        let req = match session.poll(&mut run.dev.store, now).unwrap() {
            Step::Send(req) => req,
            Step::Done(_) => return false,
        };
        if step == k && matches!(point, CrashPoint::BeforeSend) {
            break;
        }
        let resp = run.net.t.send(req).await;
        if step == k && matches!(point, CrashPoint::AnswerLost) {
            break;
        }
        session.on_response(&mut run.dev.store, resp, now).unwrap();
    }
    run.expected_local = local_lines(&run.dev);
    true
}

/// The device's live items that did not come from the other devices.
fn local_lines(dev: &Device) -> Vec<String> {
    dev.live()
        .into_iter()
        .filter(|l| !l.starts_with("text|remote "))
        .collect()
}

/// The process is gone: only the file on disk is left.
fn reopen(run: Run) -> Run {
    let Run {
        dir,
        net,
        dev,
        expected_local,
    } = run;
    let cfg = dev.cfg.clone();
    let clock = dev.clock.clone();
    drop(dev);
    let path = dir.path().join("peek.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    drop(conn);
    let mut dev = Device::with_store(Store::open(&path).unwrap(), 99, "http://s1", None);
    dev.cfg = cfg;
    dev.clock = clock;
    Run {
        dir,
        net,
        dev,
        expected_local,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_any_two_steps_of_a_long_sync_loses_nothing() {
    let t = template().await;
    let mut tried = 0;
    for point in [
        CrashPoint::BeforeSend,
        CrashPoint::AnswerLost,
        CrashPoint::AfterApply,
    ] {
        for k in 1..=40 {
            assert!(k < 40, "a sync of {LOCAL} + {REMOTE} items never ended");
            let mut run = setup(&t);
            if !crash_at(&mut run, k, point).await {
                break;
            }
            tried += 1;
            let mut run = reopen(run);
            let ctx = format!("{point:?} at step {k}");
            assert_eq!(
                local_lines(&run.dev),
                run.expected_local,
                "{ctx}: local lost"
            );
            run.net.tick(10);
            run.dev.sync(&run.net.t).await;
            let settled = run.dev.sync(&run.net.t).await;
            assert_eq!((settled.pushed, settled.pulled), (0, 0), "{ctx}: settled");
            let mut want = run.expected_local.clone();
            want.extend((0..REMOTE).map(|i| format!("text|remote {i}|")));
            want.sort();
            assert_eq!(run.dev.live(), want, "{ctx}: device converged");
            assert_eq!(
                lines(&run.net.live(None).await),
                want,
                "{ctx}: server converged"
            );
            assert_eq!(
                run.net.items(None).await.len(),
                want.len(),
                "{ctx}: no duplicates"
            );
        }
    }
    eprintln!("crash points tried: {tried}");
    // Health, two push batches, two feed pages, at least: every point of
    // every step was tried.
    assert!(tried >= 3 * 5, "only {tried} crash points");
}
