//! Guarantee 2, `cursor-completeness`.

use serde_json::json;

use super::script::*;
use crate::error::Error;
use crate::store::cursor::{self, Cursor};
use crate::sync::{Method, Mode};

#[test]
fn feed_pages_commit_with_their_cursor_and_a_failed_page_is_read_again() {
    let mut d = Device::new();
    let mut s = Script::new()
        .hello(ALL)
        .on(
            Method::Get,
            "/items/changes?after=0",
            feed(
                vec![
                    item("s1", "https://1", 1, 10),
                    item("s2", "https://2", 2, 10),
                ],
                2,
                true,
            ),
        )
        .on(Method::Get, "/items/changes?after=2", lost());
    assert!(matches!(
        d.sync_mode(&mut s, Mode::Full),
        Err(Error::Transport(_))
    ));
    assert_eq!(d.live().len(), 2, "the first page stays applied");
    let key = d.cfg.server_key();
    assert_eq!(
        cursor::get(d.store.conn(), Cursor::Feed, &key).unwrap(),
        Some(2)
    );
    let mut again = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=2",
        feed(vec![item("s3", "https://3", 3, 10)], 3, false),
    );
    assert_eq!(d.sync(&mut again).pulled, 1);
    assert_eq!(d.live().len(), 3);
}

#[test]
fn a_feed_cursor_that_goes_back_stops_the_sync_and_applies_nothing() {
    let mut d = Device::new();
    let mut s = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=0",
        feed(vec![item("s1", "https://1", 5, 10)], 5, false),
    );
    d.sync(&mut s);
    for (cursor, more) in [(4, false), (5, true)] {
        let mut bad = Script::new().hello(ALL).on(
            Method::Get,
            "/items/changes?after=5",
            feed(vec![item("s2", "https://2", 6, 10)], cursor, more),
        );
        let err = d.sync_mode(&mut bad, Mode::Full).unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{err}");
        assert_eq!(d.live(), vec!["https://1"], "nothing of that page applied");
    }
}

/// Without the feed: the cursor is the newest server `updatedAt` seen
/// minus the overlap, so a write in the same millisecond as the newest
/// one seen is read, and the re-read overlap is not counted twice (D9).
#[test]
fn the_timestamp_cursor_keeps_an_overlap_on_the_server_clock() {
    let mut d = Device::new();
    let plain = |id: &str, content: &str, t: i64| json!({"id": id, "type": "url", "content": content, "tags": [], "createdAt": 1, "updatedAt": t});
    let mut s = Script::new().hello(&[]).on(
        Method::Get,
        "/items/since/0",
        ok(json!({"items": [plain("s1", "https://1", 20_000)]})),
    );
    assert_eq!(d.sync(&mut s).pulled, 1);
    let mut again = Script::new().hello(&[]).on(
        Method::Get,
        "/items/since/15000",
        ok(json!({"items": [plain("s1", "https://1", 20_000), plain("s2", "https://2", 20_000)]})),
    );
    assert_eq!(d.sync(&mut again).pulled, 1, "the same-ms write, once");
    let mut third =
        Script::new()
            .hello(&[])
            .on(Method::Get, "/items/since/15000", ok(json!({"items": []})));
    assert_eq!(
        d.sync(&mut third).pulled,
        0,
        "an empty page leaves the cursor"
    );
    assert_eq!(d.live().len(), 2);
}

#[test]
fn a_push_only_sync_does_not_move_the_cursor() {
    let mut d = Device::new();
    d.url("https://a");
    let mut s = Script::new().hello(ALL).on(
        Method::Post,
        "/items/batch",
        batch(vec![result("s1", "created", 4)]),
    );
    d.sync_mode(&mut s, Mode::PushOnly).unwrap();
    s.assert_done();
    let key = d.cfg.server_key();
    assert_eq!(
        cursor::get(d.store.conn(), Cursor::Feed, &key).unwrap(),
        None
    );
    let mut pull = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=0",
        feed(vec![], 4, false),
    );
    d.sync(&mut pull);
}
