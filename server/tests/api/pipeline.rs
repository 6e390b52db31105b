//! §1.1: version headers, auth, version check, unknown routes.
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::Srv;

#[tokio::test]
async fn health_is_public_and_lists_features() {
    let s = Srv::new();
    let r = s.req(Method::GET, "/", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["message"], "Webhook server running");
    assert_eq!(r.body["datastore_version"], 1);
    assert_eq!(r.body["protocol_version"], 1);
    let features: Vec<&str> = r.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        features.contains(&"changes-feed") && features.contains(&"batch-push"),
        "{features:?}"
    );
    assert_eq!(r.headers["x-peek-datastore-version"], "1");
    assert_eq!(r.headers["x-peek-protocol-version"], "1");
}

#[tokio::test]
async fn auth_failures_are_401_with_version_headers() {
    let s = Srv::new();
    for auth in [
        None,
        Some("alice-key"),
        Some("bearer alice-key"),
        Some("Bearer nope"),
    ] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", *a)).collect();
        let r = s.req(Method::GET, "/items", None, &headers).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.body, json!({"error": "Unauthorized"}));
        assert_eq!(r.headers["x-peek-protocol-version"], "1");
    }
    // Auth runs before the version check: bad key + bad version is 401.
    let r = s
        .req(
            Method::GET,
            "/items",
            None,
            &[
                ("authorization", "Bearer x"),
                ("x-peek-datastore-version", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_route_is_plain_404_after_auth() {
    let s = Srv::new();
    let r = s.get("/nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text, "404 Not Found");
    assert_eq!(r.headers["x-peek-datastore-version"], "1");
    let r = s.req(Method::GET, "/nope", None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A known path with a method it does not serve is the same 404, not 405.
    let r = s.as_key("alice-key", Method::PUT, "/items", None).await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (StatusCode::NOT_FOUND, "404 Not Found")
    );
}

/// §5.4: the nine client header combinations against a version-1 server.
/// A header of 0 or garbage is "not checked" (§1.1).
#[tokio::test]
async fn version_matrix_and_409_bodies_without_side_effects() {
    let s = Srv::new();
    let cases = [
        ("1", "1", 200),
        ("2", "1", 409),
        ("0", "1", 200),
        ("1", "2", 409),
        ("1", "0", 200),
        ("2", "2", 409),
        ("0", "0", 200),
        ("2", "0", 409),
        ("0", "2", 409),
        ("abc", "1.9", 200),
    ];
    for (ds, proto, want) in cases {
        let before = s.fingerprint("alice");
        let r = s
            .req(
                Method::POST,
                "/items",
                Some(json!({"type":"url","content":format!("https://x/{ds}/{proto}"),"sync_id":format!("v-{ds}-{proto}")})),
                &[("authorization", "Bearer alice-key"), ("x-peek-datastore-version", ds), ("x-peek-protocol-version", proto)],
            )
            .await;
        assert_eq!(r.status.as_u16(), want, "ds={ds} proto={proto}: {}", r.text);
        assert_eq!(r.headers["x-peek-datastore-version"], "1");
        if want == 409 {
            assert_eq!(r.body["error"], "Version mismatch");
            assert_eq!(
                s.fingerprint("alice"),
                before,
                "a rejected request wrote something"
            );
            let ds_bad = ds == "2";
            let kind = if ds_bad {
                "datastore_version_mismatch"
            } else {
                "protocol_version_mismatch"
            };
            assert_eq!(r.body["type"], kind);
            assert_eq!(r.body["client_version"], 2);
            assert_eq!(r.body["server_version"], 1);
            let prefix = if ds_bad {
                "Datastore version mismatch: client=2, server=1"
            } else {
                "Protocol version mismatch"
            };
            assert!(
                r.body["message"].as_str().unwrap().starts_with(prefix),
                "{}",
                r.body
            );
        }
    }
    // Only /items and /items/* are checked.
    let r = s
        .req(
            Method::GET,
            "/profiles",
            None,
            &[
                ("authorization", "Bearer alice-key"),
                ("x-peek-datastore-version", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = s
        .req(
            Method::GET,
            "/items/since/0",
            None,
            &[
                ("authorization", "Bearer alice-key"),
                ("x-peek-datastore-version", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}
