//! `peek-sim timeline`: a trace as an SVG picture. Devices and servers are
//! lanes; each request is an arrow from its device to its server (red when
//! a fault hit it or the answer was an error), crashes and partitions are
//! marked on the device lane, server restarts on the server lane.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::session::{AppliedFault, Line, Session};
use crate::trace::TraceEvent;

/// Reads a trace (a session file) and writes the SVG; returns the number
/// of exchanges drawn.
pub fn render_file(trace: &Path, out: &Path) -> Result<usize, String> {
    let session =
        Session::open(trace).map_err(|e| format!("cannot read {}: {e}", trace.display()))?;
    let (svg, n) = render(&session);
    std::fs::write(out, svg).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(n)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG text and the number of exchanges in it. Lanes: the world's
/// devices (or, for a recorded session, each device label in order of
/// appearance), then its servers.
pub fn render(session: &Session) -> (String, usize) {
    let world = session.header.world.clone().unwrap_or(Value::Null);
    let mut names: Vec<String> = world["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str().map(str::to_string))
        .collect();
    for x in session.exchanges() {
        if !names.contains(&x.device) {
            names.push(x.device.clone());
        }
    }
    let devices = names.len();
    let servers = world["servers"].as_u64().unwrap_or(1).max(1) as usize;
    let lanes = devices + servers;
    let lane_x = |i: usize| 120 + i * 160;
    let row = 14;
    let mut body = String::new();
    let mut y = 40;
    let mut n = 0;
    for line in &session.lines {
        let ev = match line {
            Line::Exchange(x) => {
                let dev = names.iter().position(|d| *d == x.device).unwrap_or(0);
                let srv = x
                    .server
                    .as_deref()
                    .and_then(|s| s.trim_start_matches('s').parse::<usize>().ok())
                    .unwrap_or(0)
                    .min(servers - 1);
                let label = format!("{} {}", x.request.method, x.request.path);
                let fault = x.fault.map_or("none", AppliedFault::name);
                let status = x.response.as_ref().map(|r| r.status);
                let bad = x.fault.is_some() || x.error.is_some() || status.is_none_or(|s| s >= 400);
                let color = if bad { "#c0392b" } else { "#2c3e50" };
                let (x1, x2) = (lane_x(dev), lane_x(devices + srv));
                let _ = writeln!(
                    body,
                    r#"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{}" stroke="{color}" marker-end="url(#a)"/><text x="{}" y="{}" font-size="9" fill="{color}">{}{}</text>"#,
                    y + row / 2,
                    x1.min(x2) + 6,
                    y - 2,
                    esc(&label),
                    if bad {
                        format!(
                            " [{fault}{}]",
                            status.map(|s| format!(" {s}")).unwrap_or_default()
                        )
                    } else {
                        String::new()
                    }
                );
                y += row;
                n += 1;
                continue;
            }
            Line::Event(ev) => ev,
            Line::Header(_) => continue,
        };
        match ev {
            TraceEvent::Crash { dev, .. } | TraceEvent::Fault { dev, .. } => {
                let what = match ev {
                    TraceEvent::Fault { fault, .. } => fault.to_string(),
                    _ => "crash".into(),
                };
                let _ = writeln!(
                    body,
                    r##"<text x="{}" y="{y}" font-size="10" fill="#e67e22">✖ {what}</text>"##,
                    lane_x(*dev) - 30
                );
                y += row;
            }
            TraceEvent::ServerRestart { server, .. } => {
                let _ = writeln!(
                    body,
                    r##"<text x="{}" y="{y}" font-size="10" fill="#8e44ad">⟳ restart</text>"##,
                    lane_x(devices + server) - 30
                );
                y += row;
            }
            TraceEvent::Heal { .. } => {
                let _ = writeln!(
                    body,
                    r##"<line x1="0" y1="{y}" x2="{}" y2="{y}" stroke="#27ae60" stroke-dasharray="4"/><text x="4" y="{}" font-size="10" fill="#27ae60">heal</text>"##,
                    lane_x(lanes),
                    y - 2
                );
                y += row;
            }
            TraceEvent::Violation {
                invariant, detail, ..
            } => {
                let _ = writeln!(
                    body,
                    r##"<text x="4" y="{y}" font-size="11" fill="#c0392b">violation: {invariant} — {}</text>"##,
                    esc(detail)
                );
                y += row;
            }
            _ => {}
        }
    }
    let height = y + 20;
    let width = lane_x(lanes) + 40;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace"><defs><marker id="a" markerWidth="6" markerHeight="6" refX="5" refY="3" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#555"/></marker></defs>"##
    );
    let servers_names = (0..servers).map(|s| format!("server s{s}"));
    for (i, name) in names.iter().cloned().chain(servers_names).enumerate() {
        let x = lane_x(i);
        let _ = write!(
            svg,
            r##"<line x1="{x}" y1="30" x2="{x}" y2="{height}" stroke="#bbb"/><text x="{}" y="20" font-size="12">{name}</text>"##,
            x - 20
        );
    }
    svg.push_str(&body);
    svg.push_str("</svg>\n");
    (svg, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_lanes_arrows_and_marks() {
        let text = [
            r#"{"kind":"header","format":"peek-session","version":1,"recorder":{"tool":"peek-sim","version":"0","mode":"sim"},"world":{"devices":[{"name":"d0"},{"name":"d1"}],"servers":1}}"#,
            r#"{"kind":"exchange","seq":0,"device":"d1","server":"s0","request":{"method":"POST","path":"/items/batch"},"response":{"status":200}}"#,
            r#"{"kind":"exchange","seq":1,"device":"d0","server":"s0","request":{"method":"GET","path":"/items/changes","query":"after=0"},"response":{"status":200},"error":"response lost","fault":"response-lost"}"#,
            r#"{"kind":"event","ev":"crash","t":5,"dev":0}"#,
            r#"{"kind":"event","ev":"fault","t":6,"dev":1,"fault":"partition","ms":100}"#,
            r#"{"kind":"event","ev":"violation","invariant":"convergence","detail":"d0 <lacks> x","items":[]}"#,
        ]
        .join("\n");
        let session = Session::read(text.as_bytes()).unwrap();
        let (svg, n) = render(&session);
        assert_eq!(n, 2);
        assert!(svg.contains(">d1<") && svg.contains("server s0"));
        assert!(svg.contains("[response-lost 200]"), "{svg}");
        assert!(svg.contains("&lt;lacks&gt;"));
        assert!(svg.contains("✖ crash") && svg.contains("✖ partition"));
        assert!(svg.contains("violation: convergence"));
    }
}
