//! Semantic comparison of two answers to the same request: same status,
//! same keys, the same items and tags as sets; server-chosen ids may differ
//! (they are mapped, consistently, across the whole session) and time
//! stamps may differ in value but not in kind (an ISO string where the
//! recording had milliseconds is a divergence: that is D1).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Body, Resp};

/// Recorded server ids → the ids the replay target chose for the same rows.
#[derive(Debug, Default, Clone)]
pub struct IdMap {
    fwd: BTreeMap<String, String>,
}

impl IdMap {
    pub fn get(&self, recorded: &str) -> Option<&str> {
        self.fwd.get(recorded).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.fwd.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fwd.is_empty()
    }

    /// Learns `recorded → actual`; false if `recorded` already maps to
    /// something else.
    pub fn learn(&mut self, recorded: &str, actual: &str) -> bool {
        match self.fwd.get(recorded) {
            Some(a) => a == actual,
            None => {
                self.fwd.insert(recorded.to_string(), actual.to_string());
                true
            }
        }
    }

    /// `text` with every recorded id replaced by its mapped id. Ids are
    /// found as whole tokens (runs of letters, digits, `-` and `_`, eight
    /// characters or more, so small numbers are never touched), each looked
    /// up once: linear in the text, whatever the number of known ids.
    pub fn rewrite(&self, text: &str) -> String {
        if self.fwd.is_empty() || text.len() < 8 {
            return text.to_string();
        }
        let is_tok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let mut out = String::with_capacity(text.len());
        let mut start = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            match (is_tok(c) && i < text.len(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    let tok = &text[s..i];
                    match self.fwd.get(tok).filter(|_| tok.len() >= 8) {
                        Some(to) => out.push_str(to),
                        None => out.push_str(tok),
                    }
                    start = None;
                    if i < text.len() {
                        out.push(c);
                    }
                }
                (false, None) if i < text.len() => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// A JSON value with recorded ids replaced in every string.
    pub fn rewrite_value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.rewrite(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.rewrite_value(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.rewrite_value(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// One difference between a recorded and a replayed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Where: `status`, or a JSON path such as `$.items[2].content`.
    pub at: String,
    pub recorded: String,
    pub actual: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: recorded {}, got {}",
            self.at, self.recorded, self.actual
        )
    }
}

/// Keys whose values are server-chosen row ids.
fn is_id_key(k: &str) -> bool {
    matches!(k, "id" | "itemId" | "item_id" | "profileId" | "profile_id")
}

/// Keys whose values are time stamps.
fn is_time_key(k: &str) -> bool {
    let l = k.to_ascii_lowercase();
    l.ends_with("at") && (l.ends_with("_at") || k.ends_with("At"))
        || matches!(
            l.as_str(),
            "timestamp" | "time" | "servertime" | "lastsynctime" | "since"
        )
}

/// The kind of a time stamp, which must match: absent/zero, ms, ISO text.
fn time_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Number(n) if n.as_f64() == Some(0.0) => "0",
        Value::Number(_) => "ms",
        Value::String(s) if s.is_empty() => "\"\"",
        Value::String(_) => "ISO text",
        Value::Bool(_) => "bool",
        Value::Array(_) | Value::Object(_) => "structure",
    }
}

fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 120 {
        return s;
    }
    let head: String = s.chars().take(100).collect();
    format!("{head}… ({} chars)", s.chars().count())
}

/// A value with ids and time stamps blanked: what two copies of the same
/// row have in common, used to pair up array elements.
fn signature(v: &Value) -> String {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        let x = if is_id_key(k) {
                            Value::Null
                        } else if is_time_key(k) {
                            Value::from(time_kind(x))
                        } else {
                            strip(x)
                        };
                        (k.clone(), x)
                    })
                    .collect(),
            ),
            Value::Array(a) => {
                let mut items: Vec<String> = a.iter().map(|x| strip(x).to_string()).collect();
                items.sort();
                Value::from(items)
            }
            other => other.clone(),
        }
    }
    strip(v).to_string()
}

