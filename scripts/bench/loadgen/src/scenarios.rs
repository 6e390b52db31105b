//! The scenarios: timed pushes and reads, seeding, profile set-up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::*;

/// The body of item `n` of a series: distinct content and sync id per
/// `(prefix, n)`, so that every POST creates a new item.
pub(crate) fn item_json(prefix: &str, n: usize) -> Value {
    json!({
        "type": "url",
        "content": format!("https://example.com/{prefix}/{n}"),
        "tags": ["bench", format!("t{}", n % 10)],
        "sync_id": format!("{prefix}-{n}"),
    })
}

pub(crate) async fn post_items(
    api: &Arc<Api>,
    profile: Option<&str>,
    run: &str,
    count: usize,
    conns: usize,
) -> RunResult {
    let path = with_profile("/items", profile);
    let prefix = format!("bench-{run}");
    let a = api.clone();
    let make: MakeRequest = Arc::new(move |i| {
        let body = Bytes::from(item_json(&prefix, i).to_string());
        a.request(Method::POST, &path, body)
    });
    run_load(api, "post-items", count, conns, make, None).await
}

/// The number of entries in `{"items":[...]}`.
pub(crate) fn count_items(body: &[u8]) -> Result<usize, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    v.get("items")
        .and_then(Value::as_array)
        .map(Vec::len)
        .ok_or_else(|| "answer has no \"items\" array".to_string())
}

/// One untimed request first: it opens a connection, warms the server's
/// caches, and checks the expected count once. Parsing every multi-MB
/// answer would steal CPU from the server on a small machine, so the timed
/// GET /items requests only check the status.
pub(crate) async fn get_items(
    api: &Arc<Api>,
    profile: Option<&str>,
    requests: usize,
    conns: usize,
    expect: Option<usize>,
) -> AnyResult<RunResult> {
    let path = with_profile("/items?includeDeleted=true", profile);
    let warm = api
        .send(api.request(Method::GET, &path, Bytes::new())?)
        .await?;
    if !warm.status.is_success() {
        return Err(format!("warm-up GET {path}: {}", describe(&warm)).into());
    }
    if let Some(want) = expect {
        let got = count_items(&warm.body)?;
        if got != want {
            return Err(format!("warm-up GET {path}: expected {want} items, got {got}").into());
        }
    }
    let a = api.clone();
    let make: MakeRequest = Arc::new(move |_| a.request(Method::GET, &path, Bytes::new()));
    Ok(run_load(api, "get-items", requests, conns, make, None).await)
}

/// `since` answers are small, so every one is checked against `expect`.
pub(crate) async fn since(
    api: &Arc<Api>,
    profile: Option<&str>,
    ts: &str,
    requests: usize,
    conns: usize,
    expect: Option<usize>,
) -> AnyResult<RunResult> {
    let path = with_profile(&format!("/items/since/{}", enc(ts)), profile);
    let warm = api
        .send(api.request(Method::GET, &path, Bytes::new())?)
        .await?;
    if !warm.status.is_success() {
        return Err(format!("warm-up GET {path}: {}", describe(&warm)).into());
    }
    let check: Option<Check> = expect.map(|want| {
        Arc::new(move |body: &[u8]| match count_items(body) {
            Ok(got) if got == want => Ok(()),
            Ok(got) => Err(format!("expected {want} items, got {got}")),
            Err(e) => Err(e),
        }) as Check
    });
    if let Some(c) = &check {
        c(&warm.body).map_err(|e| format!("warm-up GET {path}: {e}"))?;
    }
    let a = api.clone();
    let make: MakeRequest = Arc::new(move |_| a.request(Method::GET, &path, Bytes::new()));
    Ok(run_load(api, "since", requests, conns, make, check).await)
}

// ---------------------------------------------------------------------------
// Set-up steps

