//! Guarantee 3, `no-resurrection`.

use serde_json::json;

use super::script::*;
use crate::sync::Method;

#[test]
fn a_local_delete_is_pushed_and_an_older_live_copy_does_not_bring_it_back() {
    let mut d = Device::new();
    let id = d.url("https://x");
    let mut s = Script::first_push();
    d.sync(&mut s);
    d.delete(&id);
    let mut s = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s1", "updated", 2)]),
        )
        // The feed re-sends the live version 1 (an overlap, a replayed
        // page): older than what we pushed.
        .on(
            Method::Get,
            "/items/changes?after=1",
            feed(vec![item("s1", "https://x", 1, 10)], 2, false),
        );
    let sum = d.sync(&mut s);
    let pushed = &s.pushed()[0];
    assert!(
        pushed["deletedAt"].as_i64().unwrap_or(0) > 0,
        "the tombstone is pushed (D4): {pushed}"
    );
    assert_eq!((sum.pushed, sum.pulled), (1, 0));
    assert!(d.live().is_empty(), "not resurrected: {:?}", d.live());
}

#[test]
fn a_pulled_tombstone_of_an_unknown_item_is_kept_as_a_tombstone() {
    let mut d = Device::new();
    let mut dead = item("s9", "https://ghost", 3, 10);
    dead["deletedAt"] = json!(9);
    let mut s = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=0",
        feed(vec![dead], 3, false),
    );
    d.sync(&mut s);
    assert!(d.live().is_empty());
    assert_eq!(
        d.store.items(true).unwrap().len(),
        1,
        "held as a deleted row"
    );
    // An older live copy arriving later (another device's stale push
    // replayed) is skipped, and nothing is pushed back.
    let mut s = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=3",
        feed(vec![item("s9", "https://ghost", 2, 8)], 4, false),
    );
    assert_eq!(d.sync(&mut s).pulled, 0);
    assert!(d.live().is_empty());
    assert_eq!(d.pending(), 0);
}

#[test]
fn a_server_delete_reaches_the_device() {
    let mut d = Device::new();
    let mut s = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=0",
        feed(vec![item("s1", "https://x", 1, 10)], 1, false),
    );
    d.sync(&mut s);
    let mut dead = item("s1", "https://x", 2, 11);
    dead["deletedAt"] = json!(11);
    let mut s = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=1",
        feed(vec![dead], 2, false),
    );
    assert_eq!(d.sync(&mut s).pulled, 1);
    assert!(d.live().is_empty());
    assert_eq!(d.pending(), 0, "a pulled delete is not pushed back");
}
