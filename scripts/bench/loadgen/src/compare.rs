//! `compare`: the ratio table of two servers measured in alternating pairs
//! (scripts/bench/versus.sh).
//!
//! One run on a small shared machine swings by up to 2×, so one run of A
//! against one run of B says little. The script runs A, B, A, B, … and
//! this module reduces the pairs. Per row it takes the ratio A ÷ B *within*
//! each pair (the two runs of a pair are minutes apart, so they saw about
//! the same machine load), and reports the median of those ratios with
//! their min and max as the spread — not the ratio of the two medians,
//! which would pair a fast minute of one server with a slow minute of the
//! other. Each side's median req/s and p99 are given too.
//!
//! The inputs are the results.json files `all --json-out` writes; rows are
//! matched by label and connection count.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::*;

/// One row of one run, as read back from results.json.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) rps: f64,
    pub(crate) p99_ms: f64,
    pub(crate) err: u64,
    /// The row's req/s as a share of its floor in the same run, if that
    /// run measured the floors.
    pub(crate) of_floor: Option<f64>,
}

/// A row's identity across runs: its label and connection count.
pub(crate) type RowKey = (String, u64);

/// The rows of one run, in the order the run measured them.
pub(crate) type RunRows = Vec<(RowKey, Sample)>;

/// Reads the `runs` array of one results.json document.
pub(crate) fn samples(doc: &Value) -> Result<RunRows, String> {
    let runs = doc
        .get("runs")
        .and_then(Value::as_array)
        .ok_or("no \"runs\" array")?;
    let mut out: RunRows = Vec::with_capacity(runs.len());
    for (i, r) in runs.iter().enumerate() {
        let label = r.get("label").and_then(Value::as_str);
        let conns = r.get("conns").and_then(Value::as_u64);
        let rps = r.get("rps").and_then(Value::as_f64);
        let p99 = r.get("p99_ms").and_then(Value::as_f64);
        let err = r.get("err").and_then(Value::as_u64);
        let (Some(label), Some(conns), Some(rps), Some(p99_ms), Some(err)) =
            (label, conns, rps, p99, err)
        else {
            return Err(format!(
                "runs[{i}] lacks one of label, conns, rps, p99_ms, err"
            ));
        };
        let key = (label.to_string(), conns);
        if out.iter().any(|(k, _)| *k == key) {
            return Err(format!("row \"{label}\" at {conns} conns appears twice"));
        }
        let of_floor = r.get("of_floor").and_then(Value::as_f64);
        out.push((
            key,
            Sample {
                rps,
                p99_ms,
                err,
                of_floor,
            },
        ));
    }
    Ok(out)
}

/// The median (mean of the two middle values for an even count).
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The smallest and largest value.
pub(crate) fn spread(values: &[f64]) -> Option<(f64, f64)> {
    let first = *values.first()?;
    Some(
        values
            .iter()
            .fold((first, first), |(lo, hi), &x| (lo.min(x), hi.max(x))),
    )
}

/// One server's figures for a row over all its runs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Side {
    pub(crate) rps_median: f64,
    pub(crate) p99_ms_median: f64,
    /// Failed requests summed over the runs (any makes the figures suspect).
    pub(crate) err_total: u64,
}

impl Side {
    fn of(samples: &[&Sample]) -> Side {
        let rps: Vec<f64> = samples.iter().map(|s| s.rps).collect();
        let p99: Vec<f64> = samples.iter().map(|s| s.p99_ms).collect();
        Side {
            rps_median: median(&rps).unwrap_or(0.0),
            p99_ms_median: median(&p99).unwrap_or(0.0),
            err_total: samples.iter().map(|s| s.err).sum(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "rps_median": self.rps_median,
            "p99_ms_median": self.p99_ms_median,
            "err_total": self.err_total,
        })
    }
}

/// A row both servers ran.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Compared {
    pub(crate) label: String,
    pub(crate) conns: u64,
    pub(crate) a: Side,
    pub(crate) b: Side,
    /// A's req/s ÷ B's within each pair, in pair order.
    pub(crate) ratios: Vec<f64>,
    pub(crate) ratio_median: f64,
    pub(crate) ratio_min: f64,
    pub(crate) ratio_max: f64,
    /// Median of A's share of its floor (runs that measured floors only).
    pub(crate) a_of_floor: Option<f64>,
}

