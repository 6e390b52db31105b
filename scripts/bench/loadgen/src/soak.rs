//! Reliability runs (issue #7, `docs/reliability.md`):
//!
//! * `soak`: N clients, each a device of one of a few profiles, looping
//!   for a fixed time over pushes (`POST /items`, new items and edits),
//!   incremental pulls (`GET /items/since/<newest seen>`) and change-feed
//!   reads (`GET /items/changes?after=<cursor>`); every non-2xx answer or
//!   transport error is an error; p50/p99 per kind; the server's memory
//!   (`VmRSS`, and `RssAnon`, its heap) read from `/proc/<pid>/status` at
//!   the start, every minute and at the end.
//! * `scale`: one profile grown to each size in turn; a full pull paged
//!   with `limit`/`cursor` (every item exactly once), and the cost of an
//!   incremental pull (10 new items) by feed and by `since`, at each size.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::*;

/// Memory of a process from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mem {
    pub(crate) rss_kib: u64,
    pub(crate) anon_kib: u64,
}

pub(crate) fn mem_of(pid: Option<u32>) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Mem {
        rss_kib: field("VmRSS:")?,
        anon_kib: field("RssAnon:").unwrap_or(0),
    })
}

fn fmt_mem(m: Option<Mem>) -> String {
    match m {
        Some(m) => format!(
            "rss={:.1}MiB anon={:.1}MiB",
            m.rss_kib as f64 / 1024.0,
            m.anon_kib as f64 / 1024.0
        ),
        None => "rss=n/a".into(),
    }
}

/// The three kinds of request a soak client sends.
const KINDS: [&str; 3] = ["push", "since", "changes"];

#[derive(Default)]
struct KindStats {
    lat: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

/// A tiny deterministic generator, one per client (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

pub(crate) struct SoakArgs {
    pub(crate) clients: usize,
    pub(crate) duration: Duration,
    pub(crate) profiles: usize,
    pub(crate) pid: Option<u32>,
    pub(crate) run: String,
}

/// One client: a device syncing one profile.
async fn client(
    api: Arc<Api>,
    n: usize,
    profile: String,
    run: String,
    stop: Arc<AtomicBool>,
) -> [KindStats; 3] {
    let mut stats: [KindStats; 3] = Default::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1));
    let mut cursor: i64 = 0;
    let mut newest: i64 = 0;
    let mut mine: Vec<String> = Vec::new();
    let mut seq = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let kind = match rng.below(4) {
            0 | 1 => 0,
            2 => 1,
            _ => 2,
        };
        let (method, path, body) = match kind {
            0 => {
                // New items mostly; sometimes an edit of one of ours.
                let sid = if mine.is_empty() || rng.below(3) > 0 {
                    seq += 1;
                    let s = format!("soak-{run}-{n}-{seq}");
                    mine.push(s.clone());
                    s
                } else {
                    mine[rng.below(mine.len() as u64) as usize].clone()
                };
                let body = json!({
                    "type": "text", "content": format!("{sid} {seq}"), "sync_id": sid,
                    "tags": [format!("c{n}"), "soak"],
                });
                (
                    Method::POST,
                    with_profile("/items", Some(&profile)),
                    Bytes::from(body.to_string()),
                )
            }
            1 => (
                Method::GET,
                with_profile(&format!("/items/since/{newest}"), Some(&profile)),
                Bytes::new(),
            ),
            _ => (
                Method::GET,
                with_profile(
                    &format!("/items/changes?after={cursor}&limit=500"),
                    Some(&profile),
                ),
                Bytes::new(),
            ),
        };
        let st = &mut stats[kind];
        let req = match api.request(method, &path, body) {
            Ok(r) => r,
            Err(e) => {
                st.errors += 1;
                st.first_error.get_or_insert(chain(e.as_ref()));
                continue;
            }
        };
        let t0 = Instant::now();
        let res = api.send(req).await;
        let dt = t0.elapsed();
        match res {
            Ok(a) if a.status.is_success() => {
                st.lat.push(dt);
                if kind == 0 {
                    continue;
                }
                let Ok(v) = serde_json::from_slice::<Value>(&a.body) else {
                    st.errors += 1;
                    st.first_error.get_or_insert("answer is not JSON".into());
                    continue;
                };
                if kind == 2 {
                    cursor = v["cursor"].as_i64().unwrap_or(cursor);
                } else if let Some(items) = v["items"].as_array() {
                    for it in items {
                        newest = newest.max(it["updatedAt"].as_i64().unwrap_or(0));
                    }
                }
            }
            Ok(a) => {
                st.errors += 1;
                st.first_error
                    .get_or_insert(format!("{path}: {}", describe(&a)));
            }
            Err(e) => {
                st.errors += 1;
                st.first_error
                    .get_or_insert(format!("{path}: transport: {}", chain(e.as_ref())));
            }
        }
    }
    stats
}

