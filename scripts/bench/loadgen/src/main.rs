//! `peek-loadgen`: a small HTTP/1.1 load generator for the Peek sync API.
//!
//! It targets any base URL and API key (our server, the original Node
//! server, a staging host), so the same numbers can be taken on both sides
//! of a migration. Each run keeps `--concurrency` keep-alive connections
//! busy, records every request's latency and reports req/s plus exact
//! p50/p99/max (the latencies are sorted, not sampled or bucketed, so small
//! runs are not distorted by histogram resolution).
//!
//! Only plain `http://` is supported: the benchmark is meant for loopback or
//! a trusted LAN, and leaving TLS out keeps the client's own CPU cost (which
//! competes with the server on a small machine) low and predictable.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

type AnyError = Box<dyn StdError + Send + Sync>;
type AnyResult<T> = Result<T, AnyError>;

/// Longest error body kept for the report: enough to read a JSON error,
/// short enough not to flood the terminal with an HTML error page.
const MAX_ERROR_BODY: usize = 400;

#[derive(Parser)]
#[command(
    name = "peek-loadgen",
    version,
    about = "Load generator for the Peek sync API: req/s and exact p50/p99/max latency",
    long_about = "Load generator for the Peek sync API.\n\nEvery request carries `Authorization: Bearer <key>`, `Content-Type: application/json`, `X-Peek-Datastore-Version: 1` and `X-Peek-Protocol-Version: 1`. Non-2xx answers and transport errors are counted as errors; the first error body is printed.\n\nExample:\n  peek-loadgen --url http://127.0.0.1:3000 --key $KEY all"
)]
struct Cli {
    /// Base URL of the server (plain http; a path prefix is kept).
    #[arg(
        long,
        env = "PEEK_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    url: String,
    /// API key, sent as `Authorization: Bearer <key>`.
    #[arg(long, env = "PEEK_KEY", hide_env_values = true, global = true)]
    key: Option<String>,
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Client runtime threads. 1 by default so that, on a small machine
    /// shared with the server, the client takes as little CPU as it can.
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Wait until `GET /` answers 2xx (used by run.sh before measuring).
    Ping {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 15.0)]
        wait: f64,
    },
    /// `POST /profiles {"name":...}`; prints the new profile's id.
    CreateProfile {
        #[arg(long)]
        name: String,
    },
    /// Fill a profile with items: `POST /items/batch` (1000 per request),
    /// or single `POST /items` if the server has no batch endpoint (404).
    Seed {
        #[arg(long)]
        profile: Option<String>,
        #[arg(long)]
        count: usize,
        /// Items per batch request (the server's limit is 1000).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Sync-id and content prefix; distinct prefixes give distinct items.
        #[arg(long, default_value = "seed")]
        prefix: String,
        /// Connections for the single-POST fallback.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Timed `POST /items` of `--count` distinct items (one sync id each).
    PostItems {
        #[arg(long, default_value_t = 5000)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        #[arg(long)]
        profile: Option<String>,
        /// Run id in the sync ids (`bench-<run>-<n>`); defaults to the time.
        #[arg(long)]
        run: Option<String>,
    },
    /// Timed `GET /items?includeDeleted=true`.
    GetItems {
        #[arg(long)]
        profile: Option<String>,
        #[arg(long, default_value_t = 100)]
        requests: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Expected item count, checked on the (untimed) warm-up request.
        #[arg(long)]
        expect: Option<usize>,
    },
    /// Timed `GET /items/since/<ts>`.
    Since {
        #[arg(long)]
        profile: Option<String>,
        /// Unix ms or ISO 8601, passed through as the path segment.
        #[arg(long)]
        ts: String,
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Expected item count, checked on every response.
        #[arg(long)]
        expect: Option<usize>,
    },
    /// The standard matrix (fresh profiles, seeding included); prints a
    /// Markdown table.
    All(AllArgs),
}

