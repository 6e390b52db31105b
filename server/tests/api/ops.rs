//! What an operator relies on, through the real router in-process: the
//! public `/healthz`, one access-log line per request (route template,
//! never the query), the metrics, and a bad user row that no longer takes
//! the server down for everyone.
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use server::boot::BootOptions;
use server::metrics::Metrics;
use server::store::system::hash_key;
use tower::ServiceExt;

use crate::common::Srv;

#[tokio::test]
async fn healthz_answers_without_a_key_and_root_is_unchanged() {
    let s = Srv::new();
    let r = s.req(Method::GET, "/healthz", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({ "status": "ok" }));
    // `GET /` keeps the Node server's answer.
    let root = s.req(Method::GET, "/", None, &[]).await;
    assert_eq!(root.body["message"], "Webhook server running");
    // Other paths still want a key.
    let other = s.req(Method::GET, "/healthzx", None, &[]).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

/// Log output of the calling thread, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn call(app: &axum::Router, method: Method, uri: &str, key: Option<&str>) -> StatusCode {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    let resp = app
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    resp.status()
}

#[tokio::test]
async fn one_access_line_per_request_with_the_route_and_never_the_query() {
    let s = Srv::new();
    let out = Captured::default();
    let sink = out.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(sub);
    let app = server::http::observe::layer(server::app(s.state.clone()), None);
    let secret = "SECRET-IN-QUERY-9f8e7d";
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/items?key={secret}&profile=default"),
            Some("alice-key")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/items/no-such-item-id-4242",
            Some("bob-key")
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, Method::GET, &format!("/nowhere?key={secret}"), None).await,
        StatusCode::UNAUTHORIZED
    );
    let text = out.text();
    let access: Vec<&str> = text.lines().filter(|l| l.contains(" access: ")).collect();
    assert_eq!(access.len(), 3, "{text}");
    assert!(access[0].contains("INFO"), "{}", access[0]);
    assert!(
        access[0].contains("method=GET route=/items status=200 ms="),
        "{}",
        access[0]
    );
    assert!(access[0].ends_with("user=alice"), "{}", access[0]);
    assert!(
        access[1].contains("route=/items/{id} status=404") && access[1].ends_with("user=bob"),
        "{}",
        access[1]
    );
    assert!(
        access[2].contains("route=unmatched status=401") && access[2].ends_with("user=-"),
        "{}",
        access[2]
    );
    // Not in the access line, nor in anything else logged on the request's
    // way (at every level; the store's blocking-pool threads never see the
    // URI).
    assert!(!text.contains(secret), "{text}");
    assert!(!text.contains("no-such-item-id-4242"), "{text}");
}

