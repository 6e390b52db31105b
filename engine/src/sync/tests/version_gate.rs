//! Guarantee 7, `version-gate`.

use serde_json::json;

use super::script::*;
use crate::error::Error;
use crate::sync::{Method, Mode, Response};

#[test]
fn a_409_stops_the_sync_and_changes_nothing() {
    let mut d = Device::new();
    d.url("https://mine");
    let before = d.store.items(true).unwrap();
    let mut s = Script::new().hello(ALL).on(
        Method::Post,
        "/items/batch",
        answer(409, json!({"message": "datastore version 2 required"})),
    );
    let err = d.sync_mode(&mut s, Mode::Full).unwrap_err();
    assert!(
        matches!(&err, Error::VersionMismatch(m) if m.contains("version 2")),
        "{err}"
    );
    s.assert_done();
    assert_eq!(d.store.items(true).unwrap(), before);
    assert_eq!(d.pending(), 1, "nothing recorded");
}

#[test]
fn a_foreign_version_header_stops_the_sync_before_the_page_is_applied() {
    let mut d = Device::new();
    let page = Ok(Response {
        status: 200,
        headers: vec![("X-Peek-Protocol-Version".into(), "2".into())],
        body: json!({"items": [item("s1", "https://x", 1, 10)], "cursor": 1, "hasMore": false})
            .to_string()
            .into_bytes(),
    });
    let mut s = Script::new()
        .hello(ALL)
        .on(Method::Get, "/items/changes", page);
    let err = d.sync_mode(&mut s, Mode::Full).unwrap_err();
    assert!(matches!(err, Error::VersionMismatch(_)), "{err}");
    assert!(d.live().is_empty());
    let mut hello = Script::new().on(
        Method::Get,
        "/",
        ok(json!({"features": ALL, "datastore_version": 2})),
    );
    let err = d.sync_mode(&mut hello, Mode::Full).unwrap_err();
    assert!(matches!(err, Error::VersionMismatch(_)), "{err}");
}

#[test]
fn snake_case_iso_only_answers_sync_the_same() {
    let mut d = Device::new();
    let snake = json!({
        "id": "s1", "type": "url", "content": "https://s", "tags": ["a"], "version": 1,
        "created_at": "1970-01-01T00:00:00.005Z", "updated_at": "1970-01-01T00:00:20.000Z",
        "deleted_at": null,
    });
    let mut s = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=0",
        feed(vec![snake.clone()], 1, false),
    );
    assert_eq!(d.sync(&mut s).pulled, 1);
    let it = &d.store.items(false).unwrap()[0];
    assert_eq!((it.created_at, it.updated_at), (5, 20_000));
    assert_eq!(it.tags, vec!["a"]);
    let mut again = Script::new().hello(ALL).on(
        Method::Get,
        "/items/changes?after=1",
        feed(vec![snake], 1, false),
    );
    assert_eq!(d.sync(&mut again).pulled, 0);
}