#[derive(clap::Args)]
struct AllArgs {
    /// Items per POST run.
    #[arg(long, default_value_t = 5000)]
    post_count: usize,
    /// Connection counts for the POST runs.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    post_conns: Vec<usize>,
    /// Connection counts for the GET runs.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    get_conns: Vec<usize>,
    /// Requests per run of GET /items on 5,000 items.
    #[arg(long, default_value_t = 300)]
    get_requests_5k: usize,
    /// Requests per run of GET /items on 20,000 items.
    #[arg(long, default_value_t = 80)]
    get_requests_20k: usize,
    /// Requests per run of GET /items/since.
    #[arg(long, default_value_t = 2000)]
    since_requests: usize,
    /// Run id used in profile names and sync ids; defaults to the time.
    #[arg(long)]
    run: Option<String>,
    /// Also write the Markdown table to this file.
    #[arg(long)]
    markdown_out: Option<std::path::PathBuf>,
    /// Also write the JSON results to this file.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peek-loadgen: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = rt.block_on(real_main(cli)) {
        eprintln!("peek-loadgen: {}", chain(e.as_ref()));
        std::process::exit(1);
    }
}

async fn real_main(cli: Cli) -> AnyResult<()> {
    let key = cli.key.clone().unwrap_or_default();
    let api = Arc::new(Api::new(&cli.url, &key)?);
    if key.is_empty() && !matches!(cli.cmd, Cmd::Ping { .. }) {
        return Err("no API key: pass --key or set PEEK_KEY".into());
    }
    match cli.cmd {
        Cmd::Ping { wait } => ping(&api, Duration::from_secs_f64(wait)).await,
        Cmd::CreateProfile { name } => {
            let id = create_profile(&api, &name).await?;
            if cli.json {
                println!("{}", json!({ "id": id, "name": name }));
            } else {
                println!("{id}");
            }
            Ok(())
        }
        Cmd::Seed {
            profile,
            count,
            batch,
            prefix,
            concurrency,
        } => {
            let s = seed(&api, profile.as_deref(), count, batch, &prefix, concurrency).await?;
            if cli.json {
                println!("{}", s.to_json());
            } else {
                println!("{}", s.line());
            }
            Ok(())
        }
        Cmd::PostItems {
            count,
            concurrency,
            profile,
            run,
        } => {
            let run = run.unwrap_or_else(|| now_ms().to_string());
            let r = post_items(&api, profile.as_deref(), &run, count, concurrency).await;
            report(&r, cli.json);
            exit_status(&r)
        }
        Cmd::GetItems {
            profile,
            requests,
            concurrency,
            expect,
        } => {
            let r = get_items(&api, profile.as_deref(), requests, concurrency, expect).await?;
            report(&r, cli.json);
            exit_status(&r)
        }
        Cmd::Since {
            profile,
            ts,
            requests,
            concurrency,
            expect,
        } => {
            let r = since(&api, profile.as_deref(), &ts, requests, concurrency, expect).await?;
            report(&r, cli.json);
            exit_status(&r)
        }
        Cmd::All(args) => run_all(&api, &args, cli.json).await,
    }
}

/// Prints one run, as a text line or a JSON object.
fn report(r: &RunResult, as_json: bool) {
    if as_json {
        println!("{}", r.to_json());
    } else {
        println!("{}", r.line());
        if let Some(e) = &r.first_error {
            println!("  first error: {e}");
        }
    }
}

