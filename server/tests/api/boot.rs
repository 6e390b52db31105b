//! Start-up on a data directory the Node server wrote (§2): same users,
//! profiles, items, tags and tombstones; the fixed one-time cleanup (D17).
use rusqlite::{params, Connection};
use serde_json::json;
use server::boot::BootOptions;
use server::store::system::hash_key;

use crate::common::{Srv, T0};

const WORK: &str = "5b8e9a4e-1f0c-4c1e-9d7a-2a3b4c5d6e7f";
const HOME: &str = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";

/// The schema `deploy/server` creates (§2.3), without our columns.
const NODE_SCHEMA: &str = "
CREATE TABLE items (id TEXT PRIMARY KEY, type TEXT NOT NULL CHECK(type IN ('url','text','tagset','image')),
  content TEXT, metadata TEXT, syncId TEXT DEFAULT '', syncSource TEXT DEFAULT '', syncedAt INTEGER DEFAULT 0,
  createdAt INTEGER NOT NULL, updatedAt INTEGER NOT NULL, deletedAt INTEGER DEFAULT 0);
CREATE TABLE tags (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, frequency INTEGER DEFAULT 1,
  lastUsed INTEGER NOT NULL, frecencyScore REAL DEFAULT 0, createdAt INTEGER NOT NULL, updatedAt INTEGER NOT NULL);
CREATE TABLE item_tags (itemId TEXT NOT NULL, tagId TEXT NOT NULL, createdAt INTEGER NOT NULL, PRIMARY KEY (itemId, tagId));
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
";

fn node_data_dir(with_flag: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sys = Connection::open(dir.path().join("system.db")).unwrap();
    sys.execute_batch(
        "CREATE TABLE users (id TEXT PRIMARY KEY, api_key_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
         CREATE TABLE profiles (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, slug TEXT NOT NULL, name TEXT NOT NULL,
           created_at TEXT NOT NULL, last_used_at TEXT NOT NULL, UNIQUE(user_id, slug));",
    )
    .unwrap();
    sys.execute(
        "INSERT INTO users VALUES ('carol', ?1, '2026-01-01T00:00:00.000Z')",
        [hash_key("node-era-key")],
    )
    .unwrap();
    for (id, slug, name) in [(HOME, "default", "Default"), (WORK, "work", "Work")] {
        sys.execute(
            "INSERT INTO profiles VALUES (?1, 'carol', ?2, ?3, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
            params![id, slug, name],
        )
        .unwrap();
    }
    for (profile, rows) in [
        (
            HOME,
            vec![
                ("h1", "url", "https://home", "dev-1", 0),
                ("h2", "text", "gone", "dev-2", T0 + 5),
                // Cross-device copies pushed with different sync ids (§5.6): kept.
                ("h3", "url", "https://shared", "dev-a", 0),
                ("h4", "url", "https://shared", "dev-b", 0),
                // Webhook-era duplicates without sync ids: collapsed.
                ("h5", "text", "dup", "", 0),
                ("h6", "text", "dup", "", 0),
            ],
        ),
        (WORK, vec![("w1", "text", "work note", "dev-3", 0)]),
    ] {
        let pdir = dir.path().join("carol/profiles").join(profile);
        std::fs::create_dir_all(&pdir).unwrap();
        let c = Connection::open(pdir.join("datastore.sqlite")).unwrap();
        c.execute_batch(NODE_SCHEMA).unwrap();
        for (i, (id, kind, content, sid, deleted)) in rows.into_iter().enumerate() {
            let t = T0 + i as i64;
            c.execute(
                "INSERT INTO items (id, type, content, syncId, createdAt, updatedAt, deletedAt) VALUES (?1,?2,?3,?4,?5,?5,?6)",
                params![id, kind, content, sid, t, deleted],
            )
            .unwrap();
        }
        c.execute(
            "INSERT INTO tags VALUES ('t1', 'keep', 3, ?1, 30.0, ?1, ?1)",
            [T0],
        )
        .unwrap();
        c.execute("INSERT INTO item_tags VALUES ('h1', 't1', ?1)", [T0])
            .unwrap();
        if with_flag {
            c.execute("INSERT INTO settings VALUES ('dedup_cleanup_v1', '1')", [])
                .unwrap();
        }
    }
    dir
}

