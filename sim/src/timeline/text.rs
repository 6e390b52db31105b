//! What the timeline writes about a request or an answer: paths and query
//! strings decoded for people, bodies said in a few words, times as
//! offsets and clock readings. Nothing here reads a clock or a map's
//! order: the same trace gives the same words.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::session::{Body, Req};

/// `%3A` → `:`, `+` left alone (paths never use it for a space). Invalid
/// escapes stay as they are: the text is for reading, not for replay.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A UUID cut to its first 8 digits (`0b5e0000…`): enough to tell two
/// apart in one picture; the full one is in the details.
fn short_uuid(s: &str) -> String {
    let is_uuid = s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        });
    if is_uuid {
        format!("{}…", &s[..8])
    } else {
        s.to_string()
    }
}

/// The request line for the picture: method, decoded path (ids cut
/// short), decoded query without the profile and version noise.
pub fn request_short(r: &Req) -> String {
    let path: Vec<String> = percent_decode(&r.path).split('/').map(short_uuid).collect();
    let mut s = format!("{} {}", r.method, path.join("/"));
    let q: Vec<String> = query_pairs(&r.query)
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "profile" | "slug" | "strictProfile"))
        .map(|(k, v)| format!("{k}={}", short_uuid(&v)))
        .collect();
    if !q.is_empty() {
        s.push_str(" ?");
        s.push_str(&q.join("&"));
    }
    s
}

/// The request line in full, decoded.
pub fn request_full(r: &Req) -> String {
    let mut s = format!("{} {}", r.method, percent_decode(&r.path));
    if !r.query.is_empty() {
        let q: Vec<String> = query_pairs(&r.query)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push('?');
        s.push_str(&q.join("&"));
    }
    s
}

/// A query string as decoded `(key, value)` pairs, in order.
pub fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// The origin of an item object (`metadata.origin`, as JSON or as text).
fn origin_of(item: &Value) -> Option<String> {
    match item.get("metadata")? {
        Value::Object(m) => m.get("origin")?.as_str().map(str::to_string),
        Value::String(s) => crate::workload::origin_in(Some(s)),
        _ => None,
    }
}

/// Every item origin a body names, in order of first mention.
pub fn origins(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(v, &mut |o| {
        if let Some(origin) = origin_of(o) {
            if !out.contains(&origin) {
                out.push(origin);
            }
        }
    });
    out
}

/// Calls `f` on every object in `v`, depth first.
pub fn walk(v: &Value, f: &mut impl FnMut(&Value)) {
    match v {
        Value::Object(m) => {
            f(v);
            for x in m.values() {
                walk(x, f);
            }
        }
        Value::Array(a) => {
            for x in a {
                walk(x, f);
            }
        }
        _ => {}
    }
}

/// `d0-c1, d2-c3 +4 more`.
fn list(names: &[String], most: usize) -> String {
    let mut s = names
        .iter()
        .take(most)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > most {
        s.push_str(&format!(" +{} more", names.len() - most));
    }
    s
}

/// `1 item`, `3 items`.
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A sync's `Display` (`pulled 2, pushed 1, conflicts 0, failed 0`)
/// with the zero counts left out: `pulled 2, pushed 1`.
pub fn sync_summary(s: &str) -> String {
    let parts: Vec<&str> = s
        .split(", ")
        .filter(|p| !p.ends_with(" 0") || p.starts_with("pulled") || p.starts_with("pushed"))
        .collect();
    parts.join(", ")
}

/// One item as a few words: `text d2-c1 "note d2-c1"`, `deleted d0-c3`.
fn item_words(it: &Value) -> String {
    let origin = origin_of(it).unwrap_or_else(|| "?".into());
    let kind = it["type"].as_str().unwrap_or("item");
    let deleted = it
        .get("deletedAt")
        .or_else(|| it.get("deleted_at"))
        .is_some_and(|d| !d.is_null() && d != 0 && d != "0");
    if deleted {
        return format!("tombstone {origin}");
    }
    match it["content"].as_str() {
        Some(c) if kind != "image" => format!("{kind} {origin} “{}”", truncate(c, 24)),
        _ => format!("{kind} {origin}"),
    }
}