/// A run with errors is reported in full, then fails the process so that
/// scripts notice.
fn exit_status(r: &RunResult) -> AnyResult<()> {
    if r.err > 0 {
        return Err(format!("{}: {} of {} requests failed", r.scenario, r.err, r.n).into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// HTTP client

/// The client plus what every request shares (base URL, headers).
struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    auth: HeaderValue,
}

/// One answer: status and the whole body (read fully so that the
/// connection can be reused and the latency covers the transfer).
struct Answer {
    status: StatusCode,
    body: Bytes,
}

impl Api {
    fn new(url: &str, key: &str) -> AnyResult<Self> {
        let base = url.trim_end_matches('/').to_string();
        let uri: Uri = format!("{base}/")
            .parse()
            .map_err(|e| format!("bad --url {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--url must start with http:// (got {url:?})").into());
        }
        let mut conn = HttpConnector::new();
        // Without TCP_NODELAY, small request/response pairs on a keep-alive
        // connection can stall on Nagle + delayed ACK (~40 ms) and the
        // benchmark would measure the TCP stack instead of the server.
        conn.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(conn);
        let auth = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| "the API key contains characters not allowed in a header")?;
        Ok(Api { client, base, auth })
    }

    /// A request to `path` (path and query, starting with `/`) with the
    /// headers every Peek client sends.
    fn request(&self, method: Method, path: &str, body: Bytes) -> AnyResult<Request<Full<Bytes>>> {
        let uri: Uri = format!("{}{}", self.base, path).parse()?;
        Ok(Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("x-peek-datastore-version", "1")
            .header("x-peek-protocol-version", "1")
            .body(Full::new(body))?)
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> AnyResult<Answer> {
        let resp = self.client.request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }

    /// Untimed call for set-up steps: non-2xx and non-JSON answers are
    /// errors (with the body), since a bad set-up would make the numbers
    /// meaningless.
    async fn call_json(&self, method: Method, path: &str, body: Option<Value>) -> AnyResult<Value> {
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let a = self
            .send(self.request(method.clone(), path, bytes)?)
            .await?;
        if !a.status.is_success() {
            return Err(format!("{method} {path}: {}", describe(&a)).into());
        }
        serde_json::from_slice(&a.body)
            .map_err(|e| format!("{method} {path}: answer is not JSON ({e})").into())
    }
}

/// "HTTP 500: <body>" with the body cut to [`MAX_ERROR_BODY`].
fn describe(a: &Answer) -> String {
    let text = String::from_utf8_lossy(&a.body);
    let mut s: String = text.chars().take(MAX_ERROR_BODY).collect();
    if text.chars().count() > MAX_ERROR_BODY {
        s.push('…');
    }
    format!("HTTP {}: {}", a.status.as_u16(), s)
}

/// An error and its sources on one line: hyper's top-level errors
/// ("client error (Connect)") say little without their causes.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let _ = write!(s, ": {c}");
        cur = c.source();
    }
    s
}

/// Percent-encodes a query value (profile ids are UUIDs, but slugs from
/// the command line may hold anything).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `path` with `profile=<p>` appended to its query, if a profile is given.
fn with_profile(path: &str, profile: Option<&str>) -> String {
    match profile {
        None => path.to_string(),
        Some(p) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}profile={}", enc(p))
        }
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Timed runs

/// Checks a 2xx body; `Err` turns the request into an error.
type Check = Arc<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;
/// Builds request number `i` of a run.
type MakeRequest = Arc<dyn Fn(usize) -> AnyResult<Request<Full<Bytes>>> + Send + Sync>;

/// Outcome of one timed run.
struct RunResult {
    scenario: String,
    conns: usize,
    n: usize,
    ok: usize,
    err: usize,
    elapsed: Duration,
    /// Every completed request's latency, sorted ascending.
    lat: Vec<Duration>,
    body_bytes: u64,
    first_error: Option<String>,
    /// Count of 5xx answers: server faults, as opposed to rejections.
    server_errors: usize,
}

