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

// A load generator measures and stamps real wall time throughout: the
// whole crate is a shell in the sense of clippy.toml.
#![allow(clippy::disallowed_methods)]

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::json;

mod api;
mod compare;
mod load;
mod matrix;
mod scenarios;
mod soak;

pub(crate) use api::*;
pub(crate) use load::*;
pub(crate) use matrix::*;
pub(crate) use scenarios::*;

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
    /// API key, sent as `Authorization: Bearer <key>` (PEEK_KEY, the old
    /// name, still works).
    #[arg(long, env = "PEEK_API_KEY", hide_env_values = true, global = true)]
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
    /// Markdown table. An option given twice takes its last value, so a
    /// script's defaults can be followed by the user's own (list options
    /// such as `--post-conns` add up instead).
    #[command(args_override_self = true)]
    All(AllArgs),
    /// Reduce alternating runs of two servers (results.json files of
    /// `all`, run i of A paired with run i of B) to a ratio table: per row
    /// the median of the per-pair req/s ratios, their spread, and each
    /// side's median req/s and p99. Talks to no server.
    Compare(compare::CompareArgs),
    /// Soak: `--clients` devices pushing, pulling by `since` and reading the
    /// change feed for `--seconds`; errors, p50/p99, server RSS (`--pid`).
    Soak {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// Profiles the clients share (clients of one profile see each
        /// other's pushes in their pulls).
        #[arg(long, default_value_t = 4)]
        profiles: usize,
        /// Server process id, for memory figures from /proc.
        #[arg(long)]
        pid: Option<u32>,
        /// Run id in profile names and sync ids; defaults to the time.
        #[arg(long)]
        run: Option<String>,
    },
    /// Scale: grow one profile through `--sizes`; at each, a paged full pull
    /// and the cost of an incremental pull of 10 new items.
    Scale {
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Page size of the full pull.
        #[arg(long, default_value_t = 1000)]
        page: usize,
        /// Incremental pulls timed at each size.
        #[arg(long, default_value_t = 200)]
        reps: usize,
        #[arg(long)]
        run: Option<String>,
    },
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
    /// Requests per run of GET /items on 20,000 items; 0 leaves those
    /// rows out (the 20,000 items are still seeded for `since`).
    #[arg(long, default_value_t = 80)]
    get_requests_20k: usize,
    /// Requests per run of GET /items/since.
    #[arg(long, default_value_t = 2000)]
    since_requests: usize,
    /// Run id used in profile names and sync ids; defaults to the time.
    #[arg(long)]
    run: Option<String>,
    /// Base URL of a `peek-bench-floor` server (scripts/bench/floor): adds
    /// the two floor rows (no-op handler, one WAL commit per request) and
    /// a "of floor" column. run.sh starts one unless BASE_URL is set.
    #[arg(long)]
    floor_url: Option<String>,
    /// Requests per floor run (and per run of the server's `GET /`).
    #[arg(long, default_value_t = 5000)]
    floor_requests: usize,
    /// Connection counts for the server's `GET /` rows; by default every
    /// count used by the POST and GET runs (the floors always run at
    /// those, since every row is compared with its own count's floor).
    #[arg(long, value_delimiter = ',')]
    health_conns: Option<Vec<usize>>,
    /// Also write the Markdown table to this file.
    #[arg(long)]
    markdown_out: Option<std::path::PathBuf>,
    /// Also write the JSON results to this file.
    #[arg(long)]
    json_out: Option<std::path::PathBuf>,
}

/// Every tool reads the API key from `PEEK_API_KEY`; this one used to read
/// `PEEK_KEY`, which still works (with a warning) so that no script
/// breaks. Runs first, while the process has one thread.
fn deprecated_key_env(tool: &str) {
    if std::env::var_os("PEEK_API_KEY").is_none() {
        if let Some(v) = std::env::var_os("PEEK_KEY") {
            eprintln!("{tool}: PEEK_KEY is deprecated, set PEEK_API_KEY instead");
            std::env::set_var("PEEK_API_KEY", v);
        }
    }
}

fn main() {
    deprecated_key_env("peek-loadgen");
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
    if key.is_empty() && !matches!(cli.cmd, Cmd::Ping { .. } | Cmd::Compare(_)) {
        return Err("no API key: pass --key or set PEEK_API_KEY".into());
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
        Cmd::Compare(args) => compare::run_compare(&args, cli.json),
        Cmd::Soak {
            clients,
            seconds,
            profiles,
            pid,
            run,
        } => {
            let args = soak::SoakArgs {
                clients,
                duration: Duration::from_secs(seconds),
                profiles,
                pid,
                run: run.unwrap_or_else(|| now_ms().to_string()),
            };
            soak::soak(&api, &args, cli.json).await
        }
        Cmd::Scale {
            sizes,
            page,
            reps,
            run,
        } => {
            let run = run.unwrap_or_else(|| now_ms().to_string());
            soak::scale(&api, &sizes, page, reps, &run, cli.json).await
        }
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
