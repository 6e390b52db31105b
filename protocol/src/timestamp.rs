//! Timestamps on the wire: integer Unix milliseconds in storage, but clients
//! send integers, numeric strings and ISO 8601 in several spellings (§1.1
//! `toTimestamp`, §4.6 "since format", D1/D2). Everything is normalised to
//! `i64` milliseconds here, and milliseconds are always kept (fixes D24).
//!
//! Naive date-times without an offset (`2026-01-27 10:00:00`) are read as
//! UTC: the Node server read them in its own local zone, which on the
//! deployed host was UTC.
//!
//! The calendar is jiff's; this module is only the thin layer of spellings
//! (which shapes we accept, what `0` and `null` mean, milliseconds kept).

use jiff::{civil, tz::Offset, Timestamp};

/// `2026-01-27T10:00:00.123Z`: the ISO form with milliseconds that every
/// client generation can parse (JS `Date`, RFC 3339 in Rust).
pub fn format_iso(ms: i64) -> String {
    Iso(ms).to_string()
}

/// Displays (and serializes) a millisecond timestamp as ISO 8601 without
/// allocating: list answers write two of these per item, so the calendar
/// comes from jiff and the digits are written into a fixed buffer (jiff's
/// own `Display` through `format!` took 0.8 µs a call on the bench machine,
/// its civil conversion alone 3 ns).
///
/// jiff's range is the years -9999…9999; a value outside it (only a client
/// sending nonsense gets one) is shown clamped to the range. The integer
/// field of the same answer stays exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iso(pub i64);

/// jiff's range in whole milliseconds (`-009999-01-02T01:59:59Z` to
/// `9999-12-30T22:00:00Z`: its timestamps fit any offset of ±25:59:59).
const MIN_MS: i64 = -377_705_023_201_000;
const MAX_MS: i64 = 253_402_207_200_000;

impl std::fmt::Display for Iso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.clamp(MIN_MS, MAX_MS);
        let ts = Timestamp::from_millisecond(ms).map_err(|_| std::fmt::Error)?;
        let dt = Offset::UTC.to_datetime(ts);
        let year = i64::from(dt.year());
        if year < 0 {
            // Before year 0: the ISO extended form JS `Date` reads.
            return write!(
                f,
                "-{:06}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                -year,
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.millisecond()
            );
        }
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut v: i64| {
            for i in (0..width).rev() {
                b[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, i64::from(dt.month()));
        put(8, 2, i64::from(dt.day()));
        put(11, 2, i64::from(dt.hour()));
        put(14, 2, i64::from(dt.minute()));
        put(17, 2, i64::from(dt.second()));
        put(20, 3, i64::from(dt.millisecond()));
        // The buffer holds only ASCII digits and punctuation.
        f.write_str(std::str::from_utf8(&b).map_err(|_| std::fmt::Error)?)
    }
}

impl serde::Serialize for Iso {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The spellings clients send, before jiff reads them: `YYYY-MM-DD`, then
/// optionally `T`, `t` or a space and at least `HH:MM`. jiff alone would
/// also take an hour without minutes, the basic format (`20260127T10Z`),
/// six-digit years and `[zone]` annotations, which no Peek client sends and
/// the deployed server's answers never carried; accepting them would turn
/// a typo into a wrong time instead of a 400.
fn has_client_shape(s: &[u8]) -> bool {
    let digit = |i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    let date = (0..4).all(digit)
        && s.get(4) == Some(&b'-')
        && (5..7).all(digit)
        && s.get(7) == Some(&b'-')
        && (8..10).all(digit);
    if !date || s.contains(&b'[') {
        return false;
    }
    s.len() == 10
        || (matches!(s.get(10), Some(b'T' | b't' | b' '))
            && (11..13).all(digit)
            && s.get(13) == Some(&b':')
            && (14..16).all(digit))
}

/// jiff reads at most nanoseconds; clients may send more digits (and we
/// keep only milliseconds anyway), so longer fractions are cut to nine.
fn cut_long_fraction(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(dot) = s.find(['.', ',']) else {
        return s.into();
    };
    let digits = s[dot + 1..].bytes().take_while(u8::is_ascii_digit).count();
    if digits <= 9 {
        return s.into();
    }
    format!("{}{}", &s[..dot + 10], &s[dot + 1 + digits..]).into()
}

/// Parses ISO 8601 / RFC 3339 date or date-time: `YYYY-MM-DD`, optional
/// `T` or space and `HH:MM[:SS[.fraction]]`, optional `Z` or `±HH[:MM]`.
/// Fractions of any length are truncated to milliseconds. Without an
/// offset the time is UTC (module docs).
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    if !has_client_shape(s.as_bytes()) {
        return None;
    }
    let s = cut_long_fraction(s);
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    // No offset: a civil date-time or date, read as UTC. jiff's civil
    // parser skips a trailing offset, so only offset-free text gets here
    // (anything with `Z` or `±HH` either parsed above or is malformed).
    if s.get(10..).unwrap_or("").contains(['Z', 'z', '+', '-']) {
        return None;
    }
    let dt = s.parse::<civil::DateTime>().ok()?;
    Some(Offset::UTC.to_timestamp(dt).ok()?.as_millisecond())
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
        for ms in [0, 1, 999, 1_769_559_596_439, -1, -86_400_001, MAX_MS] {
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
    fn shapes_no_client_sends_are_refused_and_long_fractions_cut() {
        let base = 1_769_508_000_000; // 2026-01-27T10:00:00Z
        for bad in [
            "2026-01-27T10Z",
            "20260127T100000Z",
            "+002026-01-27T10:00:00Z",
            "2026-01-27T10:00:00Z[UTC]",
            "2026-01-27T10:00:00+02:00junk",
            "2026-01-27 10:00:00-",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
        assert_eq!(parse_iso("2026-01-27t10:00:00z"), Some(base));
        assert_eq!(parse_iso("2026-01-27T10:00:00,25Z"), Some(base + 250));
        assert_eq!(parse_iso("2026-01-27T10:00Z"), Some(base));
        assert_eq!(
            parse_iso("2026-01-27T10:00:00.123456789012Z"),
            Some(base + 123)
        );
    }

    #[test]
    fn out_of_range_values_format_clamped_and_early_years_extended() {
        assert_eq!(format_iso(i64::MAX), "9999-12-30T22:00:00.000Z");
        assert!(Timestamp::from_millisecond(MIN_MS - 1).is_err());
        assert!(Timestamp::from_millisecond(MAX_MS + 1).is_err());
        assert!(format_iso(i64::MIN).starts_with("-009999-"));
        assert_eq!(
            format_iso(-62_198_755_200_000),
            "-000001-01-01T00:00:00.000Z"
        );
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
