//! `peek-sim timeline`: a trace as an SVG picture. Devices and servers are
//! lanes; each request is an arrow from its device to its server (red when
//! a fault hit it or the answer was an error), crashes and partitions are
//! marked on the device lane, server restarts on the server lane.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

/// Reads a JSON-lines trace and writes the SVG; returns the number of
/// exchanges drawn.
pub fn render_file(trace: &Path, out: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(trace)
        .map_err(|e| format!("cannot read {}: {e}", trace.display()))?;
    let events: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("bad trace line: {e}")))
        .collect::<Result<_, _>>()?;
    let (svg, n) = render(&events);
    std::fs::write(out, svg).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(n)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG text and the number of exchanges in it.
pub fn render(events: &[Value]) -> (String, usize) {
    let devices = events
        .first()
        .and_then(|w| w["config"]["devices"].as_array())
        .map_or(0, Vec::len);
    let servers = events
        .first()
        .and_then(|w| w["config"]["servers"].as_u64())
        .unwrap_or(1) as usize;
    let lanes = devices + servers;
    let lane_x = |i: usize| 120 + i * 160;
    let row = 14;
    let mut body = String::new();
    let mut y = 40;
    let mut n = 0;
    let mut pending: Option<(usize, usize, String, usize)> = None; // dev, server, label, y
    for ev in events {
        match ev["ev"].as_str().unwrap_or_default() {
            "request" => {
                let dev = ev["dev"].as_u64().unwrap_or(0) as usize;
                let srv = ev["server"].as_u64().unwrap_or(0) as usize;
                let path = ev["path"].as_str().unwrap_or_default();
                let label = format!(
                    "{} {}",
                    ev["method"].as_str().unwrap_or_default(),
                    path.split('?').next().unwrap_or(path)
                );
                pending = Some((dev, srv, label, y));
                y += row;
            }
            "response" => {
                if let Some((dev, srv, label, y0)) = pending.take() {
                    let fault = ev["fault"].as_str().unwrap_or("none");
                    let status = ev["status"].as_u64();
                    let bad = fault != "none" || status.is_none_or(|s| s >= 400);
                    let color = if bad { "#c0392b" } else { "#2c3e50" };
                    let (x1, x2) = (lane_x(dev), lane_x(devices + srv));
                    let _ = writeln!(
                        body,
                        r#"<line x1="{x1}" y1="{y0}" x2="{x2}" y2="{}" stroke="{color}" marker-end="url(#a)"/><text x="{}" y="{}" font-size="9" fill="{color}">{}{}</text>"#,
                        y0 + row / 2,
                        x1.min(x2) + 6,
                        y0 - 2,
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
                    n += 1;
                }
            }
            "crash" | "fault" => {
                let dev = ev["dev"].as_u64().unwrap_or(0) as usize;
                let what = ev["fault"].as_str().unwrap_or("crash");
                let _ = writeln!(
                    body,
                    r##"<text x="{}" y="{y}" font-size="10" fill="#e67e22">✖ {what}</text>"##,
                    lane_x(dev) - 30
                );
                y += row;
            }
            "server-restart" => {
                let srv = ev["server"].as_u64().unwrap_or(0) as usize;
                let _ = writeln!(
                    body,
                    r##"<text x="{}" y="{y}" font-size="10" fill="#8e44ad">⟳ restart</text>"##,
                    lane_x(devices + srv) - 30
                );
                y += row;
            }
            "heal" => {
                let _ = writeln!(
                    body,
                    r##"<line x1="0" y1="{y}" x2="{}" y2="{y}" stroke="#27ae60" stroke-dasharray="4"/><text x="4" y="{}" font-size="10" fill="#27ae60">heal</text>"##,
                    lane_x(lanes),
                    y - 2
                );
                y += row;
            }
            "violation" => {
                let _ = writeln!(
                    body,
                    r##"<text x="4" y="{y}" font-size="11" fill="#c0392b">violation: {} — {}</text>"##,
                    esc(ev["invariant"].as_str().unwrap_or_default()),
                    esc(ev["detail"].as_str().unwrap_or_default())
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
    for i in 0..lanes {
        let name = if i < devices {
            format!("d{i}")
        } else {
            format!("server s{}", i - devices)
        };
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
    use serde_json::json;

    #[test]
    fn draws_lanes_arrows_and_marks() {
        let evs = vec![
            json!({"ev":"world","config":{"devices":[{},{}],"servers":1}}),
            json!({"ev":"request","dev":1,"server":0,"method":"Post","path":"/items/batch"}),
            json!({"ev":"response","status":200,"fault":"none"}),
            json!({"ev":"request","dev":0,"server":0,"method":"Get","path":"/items/changes?after=0"}),
            json!({"ev":"response","error":"lost","fault":"response-lost"}),
            json!({"ev":"crash","dev":0}),
            json!({"ev":"violation","invariant":"convergence","detail":"d0 <lacks> x"}),
        ];
        let (svg, n) = render(&evs);
        assert_eq!(n, 2);
        assert!(svg.contains(">d1<") && svg.contains("server s0"));
        assert!(svg.contains("[response-lost]"));
        assert!(svg.contains("&lt;lacks&gt;"));
        assert!(svg.contains("✖ crash"));
    }
}