/// Compares two values, learning ids on the way.
pub fn compare_values(
    at: &str,
    rec: &Value,
    act: &Value,
    ids: &mut IdMap,
    out: &mut Vec<Divergence>,
) {
    let diverge = |out: &mut Vec<Divergence>, r: String, a: String| {
        out.push(Divergence {
            at: at.to_string(),
            recorded: r,
            actual: a,
        })
    };
    match (rec, act) {
        (Value::Object(r), Value::Object(a)) => {
            for k in r.keys().filter(|k| !a.contains_key(*k)) {
                diverge(out, format!("key {k:?}"), "no such key".into());
            }
            for k in a.keys().filter(|k| !r.contains_key(*k)) {
                diverge(out, "no such key".into(), format!("key {k:?}"));
            }
            for (k, rv) in r {
                let Some(av) = a.get(k) else { continue };
                let here = format!("{at}.{k}");
                if is_id_key(k) {
                    if let (Value::String(rs), Value::String(as_)) = (rv, av) {
                        if !ids.learn(rs, as_) {
                            out.push(Divergence {
                                at: here,
                                recorded: format!(
                                    "{rs} (seen before as {})",
                                    ids.get(rs).unwrap_or("?")
                                ),
                                actual: as_.clone(),
                            });
                        }
                        continue;
                    }
                }
                // A feed epoch names a history (where a datastore began,
                // raised by each restore): opaque like an id, so mapped.
                if k == "epoch" {
                    if let (Some(re), Some(ae)) = (rv.as_i64(), av.as_i64()) {
                        let (re, ae) = (format!("epoch {re}"), format!("epoch {ae}"));
                        if !ids.learn(&re, &ae) {
                            out.push(Divergence {
                                at: here,
                                recorded: format!(
                                    "{re} (seen before as {})",
                                    ids.get(&re).unwrap_or("?")
                                ),
                                actual: ae,
                            });
                        }
                        continue;
                    }
                }
                if is_time_key(k) {
                    if time_kind(rv) != time_kind(av) {
                        out.push(Divergence {
                            at: here,
                            recorded: format!("{} ({})", brief(rv), time_kind(rv)),
                            actual: format!("{} ({})", brief(av), time_kind(av)),
                        });
                    }
                    continue;
                }
                compare_values(&here, rv, av, ids, out);
            }
        }
        (Value::Array(r), Value::Array(a)) => {
            // As sets: pair elements by what they hold, not by position.
            let mut rs: Vec<(String, &Value)> = r.iter().map(|v| (signature(v), v)).collect();
            let mut as_: Vec<(String, &Value)> = a.iter().map(|v| (signature(v), v)).collect();
            rs.sort_by(|x, y| x.0.cmp(&y.0));
            as_.sort_by(|x, y| x.0.cmp(&y.0));
            if r.len() != a.len() {
                diverge(
                    out,
                    format!("{} elements", r.len()),
                    format!("{} elements", a.len()),
                );
            }
            let (mut i, mut j) = (0, 0);
            while i < rs.len() && j < as_.len() {
                match rs[i].0.cmp(&as_[j].0) {
                    std::cmp::Ordering::Equal => {
                        compare_values(&format!("{at}[{i}]"), rs[i].1, as_[j].1, ids, out);
                        i += 1;
                        j += 1;
                    }
                    _ if r.len() == a.len() => {
                        // Same count, different content: compare in sorted
                        // order so the report points at the field.
                        compare_values(&format!("{at}[{i}]"), rs[i].1, as_[j].1, ids, out);
                        i += 1;
                        j += 1;
                    }
                    std::cmp::Ordering::Less => {
                        diverge(out, format!("{} ", brief(rs[i].1)), "missing".into());
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        diverge(out, "missing".into(), brief(as_[j].1));
                        j += 1;
                    }
                }
            }
            for (_, v) in &rs[i..] {
                diverge(out, brief(v), "missing".into());
            }
            for (_, v) in &as_[j..] {
                diverge(out, "missing".into(), brief(v));
            }
        }
        (r, a) if r == a => {}
        (r, a) => diverge(out, brief(r), brief(a)),
    }
}

/// Compares two message bodies (JSON semantically, anything else exactly).
pub fn compare_bodies(at: &str, rec: &Body, act: &Body, ids: &mut IdMap) -> Vec<Divergence> {
    let mut out = Vec::new();
    match (rec.json(), act.json()) {
        (Some(r), Some(a)) => compare_values(at, &r, &a, ids, &mut out),
        _ if rec == act => {}
        _ => out.push(Divergence {
            at: at.to_string(),
            recorded: body_brief(rec),
            actual: body_brief(act),
        }),
    }
    out
}

