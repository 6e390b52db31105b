//! The compliance matrix as a page that reads on paper: what was run
//! (date, commit, seeds, cases, targets and their sources), the matrix
//! with a symbol and a colour per verdict (the symbol alone carries it in
//! black and white) and each failure's D-numbers in its cell, one line
//! per scenario saying what it checks, a list of every failure with its
//! reason and replay command, and a section per failing cell with its
//! minimal counterexample. Self-contained: inline CSS, no script.

use std::fmt::Write as _;

use serde_json::Value;

use super::dref;
use super::Report;
use crate::matrix::{Cell, Judgement, Row, Status};

/// How a cell reads: CSS class, symbol, word.
pub fn look(c: &Cell) -> (&'static str, &'static str, &'static str) {
    match (c.status, c.judgement) {
        (Status::NotApplicable, _) => ("na", "–", "n/a"),
        (Status::Pass, Judgement::UnexpectedPass) => ("upass", "★", "pass, expected to fail"),
        (Status::Pass, _) => ("pass", "✓", "pass"),
        (Status::Fail, Judgement::KnownFailure) => ("known", "◐", "known failure"),
        (Status::Error, Judgement::KnownFailure) => ("known", "◐", "error, known failure"),
        (Status::Error, _) => ("error", "‼", "ERROR (harness)"),
        (Status::Fail, _) => ("fail", "✗", "FAIL"),
    }
}

/// The D-numbers a cell is about: for a known failure (or an unexpected
/// pass) those its expectation names, else those its diagnosis and
/// detail name.
pub fn cell_ds(c: &Cell) -> Vec<u32> {
    let from_note = c
        .expectation
        .as_deref()
        .map(dref::d_numbers)
        .unwrap_or_default();
    match c.judgement {
        Judgement::KnownFailure | Judgement::UnexpectedPass if !from_note.is_empty() => from_note,
        _ if c.status == Status::Pass => Vec::new(),
        _ => {
            let mut v = Vec::new();
            for text in c
                .likely
                .iter()
                .map(String::as_str)
                .chain([c.detail.as_str()])
            {
                for d in dref::d_numbers(text) {
                    if !v.contains(&d) {
                        v.push(d);
                    }
                }
            }
            if v.is_empty() {
                from_note
            } else {
                v
            }
        }
    }
}

/// Whether a cell gets a failure section: it failed, or it passed where
/// a failure was expected (the expectation is now wrong).
pub fn noteworthy(c: &Cell) -> bool {
    matches!(c.status, Status::Fail | Status::Error) || c.judgement == Judgement::UnexpectedPass
}

#[cfg(test)]
pub(super) fn esc_for_test(x: &str) -> String {
    esc(x)
}