async fn scrape(state: &server::AppState, m: &Arc<Metrics>) -> String {
    let r = server::metrics::router(state.clone(), m.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn send_json(
    app: &axum::Router,
    uri: &str,
    body: serde_json::Value,
) -> (StatusCode, Vec<u8>) {
    let req = Request::post(uri)
        .header("authorization", "Bearer alice-key")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    (
        status,
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

#[tokio::test]
async fn metrics_count_routes_items_and_backup_age() {
    let s = Srv::new();
    let m = Metrics::new();
    let app = server::http::observe::layer(server::app(s.state.clone()), Some(m.clone()));
    let plain = server::app(s.state.clone());
    let one = json!({"type":"text","content":"one","sync_id":"s1"});
    assert_eq!(send_json(&app, "/items", one).await.0, StatusCode::OK);
    let batch = json!({"items":[
        {"type":"text","content":"two","sync_id":"s2"},
        {"type":"nope"},
        {"type":"url","content":"https://three","sync_id":"s3"},
    ]});
    let (status, counted) = send_json(&app, "/items/batch", batch.clone()).await;
    assert_eq!(status, StatusCode::OK);
    // The layer hands the answer on byte for byte (the same batch again,
    // now unchanged, through the plain router and through the layer).
    let again = send_json(&app, "/items/batch", batch.clone()).await.1;
    let bare = send_json(&plain, "/items/batch", batch).await.1;
    assert_eq!(again, bare);
    assert!(String::from_utf8_lossy(&counted).contains("\"status\":\"error\""));
    let hook = json!({"urls":[{"url":"https://a"},{"url":"https://b"}]});
    assert_eq!(send_json(&app, "/webhook", hook).await.0, StatusCode::OK);
    assert_eq!(
        call(&app, Method::GET, "/items/missing", Some("alice-key")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, Method::GET, "/whatever", None).await,
        StatusCode::UNAUTHORIZED
    );
    // No backups yet: users without one, no age.
    let text = scrape(&s.state, &m).await;
    let has = |t: &str, line: &str| t.lines().any(|l| l == line);
    for line in [
        r#"peek_http_requests_total{route="/items",method="POST",status="200"} 1"#,
        r#"peek_http_requests_total{route="/items/batch",method="POST",status="200"} 2"#,
        r#"peek_http_requests_total{route="/webhook",method="POST",status="200"} 1"#,
        r#"peek_http_requests_total{route="/items/{id}",method="GET",status="404"} 1"#,
        r#"peek_http_requests_total{route="unmatched",method="GET",status="401"} 1"#,
        r#"peek_http_request_duration_seconds_count{route="/items/batch",method="POST"} 2"#,
        // 1 + 2 (the refused item is not counted) + 2 (unchanged re-sends
        // are accepted writes) + 2 from the webhook.
        "peek_items_written_total 7",
        "peek_users 2",
        "peek_users_without_backup 2",
    ] {
        assert!(has(&text, line), "missing {line} in\n{text}");
    }
    assert!(!text.contains("/items/missing"), "{text}");
    assert!(!text.contains("peek_backup_age_seconds"), "{text}");
    // Back up everyone, let 90 s pass on the server's clock.
    server::backup::backup_all(&s.state).unwrap();
    s.tick(90_000);
    let text = scrape(&s.state, &m).await;
    assert!(has(&text, "peek_backup_age_seconds 90"), "{text}");
    assert!(has(&text, "peek_users_without_backup 0"), "{text}");
    // The service's own port does not expose /metrics.
    assert_eq!(
        call(&app, Method::GET, "/metrics", None).await,
        StatusCode::UNAUTHORIZED
    );
}

/// A row written before names were checked: insert it as the Node server
/// (or a hand edit) would have.
fn insert_raw_user(s: &Srv, id: &str, key: &str) {
    s.state.system.with_conn(|c| {
        c.execute(
            "INSERT INTO users (id, api_key_hash, created_at) VALUES (?1, ?2, '2026-01-01T00:00:00.000Z')",
            rusqlite::params![id, hash_key(key)],
        )
        .unwrap();
        c.execute(
            "INSERT INTO profiles VALUES ('5b8e9a4e-1f0c-4c1e-9d7a-2a3b4c5d6e7f', ?1, 'default', 'Default', 't', 't')",
            [id],
        )
        .unwrap();
    });
}

#[tokio::test]
async fn a_bad_user_row_is_named_and_skipped_and_the_others_are_served() {
    let s = Srv::new();
    s.post(
        "/items",
        json!({"type":"text","content":"mine","sync_id":"m"}),
    )
    .await;
    insert_raw_user(&s, "Alice Smith", "bad-key");
    let opts = BootOptions {
        backup_on_start: true,
        ..BootOptions::default()
    };
    let report = server::boot::prepare(&s.state, &opts).expect("start-up survives a bad row");
    assert!(
        report
            .warnings
            .iter()
            .any(|a| a.starts_with("skipped user \"Alice Smith\": not a valid user id")),
        "{:?}",
        report.warnings
    );
    assert!(report
        .actions
        .contains(&"backup: system.db and 2 user(s)".to_string()));
    // The others keep working; the bad row's own requests are refused.
    assert_eq!(s.all("default").await.len(), 1);
    let theirs = s.as_key("bad-key", Method::GET, "/items", None).await;
    assert_eq!(theirs.status, StatusCode::BAD_REQUEST);
    // The daily check skips it too, and its row is untouched.
    s.tick(2 * 86_400_000);
    assert_eq!(server::backup::run_due(&s.state).unwrap(), 2);
    assert!(s.state.system.user_exists("Alice Smith").unwrap());
}
