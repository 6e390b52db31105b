//! The picture as one self-contained HTML page (inline SVG and CSS, a few
//! lines of script to open folds; nothing fetched, so it works offline
//! and prints): the verdict first, the lanes' names pinned at the top,
//! the rows in folds a person can open one at a time, each fold's full
//! text in a table under it, every violation in full at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::draw::{self, Layout};
use super::model::{Picture, Row, RowKind};
use super::text::{esc, fit, instant, offset};

const PAGE_STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:16px 20px;color:#111}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 6px}
.meta{color:#444;margin:2px 0}
code,pre,.mono{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12.5px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0}
.verdict{border:2px solid #b3261e;border-radius:6px;padding:8px 12px;margin:10px 0;background:#fff5f4}
.verdict.pass{border-color:#1a7f37;background:#f3fbf5}
.verdict ol{margin:4px 0;padding-left:22px}
.legend{font-size:12.5px;color:#333;margin:6px 0 10px}
.legend span{margin-right:14px;white-space:nowrap;display:inline-block}
.head{position:sticky;top:0;background:#fff;z-index:2;border-bottom:1px solid #ccc}
details.fold{border-left:3px solid #ccd;margin:0 0 2px;padding-left:4px}
details.fold.touch{border-left-color:#e0a800}
details.fold>summary{cursor:pointer;font-size:13px;padding:3px 0;color:#222}
details.fold>summary .w{color:#b3261e;font-weight:bold}
details.full>summary{cursor:pointer;font-size:12.5px;color:#555;margin:2px 0 6px}
table.full{border-collapse:collapse;margin:0 0 10px;font-size:12px}
table.full td,table.full th{border:1px solid #ddd;padding:2px 6px;vertical-align:top;text-align:left}
table.full td.t{white-space:nowrap}
table.full td pre{margin:0}
table.full tr.hit td{background:#fff1b8}
.viol{border-top:1px solid #ddd;padding:6px 0}
.viol h3{font-size:15px;margin:4px 0;color:#b3261e}
.buttons button{font-size:12px;margin-right:6px}
@media print{
 @page{size:A4 landscape;margin:8mm}
 body{margin:0;font-size:11px}
 .head{position:static}
 .buttons{display:none}
 svg{max-width:100%;height:auto}
 details.fold{break-inside:auto}
 .viol{break-inside:avoid}
 .verdict,svg,table.full tr.hit td{print-color-adjust:exact;-webkit-print-color-adjust:exact}
}
";

/// Opens every fold before printing (closed `<details>` do not print),
/// and the fold holding a row a link points at.
const SCRIPT: &str = "
function openAll(v){document.querySelectorAll('details').forEach(function(d){d.open=v;});}
window.addEventListener('beforeprint',function(){openAll(true);});
function reveal(){var id=location.hash.slice(1);if(!id)return;var e=document.getElementById(id);
 while(e){if(e.tagName==='DETAILS')e.open=true;e=e.parentElement;}
 var t=document.getElementById(id);if(t&&t.scrollIntoView)t.scrollIntoView({block:'center'});}
window.addEventListener('hashchange',reveal);window.addEventListener('load',reveal);
";

/// A row in a few words, for links and the details table.
fn row_words(p: &Picture, row: &Row) -> (String, String) {
    match &row.kind {
        RowKind::Exchange(a) => (p.lanes[a.dev].name.clone(), a.full.clone()),
        RowKind::Mark { lane, text, .. } => (p.lanes[*lane].name.clone(), text.clone()),
        RowKind::Across { text } => ("all".into(), text.clone()),
    }
}

fn row_short(p: &Picture, row: &Row) -> String {
    match &row.kind {
        RowKind::Exchange(a) => format!(
            "{} #{} {} → {}",
            p.lanes[a.dev].name,
            a.seq,
            a.request,
            a.response_label()
        ),
        RowKind::Mark { lane, text, .. } => format!("{} {text}", p.lanes[*lane].name),
        RowKind::Across { text } => text.clone(),
    }
}

pub fn html(p: &Picture) -> String {
    let l = Layout { p };
    let w = l.width();
    let mut s = String::from("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(
        s,
        "<title>Timeline: {}</title><style>{PAGE_STYLE}{}</style></head><body>",
        esc(&p.title),
        draw::SVG_STYLE
    );
    let _ = write!(s, "<h1>Timeline: {}</h1>", esc(&p.title));
    let _ = write!(
        s,
        "<p class=\"meta\">{} exchanges, {} rows in {} fold(s). Time runs down; the left axis is true time since {} (the world's start); each exchange's details give the server's clock and the device's skew.</p>",
        p.exchanges,
        p.rows.len(),
        p.folds.len(),
        esc(&instant(p.epoch))
    );
    verdict(&mut s, p);
    s.push_str(
        "<p class=\"legend\"><span><b style=\"color:#1f4e79\">→</b> request / answer</span>\
         <span><b style=\"color:#b3261e\">→</b> error status</span>\
         <span><b style=\"color:#d35400\">- - ×</b> faulted: lost where the × is</span>\
         <span><b style=\"color:#d35400\">┊</b> device partitioned</span>\
         <span style=\"color:#1a7f37\">● local write</span><span>▸ sync starts, ends (done: what it pulled and pushed)</span>\
         <span style=\"color:#b3261e\">✖ error</span><span style=\"color:#d35400\">⚡ fault, crash, restart</span>\
         <span style=\"color:#6f42c1\">◔ clock jump</span><span>◆ switch, backup</span>\
         <span style=\"background:#ffe58a\">⚠ touches a violation's item</span></p>",
    );
    s.push_str("<p class=\"buttons\"><button onclick=\"openAll(true)\">open every fold</button><button onclick=\"openAll(false)\">close every fold</button></p>");
    // The defs the folds' arrows point at, once per document.
    s.push_str(
        "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs>",
    );
    draw::markers(&mut s);
    s.push_str("</defs></svg>");
    let _ = write!(
        s,
        "<div class=\"head\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        h = Layout::HEAD_H
    );
    l.head(&mut s, 0.0);
    s.push_str("</svg></div>");
    // Folds touching a violation open; with none, the first one, so the
    // page never opens on a wall of closed folds.
    let any_hit = p.rows.iter().any(|r| !r.items.is_empty());
    for (i, f) in p.folds.iter().enumerate() {
        let rows = &p.rows[f.rows.clone()];
        let hit = rows.iter().any(|r| !r.items.is_empty());
        let open = hit || (i == 0 && !any_hit);
        let _ = write!(
            s,
            "<details class=\"fold{}\" id=\"f{i}\"{}><summary>{}</summary>",
            if hit { " touch" } else { "" },
            if open { " open" } else { "" },
            summary(p, i)
        );
        let h = l.height(f.rows.clone());
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
        );
        l.rows(&mut s, f.rows.clone(), 4.0);
        s.push_str("</svg>");
        full_table(&mut s, p, f.rows.clone());
        s.push_str("</details>\n");
    }
    violations(&mut s, p);
    let _ = writeln!(s, "<script>{SCRIPT}</script></body></html>");
    s
}

/// The first thing on the page: what failed, with links to where. A
/// long list is cut (the section at the end has every one).
fn verdict(s: &mut String, p: &Picture) {
    if p.violations.is_empty() {
        s.push_str("<div class=\"verdict pass\">✓ No violation is recorded in this trace.</div>");
        return;
    }
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &p.violations {
        *by.entry(v.invariant.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = by.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    let _ = write!(
        s,
        "<div class=\"verdict\"><b>✖ {} violation(s)</b> ({}) — every one in full at <a href=\"#violations\">the end</a><ol>",
        p.violations.len(),
        esc(&counts.join(", "))
    );
    for (i, v) in p.violations.iter().enumerate().take(VERDICT_MOST) {
        let _ = write!(
            s,
            "<li><a href=\"#v{i}\"><b>{}</b></a>: {} — items <code>{}</code>; {} row(s) touch them</li>",
            esc(&v.invariant),
            esc(&fit(&v.detail, 140)),
            esc(&v.items.join(", ")),
            v.rows.len()
        );
    }
    s.push_str("</ol>");
    if p.violations.len() > VERDICT_MOST {
        let _ = write!(
            s,
            "<p>… and {} more, at <a href=\"#violations\">the end</a>.</p>",
            p.violations.len() - VERDICT_MOST
        );
    }
    s.push_str("</div>");
}

/// Violations listed at the top at most.
const VERDICT_MOST: usize = 8;

/// A fold's summary line: when, how many exchanges by whom, faults,
/// errors, and the violation items it touches.
fn summary(p: &Picture, i: usize) -> String {
    let f = &p.folds[i];
    let rows = &p.rows[f.rows.clone()];
    let (t0, t1) = (
        rows.first().map_or(0, |r| r.t),
        rows.last().map_or(0, |r| r.t),
    );
    let mut by: BTreeMap<usize, usize> = BTreeMap::new();
    let (mut faults, mut bad) = (0, 0);
    let mut items = std::collections::BTreeSet::new();
    for r in rows {
        items.extend(r.items.iter().cloned());
        match &r.kind {
            RowKind::Exchange(a) => {
                *by.entry(a.dev).or_default() += 1;
                if a.fault.is_some() {
                    faults += 1;
                } else if a.bad() {
                    bad += 1;
                }
            }
            RowKind::Mark { mark, .. } => {
                if matches!(mark, super::model::Mark::Fault) {
                    faults += 1;
                } else if matches!(mark, super::model::Mark::Error) {
                    bad += 1;
                }
            }
            RowKind::Across { .. } => {}
        }
    }
    let who: Vec<String> = by
        .iter()
        .map(|(d, n)| format!("{} ×{n}", p.lanes[*d].name))
        .collect();
    let mut out = format!(
        "<span class=\"mono\">{} → {}</span> · rows {}–{} · {} exchange(s){}",
        esc(&offset(t0)),
        esc(&offset(t1)),
        f.rows.start,
        f.rows.end.saturating_sub(1),
        by.values().sum::<usize>(),
        if who.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(&who.join(", ")))
        }
    );
    if faults > 0 {
        let _ = write!(out, " · ⚡ {faults} fault(s)");
    }
    if bad > 0 {
        let _ = write!(out, " · ✖ {bad} error(s)");
    }
    if !items.is_empty() {
        let items: Vec<String> = items.into_iter().collect();
        let _ = write!(
            out,
            " · <span class=\"w\">⚠ touches {}</span>",
            esc(&items.join(", "))
        );
    }
    out
}

/// Every row of a fold in full (the labels in the picture are cut to
/// fit their column).
fn full_table(s: &mut String, p: &Picture, range: std::ops::Range<usize>) {
    let _ = write!(
        s,
        "<details class=\"full\"><summary>full text of rows {}–{}</summary><table class=\"full\"><tr><th>row</th><th>true time</th><th>lane</th><th>what</th></tr>",
        range.start,
        range.end.saturating_sub(1)
    );
    for n in range {
        let row = &p.rows[n];
        let (lane, what) = row_words(p, row);
        let items = if row.items.is_empty() {
            String::new()
        } else {
            let v: Vec<&str> = row.items.iter().map(String::as_str).collect();
            format!("\n⚠ touches {}", v.join(", "))
        };
        let _ = write!(
            s,
            "<tr{}><td>{n}</td><td class=\"t mono\">{}</td><td>{}</td><td><pre>{}{}</pre></td></tr>",
            if row.items.is_empty() { "" } else { " class=\"hit\"" },
            esc(&offset(row.t)),
            esc(&lane),
            esc(&what),
            esc(&items)
        );
    }
    s.push_str("</table></details>");
}

/// Every violation in full, with links to the rows touching its items.
fn violations(s: &mut String, p: &Picture) {
    let _ = write!(
        s,
        "<h2 id=\"violations\">Violations ({})</h2>",
        p.violations.len()
    );
    if p.violations.is_empty() {
        s.push_str("<p>None recorded.</p>");
    }
    for (i, v) in p.violations.iter().enumerate() {
        let _ = write!(
            s,
            "<div class=\"viol\" id=\"v{i}\"><h3>✖ {}</h3><p>items: {}</p><pre>{}</pre>",
            esc(&v.invariant),
            v.items
                .iter()
                .map(|it| format!("<code>{}</code>", esc(it)))
                .collect::<Vec<_>>()
                .join(", "),
            esc(&v.detail)
        );
        if v.rows.is_empty() {
            s.push_str("<p>No row of this trace names these items.</p>");
        } else {
            s.push_str("<p>Rows touching them:</p><ul>");
            for &n in &v.rows {
                let row = &p.rows[n];
                let _ = write!(
                    s,
                    "<li><a href=\"#r{n}\" class=\"mono\">row {n} {}</a> {}</li>",
                    esc(&offset(row.t)),
                    esc(&fit(&row_short(p, row), 140))
                );
            }
            s.push_str("</ul>");
        }
        s.push_str("</div>");
    }
}