#[tokio::test]
async fn serves_a_node_data_directory_unchanged_in_meaning() {
    let (s, _) = Srv::boot(node_data_dir(true), "node-era-key", &BootOptions::default());
    let profiles = s.get("/profiles").await.body["profiles"].clone();
    assert_eq!(profiles.as_array().unwrap().len(), 2, "{profiles}");
    let home = s.all(HOME).await;
    assert_eq!(home.len(), 6);
    let h1 = home.iter().find(|i| i["id"] == "h1").unwrap();
    assert_eq!(
        (h1["content"].as_str(), h1["createdAt"].as_i64()),
        (Some("https://home"), Some(T0))
    );
    assert_eq!(h1["tags"], json!(["keep"]));
    let h2 = home.iter().find(|i| i["id"] == "h2").unwrap();
    assert_eq!(h2["deletedAt"], T0 + 5, "tombstones survive");
    assert_eq!(
        s.get("/items?profile=work").await.body["items"][0]["id"],
        "w1"
    );
    assert_eq!(s.get("/tags").await.body["tags"][0]["frequency"], 3);
    // A Node-era sync id still identifies its row.
    let r = s
        .post(
            "/items",
            json!({"type":"url","content":"https://home2","sync_id":"dev-1"}),
        )
        .await;
    assert_eq!(r.body["id"], "h1");
    // The change feed starts with the Node-era rows, in update order.
    let feed = s.get(&format!("/items/changes?profile={WORK}")).await;
    assert_eq!(feed.body["items"][0]["id"], "w1");
}

/// D17: the cleanup keeps sync-path copies, tombstones webhook duplicates
/// (so clients hear of it), runs once, and a dry run writes nothing.
#[tokio::test]
async fn one_time_cleanup_tombstones_only_off_sync_path_duplicates() {
    let dir = node_data_dir(false);
    let db = dir
        .path()
        .join("carol/profiles")
        .join(HOME)
        .join("datastore.sqlite");
    let before = std::fs::read(&db).unwrap();
    let dry = BootOptions {
        dry_run: true,
        ..BootOptions::default()
    };
    let state = server::AppState::open(
        dir.path(),
        std::sync::Arc::new(server::clock::ManualClock::new(T0)),
        std::sync::Arc::new(server::clock::SeededIds::new(3)),
    )
    .unwrap();
    let report = server::boot::prepare(&state, &dry).unwrap();
    assert!(
        report
            .actions
            .iter()
            .any(|a| a.contains("would run the one-time dedup")),
        "{:?}",
        report.actions
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "dry run changed the profile database"
    );
    drop(state);

    let (s, report) = Srv::boot(dir, "node-era-key", &BootOptions::default());
    assert!(
        report.actions.iter().any(|a| a.contains("1 duplicate(s)")),
        "{:?}",
        report.actions
    );
    let home = s.all(HOME).await;
    let live: Vec<&str> = home
        .iter()
        .filter(|i| i["deletedAt"] == 0)
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(
        live.contains(&"h3") && live.contains(&"h4"),
        "sync copies kept: {live:?}"
    );
    let dups: Vec<_> = home.iter().filter(|i| i["content"] == "dup").collect();
    assert_eq!(dups.len(), 2, "nothing hard-deleted");
    assert_eq!(dups.iter().filter(|i| i["deletedAt"] != 0).count(), 1);
    // A client that already pulled everything learns of it incrementally.
    let since = s
        .get(&format!("/items/since/{}?profile={HOME}", T0 + 10))
        .await;
    assert_eq!(since.body["items"].as_array().unwrap().len(), 1);
    // Second start: nothing more to do.
    let again = server::boot::prepare(&s.state, &BootOptions::default()).unwrap();
    assert!(
        !again.actions.iter().any(|a| a.starts_with("dedup")),
        "{:?}",
        again.actions
    );
}