impl RunResult {
    fn rps(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.ok + self.err) as f64 / s
        } else {
            0.0
        }
    }

    /// Exact nearest-rank percentile (`p` in 0..=100).
    fn pct(&self, p: f64) -> Duration {
        if self.lat.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.lat.len() as f64).ceil() as usize;
        self.lat[rank.clamp(1, self.lat.len()) - 1]
    }

    fn max(&self) -> Duration {
        self.lat.last().copied().unwrap_or_default()
    }

    fn mean(&self) -> Duration {
        if self.lat.is_empty() {
            return Duration::ZERO;
        }
        self.lat.iter().sum::<Duration>() / self.lat.len() as u32
    }

    fn avg_body(&self) -> u64 {
        let done = (self.ok + self.err) as u64;
        self.body_bytes.checked_div(done).unwrap_or(0)
    }

    fn line(&self) -> String {
        format!(
            "{} conns={} n={} ok={} err={} req/s={:.1} p50={} p99={} max={} body={}",
            self.scenario,
            self.conns,
            self.n,
            self.ok,
            self.err,
            self.rps(),
            fmt_ms(self.pct(50.0)),
            fmt_ms(self.pct(99.0)),
            fmt_ms(self.max()),
            fmt_bytes(self.avg_body()),
        )
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "conns": self.conns,
            "n": self.n,
            "ok": self.ok,
            "err": self.err,
            "server_errors": self.server_errors,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "rps": self.rps(),
            "p50_ms": ms(self.pct(50.0)),
            "p90_ms": ms(self.pct(90.0)),
            "p99_ms": ms(self.pct(99.0)),
            "max_ms": ms(self.max()),
            "mean_ms": ms(self.mean()),
            "avg_body_bytes": self.avg_body(),
            "first_error": self.first_error,
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt_ms(d: Duration) -> String {
    let v = ms(d);
    if v < 10.0 {
        format!("{v:.2}ms")
    } else {
        format!("{v:.1}ms")
    }
}

fn fmt_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1}MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1}KiB", b as f64 / 1024.0)
    } else {
        format!("{b}B")
    }
}

/// What one connection's worker saw.
#[derive(Default)]
struct WorkerStats {
    lat: Vec<Duration>,
    ok: usize,
    err: usize,
    server_errors: usize,
    body_bytes: u64,
    /// (request index, message) of this worker's first error.
    first_error: Option<(usize, String)>,
}

impl WorkerStats {
    fn fail(&mut self, i: usize, msg: String) {
        self.err += 1;
        if self.first_error.is_none() {
            self.first_error = Some((i, msg));
        }
    }
}

/// Sends `n` requests over `conns` concurrent workers. Each worker sends
/// its next request only when the previous one is answered, so the pool
/// holds at most `conns` busy keep-alive connections — a closed-loop load
/// like `conns` real clients. Requests are handed out through a shared
/// counter, so fast workers take more of them and the run ends together.
async fn run_load(
    api: &Arc<Api>,
    scenario: &str,
    n: usize,
    conns: usize,
    make: MakeRequest,
    check: Option<Check>,
) -> RunResult {
    let conns = conns.clamp(1, n.max(1));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (api, next, make, check) = (api.clone(), next.clone(), make.clone(), check.clone());
        handles.push(tokio::spawn(async move {
            let mut st = WorkerStats {
                lat: Vec::with_capacity(n / conns + 1),
                ..WorkerStats::default()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let req = match make(i) {
                    Ok(r) => r,
                    Err(e) => {
                        st.fail(i, format!("building request: {}", chain(e.as_ref())));
                        continue;
                    }
                };
                let t0 = Instant::now();
                let res = api.send(req).await;
                let dt = t0.elapsed();
                match res {
                    Ok(a) => {
                        st.lat.push(dt);
                        st.body_bytes += a.body.len() as u64;
                        if a.status.is_server_error() {
                            st.server_errors += 1;
                        }
                        if !a.status.is_success() {
                            st.fail(i, describe(&a));
                        } else if let Some(Err(msg)) = check.as_ref().map(|c| c(&a.body)) {
                            st.fail(i, msg);
                        } else {
                            st.ok += 1;
                        }
                    }
                    Err(e) => st.fail(i, format!("transport: {}", chain(e.as_ref()))),
                }
            }
            st
        }));
    }
    let mut total = WorkerStats::default();
    let mut lost = 0usize;
    for h in handles {
        match h.await {
            Ok(st) => {
                total.lat.extend(st.lat);
                total.ok += st.ok;
                total.err += st.err;
                total.server_errors += st.server_errors;
                total.body_bytes += st.body_bytes;
                if let Some((i, m)) = st.first_error {
                    if total.first_error.as_ref().is_none_or(|(j, _)| i < *j) {
                        total.first_error = Some((i, m));
                    }
                }
            }
            Err(e) => {
                lost += 1;
                total
                    .first_error
                    .get_or_insert((usize::MAX, format!("worker died: {e}")));
            }
        }
    }
    let elapsed = start.elapsed();
    total.lat.sort_unstable();
    // Requests a dead worker never reported are errors too.
    let accounted = total.ok + total.err;
    if lost > 0 && accounted < n {
        total.err += n - accounted;
    }
    RunResult {
        scenario: scenario.to_string(),
        conns,
        n,
        ok: total.ok,
        err: total.err,
        elapsed,
        lat: total.lat,
        body_bytes: total.body_bytes,
        first_error: total.first_error.map(|(_, m)| m),
        server_errors: total.server_errors,
    }
}

