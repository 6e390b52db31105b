//! Client mistakes: a JSON 4xx, never a 500, and nothing written (D30).
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::common::Srv;

async fn raw(s: &Srv, method: Method, path: &str, body: &'static [u8]) -> crate::common::Resp {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", "Bearer alice-key")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    s.send(req).await
}

#[tokio::test]
async fn malformed_bodies_are_400_json_and_write_nothing() {
    let s = Srv::new();
    s.post(
        "/items",
        json!({"type":"url","content":"https://seed","sync_id":"seed"}),
    )
    .await;
    let before = s.fingerprint("alice");
    let cases: &[(&str, &[u8])] = &[
        ("/items", b"{not json"),
        ("/items", b"[1,2]"),
        ("/items", br#"{"type":"url","content":"x","tags":"a"}"#),
        ("/items", br#"{"type":"url","content":42}"#),
        ("/items", br#"{"type":"url","content":"x","tags":[null]}"#),
        (
            "/items",
            br#"{"type":"url","content":"x","sync_id":{"a":1}}"#,
        ),
        (
            "/items",
            br#"{"type":"url","content":"x","deletedAt":"tomorrow"}"#,
        ),
        ("/items", br#"{"content":"x"}"#),
        (
            "/items",
            br#"{"type":"image","content":"!!!","filename":"a.png","mime":"image/png"}"#,
        ),
        (
            "/items",
            br#"{"type":"image","content":"aGk=","filename":"a.txt","mime":"text/plain"}"#,
        ),
        ("/items/batch", b"{}"),
        ("/webhook", br#"{"urls":[{"url":"https://x","tags":5}]}"#),
        ("/texts", br#"{"content":""}"#),
        ("/tagsets", br#"{"tags":[]}"#),
        ("/profiles", br#"{"name":7}"#),
        ("/images", br#"{"filename":"a.png"}"#),
    ];
    for (path, body) in cases {
        let r = raw(&s, Method::POST, path, body).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path} {}: {}",
            String::from_utf8_lossy(body),
            r.text
        );
        assert!(
            r.body["error"].is_string(),
            "{path}: JSON error body, got {}",
            r.text
        );
    }
    let r = raw(&s, Method::PATCH, "/items/x/tags", br#"{"tags":"nope"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        s.fingerprint("alice"),
        before,
        "a rejected request wrote something"
    );
}

#[tokio::test]
async fn null_tags_are_read_as_no_tags() {
    let s = Srv::new();
    let r = raw(
        &s,
        Method::POST,
        "/items",
        br#"{"type":"text","content":"x","tags":null}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn oversize_bodies_are_413_before_anything_is_read() {
    let s = Srv::new();
    let limit = s.state.limits.body_bytes;
    let big = vec![b' '; limit + 1];
    let req = Request::builder()
        .method(Method::POST)
        .uri("/items")
        .header("authorization", "Bearer alice-key")
        .header("content-length", big.len().to_string())
        .body(Body::from(big))
        .unwrap();
    let r = s.send(req).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body["error"].as_str().unwrap().contains("too large"));
    // Without a Content-Length (chunked), the limit applies while reading.
    let stream = futures_stream(limit + 10);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/items")
        .header("authorization", "Bearer alice-key")
        .body(stream)
        .unwrap();
    assert_eq!(s.send(req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

fn futures_stream(n: usize) -> Body {
    let (mut tx, body) =
        http_body_util::channel::Channel::<axum::body::Bytes, std::io::Error>::new(4);
    tokio::spawn(async move {
        for _ in 0..n / 65536 + 1 {
            if tx
                .send_data(axum::body::Bytes::from(vec![b' '; 65536]))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    Body::new(body)
}

/// Another user's profile UUID never reaches that user's data: without
/// `strictProfile` it lands in the caller's own default profile (§1.2,
/// what Tauri relies on); with it, 404.
#[tokio::test]
async fn another_users_profile_is_never_touched() {
    let s = Srv::new();
    let bobs = s
        .as_key(
            "bob-key",
            Method::POST,
            "/profiles",
            Some(json!({"name":"Secret"})),
        )
        .await;
    let bob_profile = bobs.body["profile"]["id"].as_str().unwrap().to_string();
    s.as_key(
        "bob-key",
        Method::POST,
        &format!("/items?profile={bob_profile}"),
        Some(json!({"type":"text","content":"bob's","sync_id":"b"})),
    )
    .await;
    let bob_before = s.fingerprint("bob");
    let r = s
        .post(
            &format!("/items?profile={bob_profile}"),
            json!({"type":"text","content":"alice's","sync_id":"a"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s.get(&format!("/items?profile={bob_profile}")).await;
    let seen: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["content"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ["alice's"], "alice sees only her own default profile");
    assert_eq!(
        s.get(&format!("/profiles/{bob_profile}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = s.delete(&format!("/profiles/{bob_profile}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = s
        .post(
            &format!("/items?profile={bob_profile}&strictProfile=true"),
            json!({"type":"text","content":"x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(s.fingerprint("bob"), bob_before);
}

#[tokio::test]
async fn unknown_ids_are_404_json() {
    let s = Srv::new();
    let r = s.get("/items/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("item not found"))
    );
    let r = s.get("/images/nope").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("image not found"))
    );
    let r = s.get("/profiles/nope").await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("profile not found"))
    );
}
