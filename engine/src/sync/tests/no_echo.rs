//! Guarantee 4, `no-echo`.

use super::script::*;
use serde_json::json;

use crate::sync::Method;

/// Our own push comes back in the feed: not counted as a pull, not
/// pushed again, and a quiet server means zero pulls and zero pushes.
#[test]
fn our_own_push_is_not_pulled_back_and_nothing_ping_pongs() {
    let mut d = Device::new();
    d.url("https://a");
    d.add(crate::model::ItemType::Text, "note");
    let mut s = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s1", "created", 1), result("s2", "created", 2)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0",
            feed(
                vec![item("s1", "https://a", 1, 10), {
                    let mut n = item("s2", "note", 2, 10);
                    n["type"] = "text".into();
                    n
                }],
                2,
                false,
            ),
        );
    let sum = d.sync(&mut s);
    assert_eq!(
        (sum.pushed, sum.pulled, sum.conflicts),
        (2, 0, 0),
        "no echo (D10)"
    );
    for _ in 0..3 {
        let mut quiet = Script::new().hello(ALL).on(
            Method::Get,
            "/items/changes?after=2",
            feed(vec![], 2, false),
        );
        let sum = d.sync(&mut quiet);
        assert_eq!((sum.pushed, sum.pulled), (0, 0), "no ping-pong (D11)");
    }
}

/// A v1 server (no versions): the same content at the same server time
/// is the same state, whatever the device clock says.
#[test]
fn without_versions_the_same_state_is_not_a_change() {
    let mut d = Device::new();
    d.now += 3_600_000; // a device clock an hour ahead
    d.url("https://a");
    let echo = serde_json::json!({"id": "s1", "type": "url", "content": "https://a", "tags": [], "createdAt": 1, "updatedAt": 50_000});
    let mut s = Script::new()
        .hello(&[])
        .on(
            Method::Post,
            "/items",
            ok(serde_json::json!({"id": "s1", "status": "created"})),
        )
        .on(
            Method::Get,
            "/items/since/0",
            ok(serde_json::json!({"items": [echo.clone()]})),
        );
    let sum = d.sync(&mut s);
    assert_eq!((sum.pushed, sum.pulled), (1, 0));
    let mut again = Script::new().hello(&[]).on(
        Method::Get,
        "/items/since/45000",
        ok(serde_json::json!({"items": [echo]})),
    );
    let sum = d.sync(&mut again);
    assert_eq!((sum.pushed, sum.pulled), (0, 0));
}

/// An image this device never got the bytes of, on a server restored from
/// a backup that lacks its row: the one push after the restore is refused
/// (the server needs the bytes), and the image is then held back, not
/// pushed again, refused again, on every later sync.
#[test]
fn an_image_the_restored_server_cannot_take_is_not_pushed_on_every_sync() {
    let mut d = Device::new();
    let mut img = item("s1-img", "pic.png", 1, 10);
    img["type"] = json!("image");
    let mut first = Script::new()
        .hello(ALL)
        .on(
            Method::Get,
            "/items/changes?after=0",
            ok(json!({"items": [img], "cursor": 1, "hasMore": false, "epoch": 1})),
        )
        .on(
            Method::Get,
            "/images/s1-img",
            answer(404, json!({"error": "gone"})),
        );
    d.sync(&mut first);
    let refused = json!({"index": 0, "status": "error", "error": "content is required"});
    let mut restored = Script::new()
        .hello(ALL)
        .on(
            Method::Get,
            "/items/changes?after=1",
            ok(json!({"items": [], "cursor": 1, "hasMore": false, "epoch": 2})),
        )
        .on(Method::Post, "/items/batch", batch(vec![refused]))
        .on(
            Method::Get,
            "/items/changes?after=0",
            ok(json!({"items": [], "cursor": 1, "hasMore": false, "epoch": 2})),
        );
    let sum = d.sync(&mut restored);
    assert_eq!(sum.failed, 1, "the one push it cannot take");
    let mut quiet = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=1",
        ok(json!({"items": [], "cursor": 1, "hasMore": false, "epoch": 2})),
    );
    let sum = d.sync(&mut quiet);
    assert_eq!((sum.pushed, sum.failed), (0, 0), "nothing pushed again");
    assert_eq!(d.pending(), 0, "held back until its bytes or its row come");
    assert_eq!(d.store.items(false).unwrap().len(), 1, "and still kept");
}
