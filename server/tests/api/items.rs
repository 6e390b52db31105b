//! `/items` semantics of §1.4 and §3.
use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{Srv, T0};

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn push_and_list_round_trip_with_both_timestamp_spellings() {
    let s = Srv::new();
    let r = s
        .post("/items", json!({"type":"url","content":"https://a","tags":["x","y"],"metadata":{"title":"A"},"sync_id":"local-1"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["created"], true);
    assert_eq!(r.body["type"], "url");
    assert_eq!(r.body["status"], "created");
    let id = r.body["id"].as_str().unwrap().to_string();
    s.tick(5);
    s.post(
        "/items",
        json!({"type":"text","content":"note","sync_id":"local-2"}),
    )
    .await;
    let list = s.get("/items").await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["id"], id.as_str(), "createdAt descending");
    let a = &list[1];
    assert_eq!(a["createdAt"], T0);
    assert_eq!(a["updatedAt"], T0);
    assert_eq!(a["deletedAt"], 0);
    assert_eq!(a["created_at"], "2026-01-27T10:00:00.000Z");
    assert_eq!(a["tags"], json!(["x", "y"]));
    assert_eq!(a["metadata"], json!({"title":"A"}));
    assert!(
        list[0].get("metadata").is_none(),
        "absent metadata is omitted"
    );
    assert_eq!(
        a["syncId"], "local-1",
        "the first-push sync id is the item's identity across servers"
    );
    assert_eq!(a["editedAt"], T0, "a v1 write's edit time is its arrival");
    let one = s.get(&format!("/items/{id}")).await;
    assert_eq!(one.body["item"]["id"], id.as_str());
    assert!(one.body["item"].get("deletedAt").is_none());
    let only_text = s.get("/items?type=text").await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(only_text, 1);
    assert_eq!(
        s.get("/items?type=video").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn sync_id_identity_and_tag_replacement() {
    let s = Srv::new();
    let a = s
        .post(
            "/items",
            json!({"type":"url","content":"https://same","tags":["a"],"sync_id":"dev1-1"}),
        )
        .await;
    let b = s
        .post(
            "/items",
            json!({"type":"url","content":"https://same","tags":["b"],"sync_id":"dev2-1"}),
        )
        .await;
    assert_ne!(
        a.body["id"], b.body["id"],
        "no content dedup on the sync path (§3.1 step 6)"
    );
    s.tick(1);
    let again = s
        .post(
            "/items",
            json!({"type":"url","content":"https://changed","tags":["c"],"syncId":"dev1-1"}),
        )
        .await;
    assert_eq!(again.body["id"], a.body["id"]);
    assert_eq!(again.body["status"], "updated");
    let by_server_id = s
        .post("/items", json!({"type":"url","content":"https://changed","tags":["c","d"],"sync_id":a.body["id"]}))
        .await;
    assert_eq!(by_server_id.body["id"], a.body["id"]);
    let item = s
        .get(&format!("/items/{}", a.body["id"].as_str().unwrap()))
        .await
        .body["item"]
        .clone();
    assert_eq!(item["content"], "https://changed");
    assert_eq!(item["tags"], json!(["c", "d"]));
    assert_eq!(s.all("default").await.len(), 2);
}

#[tokio::test]
async fn an_unchanged_re_push_writes_nothing() {
    let s = Srv::new();
    let first = s
        .post(
            "/items",
            json!({"type":"text","content":"t","tags":["a","b"],"sync_id":"x"}),
        )
        .await;
    let before = s.fingerprint("alice");
    s.tick(1000);
    let again = s
        .post(
            "/items",
            json!({"type":"text","content":"t","tags":["b","a"],"sync_id":first.body["id"]}),
        )
        .await;
    assert_eq!(again.body["status"], "unchanged");
    assert_eq!(again.body["version"], first.body["version"]);
    assert_eq!(
        s.fingerprint("alice"),
        before,
        "no updatedAt bump, no tag frequency bump (D10/D11/D21)"
    );
}

#[tokio::test]
async fn tombstones_in_both_spellings_and_undelete() {
    let s = Srv::new();
    let a = s
        .post(
            "/items",
            json!({"type":"url","content":"https://a","sync_id":"a"}),
        )
        .await;
    let b = s
        .post(
            "/items",
            json!({"type":"url","content":"https://b","sync_id":"b"}),
        )
        .await;
    s.tick(10);
    // Tombstones need no content (D23) and `deleted_at` works (D3).
    let r = s
        .post(
            "/items",
            json!({"type":"url","syncId":"a","deletedAt":T0 + 10}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s
        .post(
            "/items",
            json!({"type":"url","sync_id":"b","deleted_at":"2026-01-27T10:00:00.010Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(s.get("/items").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let all = s.all("default").await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|i| i["deletedAt"] == T0 + 10), "{all:?}");
    assert_eq!(all[0]["deleted_at"], "2026-01-27T10:00:00.010Z");
    assert_eq!(
        s.get(&format!("/items/{}", a.body["id"].as_str().unwrap()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A live push undeletes (§3.1 step 4).
    s.tick(10);
    let r = s
        .post(
            "/items",
            json!({"type":"url","content":"https://a2","sync_id":"a"}),
        )
        .await;
    assert_eq!(r.body["id"], a.body["id"]);
    let live = s.get("/items").await.body["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ids(&live), [a.body["id"].as_str().unwrap()]);
    assert_eq!(b.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_sync_id_with_tombstone_is_born_deleted() {
    let s = Srv::new();
    let r = s
        .post(
            "/items",
            json!({"type":"text","sync_id":"never-seen","deletedAt":T0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(s.get("/items").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let all = s.all("default").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["deletedAt"], T0);
    // Retrying the same tombstone is a no-op, not a second row.
    let again = s
        .post(
            "/items",
            json!({"type":"text","sync_id":"never-seen","deletedAt":T0}),
        )
        .await;
    assert_eq!(again.body["id"], r.body["id"]);
    assert_eq!(again.body["status"], "unchanged");
    assert_eq!(s.all("default").await.len(), 1);
}

#[tokio::test]
async fn content_dedup_only_off_the_sync_path() {
    let s = Srv::new();
    let a = s
        .post(
            "/items",
            json!({"type":"url","content":"https://d","tags":["1"]}),
        )
        .await;
    let b = s
        .post(
            "/items",
            json!({"type":"url","content":"https://d","tags":["2"]}),
        )
        .await;
    assert_eq!(a.body["id"], b.body["id"]);
    let t1 = s
        .post("/items", json!({"type":"tagset","tags":["exercise","20"]}))
        .await;
    let t2 = s
        .post("/items", json!({"type":"tagset","tags":["20","exercise"]}))
        .await;
    assert_eq!(t1.body["id"], t2.body["id"]);
    // A deleted row is not matched: saving it again makes a new row.
    s.delete(&format!("/items/{}", a.body["id"].as_str().unwrap()))
        .await;
    let c = s
        .post("/items", json!({"type":"url","content":"https://d"}))
        .await;
    assert_ne!(c.body["id"], a.body["id"]);
    assert_eq!(s.all("default").await.len(), 3);
}

#[tokio::test]
async fn since_is_strict_includes_tombstones_and_reads_ms_and_iso() {
    let s = Srv::new();
    let a = s
        .post("/items", json!({"type":"text","content":"a","sync_id":"a"}))
        .await;
    s.tick(100);
    let b = s
        .post("/items", json!({"type":"text","content":"b","sync_id":"b"}))
        .await;
    s.tick(100);
    s.delete(&format!("/items/{}", a.body["id"].as_str().unwrap()))
        .await;
    let r = s.get(&format!("/items/since/{}", T0)).await;
    assert_eq!(r.body["since"], T0.to_string());
    let got = r.body["items"].as_array().unwrap().clone();
    assert_eq!(
        ids(&got),
        [
            b.body["id"].as_str().unwrap(),
            a.body["id"].as_str().unwrap()
        ],
        "updatedAt ascending"
    );
    assert_eq!(got[1]["deletedAt"], T0 + 200);
    let iso = s.get("/items/since/2026-01-27T10:00:00.100Z").await;
    assert_eq!(
        iso.body["items"].as_array().unwrap().len(),
        1,
        "strictly greater"
    );
    let offset = s.get("/items/since/2026-01-27T12:00:00.099%2B02:00").await;
    assert_eq!(offset.body["items"].as_array().unwrap().len(), 2);
    for bad in ["abc", "1769559596439.5"] {
        let r = s.get(&format!("/items/since/{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            r.body["error"],
            "Invalid timestamp format. Use ISO 8601 or Unix ms."
        );
    }
    let r = s.get("/items/since").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("item not found"))
    );
    let r = s.get("/items/since/").await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (StatusCode::NOT_FOUND, "404 Not Found")
    );
}

#[tokio::test]
async fn delete_keeps_the_first_deletion_and_patch_replaces_tags() {
    let s = Srv::new();
    let a = s
        .post("/items", json!({"type":"text","content":"a","tags":["x"]}))
        .await;
    let id = a.body["id"].as_str().unwrap();
    let r = s
        .patch(&format!("/items/{id}/tags"), json!({"tags":["y","z"]}))
        .await;
    assert_eq!(r.body, json!({"updated": true}));
    assert_eq!(
        s.get(&format!("/items/{id}")).await.body["item"]["tags"],
        json!(["y", "z"])
    );
    s.tick(5);
    assert_eq!(
        s.delete(&format!("/items/{id}")).await.body,
        json!({"deleted": true})
    );
    s.tick(5);
    s.delete(&format!("/items/{id}")).await;
    assert_eq!(s.all("default").await[0]["deletedAt"], T0 + 5);
    // Unknown ids: same answers as deployed, and nothing written (D22).
    let before = s.fingerprint("alice");
    assert_eq!(s.delete("/items/nope").await.body, json!({"deleted": true}));
    assert_eq!(
        s.patch("/items/nope/tags", json!({"tags":["q"]}))
            .await
            .body,
        json!({"updated": true})
    );
    assert_eq!(s.fingerprint("alice"), before, "no orphan links or tags");
}

#[tokio::test]
async fn unicode_and_large_content_round_trip() {
    let s = Srv::new();
    let texts = [
        "Hello 🌍 World 🎉",
        "日本語テスト",
        "Ελληνικά",
        "https://example.com/path?q=日本語",
        "Line1\nLine2\tTab",
    ];
    for (i, t) in texts.iter().enumerate() {
        s.post(
            "/items",
            json!({"type":"text","content":t,"sync_id":format!("u{i}"),"tags":["nested/tag"]}),
        )
        .await;
    }
    let big = "x".repeat(2 * 1024 * 1024);
    let r = s
        .post(
            "/items",
            json!({"type":"text","content":big,"sync_id":"big"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let all = s.all("default").await;
    for t in texts {
        assert!(all.iter().any(|i| i["content"] == t), "{t}");
    }
    assert!(all
        .iter()
        .any(|i| i["content"].as_str().map(str::len) == Some(big.len())));
}