pub(crate) async fn ping(api: &Api, wait: Duration) -> AnyResult<()> {
    let deadline = Instant::now() + wait;
    loop {
        let last = match api.send(api.request(Method::GET, "/", Bytes::new())?).await {
            Ok(a) if a.status.is_success() => return Ok(()),
            Ok(a) => describe(&a),
            Err(e) => chain(e.as_ref()),
        };
        if Instant::now() >= deadline {
            return Err(format!("GET / did not answer 2xx within {wait:?}: {last}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a profile and returns its id, which is then passed as
/// `?profile=` (unknown slugs would silently fall back to the default
/// profile and mix the data sets).
pub(crate) async fn create_profile(api: &Api, name: &str) -> AnyResult<String> {
    let v = api
        .call_json(Method::POST, "/profiles", Some(json!({ "name": name })))
        .await?;
    v.pointer("/profile/id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("POST /profiles: no profile.id in {v}").into())
}

/// What seeding did.
pub(crate) struct SeedReport {
    pub(crate) count: usize,
    pub(crate) method: &'static str,
    pub(crate) requests: usize,
    pub(crate) elapsed: Duration,
}

impl SeedReport {
    pub(crate) fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub(crate) fn line(&self) -> String {
        format!(
            "seed n={} via={} requests={} time={:.2}s items/s={:.0}",
            self.count,
            self.method,
            self.requests,
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "count": self.count, "method": self.method, "requests": self.requests,
            "elapsed_s": self.elapsed.as_secs_f64(), "items_per_s": self.rate(),
        })
    }
}

/// Seeds `count` items. Batches go one at a time (the server writes them in
/// one SQLite transaction each, so parallel batches would only queue). On a
/// 404 from the first batch (the Node server has no batch endpoint) it
/// falls back to single POSTs over `conns` connections. Any rejected item
/// is an error: a half-seeded profile would make the GET numbers wrong.
pub(crate) async fn seed(
    api: &Arc<Api>,
    profile: Option<&str>,
    count: usize,
    batch: usize,
    prefix: &str,
    conns: usize,
) -> AnyResult<SeedReport> {
    let start = Instant::now();
    let batch = batch.clamp(1, 1000);
    let path = with_profile("/items/batch", profile);
    let mut done = 0usize;
    let mut requests = 0usize;
    while done < count {
        let end = (done + batch).min(count);
        let items: Vec<Value> = (done..end).map(|n| item_json(prefix, n)).collect();
        let body = Bytes::from(json!({ "items": items }).to_string());
        let a = api.send(api.request(Method::POST, &path, body)?).await?;
        requests += 1;
        if a.status == StatusCode::NOT_FOUND && done == 0 {
            return seed_single(api, profile, count, prefix, conns, start).await;
        }
        if !a.status.is_success() {
            return Err(format!("POST {path}: {}", describe(&a)).into());
        }
        let v: Value = serde_json::from_slice(&a.body)
            .map_err(|e| format!("POST {path}: answer is not JSON ({e})"))?;
        let results = v
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("POST {path}: no results array in the answer"))?;
        if results.len() != end - done {
            return Err(format!(
                "POST {path}: {} results for {} items",
                results.len(),
                end - done
            )
            .into());
        }
        if let Some(bad) = results.iter().find(|r| r["status"] == "error") {
            return Err(format!("POST {path}: item rejected: {bad}").into());
        }
        done = end;
    }
    Ok(SeedReport {
        count,
        method: "batch",
        requests,
        elapsed: start.elapsed(),
    })
}

pub(crate) async fn seed_single(
    api: &Arc<Api>,
    profile: Option<&str>,
    count: usize,
    prefix: &str,
    conns: usize,
    start: Instant,
) -> AnyResult<SeedReport> {
    let path = with_profile("/items", profile);
    let prefix = prefix.to_string();
    let a = api.clone();
    let make: MakeRequest = Arc::new(move |i| {
        let body = Bytes::from(item_json(&prefix, i).to_string());
        a.request(Method::POST, &path, body)
    });
    let r = run_load(api, "seed", count, conns, make, None).await;
    if r.err > 0 {
        return Err(format!(
            "seeding by single POSTs: {} of {} failed; first: {}",
            r.err,
            count,
            r.first_error.unwrap_or_default()
        )
        .into());
    }
    Ok(SeedReport {
        count,
        method: "single",
        requests: count,
        elapsed: start.elapsed(),
    })
}

/// The newest `updatedAt` in a profile, read from the server so that the
/// `since` cut-off is on the server's clock (the target may be remote, with
/// a skewed clock). Falls back to the local clock if the answer has no
/// numeric `updatedAt`.
pub(crate) async fn newest_updated_at(
    api: &Api,
    profile: &str,
) -> AnyResult<(String, &'static str)> {
    let path = with_profile("/items?includeDeleted=true", Some(profile));
    let v = api.call_json(Method::GET, &path, None).await?;
    let newest = v.get("items").and_then(Value::as_array).and_then(|items| {
        items
            .iter()
            .filter_map(|it| it.get("updatedAt").and_then(Value::as_i64))
            .max()
    });
    Ok(match newest {
        Some(ts) => (ts.to_string(), "server"),
        None => (now_ms().to_string(), "client"),
    })
}

/// A timed run of one fixed request (the floors, `GET /`): every answer
/// only needs a 2xx status.
pub(crate) async fn fixed(
    api: &Arc<Api>,
    scenario: &str,
    method: Method,
    path: &str,
    body: &'static [u8],
    requests: usize,
    conns: usize,
) -> RunResult {
    let (a, path) = (api.clone(), path.to_string());
    let make: MakeRequest =
        Arc::new(move |_| a.request(method.clone(), &path, Bytes::from_static(body)));
    run_load(api, scenario, requests, conns, make, None).await
}
