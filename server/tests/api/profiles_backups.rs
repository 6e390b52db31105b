//! `/profiles` and `/backups`.
use axum::http::StatusCode;
use serde_json::json;

use crate::common::Srv;

#[tokio::test]
async fn profiles_crud_and_resolution_by_uuid_or_slug() {
    let s = Srv::new();
    let d = s.post("/profiles", json!({"name":"Default"})).await;
    assert_eq!(d.body["created"], true);
    assert_eq!(d.body["profile"]["userId"], "alice");
    assert_eq!(d.body["profile"]["slug"], "default");
    let w = s.post("/profiles", json!({"name":"My Work!"})).await;
    assert_eq!(w.body["profile"]["slug"], "my-work");
    let dup = s.post("/profiles", json!({"name":"my work"})).await;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        dup.body["error"],
        "Profile 'my-work' already exists for user 'alice'"
    );
    assert_eq!(
        s.post("/profiles", json!({})).await.body["error"],
        "name is required"
    );
    let list = s.get("/profiles").await.body["profiles"].clone();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["user_id"], "alice");
    assert!(list[0]["created_at"].as_str().unwrap().ends_with('Z'));
    let work = w.body["profile"]["id"].as_str().unwrap().to_string();
    let dflt = d.body["profile"]["id"].as_str().unwrap().to_string();
    // §5.3: isolation, slug = UUID, unknown UUID → default.
    s.post(
        &format!("/items?profile={work}"),
        json!({"type":"text","content":"work","sync_id":"w"}),
    )
    .await;
    s.post(
        "/items?profile=default",
        json!({"type":"text","content":"home","sync_id":"h"}),
    )
    .await;
    s.post(
        "/items?profile=00000000-0000-4000-8000-000000000000",
        json!({"type":"text","content":"lost","sync_id":"l"}),
    )
    .await;
    let contents = |v: serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["content"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        contents(s.get(&format!("/items?profile={work}")).await.body),
        ["work"]
    );
    assert_eq!(
        contents(s.get("/items?profile=my-work").await.body),
        ["work"]
    );
    let mut home = contents(s.get(&format!("/items?profile={dflt}")).await.body);
    home.sort();
    assert_eq!(home, ["home", "lost"]);
    // D16: UUIDs match whatever their case.
    let upper = work.to_uppercase();
    assert_eq!(
        contents(s.get(&format!("/items?profile={upper}")).await.body),
        ["work"]
    );
    assert_eq!(
        s.get(&format!("/profiles/{upper}")).await.body["profile"]["id"],
        work.as_str()
    );
    assert_eq!(
        s.delete(&format!("/profiles/{work}")).await.body,
        json!({"deleted": true})
    );
    let folder = s.dir.path().join("alice/profiles").join(&work);
    assert!(
        folder.join("datastore.sqlite").exists(),
        "the data folder stays"
    );
}

#[tokio::test]
async fn first_data_request_creates_the_default_profile() {
    let s = Srv::new();
    assert!(s.state.system.profiles("alice").unwrap().is_empty());
    s.get("/items").await;
    let p = s.state.system.profiles("alice").unwrap();
    assert_eq!(
        (p.len(), p[0].slug.as_str(), p[0].name.as_str()),
        (1, "default", "Default")
    );
}

