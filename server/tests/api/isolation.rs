//! Isolation between users (issue #7): whatever ids, sync ids, profile
//! UUIDs or slugs user B guesses, no endpoint lets B read or change what
//! user A stored. One test per endpoint family; each probes every way B
//! can name A's profile (§1.2 resolution, D16 case folding, `strictProfile`).
//!
//! Everything A stores carries the marker `alicesecret` (content, tags,
//! file names, profile name), so a leak shows up as the marker in any
//! answer B gets; "nothing changed" is A's full fingerprint (rows of every
//! profile, image files, backups) before and after B's requests.

use std::path::Path;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{Resp, Srv};

const MARK: &str = "alicesecret";
const BOB: &str = "bob-key";

/// Alice's data, and every id Bob might guess.
struct World {
    s: Srv,
    profiles: Vec<String>,
    item_ids: Vec<String>,
    sync_ids: Vec<String>,
    image_id: String,
}

/// File names and sizes under `dir`, sorted: images and backups.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        // SQLite files change on checkpoints; their rows are compared instead.
        if name.as_deref().is_some_and(|n| n.contains(".sqlite")) {
            continue;
        }
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(format!("{} {len}", p.display()));
        }
    }
    out.sort();
    out
}

impl World {
    async fn new() -> Self {
        let s = Srv::new();
        let work = s
            .post("/profiles", json!({"name": "AliceSecret Work"}))
            .await;
        assert_eq!(work.status, StatusCode::OK, "{}", work.text);
        let work = work.body["profile"]["id"].as_str().unwrap().to_string();
        let mut item_ids = Vec::new();
        let mut sync_ids = Vec::new();
        for (i, profile) in ["default", work.as_str()].iter().enumerate() {
            for (ty, content) in [
                ("url", format!("https://{MARK}.example/{i}")),
                ("text", format!("{MARK} note {i}")),
                ("tagset", String::new()),
            ] {
                let sync = format!("{MARK}-{ty}-{i}");
                let mut body =
                    json!({"type": ty, "tags": [format!("{MARK}-tag")], "sync_id": sync});
                if !content.is_empty() {
                    body["content"] = json!(content);
                }
                let r = s.post(&format!("/items?profile={profile}"), body).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                item_ids.push(r.body["id"].as_str().unwrap().to_string());
                sync_ids.push(sync);
            }
        }
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG alicesecret");
        let img = s
            .post(
                "/images",
                json!({"content": png, "filename": format!("{MARK}.png"), "mime": "image/png", "tags": [MARK]}),
            )
            .await;
        assert_eq!(img.status, StatusCode::OK, "{}", img.text);
        let image_id = img.body["id"].as_str().unwrap().to_string();
        item_ids.push(image_id.clone());
        let b = s.post("/backups", json!({})).await;
        assert_eq!(b.status, StatusCode::OK, "{}", b.text);
        // Bob's backups must not share a name with Alice's by accident.
        s.tick(60_000);
        let default = s.state.system.profiles("alice").unwrap();
        let profiles = default.iter().map(|p| p.id.clone()).collect();
        World {
            s,
            profiles,
            item_ids,
            sync_ids,
            image_id,
        }
    }

