//! The HTTP shell against scripted answers (wiremock): server errors,
//! timeouts, dropped connections, 409, malformed bodies, both key
//! spellings.
use std::time::Duration;

use engine::model::ItemType;
use engine::store::items::NewItem;
use engine::transport::{HttpTransport, TransportError};
use engine::{Error, Mode, Model, Store, SyncConfig};
use protocol::clock::{ManualClock, SeededIds};
use serde_json::json;
use std::sync::Arc;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Start of the manual clock (2026-01-27T10:00:00Z).
const T0: i64 = 1_769_508_000_000;

fn cfg(url: &str) -> SyncConfig {
    SyncConfig {
        server_url: url.into(),
        api_key: "k".into(),
        server_profile: None,
        model: Model::Reference,
    }
}

async fn sync(store: &mut Store, url: &str, timeout_ms: u64) -> engine::Result<engine::Summary> {
    let t = HttpTransport::new(url, Duration::from_millis(timeout_ms)).expect("client");
    let clock = ManualClock::new(T0);
    engine::run(
        store,
        &t,
        &clock,
        Arc::new(SeededIds::new(5)),
        cfg(url),
        Mode::Full,
    )
    .await
}

fn store_with_item() -> Store {
    let mut s = Store::open_in_memory().expect("store");
    s.add_item(
        &SeededIds::new(9),
        T0,
        NewItem {
            kind: Some(ItemType::Url),
            content: Some("https://x".into()),
            ..NewItem::default()
        },
    )
    .expect("add");
    s
}

async fn health(server: &MockServer, features: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status":"ok","datastore_version":1,"protocol_version":1,"features":features}),
        ))
        .mount(server)
        .await;
}

#[tokio::test]
async fn server_error_on_push_stops_and_keeps_the_item_pending() {
    let server = MockServer::start().await;
    health(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path("/items"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let mut s = store_with_item();
    let err = sync(&mut s, &server.uri(), 2000).await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err}");
    let cfg = cfg(&server.uri());
    assert_eq!(engine::sync::pending_count(&s, &cfg).unwrap(), 1);
}

#[tokio::test]
async fn a_timeout_is_reported_as_such() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(1500))
                .set_body_json(json!({})),
        )
        .mount(&server)
        .await;
    let mut s = store_with_item();
    let err = sync(&mut s, &server.uri(), 200).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Timeout)),
        "{err}"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for c in listener.incoming().take(4) {
            drop(c); // accept, then hang up without a byte
        }
    });
    let mut s = store_with_item();
    let err = sync(&mut s, &url, 2000).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err}");
    // And nothing listening at all.
    let err = sync(&mut s, "http://127.0.0.1:9", 2000).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Connect(_))),
        "{err}"
    );
}

#[tokio::test]
async fn version_mismatch_409_stops_with_a_clear_error() {
    let server = MockServer::start().await;
    health(&server, json!([])).await;
    Mock::given(path_regex("^/items"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "error":"Version mismatch","message":"Datastore version mismatch: client=1, server=2. Please update your app.",
            "type":"datastore_version_mismatch","client_version":1,"server_version":2})))
        .mount(&server)
        .await;
    let mut s = store_with_item();
    let before = s.items(true).unwrap();
    let err = sync(&mut s, &server.uri(), 2000).await.unwrap_err();
    assert!(
        matches!(&err, Error::VersionMismatch(m) if m.contains("Datastore version mismatch")),
        "{err}"
    );
    assert_eq!(s.items(true).unwrap(), before);
}

#[tokio::test]
async fn a_version_header_of_another_protocol_stops_the_sync() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Peek-Protocol-Version", "2")
                .set_body_json(json!({})),
        )
        .mount(&server)
        .await;
    let err = sync(&mut store_with_item(), &server.uri(), 2000)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::VersionMismatch(_)), "{err}");
}

#[tokio::test]
async fn malformed_bodies_are_errors_and_apply_nothing() {
    let server = MockServer::start().await;
    health(&server, json!(["changes-feed"])).await;
    Mock::given(method("GET"))
        .and(path("/items/changes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items":[
            {"id":"a","type":"url","content":"https://ok","createdAt":T0,"updatedAt":T0,"version":1},
            {"id":"b","type":"url","updatedAt":"yesterday-ish","version":2}],"cursor":2,"hasMore":false})))
        .mount(&server)
        .await;
    let mut s = Store::open_in_memory().unwrap();
    let err = sync(&mut s, &server.uri(), 2000).await.unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err}");
    assert!(
        s.items(true).unwrap().is_empty(),
        "not even the good item of the page"
    );
    server.reset().await;
    health(&server, json!([])).await;
    Mock::given(method("GET"))
        .and(path_regex("^/items/since/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>oops"))
        .mount(&server)
        .await;
    let err = sync(&mut s, &server.uri(), 2000).await.unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err}");
}

