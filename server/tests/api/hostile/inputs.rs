//! The request generators of the hostile-input test: methods, paths with
//! tricky segments, query strings, headers and bodies (JSON in the API's
//! shapes with wrong types, random bytes, multipart).

use axum::body::Body;
use axum::http::{Method, Request};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Segments that try to climb out of a folder, end a string early or
/// confuse a decoder.
pub const TRICKS: &[&str] = &[
    "..",
    "../..",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fsystem.db",
    "..%2f..%2fbob",
    "..%5c..%5cbob",
    "%00",
    "a%00b",
    "%ff%fe",
    "%c0%ae%c0%ae",
    "~",
    ".",
    "system.db",
    "backups",
    "bob",
    "alice",
    "profiles",
    "datastore.sqlite",
    "images",
    "00000000-0000-4000-8000-000000000000",
    "%2F",
    "%20",
    "\u{202e}",
    "e\u{301}",
    "-1",
    "9223372036854775808",
    "1e400",
    "NaN",
    "null",
];

const PREFIXES: &[&str] = &[
    "/",
    "/items",
    "/items/batch",
    "/items/changes",
    "/items/since/",
    "/items/",
    "/urls/",
    "/texts/",
    "/tagsets/",
    "/images/",
    "/images",
    "/profiles/",
    "/profiles",
    "/backups",
    "/webhook",
    "/tags",
    "/urls",
    "/texts",
    "/tagsets",
];

const QUERY_KEYS: &[&str] = &[
    "profile",
    "strictProfile",
    "after",
    "limit",
    "cursor",
    "includeDeleted",
    "type",
    "since",
];

const FIELDS: &[&str] = &[
    "type",
    "content",
    "tags",
    "sync_id",
    "syncId",
    "id",
    "deletedAt",
    "deleted_at",
    "editedAt",
    "baseVersion",
    "metadata",
    "items",
    "urls",
    "texts",
    "tagsets",
    "url",
    "filename",
    "mime",
    "name",
    "createdAt",
    "updatedAt",
];

/// A percent-encoded segment: a trick, or random printable bytes.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(TRICKS).prop_map(str::to_string),
        "[a-zA-Z0-9._~-]{0,24}",
        proptest::collection::vec(any::<u8>(), 0..12)
            .prop_map(|b| { b.iter().map(|c| format!("%{c:02x}")).collect::<String>() }),
    ]
}

fn path() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(PREFIXES),
        segment(),
        prop_oneof![Just(""), Just("/tags"), Just("/"), Just("/x/y")],
    )
        .prop_map(|(p, s, tail)| {
            if p.ends_with('/') && p != "/" {
                format!("{p}{s}{tail}")
            } else {
                p.to_string()
            }
        })
}

fn query() -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(QUERY_KEYS), segment()), 0..4).prop_map(
        |pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        },
    )
}

/// JSON in the shape of a request, with wrong types anywhere.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        segment().prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            proptest::collection::vec((proptest::sample::select(FIELDS), inner), 0..6).prop_map(
                |kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),) }
            ),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        // A valid-looking item with one field broken.
        (proptest::sample::select(FIELDS), json_value()).prop_map(|(k, v)| {
            let mut item = json!({"type": "text", "content": "fuzz", "sync_id": "fuzz-1"});
            item[k] = v;
            item.to_string().into_bytes()
        }),
        json_value().prop_map(|v| json!({"items": [v]}).to_string().into_bytes()),
        Just(b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../evil.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--x--\r\n".to_vec()),
    ]
}

#[derive(Debug, Clone)]
pub struct Input {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub auth: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
    pub versions: (Option<String>, Option<String>),
    pub body: Vec<u8>,
}

pub fn input() -> impl Strategy<Value = Input> {
    let method = prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PATCH),
        Just(Method::DELETE),
        Just(Method::PUT),
        Just(Method::HEAD),
        Just(Method::OPTIONS),
    ];
    let auth = prop_oneof![
        3 => Just(Some("Bearer alice-key".to_string())),
        1 => Just(Some("Bearer bob-key".to_string())),
        1 => Just(None),
        1 => "\\PC{0,30}".prop_map(Some),
        1 => Just(Some("Bearer alice-key\u{0}".to_string())),
    ];
    let ctype = prop_oneof![
        Just(None),
        Just(Some("application/json".to_string())),
        Just(Some("multipart/form-data; boundary=x".to_string())),
        Just(Some("multipart/form-data".to_string())),
        "[ -~]{0,30}".prop_map(Some),
    ];
    let clen = prop_oneof![
        4 => Just(None),
        1 => "[0-9]{1,12}".prop_map(Some),
        1 => "[ -~]{0,8}".prop_map(Some),
    ];
    let version = prop_oneof![
        3 => Just(None),
        1 => Just(Some("1".to_string())),
        1 => "[ -~]{0,8}".prop_map(Some),
    ];
    (
        method,
        path(),
        query(),
        auth,
        ctype,
        clen,
        (version.clone(), version),
        body(),
    )
        .prop_map(
            |(method, path, query, auth, content_type, content_length, versions, body)| Input {
                method,
                path,
                query,
                auth,
                content_type,
                content_length,
                versions,
                body,
            },
        )
}

pub fn request(i: &Input) -> Option<Request<Body>> {
    let uri = if i.query.is_empty() {
        i.path.clone()
    } else {
        format!("{}?{}", i.path, i.query)
    };
    let mut b = Request::builder().method(i.method.clone()).uri(uri);
    let headers = [
        ("authorization", &i.auth),
        ("content-type", &i.content_type),
        ("content-length", &i.content_length),
        ("x-peek-datastore-version", &i.versions.0),
        ("x-peek-protocol-version", &i.versions.1),
    ];
    for (k, v) in headers {
        if let Some(v) = v {
            b = b.header(k, v.as_str());
        }
    }
    // Inputs `http` itself refuses (bad URI or header bytes) never reach
    // a server: hyper rejects them on the wire.
    b.body(Body::from(i.body.clone())).ok()
}
