//! Timestamps on the wire: integer Unix milliseconds in storage, but clients
//! send integers, numeric strings and ISO 8601 in several spellings (§1.1
//! `toTimestamp`, §4.6 "since format", D1/D2). Everything is normalised to
//! `i64` milliseconds here, and milliseconds are always kept (fixes D24).
//!
//! Naive date-times without an offset (`2026-01-27 10:00:00`) are read as
//! UTC: the Node server read them in its own local zone, which on the
//! deployed host was UTC.

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2026-01-27T10:00:00.123Z`: the ISO form with milliseconds that every
/// client generation can parse (JS `Date`, RFC 3339 in Rust).
pub fn format_iso(ms: i64) -> String {
    Iso(ms).to_string()
}

/// Displays (and serializes) a millisecond timestamp as ISO 8601 without
/// allocating: list answers write two of these per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iso(pub i64);

impl std::fmt::Display for Iso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days = self.0.div_euclid(86_400_000);
        let rem = self.0.rem_euclid(86_400_000);
        let (y, mo, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            // Outside four-digit years: the general (slow) path.
            let (h, mi, s, milli) = (
                rem / 3_600_000,
                rem / 60_000 % 60,
                rem / 1000 % 60,
                rem % 1000,
            );
            return write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z");
        }
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut v: i64| {
            for i in (0..width).rev() {
                b[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, mo);
        put(8, 2, d);
        put(11, 2, rem / 3_600_000);
        put(14, 2, rem / 60_000 % 60);
        put(17, 2, rem / 1000 % 60);
        put(20, 3, rem % 1000);
        // The buffer holds only ASCII digits and punctuation.
        f.write_str(std::str::from_utf8(&b).map_err(|_| std::fmt::Error)?)
    }
}

impl serde::Serialize for Iso {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let s = self.b.get(self.i..self.i + n)?;
        if !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(s.iter().fold(0i64, |a, c| a * 10 + i64::from(c - b'0')))
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
}

/// Parses ISO 8601 / RFC 3339 date or date-time: `YYYY-MM-DD`, optional
/// `T` or space and `HH:MM[:SS[.fraction]]`, optional `Z` or `±HH[:MM]`.
/// Fractions of any length are truncated to milliseconds.
pub fn parse_iso(s: &str) -> Option<i64> {
    let mut c = Cursor {
        b: s.trim().as_bytes(),
        i: 0,
    };
    let y = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let mo = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    if c.peek().is_none() {
        return Some(ms);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    let mut sec = 0;
    let mut frac_ms = 0;
    if c.eat(b':') {
        sec = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            let start = c.i;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.i += 1;
            }
            let frac = &c.b[start..c.i];
            if frac.is_empty() {
                return None;
            }
            for k in 0..3 {
                frac_ms = frac_ms * 10 + frac.get(k).map_or(0, |b| i64::from(b - b'0'));
            }
        }
    }
    if h > 24 || mi > 59 || sec > 60 {
        return None;
    }
    ms += h * 3_600_000 + mi * 60_000 + sec * 1000 + frac_ms;
    match c.peek() {
        None => {}
        Some(b'Z' | b'z') => c.i += 1,
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            c.eat(b':');
            let om = if c.peek().is_some() { c.digits(2)? } else { 0 };
            let off = (oh * 60 + om) * 60_000;
            ms += if sign == b'+' { -off } else { off };
        }
        Some(_) => return None,
    }
    (c.i == c.b.len()).then_some(ms)
}

/// The `/items/since/:timestamp` path parameter: digits (optionally signed)
/// are milliseconds, anything else must be an ISO date (§1.4). `None` means
/// 400 `Invalid timestamp format`.
pub fn parse_since_param(raw: &str) -> Option<i64> {
    let t = raw.trim();
    let unsigned = t.strip_prefix('-').unwrap_or(t);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<i64>().ok();
    }
    parse_iso(t)
}

/// A JSON value that is present but is not a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a timestamp (Unix ms or ISO 8601)")]
pub struct NotATimestamp;

/// A timestamp inside a JSON body: an integer or float (truncated), a string
/// of digits, or an ISO string. `Ok(None)` for null/absent/`0`-ish "no value";
/// `Err` when the value is present but unreadable.
pub fn from_json(v: &serde_json::Value) -> Result<Option<i64>, NotATimestamp> {
    use serde_json::Value;
    match v {
        Value::Null => Ok(None),
        Value::Bool(false) => Ok(None),
        Value::Number(n) => {
            let ms = n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite())
                        .map(|f| f.trunc() as i64)
                })
                .ok_or(NotATimestamp)?;
            Ok((ms != 0).then_some(ms))
        }
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => {
            let t = s.trim();
            if let Ok(f) = t.parse::<f64>() {
                if f.is_finite() {
                    let ms = f.trunc() as i64;
                    return Ok((ms != 0).then_some(ms));
                }
            }
            parse_iso(t).map(Some).ok_or(NotATimestamp)
        }
        _ => Err(NotATimestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_with_milliseconds() {
        for ms in [
            0,
            1,
            999,
            1_769_559_596_439,
            -1,
            -86_400_001,
            253_402_300_799_999,
        ] {
            assert_eq!(parse_iso(&format_iso(ms)), Some(ms), "{ms}");
        }
        assert_eq!(format_iso(1_769_559_596_439), "2026-01-28T00:19:56.439Z");
    }

    #[test]
    fn iso_spellings_clients_send() {
        let base = 1_769_508_000_000; // 2026-01-27T10:00:00Z
        assert_eq!(parse_iso("2026-01-27T10:00:00Z"), Some(base));
        assert_eq!(parse_iso("2026-01-27T10:00:00.789Z"), Some(base + 789));
        // mobile: RFC 3339 with nanoseconds and +00:00
        assert_eq!(
            parse_iso("2026-01-27T10:00:00.123456789+00:00"),
            Some(base + 123)
        );
        assert_eq!(parse_iso("2026-01-27T12:00:00+02:00"), Some(base));
        assert_eq!(parse_iso("2026-01-27T05:00:00-0500"), Some(base));
        // SQLite's datetime('now') format, read as UTC
        assert_eq!(parse_iso("2026-01-27 10:00:00"), Some(base));
        assert_eq!(parse_iso("2026-01-27"), Some(base - 36_000_000));
        for bad in [
            "abc",
            "2026-13-01",
            "2026-01-27T10",
            "2026-01-27T10:00:00Zjunk",
            "",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn since_param_accepts_ms_and_iso_and_rejects_fractions() {
        assert_eq!(parse_since_param("1769559596439"), Some(1_769_559_596_439));
        assert_eq!(parse_since_param("-1"), Some(-1));
        assert_eq!(
            parse_since_param("2026-01-27T10:00:00.000Z"),
            Some(1_769_508_000_000)
        );
        assert_eq!(parse_since_param("1769559596439.5"), None);
        assert_eq!(parse_since_param("abc"), None);
        assert_eq!(parse_since_param(""), None);
    }

    #[test]
    fn json_timestamps_of_every_generation() {
        use serde_json::json;
        assert_eq!(
            from_json(&json!(1_769_559_596_439_i64)),
            Ok(Some(1_769_559_596_439))
        );
        assert_eq!(
            from_json(&json!(1_769_559_596_439.9)),
            Ok(Some(1_769_559_596_439))
        );
        assert_eq!(
            from_json(&json!("1769559596439.0")),
            Ok(Some(1_769_559_596_439))
        );
        assert_eq!(
            from_json(&json!("2026-01-27T10:00:00.5Z")),
            Ok(Some(1_769_508_000_500))
        );
        assert_eq!(from_json(&json!(null)), Ok(None));
        assert_eq!(from_json(&json!(0)), Ok(None));
        assert_eq!(from_json(&json!("nope")), Err(NotATimestamp));
        assert_eq!(from_json(&json!([1])), Err(NotATimestamp));
    }
}