    /// Everything Alice has: rows of every profile, files, backups.
    fn alice(&self) -> String {
        let mut out = self.s.fingerprint("alice");
        let dir = self.s.dir.path();
        for line in tree(&dir.join("alice")) {
            out.push_str(&line);
            out.push('\n');
        }
        for line in tree(&dir.join("backups").join("alice")) {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The `?profile=` spellings Bob can try, each also with
    /// `strictProfile=true`: none, `default`, Alice's UUIDs (as stored and
    /// upper-cased, D16) and her slug.
    fn profile_queries(&self) -> Vec<String> {
        let mut names = vec![String::new(), "default".into(), "alicesecret-work".into()];
        for p in &self.profiles {
            names.push(p.clone());
            names.push(p.to_uppercase());
        }
        let mut out = Vec::new();
        for n in names {
            let q = if n.is_empty() {
                String::new()
            } else {
                format!("profile={n}")
            };
            out.push(q.clone());
            out.push(if q.is_empty() {
                "strictProfile=true".into()
            } else {
                format!("{q}&strictProfile=true")
            });
        }
        out
    }

    /// Bob's request on `path` under every profile spelling: never a 5xx,
    /// never one of Alice's markers in the answer, Alice unchanged.
    async fn probe(&self, method: Method, path: &str, body: Option<Value>) -> Vec<Resp> {
        let before = self.alice();
        let mut out = Vec::new();
        for q in self.profile_queries() {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = if q.is_empty() {
                path.to_string()
            } else {
                format!("{path}{sep}{q}")
            };
            let r = self.s.as_key(BOB, method.clone(), &url, body.clone()).await;
            assert!(
                !r.status.is_server_error(),
                "{method} {url}: {} {}",
                r.status,
                r.text
            );
            assert!(
                !r.text.to_lowercase().contains(MARK),
                "{method} {url} showed Bob Alice's data: {}",
                r.text
            );
            for id in &self.item_ids {
                let echoed = path.contains(id.as_str()) || body_has(&body, id);
                assert!(
                    echoed || !r.text.contains(id.as_str()),
                    "{method} {url} showed Bob Alice's item id {id}: {}",
                    r.text
                );
            }
            out.push(r);
        }
        assert_eq!(
            self.alice(),
            before,
            "{method} {path} by Bob changed Alice's data"
        );
        out
    }

    /// Alice still sees all her items (six plus the image, none deleted),
    /// each still tagged with her tag.
    async fn alice_intact(&self) {
        let mut n = 0;
        for p in &self.profiles {
            for i in self.s.all(p).await {
                assert_eq!(i["deletedAt"], 0, "{i}");
                assert!(i["tags"].to_string().contains(MARK), "{i}");
                n += 1;
            }
        }
        assert_eq!(n, 7);
    }
}

fn body_has(body: &Option<Value>, needle: &str) -> bool {
    body.as_ref()
        .is_some_and(|b| b.to_string().contains(needle))
}

fn all_status(rs: &[Resp], ok: &[StatusCode]) {
    for r in rs {
        assert!(ok.contains(&r.status), "{} {}", r.status, r.text);
    }
}

#[tokio::test]
async fn items_list_since_and_changes_show_only_bobs_items() {
    let w = World::new().await;
    for path in [
        "/items",
        "/items?includeDeleted=true",
        "/items?limit=1",
        "/items/changes?after=0",
        "/items/since/0",
    ] {
        let rs = w.probe(Method::GET, path, None).await;
        all_status(&rs, &[StatusCode::OK, StatusCode::NOT_FOUND]);
        for r in rs.iter().filter(|r| r.status == StatusCode::OK) {
            assert_eq!(r.body["items"], json!([]), "{path}: {}", r.text);
        }
    }
}

#[tokio::test]
async fn item_get_delete_and_patch_by_alices_ids_are_404() {
    let w = World::new().await;
    for id in w.item_ids.clone() {
        for r in w.probe(Method::GET, &format!("/items/{id}"), None).await {
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        }
        w.probe(Method::DELETE, &format!("/items/{id}"), None).await;
        w.probe(
            Method::PATCH,
            &format!("/items/{id}/tags"),
            Some(json!({"tags": ["bob"]})),
        )
        .await;
    }
    w.alice_intact().await;
}

#[tokio::test]
async fn pushes_with_alices_ids_and_sync_ids_land_in_bobs_profile() {
    let w = World::new().await;
    for (id, sync) in w.item_ids.clone().iter().zip(w.sync_ids.clone()) {
        for body in [
            json!({"id": id, "type": "text", "content": "bob", "sync_id": sync}),
            json!({"id": id, "type": "text", "content": "bob", "deletedAt": super::common::T0 + 1}),
            json!({"type": "text", "content": "bob", "syncId": sync, "baseVersion": 1}),
        ] {
            let rs = w.probe(Method::POST, "/items", Some(body)).await;
            all_status(&rs, &[StatusCode::OK, StatusCode::NOT_FOUND]);
        }
    }
    w.alice_intact().await;
    // What Bob pushed is Bob's own.
    let bobs = w.s.as_key(BOB, Method::GET, "/items", None).await;
    assert!(!bobs.body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn batch_push_with_alices_ids_changes_nothing_of_hers() {
    let w = World::new().await;
    let items: Vec<Value> = w
        .item_ids
        .iter()
        .zip(&w.sync_ids)
        .flat_map(|(id, sync)| {
            [
                json!({"id": id, "type": "text", "content": "bob"}),
                json!({"type": "text", "content": "bob", "sync_id": sync, "deletedAt": super::common::T0 + 5}),
            ]
        })
        .collect();
    let rs = w
        .probe(
            Method::POST,
            "/items/batch",
            Some(json!({ "items": items })),
        )
        .await;
    all_status(&rs, &[StatusCode::OK, StatusCode::NOT_FOUND]);
    w.alice_intact().await;
}

#[tokio::test]
async fn tags_list_shows_only_bobs_tags() {
    let w = World::new().await;
    for r in w.probe(Method::GET, "/tags", None).await {
        if r.status == StatusCode::OK {
            assert_eq!(r.body["tags"], json!([]), "{}", r.text);
        }
    }
}

#[tokio::test]
async fn legacy_lists_show_only_bobs_items() {
    let w = World::new().await;
    for (path, key) in [
        ("/urls", "urls"),
        ("/texts", "texts"),
        ("/tagsets", "tagsets"),
    ] {
        for r in w.probe(Method::GET, path, None).await {
            if r.status == StatusCode::OK {
                assert_eq!(r.body[key], json!([]), "{path}: {}", r.text);
            }
        }
    }
}

#[tokio::test]
async fn legacy_writes_and_item_routes_never_reach_alice() {
    let w = World::new().await;
    w.probe(Method::POST, "/texts", Some(json!({"content": "bob"})))
        .await;
    w.probe(Method::POST, "/tagsets", Some(json!({"tags": ["bob"]})))
        .await;
    w.probe(
        Method::POST,
        "/webhook",
        Some(json!({"urls": [{"url": format!("https://{}", "bob.example"), "id": w.item_ids[0]}]})),
    )
    .await;
    for base in ["/urls", "/texts", "/tagsets", "/images"] {
        for id in w.item_ids.clone() {
            w.probe(Method::DELETE, &format!("{base}/{id}"), None).await;
            w.probe(
                Method::PATCH,
                &format!("{base}/{id}/tags"),
                Some(json!({"tags": ["bob"]})),
            )
            .await;
        }
    }
    w.alice_intact().await;
}

#[tokio::test]
async fn images_of_alice_cannot_be_listed_read_or_replaced() {
    let w = World::new().await;
    for r in w.probe(Method::GET, "/images", None).await {
        if r.status == StatusCode::OK {
            assert_eq!(r.body["images"], json!([]), "{}", r.text);
        }
    }
    let id = w.image_id.clone();
    for r in w.probe(Method::GET, &format!("/images/{id}"), None).await {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
    // The same bytes uploaded by Bob are stored for Bob, not linked to hers.
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG alicesecret");
    w.probe(
        Method::POST,
        "/images",
        Some(json!({"content": png, "filename": "bob.png", "mime": "image/png"})),
    )
    .await;
    w.alice_intact().await;
}

#[tokio::test]
async fn profiles_of_alice_cannot_be_listed_read_or_deleted() {
    let w = World::new().await;
    let r = w.s.as_key(BOB, Method::GET, "/profiles", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.text.to_lowercase().contains(MARK), "{}", r.text);
    for p in w.profiles.clone() {
        assert!(!r.text.contains(&p), "{}", r.text);
        for id in [p.clone(), p.to_uppercase()] {
            let before = w.alice();
            let g =
                w.s.as_key(BOB, Method::GET, &format!("/profiles/{id}"), None)
                    .await;
            assert_eq!(g.status, StatusCode::NOT_FOUND, "{}", g.text);
            let d =
                w.s.as_key(BOB, Method::DELETE, &format!("/profiles/{id}"), None)
                    .await;
            assert_eq!(d.status, StatusCode::BAD_REQUEST, "{}", d.text);
            assert_eq!(w.alice(), before);
        }
    }
    // A profile of the same name is Bob's own, with its own UUID.
    let mine =
        w.s.as_key(
            BOB,
            Method::POST,
            "/profiles",
            Some(json!({"name": "AliceSecret Work"})),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert_eq!(mine.body["profile"]["userId"], "bob");
    assert!(!w
        .profiles
        .contains(&mine.body["profile"]["id"].as_str().unwrap().to_string()));
    assert_eq!(w.s.state.system.profiles("alice").unwrap().len(), 2);
}

#[tokio::test]
async fn backups_list_and_create_only_the_callers_own() {
    let w = World::new().await;
    let before = w.alice();
    let mine = w.s.as_key(BOB, Method::POST, "/backups", None).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    let list = w.s.as_key(BOB, Method::GET, "/backups", None).await;
    let names: Vec<&str> = list.body["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "{}", list.text);
    assert!(names.iter().all(|n| n.contains("bob")), "{names:?}");
    assert_eq!(w.alice(), before);
    // Bob's backup holds none of Alice's profiles or files.
    let bob_backups = tree(&w.s.dir.path().join("backups").join("bob"));
    for p in &w.profiles {
        assert!(
            bob_backups.iter().all(|f| !f.contains(p.as_str())),
            "{bob_backups:?}"
        );
    }
    assert!(bob_backups.iter().all(|f| !f.contains(MARK)));
    let alices = w.s.get("/backups").await;
    assert_eq!(alices.body["backups"].as_array().unwrap().len(), 1);
    assert!(alices.text.contains("alice") && !alices.text.contains("bob"));
}

/// API keys are stored hashed only: no byte string of a raw key appears in
/// `system.db` or its WAL, and only the hash finds the user.
#[tokio::test]
async fn system_db_never_holds_a_raw_key() {
    let s = Srv::new();
    let key = "raw-key-3b9f7c1e5d2a4f60-must-never-be-stored";
    s.state
        .system
        .create_user("carol", key, "2026-01-01T00:00:00.000Z")
        .unwrap();
    let r = s.as_key(key, Method::GET, "/profiles", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s
        .as_key(&key[..key.len() - 1], Method::GET, "/profiles", None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a prefix of a key is no key"
    );
    // Bytes on disk, checkpointed or not.
    let mut bytes = Vec::new();
    for f in ["system.db", "system.db-wal"] {
        bytes.extend(std::fs::read(s.dir.path().join(f)).unwrap_or_default());
    }
    assert!(!bytes.is_empty());
    let hash = server::store::system::hash_key(key);
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(has(hash.as_bytes()), "the hash is what is stored");
    for raw in [key, "alice-key", "bob-key"] {
        assert!(!has(raw.as_bytes()), "{raw} stored in clear");
    }
    let stored: Vec<String> = s.state.system.with_conn(|c| {
        let mut st = c.prepare("SELECT api_key_hash FROM users").unwrap();
        let rows = st.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    });
    assert!(stored
        .iter()
        .all(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())));
}