#[tokio::test]
async fn backups_snapshot_every_profile_and_keep_seven() {
    let s = Srv::new();
    s.post(
        "/items",
        json!({"type":"url","content":"https://b","sync_id":"1"}),
    )
    .await;
    s.post("/items", json!({"type":"text","content":"t","sync_id":"2"}))
        .await;
    let w = s.post("/profiles", json!({"name":"Work"})).await;
    let work = w.body["profile"]["id"].as_str().unwrap().to_string();
    s.post(
        &format!("/items?profile={work}"),
        json!({"type":"url","content":"https://w","sync_id":"3"}),
    )
    .await;
    let r = s.post("/backups", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["tableCounts"]["urls"], 2);
    assert_eq!(r.body["tableCounts"]["texts"], 1);
    let path = std::path::PathBuf::from(r.body["path"].as_str().unwrap());
    let copy =
        rusqlite::Connection::open(path.join("profiles").join(&work).join("datastore.sqlite"))
            .unwrap();
    let n: i64 = copy
        .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the work profile's own data is in the backup");
    for _ in 0..9 {
        s.tick(60_000);
        assert_eq!(s.post("/backups", json!({})).await.body["success"], true);
    }
    let list = s.get("/backups").await.body["backups"].clone();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 7, "retention");
    assert!(
        list[0]["createdAt"].as_str().unwrap() > list[6]["createdAt"].as_str().unwrap(),
        "newest first"
    );
    assert!(list[0]["size"].as_u64().unwrap() > 0);
    // Bob sees none of Alice's backups.
    let bob = s
        .as_key("bob-key", axum::http::Method::GET, "/backups", None)
        .await;
    assert_eq!(bob.body["backups"], json!([]));
    // No stray `profiles/default` database is ever created (D18).
    assert!(!s.dir.path().join("alice/profiles/default").exists());
}

/// A restore brings the backup's data back, never reuses a change-sequence
/// number, and raises the feed epoch so clients know to re-push.
#[tokio::test]
async fn restore_keeps_sequences_fresh_and_raises_the_epoch() {
    let s = Srv::new();
    s.post(
        "/items",
        json!({"type":"text","content":"kept","sync_id":"1"}),
    )
    .await;
    let before = s.get("/items/changes").await.body.clone();
    let first = before["epoch"].as_i64().unwrap();
    assert!(first > 1, "a new profile's history has an epoch of its own");
    let b = s.post("/backups", json!({})).await.body["filename"]
        .as_str()
        .unwrap()
        .to_string();
    s.tick(10);
    for i in 0..3 {
        s.post(
            "/items",
            json!({"type":"text","content":format!("after {i}"),"sync_id":format!("a{i}")}),
        )
        .await;
    }
    let head = s.get("/items/changes?after=0&limit=100").await.body["cursor"]
        .as_i64()
        .unwrap();
    assert_eq!(head, 4);
    let bad = server::backup::restore_user(&s.state, "alice", "../x");
    assert!(bad.is_err());
    server::backup::restore_user(&s.state, "alice", &b).unwrap();
    let all = s.all("default").await;
    assert_eq!(all.len(), 1, "the backup's data only");
    let feed = s.get("/items/changes?after=0").await.body.clone();
    assert_eq!(feed["epoch"], first + 1);
    let r = s
        .post(
            "/items",
            json!({"type":"text","content":"new","sync_id":"n"}),
        )
        .await;
    assert!(
        r.body["version"].as_i64().unwrap() > head,
        "a version from before the restore is never reused"
    );
}

/// A profile deleted and created again under its name is a new, empty
/// history behind the same slug: its feed answers with another epoch, so
/// a device that names it by slug pushes everything again instead of
/// trusting a cursor into the history that is gone.
#[tokio::test]
async fn a_profile_created_again_under_its_name_has_another_epoch() {
    let s = Srv::new();
    let first = s.post("/profiles", json!({"name":"Work"})).await.body["profile"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let epoch = |v: &serde_json::Value| v["epoch"].as_i64().unwrap();
    let old = s
        .get("/items/changes?profile=work&strictProfile=true")
        .await;
    assert_eq!(old.status, StatusCode::OK);
    s.delete(&format!("/profiles/{first}")).await;
    let gone = s
        .get("/items/changes?profile=work&strictProfile=true")
        .await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "a deleted profile is not served"
    );
    let second = s.post("/profiles", json!({"name":"Work"})).await.body["profile"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    let new = s
        .get("/items/changes?profile=work&strictProfile=true")
        .await;
    assert_ne!(epoch(&old.body), epoch(&new.body));
    assert!(epoch(&new.body) > 1);
}
