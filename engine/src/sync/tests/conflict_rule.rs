//! Guarantee 5, `conflict-rule`.

use serde_json::json;

use super::script::*;
use crate::sync::{Method, Mode};

/// One item on the server as `s1` at version 1, linked here.
fn synced() -> (Device, String) {
    let mut d = Device::new();
    let id = d.url("https://a");
    let mut s = Script::first_push();
    d.sync(&mut s);
    (d, id)
}

/// A pull never overwrites a pending local edit: the push decides, with
/// `baseVersion` and `editedAt`; the server keeps the later edit and a
/// `stale` answer with it is taken.
#[test]
fn a_pending_edit_defers_the_pull_and_a_stale_answer_is_adopted() {
    let (mut d, id) = synced();
    d.edit(&id, "https://mine");
    let edited_at = d.store.item(&id).unwrap().unwrap().updated_at;
    let mut pull = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=1",
        feed(vec![item("s1", "https://theirs", 2, 10)], 2, false),
    );
    let sum = d.sync_mode(&mut pull, Mode::PullOnly).unwrap();
    pull.assert_done();
    assert_eq!((sum.pulled, sum.conflicts), (0, 1));
    assert_eq!(
        d.live(),
        vec!["https://mine"],
        "the local edit is not overwritten"
    );
    assert_eq!(d.pending(), 1);
    let mut stale = json!({"id": "s1", "status": "stale", "version": 2});
    stale["item"] = item("s1", "https://theirs", 2, 10);
    let mut s = Script::new()
        .hello(ALL)
        .on(Method::Post, "/items/batch", batch(vec![stale]))
        .on(
            Method::Get,
            "/items/changes?after=2",
            feed(vec![], 2, false),
        );
    let sum = d.sync(&mut s);
    let pushed = &s.pushed()[0];
    assert_eq!(pushed["baseVersion"], json!(1), "the last version seen");
    assert_eq!(pushed["editedAt"], json!(edited_at));
    assert_eq!(pushed["syncId"], json!(id));
    assert_eq!((sum.pushed, sum.conflicts), (0, 1));
    assert_eq!(d.live(), vec!["https://theirs"]);
    assert_eq!(d.pending(), 0, "adopted, nothing to push back");
}

/// A `stale` answer without the winner: not pushed again this session
/// (no ping-pong), the winner is refetched; a 404 there means the winner
/// is a delete.
#[test]
fn a_stale_answer_without_the_item_is_refetched_and_a_404_is_a_delete() {
    let (mut d, id) = synced();
    d.edit(&id, "https://mine");
    let mut s = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![json!({"id": "s1", "status": "stale", "version": 3})]),
        )
        .on(
            Method::Get,
            "/items/s1",
            answer(404, json!({"error": "not found"})),
        )
        .on(
            Method::Get,
            "/items/changes?after=1",
            feed(vec![], 3, false),
        );
    let sum = d.sync(&mut s);
    assert_eq!(sum.conflicts, 1);
    assert!(d.live().is_empty(), "{:?}", d.live());
    assert_eq!(d.store.items(true).unwrap().len(), 1);
    assert_eq!(d.pending(), 0);
}

#[test]
fn a_refetched_winner_is_taken() {
    let (mut d, id) = synced();
    d.edit(&id, "https://mine");
    let mut s = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![json!({"id": "s1", "status": "stale", "version": 3})]),
        )
        .on(
            Method::Get,
            "/items/s1",
            ok(json!({"item": item("s1", "https://theirs", 3, 12)})),
        )
        .on(
            Method::Get,
            "/items/changes?after=1",
            feed(vec![item("s1", "https://theirs", 3, 12)], 3, false),
        );
    let sum = d.sync(&mut s);
    assert_eq!(
        (sum.conflicts, sum.pulled),
        (1, 0),
        "the feed's copy is already seen"
    );
    assert_eq!(d.live(), vec!["https://theirs"]);
    assert_eq!(d.pending(), 0);
}

/// A user edits the item while its push is in flight, and the server
/// answers `stale` with its winner: that winner is older than the edit
/// made since, so the edit is kept and pushed, based on the server's
/// version (in the same session; after a refetched winner, in the next
/// one, as a refetched item is not pushed again in its session).
#[test]
fn an_edit_made_while_the_push_is_in_flight_survives_a_stale_answer() {
    for refetch in [false, true] {
        let (mut d, id) = synced();
        d.edit(&id, "https://sent");
        let mut stale = json!({"id": "s1", "status": "stale", "version": 2});
        let push_again = || {
            (
                Method::Post,
                "/items/batch",
                batch(vec![result("s1", "updated", 3)]),
            )
        };
        let mut s = Script::new().hello(ALL);
        if refetch {
            s = s.on(Method::Post, "/items/batch", batch(vec![stale])).on(
                Method::Get,
                "/items/s1",
                ok(json!({"item": item("s1", "https://theirs", 2, 10)})),
            );
        } else {
            stale["item"] = item("s1", "https://theirs", 2, 10);
            let (m, p, a) = push_again();
            s = s
                .on(Method::Post, "/items/batch", batch(vec![stale]))
                .on(m, p, a);
        }
        let seen = if refetch { 2 } else { 3 };
        let mut s = s.on(
            Method::Get,
            "/items/changes?after=1",
            feed(vec![item("s1", "https://theirs", 2, 10)], seen, false),
        );
        let in_flight = if refetch { "/items/s1" } else { "/items/batch" };
        d.sync_editing_in_flight(&mut s, in_flight, |d| d.edit(&id, "https://newest"));
        assert_eq!(d.live(), vec!["https://newest"], "refetch={refetch}");
        let pushed = if refetch {
            assert_eq!(d.pending(), 1, "the newest edit is still to push");
            let (m, p, a) = push_again();
            let mut next = Script::new().hello(ALL).on(m, p, a).on(
                Method::Get,
                "/items/changes?after=2",
                feed(vec![], 3, false),
            );
            d.sync(&mut next);
            next.pushed()[0].clone()
        } else {
            s.pushed()[1].clone()
        };
        assert_eq!(pushed["content"], json!("https://newest"));
        assert_eq!(
            pushed["baseVersion"],
            json!(2),
            "based on the server's winner"
        );
        assert_eq!(d.pending(), 0);
    }
}