/// A request body in a few words.
pub fn request_body(b: &Body) -> String {
    match &b.body {
        Some(v @ Value::Object(m)) => {
            if let Some(items) = m.get("items").and_then(Value::as_array) {
                let names = origins(v);
                format!("push {}: {}", count(items.len(), "item"), list(&names, 3))
            } else if m.contains_key("type") || m.contains_key("content") {
                item_words(v)
            } else {
                keys(m)
            }
        }
        Some(v) => truncate(&v.to_string(), 40),
        None => other_body(b),
    }
}

/// An answer body in a few words: the error, the items and cursor of a
/// pull, the outcome counts of a push.
pub fn response_body(b: &Body) -> String {
    let Some(v) = &b.body else {
        return other_body(b);
    };
    let Value::Object(m) = v else {
        return truncate(&v.to_string(), 40);
    };
    if let Some(e) = m.get("error") {
        let e = e.as_str().map_or_else(|| e.to_string(), str::to_string);
        return match m.get("type").and_then(Value::as_str) {
            Some(t) => format!("{e} ({t})"),
            None => e,
        };
    }
    let mut parts = Vec::new();
    if let Some(items) = m.get("items").and_then(Value::as_array) {
        let names = origins(v);
        let dead = items
            .iter()
            .map(item_words)
            .filter(|w| w.starts_with("tombstone"))
            .count();
        let mut s = count(items.len(), "item");
        if dead > 0 {
            s.push_str(&format!(" ({})", count(dead, "tombstone")));
        }
        if !names.is_empty() {
            s.push_str(&format!(": {}", list(&names, 3)));
        }
        parts.push(s);
    }
    if let Some(results) = m.get("results").and_then(Value::as_array) {
        let mut by: std::collections::BTreeMap<String, usize> = Default::default();
        for r in results {
            *by.entry(r["status"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        let counts: Vec<String> = by.iter().map(|(k, n)| format!("{n} {k}")).collect();
        parts.push(format!(
            "{}: {}",
            count(results.len(), "result"),
            counts.join(", ")
        ));
    }
    for k in ["cursor", "since", "hasMore", "epoch", "status", "version"] {
        if let Some(x) = m.get(k) {
            let x = x.as_str().map_or_else(|| x.to_string(), str::to_string);
            parts.push(format!("{k} {x}"));
        }
    }
    if let Some(f) = m.get("features").and_then(Value::as_array) {
        parts.push(format!("{} features", f.len()));
    }
    if parts.is_empty() {
        keys(m)
    } else {
        parts.join(", ")
    }
}

fn keys(m: &serde_json::Map<String, Value>) -> String {
    let k: Vec<&str> = m.keys().map(String::as_str).collect();
    format!("{{{}}}", truncate(&k.join(", "), 40))
}

fn other_body(b: &Body) -> String {
    if let Some(t) = &b.body_text {
        return truncate(t, 40);
    }
    if let Some(x) = &b.body_base64 {
        return format!("{} bytes", x.len() / 4 * 3);
    }
    String::new()
}

/// Ids of server items named in a body (`id` fields and path segments).
pub fn ids(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(v, &mut |o| {
        if let Some(id) = o.get("id").and_then(Value::as_str) {
            out.insert(id.to_string());
        }
    });
    out
}

/// At most `n` characters, with `…` when cut.
pub fn truncate(s: &str, n: usize) -> String {
    let s = s.replace(['\n', '\t'], " ");
    if s.chars().count() <= n {
        return s;
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// How wide a text is in monospace cells (East Asian wide characters
/// and emoji take two).
pub fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if (c as u32) >= 0x1100 && !('\u{2000}'..='\u{27ff}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

/// At most `cells` monospace cells wide.
pub fn fit(s: &str, cells: usize) -> String {
    if width(s) <= cells {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = width(c.encode_utf8(&mut [0; 4]));
        if w + cw + 1 > cells {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// `+1.229 s`, `+4:03.210` past a minute, `+2 h 05:00.000` past an hour.
pub fn offset(ms: i64) -> String {
    let sign = if ms < 0 { "−" } else { "+" };
    let a = ms.unsigned_abs();
    let (h, m, s, milli) = (a / 3_600_000, a / 60_000 % 60, a / 1000 % 60, a % 1000);
    if a < 60_000 {
        format!("{sign}{s}.{milli:03} s")
    } else if h == 0 {
        format!("{sign}{m}:{s:02}.{milli:03}")
    } else {
        format!("{sign}{h} h {m:02}:{s:02}.{milli:03}")
    }
}

/// A clock difference in words: `+139 ms`, `−2 h 05 min`, `+1 d 3 h`.
pub fn skew(ms: i64) -> String {
    let sign = if ms < 0 { "−" } else { "+" };
    let a = ms.unsigned_abs();
    if a < 1000 {
        format!("{sign}{a} ms")
    } else if a < 60_000 {
        format!("{sign}{:.1} s", a as f64 / 1000.0)
    } else if a < 3_600_000 {
        format!("{sign}{} min {:02} s", a / 60_000, a / 1000 % 60)
    } else if a < 86_400_000 {
        format!("{sign}{} h {:02} min", a / 3_600_000, a / 60_000 % 60)
    } else {
        format!("{sign}{} d {} h", a / 86_400_000, a / 3_600_000 % 24)
    }
}

/// `2026-01-27 10:00:01.228 UTC`.
pub fn instant(ms: i64) -> String {
    let iso = protocol::timestamp::format_iso(ms);
    format!("{} UTC", iso.trim_end_matches('Z').replace('T', " "))
}

/// XML/HTML text escaping (also safe inside attributes).
pub use crate::markup::escape as esc;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_queries_read_decoded() {
        assert_eq!(
            percent_decode("/items/since/2026-01-27T10%3A00%3A00.101Z"),
            "/items/since/2026-01-27T10:00:00.101Z"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        let r = Req::new(
            "GET",
            "/items/changes?after=4&limit=1000&profile=0b5e0000-0000-4000-8000-000000000001&strictProfile=true",
            [],
            b"",
        );
        assert_eq!(request_short(&r), "GET /items/changes ?after=4&limit=1000");
        assert!(request_full(&r).contains("profile=0b5e0000-0000-4000-8000-000000000001"));
        let img = Req::new(
            "GET",
            "/images/d7461098-d5e1-46a4-90af-98de5cdb36df",
            [],
            b"",
        );
        assert_eq!(request_short(&img), "GET /images/d7461098…");
    }

    #[test]
    fn bodies_in_a_few_words() {
        let pull = Body::json_value(&json!({"cursor": 4, "hasMore": false, "items": [
            {"metadata": {"origin": "d0-c1"}, "type": "url", "content": "https://x", "deletedAt": 0},
            {"metadata": {"origin": "d1-c2"}, "type": "text", "deletedAt": 17},
        ]}));
        assert_eq!(
            response_body(&pull),
            "2 items (1 tombstone): d0-c1, d1-c2, cursor 4, hasMore false"
        );
        let err = Body::json_value(&json!({"error": "Version mismatch", "type": "protocol"}));
        assert_eq!(response_body(&err), "Version mismatch (protocol)");
        let push = Body::json_value(
            &json!({"results": [{"status": "created"}, {"status": "unchanged"}, {"status": "created"}]}),
        );
        assert_eq!(response_body(&push), "3 results: 2 created, 1 unchanged");
        let one = Body::json_value(
            &json!({"type": "text", "content": "note d2-c1", "metadata": {"origin": "d2-c1"}}),
        );
        assert_eq!(request_body(&one), "text d2-c1 “note d2-c1”");
    }

    #[test]
    fn times_and_widths() {
        assert_eq!(offset(1229), "+1.229 s");
        assert_eq!(offset(243_210), "+4:03.210");
        assert_eq!(offset(-5), "−0.005 s");
        assert_eq!(skew(139), "+139 ms");
        assert_eq!(skew(-7_500_000), "−2 h 05 min");
        assert_eq!(instant(1_769_508_001_228), "2026-01-27 10:00:01.228 UTC");
        assert_eq!(width("日本a"), 5);
        assert_eq!(
            sync_summary("pulled 0, pushed 1, conflicts 0, failed 2"),
            "pulled 0, pushed 1, failed 2"
        );
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }
}