fn body_brief(b: &Body) -> String {
    if let Some(v) = b.json() {
        return brief(&v);
    }
    if let Some(t) = &b.body_text {
        return brief(&Value::from(t.as_str()));
    }
    match &b.body_base64 {
        Some(x) => format!("{} bytes (base64)", x.len() * 3 / 4),
        None => "empty".into(),
    }
}

/// Compares a replayed response with the recorded one.
pub fn compare_responses(rec: &Resp, act: &Resp, ids: &mut IdMap) -> Vec<Divergence> {
    let mut out = Vec::new();
    if rec.status != act.status {
        out.push(Divergence {
            at: "status".into(),
            recorded: rec.status.to_string(),
            actual: act.status.to_string(),
        });
    }
    out.extend(compare_bodies("$", &rec.body, &act.body, ids));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diff(r: Value, a: Value, ids: &mut IdMap) -> Vec<String> {
        let mut out = Vec::new();
        compare_values("$", &r, &a, ids, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn ids_map_times_keep_their_kind_items_are_sets() {
        let mut ids = IdMap::default();
        let rec = json!({"items": [
            {"id": "aaaaaaaa-1", "content": "x", "tags": ["b", "a"], "createdAt": 5, "deletedAt": 0},
            {"id": "aaaaaaaa-2", "content": "y", "tags": [], "createdAt": 6, "deletedAt": 0},
        ]});
        let act = json!({"items": [
            {"id": "bbbbbbbb-2", "content": "y", "tags": [], "createdAt": 9, "deletedAt": 0},
            {"id": "bbbbbbbb-1", "content": "x", "tags": ["a", "b"], "createdAt": 8, "deletedAt": 0},
        ]});
        assert!(diff(rec.clone(), act.clone(), &mut ids).is_empty());
        assert_eq!(ids.get("aaaaaaaa-1"), Some("bbbbbbbb-1"));
        assert_eq!(
            ids.rewrite("/items/aaaaaaaa-2/tags"),
            "/items/bbbbbbbb-2/tags"
        );
        assert_eq!(ids.rewrite("aaaaaaaa-1"), "bbbbbbbb-1");
        // Only whole ids: a longer token that contains one is left alone.
        assert_eq!(
            ids.rewrite("xaaaaaaaa-1 ü aaaaaaaa-1?"),
            "xaaaaaaaa-1 ü bbbbbbbb-1?"
        );
        // A mapped id that comes back as another row is a divergence.
        let swapped = json!({"item": {"id": "bbbbbbbb-2", "content": "x", "tags": ["a","b"], "createdAt": 1, "deletedAt": 0}});
        let orig = json!({"item": {"id": "aaaaaaaa-1", "content": "x", "tags": ["a","b"], "createdAt": 1, "deletedAt": 0}});
        assert_eq!(diff(orig, swapped, &mut ids).len(), 1);
        // D1: milliseconds recorded, ISO text served.
        let d = diff(
            json!({"updatedAt": 5}),
            json!({"updatedAt": "2026-01-01T00:00:00Z"}),
            &mut ids,
        );
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("ms") && d[0].contains("ISO"), "{d:?}");
        // A deleted item is not a live one.
        assert_eq!(
            diff(json!({"deletedAt": 0}), json!({"deletedAt": 7}), &mut ids).len(),
            1
        );
    }

    #[test]
    fn missing_keys_extra_items_and_values_are_reported_where_they_are() {
        let mut ids = IdMap::default();
        let d = diff(
            json!({"a": 1, "b": {"c": "x"}, "list": [1, 2]}),
            json!({"a": 1, "b": {"c": "y"}, "extra": true, "list": [1, 2, 3]}),
            &mut ids,
        );
        assert!(
            d.iter()
                .any(|x| x.starts_with("$.b.c: recorded \"x\", got \"y\"")),
            "{d:?}"
        );
        assert!(d.iter().any(|x| x.contains("key \"extra\"")), "{d:?}");
        assert!(
            d.iter()
                .any(|x| x.contains("2 elements") && x.contains("3 elements")),
            "{d:?}"
        );
        assert!(d.iter().any(|x| x.contains("got 3")), "{d:?}");
    }

    #[test]
    fn status_and_non_json_bodies_compare_exactly() {
        let mut ids = IdMap::default();
        let a = Resp::new(200, [], b"ok");
        let b = Resp::new(404, [], b"Not Found");
        let d = compare_responses(&a, &b, &mut ids);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].at, "status");
        assert!(compare_responses(&a, &a.clone(), &mut ids).is_empty());
    }
}
