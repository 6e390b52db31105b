//! Guarantee 1, `no-lost-write`.

use serde_json::json;

use super::script::*;
use crate::error::Error;
use crate::store::cursor::{self, Cursor};
use crate::sync::{Method, Mode};

#[test]
fn a_failed_or_unanswered_push_stays_pending_and_is_retried_under_the_same_sync_id() {
    let mut d = Device::new();
    let id = d.url("https://a");
    let mut s = Script::new().hello(ALL).on(
        Method::Post,
        "/items/batch",
        answer(500, json!({"error": "boom"})),
    );
    let err = d.sync_mode(&mut s, Mode::Full).unwrap_err();
    assert!(matches!(err, Error::Server { status: 500, .. }), "{err}");
    assert_eq!(d.pending(), 1);
    let mut lost_push = Script::new()
        .hello(ALL)
        .on(Method::Post, "/items/batch", lost());
    assert!(d.sync_mode(&mut lost_push, Mode::Full).is_err());
    assert_eq!(d.pending(), 1, "a push without an answer is not recorded");
    let mut ok = Script::first_push();
    assert_eq!(d.sync(&mut ok).pushed, 1);
    assert_eq!(d.pending(), 0);
    for pushes in [s.pushed(), lost_push.pushed(), ok.pushed()] {
        assert_eq!(
            pushes[0]["syncId"],
            json!(id),
            "the same identity every time"
        );
    }
}

/// A push commits, its answer is lost, a pull brings the committed row
/// back as a second local row, then the retry is answered: the pulled
/// copy (no local edit) goes, the item is there once.
#[test]
fn a_lost_answer_then_a_pull_then_the_retry_leaves_one_row() {
    let mut d = Device::new();
    let id = d.url("https://a");
    let mut s = Script::new()
        .hello(ALL)
        .on(Method::Post, "/items/batch", lost());
    assert!(d.sync_mode(&mut s, Mode::Full).is_err());
    let committed = json!({
        "id": "s1", "type": "url", "content": "https://a", "tags": [], "syncId": id,
        "createdAt": 1, "updatedAt": 5, "deletedAt": 0, "version": 1,
    });
    let mut pull = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes",
        feed(vec![committed], 1, false),
    );
    d.sync_mode(&mut pull, Mode::PullOnly).unwrap();
    pull.assert_done();
    assert_eq!(d.live().len(), 2, "the pulled copy, before the retry");
    let mut retry = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s1", "unchanged", 1)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=1",
            feed(vec![], 1, false),
        );
    let sum = d.sync(&mut retry);
    assert_eq!((sum.pushed, sum.pulled), (1, 0));
    assert_eq!(d.live(), vec!["https://a"], "one row, the original");
    assert_eq!(d.store.items(false).unwrap()[0].id, id);
    assert_eq!(d.pending(), 0);
}

/// A new feed epoch (the server was restored from a backup): everything
/// is pushed again, under its identity, before anything is read, and the
/// feed is read again from the start.
#[test]
fn a_restored_server_gets_everything_back() {
    let mut d = Device::new();
    let id = d.url("https://a");
    let mut first = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s1", "created", 1)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0",
            ok(json!({"items": [], "cursor": 1, "hasMore": false, "epoch": 1})),
        );
    d.sync(&mut first);
    let mut restored = Script::new()
        .hello(ALL)
        .on(
            Method::Get,
            "/items/changes?after=1",
            ok(json!({"items": [], "cursor": 1, "hasMore": false, "epoch": 2})),
        )
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s7", "created", 9)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0",
            ok(json!({"items": [], "cursor": 9, "hasMore": false, "epoch": 2})),
        );
    let sum = d.sync(&mut restored);
    assert!(sum.server_changed);
    assert_eq!(sum.pushed, 1);
    let pushed = &restored.pushed()[0];
    assert_eq!(pushed["syncId"], json!(id));
    assert_eq!(
        pushed["baseVersion"],
        json!(0),
        "the old version is not trusted"
    );
    let key = d.cfg.server_key();
    assert_eq!(
        cursor::get(d.store.conn(), Cursor::Feed, &key).unwrap(),
        Some(9)
    );
    assert_eq!(
        cursor::get(d.store.conn(), Cursor::Epoch, &key).unwrap(),
        Some(2)
    );
}

#[test]
fn images_too_large_for_one_batch_are_pushed_in_several() {
    let mut d = Device::new();
    // Two 5 MiB images: 6.7 MiB of base64 each, more than one batch's
    // content budget together.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(5 * 1024 * 1024, 7);
    d.image("a.png", png.clone());
    d.image("b.png", png);
    d.url("https://c");
    let mut s = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s1", "created", 1)]),
        )
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s2", "created", 1), result("s3", "created", 1)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0",
            feed(vec![], 1, false),
        );
    assert_eq!(d.sync(&mut s).pushed, 3);
    assert_eq!(d.pending(), 0);
    let sizes: Vec<usize> = s
        .sent
        .iter()
        .filter(|r| r.method == Method::Post)
        .map(|r| r.body.as_ref().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes.len(), 2);
    assert!(
        sizes.iter().all(|&n| n < 16 * 1024 * 1024),
        "each request under the server's body limit: {sizes:?}"
    );
    let pushed = s.pushed();
    assert_eq!(pushed[0]["filename"], json!("a.png"));
    assert_eq!(pushed[0]["mime"], json!("image/png"));
    assert_eq!(pushed[1]["filename"], json!("b.png"));
    assert_eq!(pushed[2]["content"], json!("https://c"));
}
