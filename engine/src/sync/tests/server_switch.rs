//! Guarantee 6, `server-switch`.

use serde_json::json;

use super::script::*;
use crate::model::ItemType;
use crate::sync::Method;

#[test]
fn switching_server_repushes_under_the_identity_and_switching_back_reuses_the_links() {
    let mut d = Device::new();
    let id = d.url("https://a");
    let mut s1 = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s1-a", "created", 1)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0",
            feed(vec![], 1, false),
        );
    assert!(!d.sync(&mut s1).server_changed);
    d.cfg.server_url = "http://s2".into();
    let mut s2 = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s2-a", "created", 1)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0",
            feed(vec![], 1, false),
        );
    let sum = d.sync(&mut s2);
    assert!(sum.server_changed);
    assert_eq!(
        sum.pushed, 1,
        "everything is pushed to the new server (D14)"
    );
    let pushed = &s2.pushed()[0];
    assert_eq!(
        pushed["syncId"],
        json!(id),
        "under the item's identity, not s1's row id"
    );
    assert_eq!(
        pushed["baseVersion"],
        json!(0),
        "s2 never gave us a version"
    );
    d.cfg.server_url = "http://s1/".into(); // back, spelled with a slash
    let mut back = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=1",
        feed(vec![], 1, false),
    );
    let sum = d.sync(&mut back);
    assert!(sum.server_changed);
    assert_eq!((sum.pushed, sum.pulled), (0, 0), "old links reused (D15)");
}

#[test]
fn a_server_profile_is_targeted_exactly_and_has_its_own_links() {
    let mut d = Device::new();
    d.url("https://a");
    d.cfg.server_profile = Some("p1".into());
    let mut s = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch?profile=p1&strictProfile=true",
            batch(vec![result("x", "created", 1)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0&limit=1000&profile=p1&strictProfile=true",
            feed(vec![], 1, false),
        );
    d.sync(&mut s);
    d.cfg.server_profile = Some("p2".into());
    let mut s = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch?profile=p2&strictProfile=true",
            batch(vec![result("y", "created", 1)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0&limit=1000&profile=p2&strictProfile=true",
            feed(vec![], 1, false),
        );
    assert_eq!(d.sync(&mut s).pushed, 1);
}

/// An image whose bytes this device never got cannot be created on a
/// server that never had it: it is held back there, not pushed without
/// its bytes.
#[test]
fn an_image_without_bytes_is_held_back_from_a_new_server() {
    let mut d = Device::new();
    let mut img = item("s1-img", "pic.png", 1, 10);
    img["type"] = json!("image");
    let mut s1 = Script::new()
        .hello(ALL)
        .on(
            Method::Get,
            "/items/changes?after=0",
            feed(vec![img], 1, false),
        )
        .on(
            Method::Get,
            "/images/s1-img",
            answer(404, json!({"error": "gone"})),
        );
    d.sync(&mut s1);
    assert_eq!(d.store.items(false).unwrap()[0].kind, ItemType::Image);
    d.url("https://new");
    d.cfg.server_url = "http://s2".into();
    let mut s2 = Script::new()
        .hello(ALL)
        .on(
            Method::Post,
            "/items/batch",
            batch(vec![result("s2-new", "created", 1)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=0",
            feed(vec![], 1, false),
        );
    d.sync(&mut s2);
    let pushed: Vec<_> = s2.pushed().iter().map(|p| p["content"].clone()).collect();
    assert_eq!(pushed, vec![json!("https://new")], "the image waits");
    assert_eq!(d.pending(), 0, "the image is held back, not pending");
}
