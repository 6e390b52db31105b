//! Lays a [`Picture`] out: one vertical lane per device and per server,
//! rows down the page in trace order with their true time on the left.
//! Every label stays inside its own column (a device's marks between its
//! lane and the next, every exchange's words in the "wire" between the
//! last device and the first server, which every arrow crosses), cut to
//! fit with the full text in a tooltip and in the details table.

use std::fmt::Write as _;

use super::model::{Arrow, Picture, Row, RowKind};
use super::text::{esc, fit, instant, offset};
use crate::session::AppliedFault;

const AXIS: f64 = 104.0;
const DEV_GAP: f64 = 180.0;
const WIRE: f64 = 400.0;
const SRV_GAP: f64 = 180.0;
const RIGHT: f64 = 180.0;
const BADGE: f64 = 120.0;
/// Width of one monospace cell at the labels' 11 px.
const CELL: f64 = 6.7;
const EX_H: f64 = 46.0;
const MARK_H: f64 = 20.0;

/// Where things go, for one picture.
pub struct Layout<'a> {
    pub p: &'a Picture,
}

impl Layout<'_> {
    fn lane_x(&self, i: usize) -> f64 {
        let d = self.p.devices;
        if i < d {
            AXIS + 36.0 + i as f64 * DEV_GAP
        } else {
            self.wire_start() + WIRE + (i - d) as f64 * SRV_GAP
        }
    }

    /// The x of the last device lane: the wire starts there.
    fn wire_start(&self) -> f64 {
        AXIS + 36.0 + self.p.devices.saturating_sub(1) as f64 * DEV_GAP
    }

    fn badge_x(&self) -> f64 {
        self.lane_x(self.p.lanes.len().saturating_sub(1)) + RIGHT
    }

    pub fn width(&self) -> f64 {
        self.badge_x() + BADGE
    }

    /// How many cells a mark's label has right of lane `i`.
    fn room(&self, i: usize) -> usize {
        let d = self.p.devices;
        let px = if i + 1 < d {
            DEV_GAP - 18.0
        } else if i >= d && i + 1 < self.p.lanes.len() {
            SRV_GAP - 18.0
        } else if i + 1 == d {
            WIRE - 18.0
        } else {
            RIGHT - 14.0
        };
        (px / CELL) as usize
    }

    fn wire_cells(&self) -> usize {
        ((WIRE - 24.0) / CELL) as usize
    }

    fn row_h(row: &Row) -> f64 {
        match row.kind {
            RowKind::Exchange(_) => EX_H,
            _ => MARK_H,
        }
    }

    /// The lane names and notes, as their own SVG (the sticky head of the
    /// page, the top of a lone SVG).
    pub fn head(&self, out: &mut String, y: f64) {
        for (i, lane) in self.p.lanes.iter().enumerate() {
            let x = self.lane_x(i);
            let _ = write!(
                out,
                r#"<text class="lane-name" x="{x}" y="{}" text-anchor="middle">{}</text>"#,
                y + 14.0,
                esc(&lane.name)
            );
            let cells = ((DEV_GAP - 8.0) / 6.0) as usize;
            for (k, note) in lane.note.lines().enumerate() {
                let _ = write!(
                    out,
                    r#"<text class="lane-note" x="{x}" y="{}" text-anchor="middle">{}<title>{}</title></text>"#,
                    y + 27.0 + 12.0 * k as f64,
                    esc(&fit(note, cells)),
                    esc(note)
                );
            }
        }
        let _ = write!(
            out,
            r#"<text class="lane-note" x="{}" y="{}" text-anchor="end">true time</text><text class="lane-note" x="{}" y="{}">violation</text>"#,
            AXIS - 8.0,
            y + 14.0,
            self.badge_x() + 4.0,
            y + 14.0
        );
    }

    pub const HEAD_H: f64 = 48.0;

    /// The height of rows `range`.
    pub fn height(&self, range: std::ops::Range<usize>) -> f64 {
        self.p.rows[range].iter().map(Self::row_h).sum::<f64>() + 8.0
    }

    /// Draws rows `range` from `y0` down.
    pub fn rows(&self, out: &mut String, range: std::ops::Range<usize>, y0: f64) {
        let p = self.p;
        let lanes = p.lanes.len();
        let bottom = y0 + self.height(range.clone());
        // Lanes first, underneath: each lane as runs of plain or cut off.
        for lane in 0..lanes {
            let x = self.lane_x(lane);
            let mut y = y0;
            let mut run: Option<(bool, f64)> = None;
            for row in &p.rows[range.clone()] {
                let cut = row.partitioned.contains(&lane);
                match run {
                    Some((c, _)) if c == cut => {}
                    Some((c, from)) => {
                        lane_line(out, x, from, y, c);
                        run = Some((cut, y));
                    }
                    None => run = Some((cut, y)),
                }
                y += Self::row_h(row);
            }
            if let Some((c, from)) = run {
                lane_line(out, x, from, bottom, c);
            }
        }
        let mut y = y0;
        let mut last_label: Option<i64> = None;
        for n in range {
            let row = &p.rows[n];
            let h = Self::row_h(row);
            let _ = write!(out, r#"<g id="r{n}">"#);
            if let RowKind::Exchange(a) = &row.kind {
                let _ = write!(out, "<title>{}</title>", esc(&a.full));
            }
            if !row.items.is_empty() {
                let items: Vec<&str> = row.items.iter().map(String::as_str).collect();
                let all = items.join(", ");
                let _ = write!(
                    out,
                    r##"<rect class="hitrow" x="{}" y="{}" width="{}" height="{h}"/><a href="#violations"><text class="badge" x="{}" y="{}">{}<title>touches {}</title></text></a>"##,
                    AXIS - 100.0,
                    y,
                    self.width() - AXIS + 100.0,
                    self.badge_x() + 4.0,
                    y + 14.0,
                    esc(&fit(&format!("⚠ {all}"), ((BADGE - 8.0) / CELL) as usize)),
                    esc(&all)
                );
            }
            // The tick is where the row happens: a mark's centre, a
            // request's start.
            let ty = match row.kind {
                RowKind::Exchange(_) => y + 14.0,
                _ => y + 10.0,
            };
            if last_label != Some(row.t) {
                let _ = write!(
                    out,
                    r#"<line class="tick" x1="{}" y1="{ty}" x2="{}" y2="{ty}"/><text class="time" x="{}" y="{}" text-anchor="end">{}</text>"#,
                    AXIS - 4.0,
                    AXIS + 8.0,
                    AXIS - 8.0,
                    ty + 4.0,
                    esc(&offset(row.t))
                );
                last_label = Some(row.t);
            }
            match &row.kind {
                RowKind::Exchange(a) => self.arrow(out, a, y),
                RowKind::Mark { lane, mark, text } => {
                    let x = self.lane_x(*lane);
                    let cells = self.room(*lane);
                    let _ = write!(
                        out,
                        r#"<circle class="dot" cx="{x}" cy="{}" r="7"/><text class="sym {c}" x="{x}" y="{}" text-anchor="middle">{s}</text><text class="mark {c}" x="{}" y="{}">{}<title>{}</title></text>"#,
                        y + 10.0,
                        y + 14.0,
                        x + 10.0,
                        y + 14.0,
                        esc(&fit(text, cells)),
                        esc(text),
                        c = mark.class(),
                        s = mark.symbol(),
                    );
                }
                RowKind::Across { text } => {
                    let _ = write!(
                        out,
                        r#"<line class="across" x1="{AXIS}" y1="{}" x2="{}" y2="{}"/><text class="mark heal" x="{}" y="{}">{}<title>{}</title></text>"#,
                        y + 16.0,
                        self.badge_x(),
                        y + 16.0,
                        AXIS + 12.0,
                        y + 12.0,
                        esc(&fit(text, ((self.badge_x() - AXIS - 20.0) / CELL) as usize)),
                        esc(text)
                    );
                }
            }
            out.push_str("</g>\n");
            y += h;
        }
    }

    fn arrow(&self, out: &mut String, a: &Arrow, y: f64) {
        let dx = self.lane_x(a.dev);
        let sx = self.lane_x(a.srv);
        let dir = if sx >= dx { 1.0 } else { -1.0 };
        let (r0, r1, s0, s1) = (y + 14.0, y + 22.0, y + 26.0, y + 34.0);
        let class = if a.fault.is_some() {
            "x-fault"
        } else if a.bad() {
            "x-bad"
        } else {
            "x-ok"
        };
        let at = |x0: f64, y0: f64, x1: f64, y1: f64, x: f64| y0 + (y1 - y0) * (x - x0) / (x1 - x0);
        let wire_mid = self.wire_start() + WIRE * 0.55;
        // The request: to the server, or to where it was lost.
        let end = match a.fault {
            Some(AppliedFault::Partitioned) => Some(dx + dir * 22.0),
            Some(AppliedFault::RequestLost) => Some(wire_mid),
            Some(AppliedFault::ServerError) => Some(sx - dir * 26.0),
            _ => None,
        };
        match end {
            Some(ex) => {
                let ey = at(dx, r0, sx, r1, ex);
                let _ = write!(
                    out,
                    r#"<line class="req {class}" x1="{dx}" y1="{r0}" x2="{ex}" y2="{ey}"/>"#
                );
                if a.fault != Some(AppliedFault::ServerError) {
                    cross(out, ex, ey);
                }
            }
            None => {
                let _ = write!(
                    out,
                    r#"<line class="req {class}" x1="{dx}" y1="{r0}" x2="{sx}" y2="{r1}" marker-end="url(#ah-{class})"/>"#
                );
                if a.delivered > 1 {
                    let _ = write!(
                        out,
                        r#"<line class="req dup {class}" x1="{dx}" y1="{}" x2="{sx}" y2="{}" marker-end="url(#ah-{class})"/>"#,
                        r0 + 3.0,
                        r1 + 3.0
                    );
                }
            }
        }
        // The answer: back to the device, from the proxy, or lost.
        match a.fault {
            Some(AppliedFault::Partitioned | AppliedFault::RequestLost) => {}
            Some(AppliedFault::ServerError) => {
                let px = sx - dir * 26.0;
                let _ = write!(
                    out,
                    r#"<line class="resp {class}" x1="{px}" y1="{s0}" x2="{dx}" y2="{s1}" marker-end="url(#ah-{class})"/>"#
                );
            }
            Some(AppliedFault::ResponseLost) => {
                let ey = at(sx, s0, dx, s1, wire_mid);
                let _ = write!(
                    out,
                    r#"<line class="resp {class}" x1="{sx}" y1="{s0}" x2="{wire_mid}" y2="{ey}"/>"#
                );
                cross(out, wire_mid, ey);
            }
            _ if a.status.is_none() => {
                let ey = at(sx, s0, dx, s1, wire_mid);
                let _ = write!(
                    out,
                    r#"<line class="resp {class}" x1="{sx}" y1="{s0}" x2="{wire_mid}" y2="{ey}"/>"#
                );
                cross(out, wire_mid, ey);
            }
            _ => {
                let _ = write!(
                    out,
                    r#"<line class="resp {class}" x1="{sx}" y1="{s0}" x2="{dx}" y2="{s1}" marker-end="url(#ah-{class})"/>"#
                );
            }
        }
        let cells = self.wire_cells();
        let mut req = format!("#{} {}", a.seq, a.request);
        if !a.request_body.is_empty() {
            req.push_str(&format!(" · {}", a.request_body));
        }
        if a.delivered > 1 {
            req.push_str(" · delivered twice");
        }
        let resp = a.response_label();
        let status_class = match a.status {
            Some(s) if s < 400 && a.fault.is_none() => "ok",
            _ => "bad",
        };
        let tx = self.wire_start() + 12.0;
        let _ = write!(
            out,
            r#"<text class="label" x="{tx}" y="{}">{}</text><text class="label status-{status_class}" x="{tx}" y="{}">{}</text>"#,
            y + 11.0,
            esc(&fit(&req, cells)),
            y + 43.0,
            esc(&fit(&resp, cells))
        );
    }
}