/// A row only one server ran (e.g. the floors, measured beside A only).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OneSided {
    pub(crate) label: String,
    pub(crate) conns: u64,
    pub(crate) side: Side,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Comparison {
    pub(crate) pairs: usize,
    pub(crate) rows: Vec<Compared>,
    pub(crate) only_a: Vec<OneSided>,
    pub(crate) only_b: Vec<OneSided>,
}

/// The samples of one row in every run of one side, checking that every
/// run has the same rows as the first (runs of one matrix must).
fn column<'a>(
    side: &'a [RunRows],
    name: &str,
) -> Result<Vec<(&'a RowKey, Vec<&'a Sample>)>, String> {
    let first = side.first().ok_or(format!("no runs of {name}"))?;
    let mut cols = Vec::with_capacity(first.len());
    for (key, _) in first {
        let mut col = Vec::with_capacity(side.len());
        for (i, run) in side.iter().enumerate() {
            let s = run
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, s)| s)
                .ok_or_else(|| {
                    format!(
                        "run {} of {name} has no row \"{}\" at {} conns (run 1 has)",
                        i + 1,
                        key.0,
                        key.1
                    )
                })?;
            col.push(s);
        }
        cols.push((key, col));
    }
    for (i, run) in side.iter().enumerate() {
        if let Some((k, _)) = run.iter().find(|(k, _)| !first.iter().any(|(f, _)| f == k)) {
            return Err(format!(
                "run {} of {name} has a row \"{}\" at {} conns that run 1 lacks",
                i + 1,
                k.0,
                k.1
            ));
        }
    }
    Ok(cols)
}

/// Pairs run `i` of A with run `i` of B and reduces every row they share.
pub(crate) fn compare(a: &[RunRows], b: &[RunRows]) -> Result<Comparison, String> {
    if a.len() != b.len() {
        return Err(format!(
            "{} runs of A but {} of B: the runs must come in pairs",
            a.len(),
            b.len()
        ));
    }
    let cols_a = column(a, "A")?;
    let cols_b = column(b, "B")?;
    let mut rows = Vec::new();
    let mut only_a = Vec::new();
    for (key, sa) in &cols_a {
        let one = |side| OneSided {
            label: key.0.clone(),
            conns: key.1,
            side,
        };
        let Some((_, sb)) = cols_b.iter().find(|(k, _)| k == key) else {
            only_a.push(one(Side::of(sa)));
            continue;
        };
        let mut ratios = Vec::with_capacity(sa.len());
        for (i, (x, y)) in sa.iter().zip(sb).enumerate() {
            if y.rps <= 0.0 {
                return Err(format!(
                    "row \"{}\" at {} conns: B's req/s is 0 in pair {}",
                    key.0,
                    key.1,
                    i + 1
                ));
            }
            ratios.push(x.rps / y.rps);
        }
        let (ratio_min, ratio_max) = spread(&ratios).unwrap_or((0.0, 0.0));
        let floors: Vec<f64> = sa.iter().filter_map(|s| s.of_floor).collect();
        rows.push(Compared {
            label: key.0.clone(),
            conns: key.1,
            a: Side::of(sa),
            b: Side::of(sb),
            ratio_median: median(&ratios).unwrap_or(0.0),
            ratio_min,
            ratio_max,
            ratios,
            a_of_floor: median(&floors),
        });
    }
    let only_b = cols_b
        .iter()
        .filter(|(k, _)| !cols_a.iter().any(|(ka, _)| ka == k))
        .map(|(k, sb)| OneSided {
            label: k.0.clone(),
            conns: k.1,
            side: Side::of(sb),
        })
        .collect();
    Ok(Comparison {
        pairs: a.len(),
        rows,
        only_a,
        only_b,
    })
}

/// req/s with as many digits as a noisy figure deserves.
pub(crate) fn fmt_rps(x: f64) -> String {
    if x.round() >= 1000.0 {
        let digits = (x.round() as u64).to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn fmt_p99(ms: f64) -> String {
    fmt_ms(std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0))
}

fn fmt_ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.1}×")
    } else {
        format!("{x:.2}×")
    }
}

fn fmt_share(x: f64) -> String {
    if x >= 0.01 {
        format!("{:.1} %", x * 100.0)
    } else {
        format!("{:.2} %", x * 100.0)
    }
}

