//! `/webhook`, `/urls`, `/texts`, `/tagsets`, `/tags`, `/images`.
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use serde_json::json;

use crate::common::Srv;

#[tokio::test]
async fn webhook_saves_through_the_content_dedup_path() {
    let s = Srv::new();
    let body = json!({
        "urls": [{"url":"https://w","tags":["a"],"id":"ignored","saved_at":"2020-01-01"}, {"tags":["no-url"]}],
        "texts": [{"content":"hello","metadata":{"k":1}}],
        "tagsets": [{"tags":["x","y"]}, {"tags":[]}],
    });
    let r = s.post("/webhook", body.clone()).await;
    assert_eq!(r.body, json!({"received": true, "saved_count": 3}));
    s.post("/webhook", body).await;
    assert_eq!(
        s.all("default").await.len(),
        3,
        "re-posting dedups by content"
    );
    let urls = s.get("/urls").await.body["urls"].clone();
    assert_eq!(urls[0]["url"], "https://w");
    assert!(urls[0]["savedAt"].is_i64());
    let texts = s.get("/texts").await.body["texts"].clone();
    assert_eq!(texts[0]["metadata"], json!({"k":1}));
    let sets = s.get("/tagsets").await.body["tagsets"].clone();
    assert_eq!(sets[0]["tags"], json!(["x", "y"]));
}

#[tokio::test]
async fn texts_tagsets_and_their_item_routes() {
    let s = Srv::new();
    let t = s
        .post("/texts", json!({"content":"note","tags":["n"]}))
        .await;
    assert_eq!(t.body["created"], true);
    let id = t.body["id"].as_str().unwrap();
    assert_eq!(
        s.post("/texts", json!({})).await.body["error"],
        "content is required"
    );
    assert_eq!(
        s.post("/tagsets", json!({"tags":[]})).await.body["error"],
        "tags array is required and must not be empty"
    );
    s.patch(&format!("/texts/{id}/tags"), json!({"tags":["m"]}))
        .await;
    assert_eq!(s.get("/texts").await.body["texts"][0]["tags"], json!(["m"]));
    s.delete(&format!("/texts/{id}")).await;
    assert_eq!(s.get("/texts").await.body["texts"], json!([]));
}

#[tokio::test]
async fn tags_are_listed_by_frecency_and_count_real_uses() {
    let s = Srv::new();
    s.post(
        "/items",
        json!({"type":"text","content":"a","tags":["hot","cold"],"sync_id":"a"}),
    )
    .await;
    s.post(
        "/items",
        json!({"type":"text","content":"b","tags":["hot"],"sync_id":"b"}),
    )
    .await;
    s.post(
        "/items",
        json!({"type":"text","content":"b","tags":["hot"],"sync_id":"b"}),
    )
    .await; // unchanged
    let tags = s.get("/tags").await.body["tags"].clone();
    assert_eq!(tags[0]["name"], "hot");
    assert_eq!(tags[0]["frequency"], 2);
    assert_eq!(tags[0]["frecencyScore"], 20.0);
    assert_eq!(tags[1]["name"], "cold");
    assert!(tags[0]["lastUsed"].is_i64());
}

#[tokio::test]
async fn images_upload_as_json_and_multipart_and_dedup_files() {
    let s = Srv::new();
    let png = b"\x89PNG\r\n\x1a\nfake".to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let r = s
        .post(
            "/images",
            json!({"content":b64,"filename":"a.png","mime":"image/png","tags":["pic"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["type"], "image");
    let id = r.body["id"].as_str().unwrap().to_string();
    let boundary = "XyZ";
    let mut mp = Vec::new();
    mp.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    mp.extend_from_slice(&png);
    mp.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\n[\"x\"]\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::builder()
        .method(Method::POST)
        .uri("/images")
        .header("authorization", "Bearer alice-key")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(mp))
        .unwrap();
    let r2 = s.send(req).await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.text);
    assert_ne!(r2.body["id"], id.as_str(), "each upload is an item");
    let list = s.get("/images").await.body["images"].clone();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["mime"], "image/png");
    assert_eq!(list[1]["size"], png.len());
    let img = s.get(&format!("/images/{id}")).await;
    assert_eq!(img.headers["content-type"], "image/png");
    assert_eq!(
        img.headers["content-disposition"],
        "inline; filename=\"a.png\""
    );
    assert_eq!(img.bytes, png);
    // One file for two uploads of the same bytes.
    let profiles = s.state.system.profiles("alice").unwrap();
    let dir = s
        .dir
        .path()
        .join("alice/profiles")
        .join(&profiles[0].id)
        .join("images");
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 1);
    let r = s
        .post(
            "/images",
            json!({"content":b64,"filename":"a.txt","mime":"text/plain"}),
        )
        .await;
    assert_eq!(r.body["error"], "file must be an image");
}

/// D19: an image re-pushed through `/items` with its sync id is the same item.
#[tokio::test]
async fn image_items_honour_sync_ids() {
    let s = Srv::new();
    let b64 = base64::engine::general_purpose::STANDARD.encode(b"GIF89a");
    let first = s.post("/items", json!({"type":"image","content":b64,"filename":"g.gif","mime":"image/gif","sync_id":"img-1"})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = s.post("/items", json!({"type":"image","content":b64,"filename":"g.gif","mime":"image/gif","sync_id":"img-1","tags":["t"]})).await;
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(s.all("default").await.len(), 1);
    let tomb = s
        .post(
            "/items",
            json!({"type":"image","sync_id":"img-1","deletedAt":1}),
        )
        .await;
    assert_eq!(tomb.body["id"], first.body["id"]);
    assert_eq!(s.get("/images").await.body["images"], json!([]));
}