fn lane_line(out: &mut String, x: f64, y0: f64, y1: f64, cut: bool) {
    let class = if cut { "lane cut" } else { "lane" };
    let _ = write!(
        out,
        r#"<line class="{class}" x1="{x}" y1="{y0}" x2="{x}" y2="{y1}"/>"#
    );
}

fn cross(out: &mut String, x: f64, y: f64) {
    let _ = write!(
        out,
        r#"<path class="cross" d="M{} {} L{} {} M{} {} L{} {}"/>"#,
        x - 5.0,
        y - 5.0,
        x + 5.0,
        y + 5.0,
        x - 5.0,
        y + 5.0,
        x + 5.0,
        y - 5.0
    );
}

/// The styles of the picture, shared by the page and the lone SVG.
pub const SVG_STYLE: &str = "
text{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:11px}
.label,.mark,.time,.badge{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.lane-name{font-size:13px;font-weight:bold}
.lane-note{font-size:10px;fill:#555}
.lane{stroke:#9aa3ad;stroke-width:1.5}
.lane.cut{stroke:#d35400;stroke-width:2.5;stroke-dasharray:3 3}
.tick{stroke:#9aa3ad}
.time{fill:#333;font-size:10.5px}
.req,.resp{stroke-width:1.4;fill:none}
.x-ok{stroke:#1f4e79}
.x-bad{stroke:#b3261e}
.x-fault{stroke:#d35400;stroke-dasharray:6 3}
.dup{stroke-dasharray:2 2}
.resp{stroke-opacity:.85}
.cross{stroke:#d35400;stroke-width:2.5}
.status-ok{fill:#1f4e79}
.status-bad{fill:#b3261e;font-weight:bold}
.dot{fill:#fff}
.sym{font-size:12px}
.m-op{fill:#1a7f37}
.m-sync{fill:#555}
.m-err{fill:#b3261e}
.m-fault{fill:#d35400;font-weight:bold}
.m-clock{fill:#6f42c1;font-weight:bold}
.m-note{fill:#555}
.across{stroke:#1a7f37;stroke-dasharray:5 4}
.heal{fill:#1a7f37}
rect.hitrow{fill:#ffe58a;fill-opacity:.55}
.badge{fill:#8a5300;font-weight:bold}
";

/// The arrow heads, defined once per document.
pub fn markers(out: &mut String) {
    for (class, colour) in [
        ("x-ok", "#1f4e79"),
        ("x-bad", "#b3261e"),
        ("x-fault", "#d35400"),
    ] {
        let _ = write!(
            out,
            r#"<marker id="ah-{class}" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto" markerUnits="userSpaceOnUse"><path d="M0,0 L8,4 L0,8 z" fill="{colour}"/></marker>"#
        );
    }
}

/// The picture as one SVG: head, every row, violations written below.
pub fn svg(p: &Picture) -> String {
    let l = Layout { p };
    let rows_h = l.height(0..p.rows.len());
    let mut foot = Vec::new();
    for (i, v) in p.violations.iter().enumerate() {
        foot.push(format!(
            "✖ violation {}: {} — items {}",
            i + 1,
            v.invariant,
            v.items.join(", ")
        ));
        let cells = ((l.width() - 40.0) / CELL) as usize;
        let chars: Vec<char> = v.detail.chars().collect();
        for chunk in chars.chunks(cells.max(20)) {
            foot.push(format!("    {}", chunk.iter().collect::<String>()));
        }
    }
    let title_h = 40.0;
    let height = title_h + Layout::HEAD_H + rows_h + 16.0 * foot.len() as f64 + 24.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}"><style>{SVG_STYLE}</style><defs>"#,
        w = l.width()
    );
    markers(&mut s);
    let _ = write!(
        s,
        r##"</defs><rect width="100%" height="100%" fill="#fff"/><text x="8" y="18" class="lane-name">{}</text><text x="8" y="33" class="lane-note">{}</text>"##,
        esc(&format!("Timeline: {}", p.title)),
        esc(&format!(
            "{} exchanges; true time since {}",
            p.exchanges,
            instant(p.epoch)
        ))
    );
    l.head(&mut s, title_h);
    l.rows(&mut s, 0..p.rows.len(), title_h + Layout::HEAD_H);
    let mut y = title_h + Layout::HEAD_H + rows_h + 16.0;
    for line in foot {
        let _ = write!(
            s,
            r#"<text class="status-bad" x="8" y="{y}" xml:space="preserve">{}</text>"#,
            esc(&line)
        );
        y += 16.0;
    }
    s.push_str("</svg>\n");
    s
}
