//! Reading legacy timestamp and id values (§2.4 step 5, with the D24
//! fixes): the conversions a rebuild and the in-place fix apply to every
//! value.

use rusqlite::types::Value;

use crate::timestamp::parse_iso;

/// How a timestamp value was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Already an integer.
    Same,
    /// Text, real or NULL turned into integer milliseconds.
    Converted,
    /// Not a number or a date: stored as 0.
    Unreadable,
}

/// Reads a stored timestamp as integer milliseconds (D24): integers as they
/// are; reals and numeric text truncated; ISO or SQLite-format text through
/// [`parse_iso`] with milliseconds kept; NULL and empty text as 0 (§2.4
/// step 6: NULL `deletedAt` means live).
pub fn to_millis(v: &Value) -> (i64, Outcome) {
    match v {
        Value::Integer(i) => (*i, Outcome::Same),
        Value::Null => (0, Outcome::Converted),
        Value::Real(f) if f.is_finite() => (f.trunc() as i64, Outcome::Converted),
        Value::Text(s) => {
            let t = s.trim();
            if t.is_empty() {
                return (0, Outcome::Converted);
            }
            if let Ok(i) = t.parse::<i64>() {
                return (i, Outcome::Converted);
            }
            if let Some(f) = t.parse::<f64>().ok().filter(|f| f.is_finite()) {
                return (f.trunc() as i64, Outcome::Converted);
            }
            match parse_iso(t) {
                Some(ms) => (ms, Outcome::Converted),
                None => (0, Outcome::Unreadable),
            }
        }
        Value::Real(_) | Value::Blob(_) => (0, Outcome::Unreadable),
    }
}

/// Ids become TEXT: integer tag ids (the old AUTOINCREMENT) turn into
/// `'1'`, `'2'`… on both sides of the join (§2.4 tags step 2).
pub(super) fn to_id(v: Value) -> Value {
    match v {
        Value::Integer(i) => Value::Text(i.to_string()),
        Value::Real(f) if f.fract() == 0.0 && f.is_finite() => Value::Text((f as i64).to_string()),
        Value::Real(f) => Value::Text(f.to_string()),
        Value::Blob(b) => Value::Text(String::from_utf8_lossy(&b).into_owned()),
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_of_every_legacy_spelling() {
        let t = |s: &str| to_millis(&Value::Text(s.into())).0;
        assert_eq!(t("2026-01-27T10:00:00.789Z"), 1_769_508_000_789);
        assert_eq!(t("2026-01-27 10:00:00"), 1_769_508_000_000);
        assert_eq!(t("1769559596439.0"), 1_769_559_596_439);
        assert_eq!(t(" 42 "), 42);
        assert_eq!(
            to_millis(&Value::Text("junk".into())),
            (0, Outcome::Unreadable)
        );
        assert_eq!(to_millis(&Value::Null), (0, Outcome::Converted));
        assert_eq!(to_millis(&Value::Integer(7)), (7, Outcome::Same));
        assert_eq!(to_millis(&Value::Real(5.9)), (5, Outcome::Converted));
    }

    #[test]
    fn ids_become_text() {
        assert_eq!(to_id(Value::Integer(3)), Value::Text("3".into()));
        assert_eq!(to_id(Value::Real(4.0)), Value::Text("4".into()));
        assert_eq!(to_id(Value::Text("a".into())), Value::Text("a".into()));
        assert_eq!(to_id(Value::Null), Value::Null);
    }
}