/// The Markdown report: `info` lines (`(key, value)`), the ratio table,
/// then the rows only one side ran.
pub(crate) fn markdown(
    c: &Comparison,
    a_name: &str,
    b_name: &str,
    info: &[(String, String)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## {a_name} vs {b_name}, alternating pairs\n");
    for (k, v) in info {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let _ = writeln!(s, "- pairs: {} ({a_name} first in each pair)\n", c.pairs);
    let _ = writeln!(
        s,
        "| Scenario | Conns | {a_name} req/s | {a_name} p99 | {b_name} req/s | {b_name} p99 | {a_name} ÷ {b_name} (median of {}) | spread (min–max) | {a_name} of floor | Err ({a_name} / {b_name}) |",
        c.pairs
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in &c.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {}–{} | {} | {} / {} |",
            r.label,
            r.conns,
            fmt_rps(r.a.rps_median),
            fmt_p99(r.a.p99_ms_median),
            fmt_rps(r.b.rps_median),
            fmt_p99(r.b.p99_ms_median),
            fmt_ratio(r.ratio_median),
            fmt_ratio(r.ratio_min),
            fmt_ratio(r.ratio_max),
            r.a_of_floor.map_or_else(|| "—".into(), fmt_share),
            r.a.err_total,
            r.b.err_total,
        );
    }
    let _ = writeln!(
        s,
        "\nreq/s and p99 are each server's median over its {n} runs; the ratio is the median of the {n} \
         per-pair ratios ({a_name} req/s ÷ {b_name} req/s, both runs of a pair taken back to back), \
         the spread their min and max. \"of floor\" is {a_name}'s req/s as a share of peek-bench-floor's \
         at the same connection count in the same run (POST rows: one SQLite commit; GET rows: no-op \
         handler), median of {n}.",
        n = c.pairs
    );
    for (name, rows) in [(a_name, &c.only_a), (b_name, &c.only_b)] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\nMeasured with {name} only (median of {}):\n", c.pairs);
        s.push_str("| Scenario | Conns | req/s | p99 | Err |\n|---|---:|---:|---:|---:|\n");
        for r in rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.label,
                r.conns,
                fmt_rps(r.side.rps_median),
                fmt_p99(r.side.p99_ms_median),
                r.side.err_total
            );
        }
    }
    s
}

pub(crate) fn to_json(
    c: &Comparison,
    a_name: &str,
    b_name: &str,
    info: &[(String, String)],
) -> Value {
    let one =
        |r: &OneSided| json!({ "label": r.label, "conns": r.conns, "side": r.side.to_json() });
    json!({
        "a": a_name,
        "b": b_name,
        "pairs": c.pairs,
        "info": info.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "rows": c.rows.iter().map(|r| json!({
            "label": r.label,
            "conns": r.conns,
            "a": r.a.to_json(),
            "b": r.b.to_json(),
            "ratios": r.ratios,
            "ratio_median": r.ratio_median,
            "ratio_min": r.ratio_min,
            "ratio_max": r.ratio_max,
            "a_of_floor_median": r.a_of_floor,
        })).collect::<Vec<_>>(),
        "only_a": c.only_a.iter().map(one).collect::<Vec<_>>(),
        "only_b": c.only_b.iter().map(one).collect::<Vec<_>>(),
    })
}

/// `key=value` → `(key, value)`; the split is at the first `=`.
pub(crate) fn parse_info(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("--info wants key=value, got \"{s}\""))
}

/// Arguments of the `compare` command.
#[derive(clap::Args)]
pub(crate) struct CompareArgs {
    /// results.json of the first server's runs, in pair order (repeat, or
    /// one space-separated list).
    #[arg(long = "a", required = true, num_args = 1..)]
    a: Vec<PathBuf>,
    /// results.json of the second server's runs, in the same pair order.
    #[arg(long = "b", required = true, num_args = 1..)]
    b: Vec<PathBuf>,
    /// Name of the first server in the table.
    #[arg(long, default_value = "A")]
    a_name: String,
    /// Name of the second server in the table.
    #[arg(long, default_value = "B")]
    b_name: String,
    /// A `key=value` line for the table's header (date, commits, …);
    /// repeatable, kept in order.
    #[arg(long, value_parser = parse_info)]
    info: Vec<(String, String)>,
    /// Also write the comparison as JSON to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

fn read_runs(paths: &[PathBuf]) -> AnyResult<Vec<RunRows>> {
    paths
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?;
            let doc: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(samples(&doc).map_err(|e| format!("{}: {e}", p.display()))?)
        })
        .collect()
}