#[tokio::test]
async fn both_key_spellings_parse() {
    let server = MockServer::start().await;
    health(&server, json!([])).await;
    Mock::given(method("GET"))
        .and(path_regex("^/items/since/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"since":"0","items":[
            {"id":"a","type":"url","content":"https://camel","createdAt":T0,"updatedAt":T0 + 5,"deletedAt":0,"tags":["x"]},
            {"id":"b","type":"text","content":"snake","created_at":"2026-01-27T10:00:00.000Z","updated_at":"2026-01-27T10:00:00.007Z","deleted_at":null,"tags":[]},
            {"id":"c","type":"text","content":"gone","created_at":T0,"updated_at":T0 + 9,"deleted_at":T0 + 9}]})))
        .mount(&server)
        .await;
    let mut s = Store::open_in_memory().unwrap();
    let sum = sync(&mut s, &server.uri(), 2000).await.unwrap();
    assert_eq!(sum.pulled, 3);
    let all = s.items(true).unwrap();
    let by = |c: &str| {
        all.iter()
            .find(|i| i.content.as_deref() == Some(c))
            .unwrap()
            .clone()
    };
    assert_eq!(by("https://camel").updated_at, T0 + 5);
    assert_eq!(by("snake").updated_at, T0 + 7);
    assert_eq!(by("gone").deleted_at, T0 + 9);
    // Re-reading the same answer (the overlap) applies nothing twice.
    assert_eq!(sync(&mut s, &server.uri(), 2000).await.unwrap().pulled, 0);
}

/// The cause of a failed connection is in the message: "connection
/// refused" and a DNS failure no longer print the same words.
#[tokio::test]
async fn connection_refused_and_a_dns_failure_say_which() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = match sync(
        &mut store_with_item(),
        &format!("http://127.0.0.1:{port}"),
        5_000,
    )
    .await
    {
        Err(Error::Transport(TransportError::Connect(m))) => m,
        other => panic!("expected a connect error, got {other:?}"),
    };
    assert!(
        refused.to_lowercase().contains("connection refused"),
        "{refused}"
    );
    // `.invalid` never resolves (RFC 2606), with or without a network.
    let dns = match sync(
        &mut store_with_item(),
        "http://peek-sync-test.invalid",
        5_000,
    )
    .await
    {
        Err(Error::Transport(TransportError::Connect(m))) => m,
        other => panic!("expected a connect error, got {other:?}"),
    };
    assert!(dns.contains("dns error"), "{dns}");
    assert!(!dns.to_lowercase().contains("connection refused"), "{dns}");
}

#[test]
fn a_url_that_cannot_be_a_server_is_refused_before_any_request() {
    use engine::transport::check_server_url;
    for good in [
        "http://127.0.0.1:3000",
        "https://peek.example/prefix/",
        "http://[::1]:8080",
    ] {
        assert_eq!(check_server_url(good), Ok(()), "{good}");
    }
    for (bad, why) in [
        ("localhost:3000", "did you mean \"http://localhost:3000\""),
        ("127.0.0.1:3000", "not a URL"),
        ("ftp://host", "must start with http:// or https://"),
        ("http://", "not a URL"),
        ("https://host/?a=1", "?query"),
        ("peek.example", "did you mean \"http://peek.example\""),
        ("", "not a URL"),
    ] {
        let err = check_server_url(bad).expect_err(bad);
        assert!(err.contains(why), "{bad}: {err}");
    }
    let err = HttpTransport::new("localhost:3000", Duration::from_secs(1)).unwrap_err();
    assert!(err.to_string().contains("http://"), "{err}");
}

/// A TLS failure (here: `https://` to a plain-HTTP server) gives rustls'
/// reason, not just "error sending request".
#[tokio::test]
async fn a_tls_failure_says_so() {
    let server = MockServer::start().await;
    let url = server.uri().replace("http://", "https://");
    let msg = match sync(&mut store_with_item(), &url, 5_000).await {
        Err(Error::Transport(e)) => e.to_string(),
        other => panic!("expected a transport error, got {other:?}"),
    };
    assert!(msg.contains("received corrupt message"), "{msg}");
}
