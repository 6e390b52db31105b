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

/// An image this device holds without its bytes meets, in another
/// profile, the row of the same item at an earlier edit (seed 6483: the
/// device pulled the edited image in one profile, switched, and pulled
/// the unedited one in the other). That row is the same item, but an
/// older state of it: the device links to it and keeps its later edit,
/// which it pushes there in the same sync, in the update form (the
/// server has the bytes). Taking the row instead would have turned the
/// local item back into the old state, and a later sync in the first
/// profile would have pushed that over the edit (a sequential push: its
/// `baseVersion` was current there), so the edit was lost everywhere.
#[test]
fn a_held_image_keeps_its_later_edit_over_an_older_row_elsewhere() {
    let image = |id: &str, name: &str, edited_at: i64| {
        let mut it = item(id, name, 1, edited_at);
        it["type"] = json!("image");
        it["syncId"] = json!("creator-local-id");
        it["editedAt"] = json!(edited_at);
        it
    };
    let mut d = Device::new();
    d.cfg.server_profile = Some("p1".into());
    let mut p1 = Script::new()
        .hello(ALL)
        .on(
            Method::Get,
            "/items/changes?after=0&limit=1000&profile=p1",
            feed(vec![image("p1-img", "pic.png ~edit", 20)], 1, false),
        )
        .on(
            Method::Get,
            "/images/p1-img?profile=p1",
            answer(503, json!({"error": "busy"})),
        );
    assert!(
        d.sync_mode(&mut p1, crate::sync::Mode::Full).is_err(),
        "the bytes did not come"
    );
    d.cfg.server_profile = Some("p0".into());
    let mut p0 = Script::new()
        .hello(ALL)
        .on(
            Method::Get,
            "/items/changes?after=0&limit=1000&profile=p0",
            feed(vec![image("p0-img", "pic.png", 10)], 1, false),
        )
        .on(
            Method::Post,
            "/items/batch?profile=p0",
            batch(vec![result("p0-img", "updated", 2)]),
        )
        .on(
            Method::Get,
            "/items/changes?after=1&limit=1000&profile=p0",
            feed(vec![], 2, false),
        )
        .on(
            Method::Get,
            "/images/p0-img?profile=p0",
            answer(404, json!({"error": "gone"})),
        );
    let sum = d.sync(&mut p0);
    assert_eq!((sum.pulled, sum.pushed), (0, 1));
    assert_eq!(d.live(), vec!["pic.png ~edit"], "the later edit stays");
    let pushed = p0.pushed();
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0]["content"], json!("pic.png ~edit"));
    assert_eq!(pushed[0]["baseVersion"], json!(1), "based on the row seen");
    assert_eq!(pushed[0]["editedAt"], json!(20));
    assert!(pushed[0].get("filename").is_none(), "the update form");
    d.cfg.server_profile = Some("p1".into());
    let mut back = Script::new()
        .hello(ALL)
        .on(
            Method::Get,
            "/items/changes?after=1&limit=1000&profile=p1",
            feed(vec![], 1, false),
        )
        .on(
            Method::Get,
            "/images/p1-img?profile=p1",
            answer(404, json!({"error": "gone"})),
        );
    let sum = d.sync(&mut back);
    assert_eq!(sum.pushed, 0, "nothing older goes over the edit");
}
