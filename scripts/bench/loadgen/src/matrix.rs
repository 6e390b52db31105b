//! The standard matrix (`all`): targets, verdicts, the Markdown table.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use serde_json::json;

use crate::*;

/// A throughput target from the issue, checked per row.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    pub(crate) min_rps: f64,
    pub(crate) max_p99_ms: Option<f64>,
}

impl Target {
    pub(crate) fn describe(&self) -> String {
        match self.max_p99_ms {
            Some(p) => format!("≥ {} req/s, p99 < {p} ms", self.min_rps),
            None => format!("≥ {} req/s", self.min_rps),
        }
    }

    pub(crate) fn verdict(&self, r: &RunResult) -> String {
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
pub(crate) struct Row {
    pub(crate) label: String,
    pub(crate) target: Option<Target>,
    pub(crate) result: RunResult,
    /// Which floor this row is compared with (at the same connection count).
    pub(crate) floor: Option<Floor>,
}

/// The two cost floors `peek-bench-floor` measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Floor {
    /// A handler that does nothing: the floor of a read.
    Noop,
    /// One SQLite WAL commit per request: the floor of a push.
    Commit,
}

/// Measured floor rates: (floor, conns, req/s).
pub(crate) type Floors = Vec<(Floor, usize, f64)>;

pub(crate) fn progress(r: &RunResult) {
    eprintln!("{}", r.line());
    if let Some(e) = &r.first_error {
        eprintln!("  first error: {e}");
    }
}

/// Runs the issue's scenarios on fresh profiles:
/// 1. POST of `post_count` new items per connection count (one empty
///    profile per run, so every run starts from the same state);
/// 2. GET /items on 5,000 and on 20,000 items;
/// 3. GET /items/since returning the newest 100 of 20,000.
///
/// The 20,000-item profile of (3) also serves (2), which saves seeding
/// another 20,000 items (minutes against a server without batch push).
/// Progress goes to stderr; the table (or JSON) to stdout.
pub(crate) async fn run_all(api: &Arc<Api>, args: &AllArgs, as_json: bool) -> AnyResult<()> {
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
            floor: Some(Floor::Commit),
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
        if requests == 0 {
            continue;
        }
        for &c in &args.get_conns {
            let r = get_items(api, Some(profile), requests, c, Some(size)).await?;
            progress(&r);
            rows.push(Row {
                label: format!("GET /items?includeDeleted=true ({size} items)"),
                target,
                result: r,
                floor: Some(Floor::Noop),
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
            floor: Some(Floor::Noop),
        });
    }

    // The floors last, on a server that has done the same work before.
    let mut conns: Vec<usize> = args
        .post_conns
        .iter()
        .chain(&args.get_conns)
        .copied()
        .collect();
    conns.sort_unstable();
    conns.dedup();
    let mut floors: Floors = Vec::new();
    for &c in args.health_conns.as_ref().unwrap_or(&conns) {
        let r = fixed(api, "health", Method::GET, "/", b"", args.floor_requests, c).await;
        progress(&r);
        rows.push(Row {
            label: "GET / (health: a fixed JSON object, no store, no auth)".into(),
            target: None,
            result: r,
            floor: Some(Floor::Noop),
        });
    }
    if let Some(url) = &args.floor_url {
        let floor_api = Arc::new(Api::new(url, "floor")?);
        for &c in &conns {
            for (floor, label, method, path, body) in [
                (
                    Floor::Noop,
                    "Floor: no-op handler (peek-bench-floor GET /noop)",
                    Method::GET,
                    "/noop",
                    &b""[..],
                ),
                (
                    Floor::Commit,
                    "Floor: one SQLite WAL commit (peek-bench-floor POST /commit)",
                    Method::POST,
                    "/commit",
                    &br#"{"type":"url","content":"https://example.com/floor"}"#[..],
                ),
            ] {
                let r = fixed(&floor_api, path, method, path, body, args.floor_requests, c).await;
                progress(&r);
                floors.push((floor, c, r.rps()));
                rows.push(Row {
                    label: label.into(),
                    target: None,
                    result: r,
                    floor: None,
                });
            }
        }
    }

    let table = markdown(&rows, &floors);
    let doc = json!({
        "url": api.base,
        "run": run,
        "setup": setup,
        "runs": rows.iter().map(|r| row_json(r, &floors)).collect::<Vec<_>>(),
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

/// One entry of results.json's `runs`: what `compare` reads back.
pub(crate) fn row_json(row: &Row, floors: &Floors) -> serde_json::Value {
    let mut v = row.result.to_json();
    v["label"] = json!(row.label);
    v["target"] = json!(row.target.map(|t| t.describe()));
    v["verdict"] = json!(row.target.map(|t| t.verdict(&row.result)));
    v["of_floor"] = json!(of_floor(row, floors));
    v
}

/// A row's req/s as a fraction of its floor at the same connection count.
fn of_floor(row: &Row, floors: &Floors) -> Option<f64> {
    let want = row.floor?;
    floors
        .iter()
        .find(|(f, c, _)| *f == want && *c == row.result.conns)
        .filter(|(_, _, rps)| *rps > 0.0)
        .map(|(_, _, rps)| row.result.rps() / rps)
}

pub(crate) fn markdown(rows: &[Row], floors: &Floors) -> String {
    let mut s = String::new();
    s.push_str("| Scenario | Conns | Requests | OK | Err | req/s | of floor | p50 | p99 | max | Body | Target | Verdict |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for row in rows {
        let r = &row.result;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            r.conns,
            r.n,
            r.ok,
            r.err,
            r.rps(),
            of_floor(row, floors).map_or_else(|| "—".into(), |f| format!("{:.1} %", f * 100.0)),
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