fn pct(lat: &[Duration], p: f64) -> Duration {
    if lat.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * lat.len() as f64).ceil() as usize;
    lat[rank.clamp(1, lat.len()) - 1]
}

pub(crate) async fn soak(api: &Arc<Api>, a: &SoakArgs, as_json: bool) -> AnyResult<()> {
    let mut profiles = Vec::new();
    for i in 0..a.profiles.max(1) {
        profiles.push(create_profile(api, &format!("soak-{}-{i}", a.run)).await?);
    }
    let mem_start = mem_of(a.pid);
    eprintln!(
        "soak: {} clients over {} profiles for {}s; server {}",
        a.clients,
        profiles.len(),
        a.duration.as_secs(),
        fmt_mem(mem_start)
    );
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut handles = Vec::new();
    for n in 0..a.clients {
        let p = profiles[n % profiles.len()].clone();
        handles.push(tokio::spawn(client(
            api.clone(),
            n,
            p,
            a.run.clone(),
            stop.clone(),
        )));
    }
    let samples = Arc::new(Mutex::new(vec![(0u64, mem_start)]));
    while start.elapsed() < a.duration {
        let left = a.duration.saturating_sub(start.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(60))).await;
        let m = mem_of(a.pid);
        let t = start.elapsed().as_secs();
        eprintln!("soak: t={t}s server {}", fmt_mem(m));
        if let Ok(mut s) = samples.lock() {
            s.push((t, m));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut all: [KindStats; 3] = Default::default();
    for h in handles {
        let st = h.await.map_err(|e| format!("client died: {e}"))?;
        for (acc, s) in all.iter_mut().zip(st) {
            acc.lat.extend(s.lat);
            acc.errors += s.errors;
            if acc.first_error.is_none() {
                acc.first_error = s.first_error;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mem_end = mem_of(a.pid);
    let mut kinds = serde_json::Map::new();
    let mut total_err = 0;
    let mut every: Vec<Duration> = Vec::new();
    for (name, s) in KINDS.iter().zip(all.iter_mut()) {
        s.lat.sort_unstable();
        total_err += s.errors;
        every.extend(&s.lat);
        kinds.insert(
            name.to_string(),
            json!({
                "ok": s.lat.len(), "errors": s.errors,
                "p50_ms": ms(pct(&s.lat, 50.0)), "p99_ms": ms(pct(&s.lat, 99.0)),
                "max_ms": ms(s.lat.last().copied().unwrap_or_default()),
                "first_error": s.first_error,
            }),
        );
    }
    every.sort_unstable();
    let samples: Vec<Value> = samples
        .lock()
        .map(|s| {
            s.iter()
                .map(|(t, m)| json!({"t_s": t, "rss_kib": m.map(|m| m.rss_kib), "anon_kib": m.map(|m| m.anon_kib)}))
                .collect()
        })
        .unwrap_or_default();
    let out = json!({
        "clients": a.clients, "profiles": profiles.len(), "seconds": elapsed,
        "requests": every.len() + total_err, "errors": total_err,
        "rps": every.len() as f64 / elapsed,
        "p50_ms": ms(pct(&every, 50.0)), "p99_ms": ms(pct(&every, 99.0)),
        "max_ms": ms(every.last().copied().unwrap_or_default()),
        "kinds": kinds,
        "rss_start_kib": mem_start.map(|m| m.rss_kib), "rss_end_kib": mem_end.map(|m| m.rss_kib),
        "anon_start_kib": mem_start.map(|m| m.anon_kib), "anon_end_kib": mem_end.map(|m| m.anon_kib),
        "memory": samples,
    });
    if as_json {
        println!("{out}");
    } else {
        println!(
            "soak clients={} seconds={:.0} requests={} errors={} req/s={:.0} p50={} p99={} max={}",
            a.clients,
            elapsed,
            every.len() + total_err,
            total_err,
            every.len() as f64 / elapsed,
            fmt_ms(pct(&every, 50.0)),
            fmt_ms(pct(&every, 99.0)),
            fmt_ms(every.last().copied().unwrap_or_default()),
        );
        for (name, s) in KINDS.iter().zip(all.iter()) {
            println!(
                "  {name:8} ok={} errors={} p50={} p99={}",
                s.lat.len(),
                s.errors,
                fmt_ms(pct(&s.lat, 50.0)),
                fmt_ms(pct(&s.lat, 99.0))
            );
            if let Some(e) = &s.first_error {
                println!("    first error: {e}");
            }
        }
        println!(
            "  server memory: start {} end {}",
            fmt_mem(mem_start),
            fmt_mem(mem_end)
        );
    }
    if total_err > 0 {
        return Err(format!("soak: {total_err} errors").into());
    }
    Ok(())
}

/// Reads every page of `GET /items?limit=<page>`; checks each item comes
/// exactly once. Returns (items, pages, time).
async fn full_pull(api: &Api, profile: &str, page: usize) -> AnyResult<(usize, usize, Duration)> {
    let t0 = Instant::now();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/items?limit={page}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let v = api
            .call_json(Method::GET, &with_profile(&path, Some(profile)), None)
            .await?;
        pages += 1;
        for it in v["items"].as_array().into_iter().flatten() {
            let id = it["id"].as_str().unwrap_or_default().to_string();
            if !seen.insert(id.clone()) {
                return Err(format!("paged pull: item {id} twice").into());
            }
        }
        match v["nextCursor"].as_str() {
            Some(c) if v["hasMore"] == true => cursor = Some(c.to_string()),
            _ => break,
        }
    }
    Ok((seen.len(), pages, t0.elapsed()))
}

/// Adds 10 items one by one (a device's incremental worth of changes),
/// then times `reps` incremental pulls of exactly those 10, by feed
/// (`after=<sequence before them>`) and by `since` (the server time before
/// them). Returns the p50/p99 of each.
async fn incremental(
    api: &Arc<Api>,
    profile: &str,
    changes_before: usize,
    run: &str,
    reps: usize,
) -> AnyResult<(Duration, Duration, Duration, Duration)> {
    let (since_ts, _) = newest_updated_at(api, profile).await?;
    // The next writes must get a later server millisecond than `since_ts`.
    tokio::time::sleep(Duration::from_millis(5)).await;
    for i in 0..10 {
        let body = json!({"type": "text", "content": format!("inc {run} {changes_before} {i}"),
                          "sync_id": format!("inc-{run}-{changes_before}-{i}")});
        api.call_json(
            Method::POST,
            &with_profile("/items", Some(profile)),
            Some(body),
        )
        .await?;
    }
    let mut by_feed = Vec::with_capacity(reps);
    let mut by_since = Vec::with_capacity(reps);
    for _ in 0..reps {
        let path = with_profile(
            &format!("/items/changes?after={changes_before}"),
            Some(profile),
        );
        let t0 = Instant::now();
        let v = api.call_json(Method::GET, &path, None).await?;
        by_feed.push(t0.elapsed());
        let n = v["items"].as_array().map_or(0, Vec::len);
        if n != 10 {
            return Err(format!("feed after {changes_before} gave {n} items, not 10").into());
        }
        let path = with_profile(&format!("/items/since/{since_ts}"), Some(profile));
        let t0 = Instant::now();
        let v = api.call_json(Method::GET, &path, None).await?;
        by_since.push(t0.elapsed());
        let n = v["items"].as_array().map_or(0, Vec::len);
        if n != 10 {
            return Err(format!("since {since_ts} gave {n} items, not 10").into());
        }
    }
    by_feed.sort_unstable();
    by_since.sort_unstable();
    Ok((
        pct(&by_feed, 50.0),
        pct(&by_feed, 99.0),
        pct(&by_since, 50.0),
        pct(&by_since, 99.0),
    ))
}

pub(crate) async fn scale(
    api: &Arc<Api>,
    sizes: &[usize],
    page: usize,
    reps: usize,
    run: &str,
    as_json: bool,
) -> AnyResult<()> {
    let profile = create_profile(api, &format!("scale-{run}")).await?;
    let mut have = 0usize;
    let mut rows = Vec::new();
    for &size in sizes {
        if size > have {
            let r = seed(
                api,
                Some(&profile),
                size - have,
                1000,
                &format!("scale-{run}-{have}"),
                8,
            )
            .await?;
            eprintln!("scale: grew to {size} items ({})", r.line());
            have = size;
        }
        let (f50, f99, s50, s99) = incremental(api, &profile, have, run, reps).await?;
        have += 10;
        let (n, pages, full) = full_pull(api, &profile, page).await?;
        if n != have {
            return Err(format!("paged pull saw {n} items of {have}").into());
        }
        let row = json!({
            "items": have, "page": page, "pages": pages, "full_pull_s": full.as_secs_f64(),
            "feed_p50_ms": ms(f50), "feed_p99_ms": ms(f99),
            "since_p50_ms": ms(s50), "since_p99_ms": ms(s99),
        });
        if !as_json {
            println!(
                "scale items={have} full-pull pages={pages} time={:.2}s | incremental (10 new) feed p50={} p99={} since p50={} p99={}",
                full.as_secs_f64(),
                fmt_ms(f50),
                fmt_ms(f99),
                fmt_ms(s50),
                fmt_ms(s99)
            );
        }
        rows.push(row);
    }
    if as_json {
        println!("{}", Value::Array(rows));
    }
    Ok(())
}