/// Reads the two sides' files, prints the Markdown table (or JSON).
pub(crate) fn run_compare(args: &CompareArgs, as_json: bool) -> AnyResult<()> {
    let c = compare(&read_runs(&args.a)?, &read_runs(&args.b)?)?;
    let doc = to_json(&c, &args.a_name, &args.b_name, &args.info);
    if let Some(p) = &args.json_out {
        std::fs::write(p, format!("{doc:#}\n"))
            .map_err(|e| format!("writing {}: {e}", p.display()))?;
    }
    if as_json {
        println!("{doc:#}");
    } else {
        print!("{}", markdown(&c, &args.a_name, &args.b_name, &args.info));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(rps: f64, p99_ms: f64) -> Sample {
        Sample {
            rps,
            p99_ms,
            err: 0,
            of_floor: None,
        }
    }

    fn key(label: &str, conns: u64) -> RowKey {
        (label.to_string(), conns)
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
        // An outlier moves the mean, not the median.
        assert_eq!(median(&[1.0, 1.1, 0.9, 1.0, 50.0]), Some(1.0));
    }

    #[test]
    fn spread_is_min_and_max() {
        assert_eq!(spread(&[2.0, 0.5, 1.5]), Some((0.5, 2.0)));
        assert_eq!(spread(&[1.0]), Some((1.0, 1.0)));
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn ratios_are_taken_within_pairs() {
        // Machine load swings both servers together: pair 2 is slow for
        // both. Within each pair A is 2× B; the ratio of the medians
        // (200 / 75 = 2.67) would say otherwise.
        let a = vec![
            vec![(key("x", 1), s(200.0, 1.0))],
            vec![(key("x", 1), s(100.0, 2.0))],
            vec![(key("x", 1), s(300.0, 1.0))],
        ];
        let b = vec![
            vec![(key("x", 1), s(100.0, 3.0))],
            vec![(key("x", 1), s(50.0, 5.0))],
            vec![(key("x", 1), s(75.0, 4.0))],
        ];
        let c = compare(&a, &b).unwrap();
        assert_eq!(c.pairs, 3);
        let r = &c.rows[0];
        assert_eq!(r.ratios, vec![2.0, 2.0, 4.0]);
        assert_eq!(r.ratio_median, 2.0);
        assert_eq!((r.ratio_min, r.ratio_max), (2.0, 4.0));
        assert_eq!(r.a.rps_median, 200.0);
        assert_eq!(r.b.rps_median, 75.0);
        assert_eq!(r.a.p99_ms_median, 1.0);
        assert_eq!(r.b.p99_ms_median, 4.0);
    }

    #[test]
    fn floors_and_errors_are_carried() {
        let mut a1 = s(100.0, 1.0);
        a1.of_floor = Some(0.1);
        a1.err = 2;
        let mut a2 = s(100.0, 1.0);
        a2.of_floor = Some(0.3);
        let a = vec![
            vec![(key("x", 1), a1), (key("Floor", 1), s(9000.0, 0.1))],
            vec![(key("x", 1), a2), (key("Floor", 1), s(8000.0, 0.2))],
        ];
        let b = vec![
            vec![(key("x", 1), s(50.0, 1.0))],
            vec![(key("x", 1), s(50.0, 1.0))],
        ];
        let c = compare(&a, &b).unwrap();
        assert_eq!(c.rows.len(), 1);
        let r = &c.rows[0];
        assert!((r.a_of_floor.unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(r.a.err_total, 2);
        assert_eq!(c.only_a.len(), 1);
        assert_eq!(c.only_a[0].label, "Floor");
        assert_eq!(c.only_a[0].side.rps_median, 8500.0);
        assert!(c.only_b.is_empty());
    }

    #[test]
    fn unpaired_or_mismatched_runs_are_refused() {
        let run = vec![(key("x", 1), s(1.0, 1.0))];
        assert!(compare(&[run.clone(), run.clone()], std::slice::from_ref(&run)).is_err());
        assert!(compare(&[], &[]).is_err());
        let other = vec![(key("x", 8), s(1.0, 1.0))];
        assert!(compare(&[run.clone(), other.clone()], &[run.clone(), run.clone()]).is_err());
        let more = vec![(key("x", 1), s(1.0, 1.0)), (key("y", 1), s(1.0, 1.0))];
        assert!(compare(&[run.clone(), more], &[run.clone(), run.clone()]).is_err());
        let zero = vec![(key("x", 1), s(0.0, 1.0))];
        assert!(compare(std::slice::from_ref(&run), &[zero]).is_err());
    }

    #[test]
    fn reads_back_what_all_writes() {
        let lat = vec![Duration::from_millis(2), Duration::from_millis(4)];
        let row = Row {
            label: "GET thing".into(),
            target: None,
            result: RunResult {
                scenario: "t".into(),
                conns: 8,
                n: 2,
                ok: 2,
                err: 0,
                elapsed: Duration::from_secs(2),
                lat,
                body_bytes: 0,
                first_error: None,
                server_errors: 0,
            },
            floor: Some(Floor::Noop),
        };
        let floors: Floors = vec![(Floor::Noop, 8, 10.0)];
        let doc = json!({ "runs": [row_json(&row, &floors)] });
        let rows = samples(&doc).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, key("GET thing", 8));
        let got = &rows[0].1;
        assert_eq!(got.rps, 1.0);
        assert_eq!(got.p99_ms, 4.0);
        assert_eq!(got.err, 0);
        assert_eq!(got.of_floor, Some(0.1));
        // The same row twice is not a matrix `all` writes.
        let twice = json!({ "runs": [row_json(&row, &floors), row_json(&row, &floors)] });
        assert!(samples(&twice).is_err());
        assert!(samples(&json!({ "runs": [{ "label": "x" }] })).is_err());
    }

    #[test]
    fn renders_the_table() {
        let mut a = s(10_243.4, 11.1);
        a.of_floor = Some(0.0072);
        let c = compare(
            &[vec![
                (key("POST /items", 32), a),
                (key("Floor", 32), s(60_707.0, 0.5)),
            ]],
            &[vec![(key("POST /items", 32), s(2_000.0, 30.0))]],
        )
        .unwrap();
        let info = vec![("date".to_string(), "2026-12-02".to_string())];
        let md = markdown(&c, "ours", "theirs", &info);
        assert!(md.starts_with("## ours vs theirs, alternating pairs\n\n- date: 2026-12-02\n- pairs: 1 (ours first in each pair)\n"));
        assert!(md.contains("| Scenario | Conns | ours req/s | ours p99 | theirs req/s | theirs p99 | ours ÷ theirs (median of 1) |"));
        assert!(
            md.contains("| POST /items | 32 | 10,243 | 11.1ms | 2,000 | 30.0ms | 5.12× | 5.12×–5.12× | 0.72 % | 0 / 0 |"),
            "{md}"
        );
        assert!(md.contains("Measured with ours only (median of 1):"));
        assert!(md.contains("| Floor | 32 | 60,707 | 0.50ms | 0 |"));
        assert!(!md.contains("Measured with theirs only"));
        let doc = to_json(&c, "ours", "theirs", &info);
        assert_eq!(doc["rows"][0]["ratio_median"], json!(10_243.4 / 2_000.0));
        assert_eq!(doc["info"][0], json!(["date", "2026-12-02"]));
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_rps(61_885.4), "61,885");
        assert_eq!(fmt_rps(1_000.0), "1,000");
        assert_eq!(fmt_rps(1_234_567.0), "1,234,567");
        assert_eq!(fmt_rps(999.6), "1,000");
        assert_eq!(fmt_rps(138.4), "138");
        assert_eq!(fmt_rps(20.66), "20.7");
        assert_eq!(fmt_ratio(0.456), "0.46×");
        assert_eq!(fmt_ratio(12.34), "12.3×");
        assert_eq!(fmt_share(0.29), "29.0 %");
        assert_eq!(fmt_share(0.0072), "0.72 %");
    }

    #[test]
    fn info_lines_split_at_the_first_equals() {
        assert_eq!(
            parse_info("loadgen args=--post-count 500 --x=1"),
            Ok(("loadgen args".into(), "--post-count 500 --x=1".into()))
        );
        assert!(parse_info("no equals").is_err());
        assert!(parse_info("=value").is_err());
    }
}