use sim::markup::escape as esc;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:18px 22px;color:#111}
h1{font-size:22px;margin:0 0 8px} h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ccc}
h3{font-size:15px;margin:14px 0 4px}
code,pre,.mono{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12.5px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0;background:#f6f6f6;padding:4px 6px}
table{border-collapse:collapse}
th,td{border:1px solid #bbb;padding:3px 6px;vertical-align:top;text-align:left}
table.run th{background:#f2f2f2;font-weight:600;white-space:nowrap}
table.matrix th.t{font-size:12px;writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;padding:6px 3px}
table.matrix td.sc{white-space:nowrap;font-weight:600}
table.matrix td.sc small{display:block;font-weight:normal;color:#555}
table.matrix td.what{font-size:12px;max-width:26em;color:#222}
td.c{text-align:center;font-size:12.5px;min-width:4.2em;white-space:nowrap}
td.c a{color:inherit;text-decoration:none;display:block}
td.c .sym{font-size:16px;font-weight:bold;display:block;line-height:1.1}
td.c .ds{font-size:11px;display:block}
.pass{background:#cfeecf;color:#0b4d16}
.known{background:#ffd59a;color:#6b3300}
.fail{background:#f7a1a1;color:#6d0000;font-weight:bold;outline:2px solid #b00000;outline-offset:-2px}
.upass{background:#bcd6ff;color:#0b2e6b;font-weight:bold}
.error{background:#dcc2f0;color:#3d0a5e;font-weight:bold}
.na{background:#eee;color:#666}
.legend span{display:inline-block;margin:2px 10px 2px 0;padding:1px 6px;border:1px solid #bbb}
.totals{font-size:15px;margin:8px 0}
table.flist td{font-size:12.5px}
table.flist td.r{max-width:46em}
section.failure{border-top:1px solid #ddd;margin-top:10px;padding-top:2px}
section.failure dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}
section.failure dt{font-weight:600;color:#333}
section.failure dd{margin:0}
ol.events{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12.5px;margin:4px 0;padding-left:3.2em}
ol.events li.fault{color:#8a2a00;font-weight:bold}
@media print{
 @page{size:A4 landscape;margin:10mm}
 body{margin:0;font-size:11px}
 a{color:inherit}
 td,th{padding:2px 4px}
 table.matrix td.what{font-size:10px}
 .pass,.known,.fail,.upass,.error,.na{print-color-adjust:exact;-webkit-print-color-adjust:exact}
 section.failure{break-inside:avoid-page}
 h2{break-after:avoid}
}
";

impl Report {
    pub fn html(&self) -> String {
        let mut s = String::from("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Peek Sync compliance matrix</title>");
        let _ = write!(
            s,
            "<style>{STYLE}</style></head><body><h1>Peek Sync compliance matrix</h1>"
        );
        self.html_run(&mut s);
        let failing: Vec<&Cell> = self.failing_order();
        self.html_matrix(&mut s, &failing);
        self.html_failure_list(&mut s, &failing);
        for (i, c) in failing.iter().enumerate() {
            self.html_failure(&mut s, i + 1, c);
        }
        s.push_str("</body></html>\n");
        s
    }

    /// The cells that get a section, numbered in matrix order (row by
    /// row, target by target), so the numbers read down the page.
    fn failing_order(&self) -> Vec<&Cell> {
        let mut v = Vec::new();
        for sc in &self.scenarios {
            for t in &self.targets {
                if let Some(c) = self.cell(sc, t).filter(|c| noteworthy(c)) {
                    v.push(c);
                }
            }
        }
        v
    }

    fn doc_href(&self, d: u32) -> String {
        let base = self
            .run
            .as_ref()
            .map_or(super::DEFAULT_DOC, |r| r.doc.as_str());
        format!("{base}#d{d}")
    }

    /// `D4 D5` as links to their anchors in the account (plain text for a
    /// number the account has no anchor for); `titled` adds each title.
    fn ds_links(&self, ds: &[u32], titled: bool) -> String {
        ds.iter()
            .map(|&d| {
                let title = dref::title(d).unwrap_or("not in the account");
                let name = if titled {
                    format!("<b>D{d}</b>")
                } else {
                    format!("D{d}")
                };
                let name = if dref::has_anchor(d) {
                    format!(
                        "<a href=\"{}\" title=\"{}\">{name}</a>",
                        esc(&self.doc_href(d)),
                        esc(title)
                    )
                } else {
                    name
                };
                if titled {
                    format!("{name} — {}", esc(title))
                } else {
                    name
                }
            })
            .collect::<Vec<_>>()
            .join(if titled { "<br>" } else { " " })
    }

    fn html_run(&self, s: &mut String) {
        s.push_str("<h2>The run</h2><table class=\"run\">");
        let row = |s: &mut String, k: &str, v: &str| {
            let _ = write!(s, "<tr><th>{k}</th><td>{v}</td></tr>");
        };
        match &self.run {
            Some(r) => {
                row(s, "date", &esc(&r.date));
                row(s, "commit", &format!("<code>{}</code>", esc(&r.commit)));
                row(s, "command", &format!("<code>{}</code>", esc(&r.command)));
                row(s, "server", &esc(&r.server));
                row(s, "seed", &format!("{} (property worlds; documented scenario <i>i</i> runs with seed + <i>i</i>)", r.seed));
                row(
                    s,
                    "cases",
                    &format!(
                        "{} worlds per property in-process, {} for drivers and servers by URL; shrinking at most {} / {} steps",
                        r.cases, r.portable_cases, r.shrink_iters, r.portable_shrink_iters
                    ),
                );
            }
            None => row(s, "run", "not given (the caller passed no run metadata)"),
        }
        let targets: Vec<String> = self
            .targets
            .iter()
            .map(|t| {
                let src = self
                    .sources
                    .iter()
                    .find(|(l, _)| l == t)
                    .map_or_else(|| "in-process (this build)".to_string(), |(_, s)| s.clone());
                format!("<code>{}</code>: {}", esc(t), esc(&src))
            })
            .collect();
        row(s, "targets", &targets.join("<br>"));
        row(
            s,
            "scenarios",
            &format!(
                "{} ({} property groups, {} documented scenarios)",
                self.scenarios.len(),
                self.scenarios
                    .iter()
                    .filter(|n| row_of(n).is_some_and(|r| r.kind() == "property"))
                    .count(),
                self.scenarios
                    .iter()
                    .filter(|n| row_of(n).is_some_and(|r| r.kind() == "documented"))
                    .count()
            ),
        );
        s.push_str("</table>");
    }

    fn html_matrix(&self, s: &mut String, failing: &[&Cell]) {
        let t = &self.totals;
        let errors = self
            .cells
            .iter()
            .filter(|c| c.status == Status::Error)
            .count();
        let _ = write!(
            s,
            "<h2>Matrix</h2><p class=\"totals\">{} — ✓ {} pass · ◐ {} known failures · ✗ {} unexpected failures · ★ {} unexpected passes · ‼ {} harness errors · – {} n/a</p>",
            esc(&t.line()),
            t.passed,
            t.known,
            t.unexpected_failures,
            t.unexpected_passes,
            errors,
            t.not_applicable
        );
        s.push_str(
            "<p class=\"legend\"><span class=\"pass\">✓ pass</span>\
             <span class=\"known\">◐ known failure (expected; D-numbers in the cell)</span>\
             <span class=\"fail\">✗ FAIL, not expected</span>\
             <span class=\"upass\">★ passes, expected to fail</span>\
             <span class=\"error\">‼ harness error</span>\
             <span class=\"na\">– n/a</span>\
             <span>[n]: section n below</span></p>",
        );
        s.push_str("<table class=\"matrix\"><tr><th>scenario</th><th>what it checks</th>");
        for t in &self.targets {
            let _ = write!(s, "<th class=\"t\">{}</th>", esc(t));
        }
        s.push_str("</tr>");
        for sc in &self.scenarios {
            let row = row_of(sc);
            let kind = row.map_or(String::new(), |r| match r.section() {
                Some(sec) => format!("documented, {sec}"),
                None => r.kind().to_string(),
            });
            let _ = write!(
                s,
                "<tr><td class=\"sc\">{}<small>{}</small></td><td class=\"what\">{}</td>",
                esc(sc),
                esc(&kind),
                esc(row.map_or("", |r| r.what()))
            );
            for t in &self.targets {
                let Some(c) = self.cell(sc, t) else {
                    s.push_str("<td class=\"c na\">—</td>");
                    continue;
                };
                let (class, sym, word) = look(c);
                let n = failing
                    .iter()
                    .position(|f| std::ptr::eq(*f, c))
                    .map(|i| i + 1);
                let ds = cell_ds(c);
                let ds_text: Vec<String> = ds.iter().map(|d| format!("D{d}")).collect();
                let inner = format!(
                    "<span class=\"sym\">{sym}</span>{}{}{}",
                    esc(short_word(word)),
                    if ds.is_empty() {
                        String::new()
                    } else {
                        format!("<span class=\"ds\">{}</span>", ds_text.join(" "))
                    },
                    n.map_or(String::new(), |n| format!(
                        "<span class=\"ds\">[{n}]</span>"
                    ))
                );
                let title = format!("{word}: {}", c.detail);
                match n {
                    Some(n) => {
                        let _ = write!(
                            s,
                            "<td class=\"c {class}\" title=\"{}\"><a href=\"#f{n}\">{inner}</a></td>",
                            esc(&title)
                        );
                    }
                    None => {
                        let _ = write!(
                            s,
                            "<td class=\"c {class}\" title=\"{}\">{inner}</td>",
                            esc(&title)
                        );
                    }
                }
            }
            s.push_str("</tr>");
        }
        s.push_str("</table>");
    }

    /// Every failure in one table under the matrix: reason, D-numbers and
    /// replay command, visible (not only as tooltips).
    fn html_failure_list(&self, s: &mut String, failing: &[&Cell]) {
        let _ = write!(s, "<h2>Failures ({})</h2>", failing.len());
        if failing.is_empty() {
            s.push_str("<p>None: every cell passed or was not applicable.</p>");
            return;
        }
        s.push_str("<table class=\"flist\"><tr><th>#</th><th>cell</th><th>verdict</th><th>D</th><th>reason</th><th>replay</th></tr>");
        for (i, c) in failing.iter().enumerate() {
            let (class, sym, word) = look(c);
            let _ = write!(
                s,
                "<tr><td><a href=\"#f{n}\">[{n}]</a></td><td>{} × {}</td><td class=\"{class}\">{sym} {}</td><td>{}</td><td class=\"r\">{}</td><td><code>{}</code></td></tr>",
                esc(&c.scenario),
                esc(&c.target),
                esc(word),
                self.ds_links(&cell_ds(c), false),
                esc(&clip(&c.detail, 240)),
                esc(&c.replay),
                n = i + 1
            );
        }
        s.push_str("</table>");
    }

    fn html_failure(&self, s: &mut String, n: usize, c: &Cell) {
        let (class, sym, word) = look(c);
        let _ = write!(
            s,
            "<section class=\"failure\" id=\"f{n}\"><h3>[{n}] {} × {} — <span class=\"{class}\">&nbsp;{sym} {}&nbsp;</span></h3><dl>",
            esc(&c.scenario),
            esc(&c.target),
            esc(word)
        );
        let dd = |s: &mut String, k: &str, v: &str| {
            let _ = write!(s, "<dt>{k}</dt><dd>{v}</dd>");
        };
        if let Some(r) = row_of(&c.scenario) {
            dd(s, "checks", &esc(r.what()));
        }
        let expected = match c.judgement {
            Judgement::KnownFailure | Judgement::UnexpectedPass => "fail",
            _ => "pass",
        };
        let note = c.expectation.as_deref().map_or(String::new(), |n| {
            format!(" — the expectation file says: <i>{}</i>", esc(n))
        });
        dd(s, "expected", &format!("{expected}{note}"));
        let ds = cell_ds(c);
        if !ds.is_empty() {
            dd(s, "D-numbers", &self.ds_links(&ds, true));
        }
        dd(s, "reason", &format!("<pre>{}</pre>", esc(&c.detail)));
        if !c.likely.is_empty() {
            let items: Vec<String> = c
                .likely
                .iter()
                .map(|l| format!("<li>{}</li>", esc(l)))
                .collect();
            dd(s, "likely", &format!("<ul>{}</ul>", items.concat()));
        }
        dd(s, "replay", &format!("<code>{}</code>", esc(&c.replay)));
        dd(s, "took", &format!("{:.1} s", c.seconds));
        s.push_str("</dl>");
        match (&c.counterexample, c.status) {
            (Some(ce), Status::Fail | Status::Error) if ce.get("events").is_some() => {
                counterexample(s, ce)
            }
            (_, Status::Fail | Status::Error) => {
                let what = match row_of(&c.scenario) {
                    Some(Row::Documented(_)) => "a documented scenario: fixed steps, nothing to shrink; the reason above is where it stopped",
                    _ => "no counterexample was kept (the world could not be written back)",
                };
                let _ = write!(s, "<p><b>Minimal counterexample:</b> {what}.</p>");
            }
            _ => s.push_str("<p>It passed: the expectation file still lists it as a failure.</p>"),
        }
        s.push_str("</section>");
    }
}

/// The short word shown in a cell (the long one is in the lists).
fn short_word(word: &str) -> &str {
    match word {
        "known failure" | "error, known failure" => "known",
        "pass, expected to fail" => "pass!",
        "ERROR (harness)" => "ERROR",
        w => w,
    }
}

fn row_of(name: &str) -> Option<Row> {
    Row::all().into_iter().find(|r| r.name() == name)
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

/// The shrunk world: its devices and servers, then its events in words,
/// repeated runs folded (`(wait 1 ms; d0 sync step) ×8`).
fn counterexample(s: &mut String, ce: &Value) {
    let config = &ce["config"];
    let devices: Vec<&Value> = config["devices"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let names: Vec<String> = devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            d["name"]
                .as_str()
                .map_or_else(|| format!("d{i}"), str::to_string)
        })
        .collect();
    let events: Vec<String> = ce["events"]
        .as_array()
        .map(|a| a.iter().map(|e| event_words(e, &names)).collect())
        .unwrap_or_default();
    let _ = write!(
        s,
        "<p><b>Minimal counterexample</b> ({} events; <code>peek-sim replay</code> runs it):</p>",
        events.len()
    );
    if !devices.is_empty() {
        s.push_str("<table class=\"run\"><tr><th>device</th><th>model</th><th>clock</th><th>profile</th></tr>");
        for (i, d) in devices.iter().enumerate() {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                esc(&names[i]),
                esc(d["model"].as_str().unwrap_or("?")),
                esc(&d["clock"].to_string()),
                esc(&d["profile"].to_string())
            );
        }
        let _ = write!(
            s,
            "<tr><td>servers</td><td>{}</td><td class=\"mono\">{}</td><td></td></tr></table>",
            esc(&config["servers"].to_string()),
            esc(&config["server_clock"].to_string())
        );
    }
    s.push_str("<ol class=\"events\">");
    for (line, count) in fold_runs(&events) {
        let fault = line.contains("fault:");
        let text = if count > 1 {
            format!("{line} ×{count}")
        } else {
            line
        };
        let _ = write!(
            s,
            "<li{}>{}</li>",
            if fault { " class=\"fault\"" } else { "" },
            esc(&text)
        );
    }
    s.push_str("</ol>");
}

/// Folds runs of a repeated event or pair of events into one line and a
/// count.
fn fold_runs(events: &[String]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let reps = |p: usize| {
            let mut k = 1;
            while i + (k + 1) * p <= events.len()
                && events[i + k * p..i + (k + 1) * p] == events[i..i + p]
            {
                k += 1;
            }
            k
        };
        let (one, two) = (reps(1), if i + 2 <= events.len() { reps(2) } else { 1 });
        if two >= 2 && 2 * two > one {
            out.push((format!("({}; {})", events[i], events[i + 1]), two));
            i += 2 * two;
        } else {
            out.push((events[i].clone(), one));
            i += one;
        }
    }
    out
}

/// One workload event in words.
fn event_words(e: &Value, names: &[String]) -> String {
    let dev = |k: &str| {
        e[k].as_u64()
            .map(|d| {
                names
                    .get(d as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("d{d}"))
            })
            .unwrap_or_else(|| "?".into())
    };
    let n = |k: &str| e[k].to_string();
    let op = e["op"].as_str().unwrap_or("");
    match op {
        "wait" => format!("wait {} ms", n("ms")),
        "create" => {
            let tags = e["tags"]
                .as_array()
                .filter(|t| !t.is_empty())
                .map_or(String::new(), |t| {
                    format!(" tags {}", Value::Array(t.clone()))
                });
            format!(
                "{} creates a {}{tags}",
                dev("dev"),
                e["kind"].as_str().unwrap_or("?")
            )
        }
        "create-same" => format!(
            "{} and {} create the same {}",
            dev("dev"),
            dev("other"),
            e["kind"].as_str().unwrap_or("?")
        ),
        "create-large" => format!("{} creates a 64 KiB text", dev("dev")),
        "edit" | "delete" | "untag" => format!("{} {op}s an item (pick {})", dev("dev"), n("pick")),
        "tag" => format!(
            "{} tags an item (pick {}) {}",
            dev("dev"),
            n("pick"),
            n("tag")
        ),
        "sync" => format!("{} starts a sync", dev("dev")),
        "step" => match e["fault"].as_str() {
            Some(f) => format!("{} sync step — fault: {f}", dev("dev")),
            None => format!("{} sync step", dev("dev")),
        },
        "crash" => format!("{} crashes — fault: crash", dev("dev")),
        "partition" => format!(
            "{} is partitioned for {} ms — fault: partition",
            dev("dev"),
            n("ms")
        ),
        "switch-server" => format!("{} switches to server s{}", dev("dev"), n("server")),
        "switch-profile" => format!("{} switches to profile {}", dev("dev"), n("profile")),
        "restart-server" => format!("server s{} restarts — fault: restart", n("server")),
        "backup-server" => format!("server s{} takes a backup", n("server")),
        "restore-server" => format!(
            "server s{} is restored from its backup — fault: restore",
            n("server")
        ),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_says_what_it_checks() {
        for r in Row::all() {
            assert!(r.what().len() > 20, "{}", r.name());
        }
    }

    #[test]
    fn runs_of_events_fold_into_counts() {
        let e: Vec<String> = ["a", "w", "s", "w", "s", "w", "s", "b", "b", "b", "c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            fold_runs(&e),
            vec![
                ("a".to_string(), 1),
                ("(w; s)".to_string(), 3),
                ("b".to_string(), 3),
                ("c".to_string(), 1)
            ]
        );
    }

    #[test]
    fn events_read_as_words() {
        let names = vec!["d0".to_string(), "d1".to_string()];
        let e = serde_json::json!({"op": "step", "dev": 1, "fault": "response-lost"});
        assert_eq!(
            event_words(&e, &names),
            "d1 sync step — fault: response-lost"
        );
        let e = serde_json::json!({"op": "create", "dev": 0, "kind": "url", "tags": ["a"], "unicode": false});
        assert_eq!(event_words(&e, &names), "d0 creates a url tags [\"a\"]");
    }
}