/// The body of item `n` of a series: distinct content and sync id per
/// `(prefix, n)`, so that every POST creates a new item.
fn item_json(prefix: &str, n: usize) -> Value {
    json!({
        "type": "url",
        "content": format!("https://example.com/{prefix}/{n}"),
        "tags": ["bench", format!("t{}", n % 10)],
        "sync_id": format!("{prefix}-{n}"),
    })
}

async fn post_items(
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
fn count_items(body: &[u8]) -> Result<usize, String> {
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
async fn get_items(
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
async fn since(
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

async fn ping(api: &Api, wait: Duration) -> AnyResult<()> {
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
async fn create_profile(api: &Api, name: &str) -> AnyResult<String> {
    let v = api
        .call_json(Method::POST, "/profiles", Some(json!({ "name": name })))
        .await?;
    v.pointer("/profile/id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("POST /profiles: no profile.id in {v}").into())
}

/// What seeding did.
struct SeedReport {
    count: usize,
    method: &'static str,
    requests: usize,
    elapsed: Duration,
}

impl SeedReport {
    fn rate(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn line(&self) -> String {
        format!(
            "seed n={} via={} requests={} time={:.2}s items/s={:.0}",
            self.count,
            self.method,
            self.requests,
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
    fn to_json(&self) -> Value {
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
async fn seed(
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

async fn seed_single(
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
async fn newest_updated_at(api: &Api, profile: &str) -> AnyResult<(String, &'static str)> {
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

// ---------------------------------------------------------------------------
// The standard matrix

/// A throughput target from the issue, checked per row.
#[derive(Clone, Copy)]
struct Target {
    min_rps: f64,
    max_p99_ms: Option<f64>,
}

impl Target {
    fn describe(&self) -> String {
        match self.max_p99_ms {
            Some(p) => format!("≥ {} req/s, p99 < {p} ms", self.min_rps),
            None => format!("≥ {} req/s", self.min_rps),
        }
    }

    fn verdict(&self, r: &RunResult) -> String {
        let rps = r.rps();
        let p99 = ms(r.pct(99.0));
        let mut misses = Vec::new();
        if r.err > 0 {
            misses.push(format!("{} errors", r.err));
        }
        if rps < self.min_rps {
            misses.push(format!("req/s {:+.1}%", (rps / self.min_rps - 1.0) * 100.0));
        }
        if let Some(limit) = self.max_p99_ms.filter(|l| p99 >= *l) {
            misses.push(format!("p99 {p99:.1} ms ≥ {limit} ms"));
        }
        if misses.is_empty() {
            format!("PASS ({:+.0}%)", (rps / self.min_rps - 1.0) * 100.0)
        } else {
            format!("MISS ({})", misses.join(", "))
        }
    }
}

/// One row of the summary table.
struct Row {
    label: String,
    target: Option<Target>,
    result: RunResult,
}

fn progress(r: &RunResult) {
    eprintln!("{}", r.line());
    if let Some(e) = &r.first_error {
        eprintln!("  first error: {e}");
    }
}

/// Runs the scenarios on fresh profiles:
/// 1. POST of `post_count` new items per connection count (one empty
///    profile per run, so every run starts from the same state);
/// 2. GET /items on 5,000 and on 20,000 items;
/// 3. GET /items/since returning the newest 100 of 20,000.
///
/// The 20,000-item profile of (3) also serves (2), which saves seeding
/// another 20,000 items (minutes against a server without batch push).
/// Progress goes to stderr; the table (or JSON) to stdout.
async fn run_all(api: &Arc<Api>, args: &AllArgs, as_json: bool) -> AnyResult<()> {
    let run = args.run.clone().unwrap_or_else(|| now_ms().to_string());
    let mut rows: Vec<Row> = Vec::new();
    let mut setup = serde_json::Map::new();

    for &c in &args.post_conns {
        let profile = create_profile(api, &format!("bench-post-c{c}-{run}")).await?;
        let r = post_items(
            api,
            Some(&profile),
            &format!("{run}-c{c}"),
            args.post_count,
            c,
        )
        .await;
        progress(&r);
        let target = match c {
            1 => Some(Target {
                min_rps: 4690.0,
                max_p99_ms: Some(20.0),
            }),
            32 => Some(Target {
                min_rps: 5700.0,
                max_p99_ms: Some(20.0),
            }),
            _ => None,
        };
        rows.push(Row {
            label: format!("POST /items ({} new items)", args.post_count),
            target,
            result: r,
        });
    }

    let p5k = create_profile(api, &format!("bench-5k-{run}")).await?;
    let s = seed(api, Some(&p5k), 5000, 1000, &format!("seed5k-{run}"), 8).await?;
    eprintln!("{} (profile 5k)", s.line());
    setup.insert("seed_5k".into(), s.to_json());

    let p20k = create_profile(api, &format!("bench-20k-{run}")).await?;
    let s = seed(api, Some(&p20k), 19_900, 1000, &format!("seed20k-{run}"), 8).await?;
    eprintln!("{} (profile 20k, old part)", s.line());
    setup.insert("seed_20k_old".into(), s.to_json());
    let (ts, clock) = newest_updated_at(api, &p20k).await?;
    // The cut-off is the newest existing updatedAt; waiting a few ms makes
    // sure the next writes get a strictly later one even at ms resolution.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let s = seed(
        api,
        Some(&p20k),
        100,
        1000,
        &format!("seed20k-new-{run}"),
        8,
    )
    .await?;
    eprintln!(
        "{} (profile 20k, newest 100; since ts={ts} from {clock} clock)",
        s.line()
    );
    setup.insert("seed_20k_new".into(), s.to_json());
    setup.insert("since_ts".into(), json!(ts));

    for (profile, size, requests, target) in [
        (
            &p5k,
            5000,
            args.get_requests_5k,
            Some(Target {
                min_rps: 116.0,
                max_p99_ms: None,
            }),
        ),
        (&p20k, 20_000, args.get_requests_20k, None),
    ] {
        for &c in &args.get_conns {
            let r = get_items(api, Some(profile), requests, c, Some(size)).await?;
            progress(&r);
            rows.push(Row {
                label: format!("GET /items?includeDeleted=true ({size} items)"),
                target,
                result: r,
            });
        }
    }

    for &c in &args.get_conns {
        let r = since(api, Some(&p20k), &ts, args.since_requests, c, Some(100)).await?;
        progress(&r);
        rows.push(Row {
            label: "GET /items/since/<ts> (100 of 20000)".into(),
            target: Some(Target {
                min_rps: 1380.0,
                max_p99_ms: None,
            }),
            result: r,
        });
    }

    let table = markdown(&rows);
    let doc = json!({
        "url": api.base,
        "run": run,
        "setup": setup,
        "runs": rows.iter().map(|r| {
            let mut v = r.result.to_json();
            v["label"] = json!(r.label);
            v["target"] = json!(r.target.map(|t| t.describe()));
            v["verdict"] = json!(r.target.map(|t| t.verdict(&r.result)));
            v
        }).collect::<Vec<_>>(),
    });
    if let Some(p) = &args.markdown_out {
        std::fs::write(p, &table).map_err(|e| format!("writing {}: {e}", p.display()))?;
    }
    if let Some(p) = &args.json_out {
        std::fs::write(p, format!("{doc:#}\n"))
            .map_err(|e| format!("writing {}: {e}", p.display()))?;
    }
    if as_json {
        println!("{doc:#}");
    } else {
        print!("{table}");
    }
    let failed: usize = rows.iter().map(|r| r.result.err).sum();
    if failed > 0 {
        return Err(format!("{failed} requests failed in total (see the err column)").into());
    }
    Ok(())
}

fn markdown(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str("| Scenario | Conns | Requests | OK | Err | req/s | p50 | p99 | max | Body | Target | Verdict |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for row in rows {
        let r = &row.result;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            row.label,
            r.conns,
            r.n,
            r.ok,
            r.err,
            r.rps(),
            fmt_ms(r.pct(50.0)),
            fmt_ms(r.pct(99.0)),
            fmt_ms(r.max()),
            fmt_bytes(r.avg_body()),
            row.target
                .map(|t| t.describe())
                .unwrap_or_else(|| "—".into()),
            row.target
                .map(|t| t.verdict(r))
                .unwrap_or_else(|| "—".into()),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result_with(ms_values: &[u64]) -> RunResult {
        let mut lat: Vec<Duration> = ms_values
            .iter()
            .map(|m| Duration::from_millis(*m))
            .collect();
        lat.sort_unstable();
        RunResult {
            scenario: "t".into(),
            conns: 1,
            n: lat.len(),
            ok: lat.len(),
            err: 0,
            elapsed: Duration::from_secs(1),
            lat,
            body_bytes: 0,
            first_error: None,
            server_errors: 0,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let r = result_with(&(1..=100).collect::<Vec<_>>());
        assert_eq!(r.pct(50.0), Duration::from_millis(50));
        assert_eq!(r.pct(99.0), Duration::from_millis(99));
        assert_eq!(r.max(), Duration::from_millis(100));
        let one = result_with(&[7]);
        assert_eq!(one.pct(50.0), Duration::from_millis(7));
        assert_eq!(one.pct(99.0), Duration::from_millis(7));
        let none = result_with(&[]);
        assert_eq!(none.pct(99.0), Duration::ZERO);
    }

    #[test]
    fn profile_goes_into_the_query() {
        assert_eq!(with_profile("/items", None), "/items");
        assert_eq!(with_profile("/items", Some("a b")), "/items?profile=a%20b");
        assert_eq!(
            with_profile("/items?includeDeleted=true", Some("x")),
            "/items?includeDeleted=true&profile=x"
        );
    }

    #[test]
    fn items_are_distinct_per_prefix_and_index() {
        let a = item_json("bench-1", 3);
        assert_eq!(a["sync_id"], "bench-1-3");
        assert_eq!(a["tags"][1], "t3");
        assert_ne!(item_json("bench-1", 4)["sync_id"], a["sync_id"]);
    }

    #[test]
    fn only_plain_http_urls() {
        assert!(Api::new("https://example.com", "k").is_err());
        assert!(Api::new("http://127.0.0.1:3000/", "k").is_ok());
    }
}
