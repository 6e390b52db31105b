//! Golden response shapes (insta), with ids and times redacted so the
//! snapshots pin keys, types and values that matter, not ids.
use serde_json::{json, Value};

use crate::common::Srv;

fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let redacted = match k.as_str() {
                        "id" | "user_id" | "userId" | "path" | "filename" if v.is_string() => {
                            json!("[id]")
                        }
                        "createdAt" | "updatedAt" | "savedAt" | "lastUsed" if v.is_i64() => {
                            json!("[ms]")
                        }
                        "deletedAt" if v.as_i64().is_some_and(|x| x > 0) => json!("[ms]"),
                        "created_at" | "updated_at" | "last_used_at" | "deleted_at"
                        | "timestamp"
                            if v.is_string() =>
                        {
                            json!("[iso]")
                        }
                        "size" if v.is_u64() => json!("[bytes]"),
                        // Where the profile's history began: derived from
                        // its id (`store::items::first_epoch`).
                        "epoch" if v.is_i64() => json!("[epoch]"),
                        _ => shape(v),
                    };
                    (k.clone(), redacted)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn response_shapes() {
    let s = Srv::new();
    let mut out = serde_json::Map::new();
    let mut put = |k: &str, v: &Value| {
        out.insert(k.to_string(), shape(v));
    };
    let p = s.post("/profiles", json!({"name":"Default"})).await;
    put("POST /profiles", &p.body);
    put("GET /profiles", &s.get("/profiles").await.body);
    let a = s.post("/items", json!({"type":"url","content":"https://a","tags":["x"],"metadata":{"t":1},"sync_id":"l1"})).await;
    put("POST /items", &a.body);
    s.tick(1);
    s.post(
        "/items",
        json!({"type":"text","content":"b","sync_id":"l2"}),
    )
    .await;
    s.post(
        "/items",
        json!({"type":"tagset","tags":["p","q"],"sync_id":"l3","deletedAt":1}),
    )
    .await;
    put(
        "GET /items?includeDeleted=true",
        &s.get("/items?includeDeleted=true").await.body,
    );
    put(
        "GET /items/:id",
        &s.get(&format!("/items/{}", a.body["id"].as_str().unwrap()))
            .await
            .body,
    );
    put(
        "GET /items/since/0",
        &s.get("/items/since/0?type=url").await.body,
    );
    put(
        "GET /items/changes",
        &s.get("/items/changes?after=1&limit=1").await.body,
    );
    put("GET /items?limit=1", &s.get("/items?limit=1").await.body);
    put(
        "POST /items/batch",
        &s.post(
            "/items/batch",
            json!({"items":[{"type":"url","content":"https://c","sync_id":"l4"},{"type":"url"}]}),
        )
        .await
        .body,
    );
    put(
        "POST /webhook",
        &s.post("/webhook", json!({"urls":[{"url":"https://w"}]}))
            .await
            .body,
    );
    put("GET /urls", &s.get("/urls").await.body);
    put("GET /texts", &s.get("/texts").await.body);
    put("GET /tagsets", &s.get("/tagsets").await.body);
    put("GET /tags", &s.get("/tags").await.body);
    put("DELETE /items/:id", &s.delete("/items/x").await.body);
    put("POST /backups", &s.post("/backups", json!({})).await.body);
    put("GET /backups", &s.get("/backups").await.body);
    insta::assert_json_snapshot!(Value::Object(out));
}
