//! The additive extensions: change feed, batch push, paging, edit conflicts.
use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{Srv, T0};

async fn feed(s: &Srv, after: i64, limit: usize) -> Value {
    let r = s
        .get(&format!("/items/changes?after={after}&limit={limit}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// D8/D9: many writes in one millisecond, read in small pages while more
/// writes land between pages: the feed returns every change exactly once
/// (per version), and a reader at the head sees nothing new.
#[tokio::test]
async fn change_feed_never_skips_same_millisecond_writes() {
    let s = Srv::new();
    let mut written = BTreeSet::new();
    for i in 0..25 {
        let r = s
            .post(
                "/items",
                json!({"type":"text","content":format!("c{i}"),"sync_id":format!("s{i}")}),
            )
            .await;
        written.insert(r.body["id"].as_str().unwrap().to_string());
    }
    let mut seen = BTreeSet::new();
    let mut cursor = 0;
    let mut pages = 0;
    loop {
        let page = feed(&s, cursor, 7).await;
        for it in page["items"].as_array().unwrap() {
            assert!(it["version"].as_i64().unwrap() > cursor);
            seen.insert(it["id"].as_str().unwrap().to_string());
        }
        cursor = page["cursor"].as_i64().unwrap();
        pages += 1;
        if pages == 2 {
            // Writes in the same millisecond, between two pages.
            for i in 25..30 {
                let r = s
                    .post(
                        "/items",
                        json!({"type":"text","content":format!("c{i}"),"sync_id":format!("s{i}")}),
                    )
                    .await;
                written.insert(r.body["id"].as_str().unwrap().to_string());
            }
        }
        if page["hasMore"] == false {
            break;
        }
    }
    assert_eq!(seen, written);
    assert_eq!(s.clock_now(), T0, "all in one millisecond");
    let head = feed(&s, cursor, 7).await;
    assert_eq!(head["items"], json!([]));
    assert_eq!(head["cursor"], cursor);
    // An update and a delete move the item to the head of the feed.
    let first = written.iter().next().unwrap().clone();
    s.delete(&format!("/items/{first}")).await;
    let after = feed(&s, cursor, 100).await;
    assert_eq!(after["items"].as_array().unwrap().len(), 1);
    assert_eq!(after["items"][0]["id"], first.as_str());
    assert!(
        after["items"][0]["deletedAt"].as_i64().unwrap() > 0,
        "tombstones are in the feed"
    );
}

#[tokio::test]
async fn batch_push_is_per_item_and_idempotent() {
    let s = Srv::new();
    let body = json!({"items":[
        {"type":"url","content":"https://1","sync_id":"b1","tags":["t"]},
        {"type":"url","sync_id":"b2"},
        {"type":"text","content":"two","syncId":"b3"},
        "not an object",
    ]});
    let r = s.post("/items/batch", body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let res = r.body["results"].as_array().unwrap();
    assert_eq!(res.len(), 4);
    assert_eq!(res[0]["status"], "created");
    assert_eq!(res[1]["status"], "error");
    assert_eq!(res[1]["error"], "content (URL) is required for type 'url'");
    assert_eq!(res[2]["status"], "created");
    assert_eq!(res[3]["status"], "error");
    assert_eq!(s.all("default").await.len(), 2);
    // The same batch again (a retry after a lost response): same ids, nothing new.
    let again = s.post("/items/batch", body).await;
    let res2 = again.body["results"].as_array().unwrap();
    assert_eq!(res2[0]["id"], res[0]["id"]);
    assert_eq!(res2[0]["status"], "unchanged");
    assert_eq!(res2[2]["status"], "unchanged");
    assert_eq!(s.all("default").await.len(), 2);
    let r = s.post("/items/batch", json!({"items": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn paging_visits_every_item_exactly_once() {
    let s = Srv::new();
    for i in 0..23 {
        if i % 5 == 0 {
            s.tick(1);
        }
        s.post(
            "/items",
            json!({"type":"text","content":format!("p{i}"),"sync_id":format!("p{i}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = s.get(&format!("/items?limit=4&cursor={cursor}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => {
                assert_eq!(r.body["hasMore"], false);
                break;
            }
        }
    }
    let unpaged: Vec<String> = s.get("/items").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, unpaged, "same order, no gaps, no repeats");
    assert_eq!(
        s.get("/items?limit=x").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.get("/items?limit=2&cursor=bogus").await.status,
        StatusCode::BAD_REQUEST
    );
}

/// D12: with `baseVersion` + `editedAt`, the later edit wins whatever the
/// arrival order; without them (v1), the last arrival wins as before.
#[tokio::test]
async fn edit_conflicts_keep_the_later_edit() {
    let s = Srv::new();
    let created = s
        .post(
            "/items",
            json!({"type":"text","content":"v0","sync_id":"c"}),
        )
        .await;
    let base = created.body["version"].as_i64().unwrap();
    // Device A edited at T0+50, device B at T0+20; A's push arrives first.
    s.tick(100);
    let a = s.post("/items", json!({"type":"text","content":"A","sync_id":"c","baseVersion":base,"editedAt":T0 + 50})).await;
    assert_eq!(a.body["status"], "updated");
    s.tick(100);
    let b = s.post("/items", json!({"type":"text","content":"B","sync_id":"c","baseVersion":base,"editedAt":T0 + 20})).await;
    assert_eq!(
        b.body["status"], "stale",
        "B's older edit must not overwrite A's"
    );
    assert_eq!(b.body["created"], true, "v1 field unchanged");
    assert_eq!(
        b.body["item"]["content"], "A",
        "a stale answer carries the kept version"
    );
    assert_eq!(b.body["item"]["version"], a.body["version"]);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/items/{id}")).await.body["item"]["content"],
        "A"
    );
    // A later edit based on an old version still wins.
    let c = s.post("/items", json!({"type":"text","content":"C","sync_id":"c","baseVersion":base,"editedAt":T0 + 60})).await;
    assert_eq!(c.body["status"], "updated");
    // A fast-forward (base = current version) always applies.
    let cur = c.body["version"].as_i64().unwrap();
    let d = s
        .post(
            "/items",
            json!({"type":"text","content":"D","sync_id":"c","baseVersion":cur,"editedAt":T0 + 1}),
        )
        .await;
    assert_eq!(d.body["status"], "updated");
    // v1: last arrival wins, exactly as before.
    let e = s
        .post("/items", json!({"type":"text","content":"E","sync_id":"c"}))
        .await;
    assert_eq!(e.body["status"], "updated");
    assert_eq!(
        s.get(&format!("/items/{id}")).await.body["item"]["content"],
        "E"
    );
}

#[tokio::test]
async fn strict_profile_refuses_unknown_profiles() {
    let s = Srv::new();
    let r = s
        .get("/items?profile=00000000-0000-4000-8000-000000000000&strictProfile=true")
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"], "profile not found");
    let r = s.get("/items?profile=nosuchslug&strictProfile=true").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
