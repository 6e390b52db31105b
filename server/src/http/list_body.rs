//! List answers (`GET /items`, `/items/since`, `/items/changes`) written
//! straight into one pre-sized buffer.
//!
//! The bytes are exactly what serde_json made of [`crate::http::wire::ItemOut`]
//! in a list (same keys, same order, same escapes, same numbers; the tests
//! below compare the two on generated items). Going through serde cost a
//! fifth of a 5,000-item answer: a struct per item, `collect_str` and its
//! formatter for every ISO date, and escaping one byte at a time.

use serde_json::value::RawValue;

use crate::store::listing::{ItemView, Listing};
use crate::timestamp::Iso;

/// The fields a list answer may carry after `items`, in this order.
#[derive(Debug, Default)]
pub struct Extras<'a> {
    pub since: Option<&'a str>,
    pub cursor: Option<i64>,
    /// Change feed only: raised by a restore; a client holding a cursor of
    /// another epoch must push everything and read the feed from 0.
    pub epoch: Option<i64>,
    pub next_cursor: Option<Option<String>>,
    pub has_more: Option<bool>,
}

/// The JSON body of a list answer.
pub fn list_json(page: &Listing, extras: &Extras<'_>) -> Vec<u8> {
    // Per item: ~220 bytes of keys, numbers and dates besides its text.
    let mut out = Vec::with_capacity(64 + page.text_len() + page.len() * 240);
    out.extend_from_slice(b"{\"items\":[");
    let mut iso = IsoWriter::new();
    for (i, item) in page.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item_json(&mut out, &mut iso, &item);
    }
    out.push(b']');
    if let Some(s) = extras.since {
        out.extend_from_slice(b",\"since\":");
        string(&mut out, s);
    }
    if let Some(c) = extras.cursor {
        out.extend_from_slice(b",\"cursor\":");
        int(&mut out, c);
    }
    if let Some(e) = extras.epoch {
        out.extend_from_slice(b",\"epoch\":");
        int(&mut out, e);
    }
    if let Some(next) = &extras.next_cursor {
        out.extend_from_slice(b",\"nextCursor\":");
        match next {
            Some(c) => string(&mut out, c),
            None => out.extend_from_slice(b"null"),
        }
    }
    if let Some(more) = extras.has_more {
        out.extend_from_slice(if more {
            b",\"hasMore\":true"
        } else {
            b",\"hasMore\":false"
        });
    }
    out.push(b'}');
    out
}

/// One item as `ItemOut::new(item, true)` serializes it.
fn item_json(out: &mut Vec<u8>, iso: &mut IsoWriter, item: &ItemView<'_>) {
    out.extend_from_slice(b"{\"id\":");
    string(out, item.id());
    out.extend_from_slice(b",\"type\":");
    string(out, item.kind());
    out.extend_from_slice(b",\"content\":");
    match item.content() {
        Some(c) => string(out, c),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"createdAt\":");
    int(out, item.created_at());
    out.extend_from_slice(b",\"updatedAt\":");
    int(out, item.updated_at());
    out.extend_from_slice(b",\"deletedAt\":");
    int(out, item.deleted_at());
    out.extend_from_slice(b",\"tags\":[");
    for (i, t) in item.tags().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, t);
    }
    out.push(b']');
    if let Some(m) = item.metadata() {
        out.extend_from_slice(b",\"metadata\":");
        // Stored JSON goes out as it is stored; anything else as a string.
        match serde_json::from_str::<&RawValue>(m) {
            Ok(raw) => out.extend_from_slice(raw.get().as_bytes()),
            Err(_) => string(out, m),
        }
    }
    out.extend_from_slice(b",\"created_at\":");
    iso.write(out, item.created_at());
    out.extend_from_slice(b",\"updated_at\":");
    iso.write(out, item.updated_at());
    out.extend_from_slice(b",\"deleted_at\":");
    match item.deleted_at() {
        0 => out.extend_from_slice(b"null"),
        d => iso.write(out, d),
    }
    out.extend_from_slice(b",\"version\":");
    int(out, item.version());
    out.extend_from_slice(b",\"editedAt\":");
    let edited = item.edited_at();
    int(
        out,
        if edited > 0 {
            edited
        } else {
            item.updated_at()
        },
    );
    out.extend_from_slice(b",\"syncId\":");
    string(out, item.sync_id());
    out.push(b'}');
}

/// "00" to "99", so that digits are written two at a time.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `v` (< 100) as two digits at `at`.
#[inline]
fn pair(b: &mut [u8], at: usize, v: usize) {
    b[at..at + 2].copy_from_slice(&PAIRS[v * 2..v * 2 + 2]);
}

/// Decimal digits, as serde_json (itoa) writes an `i64`: straight into
/// `out` (a copy from a scratch buffer was a `memcpy` call per number).
fn int(out: &mut Vec<u8>, v: i64) {
    let mut n = v.unsigned_abs();
    let len = n.checked_ilog10().map_or(1, |l| l as usize + 1);
    if v < 0 {
        out.push(b'-');
    }
    let start = out.len();
    out.resize(start + len, b'0');
    let b = &mut out[start..];
    let mut at = len;
    while n >= 100 {
        at -= 2;
        pair(b, at, (n % 100) as usize);
        n /= 100;
    }
    if n >= 10 {
        pair(b, at - 2, n as usize);
    } else {
        b[at - 1] = b'0' + n as u8;
    }
}

/// The ISO string of `Iso(ms)`, quoted. Years 1970–9999 (every real
/// timestamp) are computed here, without a formatter, and the date part
/// is remembered: the items of one answer mostly share a few days. The
/// rest go through `Iso`'s own `Display` (its clamping and signed years).
struct IsoWriter {
    /// Day number and `"YYYY-MM-DDT` of the last date written.
    day: i64,
    date: [u8; 12],
}

impl IsoWriter {
    fn new() -> Self {
        Self {
            day: -1,
            date: [0; 12],
        }
    }

    fn write(&mut self, out: &mut Vec<u8>, ms: i64) {
        // `Iso`'s upper clamp (9999-12-30T22:00:00Z): above it, `Iso` decides.
        const MAX_MS: i64 = 253_402_207_200_000;
        if !(0..=MAX_MS).contains(&ms) {
            use std::io::Write as _;
            out.push(b'"');
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{}", Iso(ms));
            out.push(b'"');
            return;
        }
        let (day, in_day) = (ms / 86_400_000, (ms % 86_400_000) as usize);
        if day != self.day {
            let (y, m, d) = civil_from_days(day);
            let mut b = *b"\"0000-00-00T";
            pair(&mut b, 1, (y / 100) as usize);
            pair(&mut b, 3, (y % 100) as usize);
            pair(&mut b, 6, m as usize);
            pair(&mut b, 9, d as usize);
            self.day = day;
            self.date = b;
        }
        let mut t = *b"00:00:00.000Z\"";
        pair(&mut t, 0, in_day / 3_600_000);
        pair(&mut t, 3, in_day / 60_000 % 60);
        pair(&mut t, 6, in_day / 1000 % 60);
        let milli = in_day % 1000;
        t[9] = b'0' + (milli / 100) as u8;
        pair(&mut t, 10, milli % 100);
        out.extend_from_slice(&self.date);
        out.extend_from_slice(&t);
    }
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (H. Hinnant's `civil_from_days`), for days ≥ 0.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A JSON string with serde_json's escapes: `"` and `\` backslashed, the
/// control characters as `\b \t \n \f \r` or `\u00xx`, nothing else.
fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    // Eight bytes at a time while none of them needs an escape.
    while i + 8 <= bytes.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i..i + 8]);
        if needs_escape(u64::from_le_bytes(w)) {
            break;
        }
        i += 8;
    }
    while i < bytes.len() {
        let b = bytes[i];
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes of `w` is below 0x20, `"` or `\`
/// (exact for "any", the classic has-less and has-zero word tests).
#[inline]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    below_space | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\'))) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::wire::ItemOut;
    use crate::store::items::Item;
    use proptest::prelude::*;
    use serde::Serialize;

    /// What the list answers were before this writer: serde over
    /// `ItemOut`, the reference the bytes are compared with.
    #[derive(Serialize)]
    struct Reference<'a> {
        items: Vec<ItemOut<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        since: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cursor: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        epoch: Option<i64>,
        #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
        next_cursor: Option<Option<String>>,
        #[serde(rename = "hasMore", skip_serializing_if = "Option::is_none")]
        has_more: Option<bool>,
    }

    /// Items written to a real datastore and read back as a `Listing`.
    fn listing(items: &[Item]) -> Listing {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        crate::store::schema::ensure(&c, |_| Ok(())).unwrap();
        for (n, it) in items.iter().enumerate() {
            c.execute(
                "INSERT INTO items (id, type, content, metadata, syncId, createdAt, updatedAt,
                                    deletedAt, changeSeq, editedAt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                rusqlite::params![
                    format!("{n:04}{}", it.id),
                    it.kind,
                    it.content,
                    it.metadata,
                    it.sync_id,
                    it.created_at,
                    it.updated_at,
                    it.deleted_at,
                    it.version,
                    it.edited_at
                ],
            )
            .unwrap();
            for (k, t) in it.tags.iter().enumerate() {
                let tid = format!("{n}-{k}");
                c.execute(
                    "INSERT INTO tags (id, name, lastUsed, createdAt, updatedAt) VALUES (?1, ?2, 0, 0, 0)",
                    rusqlite::params![tid, format!("{t}{n}-{k}")],
                )
                .unwrap();
                c.execute(
                    "INSERT INTO item_tags (itemId, tagId, createdAt) VALUES (?1, ?2, 0)",
                    rusqlite::params![format!("{n:04}{}", it.id), tid],
                )
                .unwrap();
            }
        }
        let sql = format!(
            "SELECT {} FROM items ORDER BY id",
            crate::store::listing::COLS
        );
        let (mut page, _) = Listing::query(&c, &sql, [], None).unwrap();
        page.attach_tags(&c).unwrap();
        // The page reads each row as the single-item path does.
        for v in page.iter() {
            let one = crate::store::items::by_id(&c, v.id()).unwrap().unwrap();
            assert_eq!(one.content.as_deref(), v.content());
            assert_eq!(one.metadata.as_deref(), v.metadata());
            assert_eq!(one.tags, v.tags().collect::<Vec<_>>());
            assert_eq!(
                (
                    one.created_at,
                    one.updated_at,
                    one.deleted_at,
                    one.version,
                    one.edited_at
                ),
                (
                    v.created_at(),
                    v.updated_at(),
                    v.deleted_at(),
                    v.version(),
                    v.edited_at()
                )
            );
            assert_eq!(
                (one.kind.as_str(), one.sync_id.as_str()),
                (v.kind(), v.sync_id())
            );
        }
        page
    }

    fn reference(page: &Listing, extras: &Extras<'_>) -> Vec<u8> {
        let owned: Vec<Item> = page
            .iter()
            .map(|v| Item {
                id: v.id().into(),
                kind: v.kind().into(),
                content: v.content().map(Into::into),
                metadata: v.metadata().map(Into::into),
                sync_id: v.sync_id().into(),
                created_at: v.created_at(),
                updated_at: v.updated_at(),
                deleted_at: v.deleted_at(),
                version: v.version(),
                edited_at: v.edited_at(),
                tags: v.tags().map(Into::into).collect(),
            })
            .collect();
        let r = Reference {
            items: owned.iter().map(|i| ItemOut::new(i, true)).collect(),
            since: extras.since,
            cursor: extras.cursor,
            epoch: extras.epoch,
            next_cursor: extras.next_cursor.clone(),
            has_more: extras.has_more,
        };
        serde_json::to_vec(&r).unwrap()
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z:/.0-9-]{0,40}",
            "\\PC{0,12}",
            any::<String>(),
            proptest::collection::vec(0u8..0x30, 0..20)
                .prop_map(|b| b.into_iter().map(char::from).collect()),
        ]
    }

    fn stamp() -> impl Strategy<Value = i64> {
        prop_oneof![
            0i64..=253_402_300_799_999,
            Just(0i64),
            Just(253_402_207_200_000i64),
            Just(253_402_207_200_001i64),
            any::<i64>(),
            -62_167_219_200_000i64..0,
        ]
    }

    fn item() -> impl Strategy<Value = Item> {
        let meta = prop_oneof![
            Just(None),
            Just(Some("{\"a\":1}".to_string())),
            Just(Some(" [1, 2 ] ".to_string())),
            Just(Some("not json".to_string())),
            Just(Some("\"str\"".to_string())),
            text().prop_map(Some),
        ];
        (
            (
                text(),
                "url|text|tagset|image",
                proptest::option::of(text()),
                meta,
            ),
            (text(), stamp(), stamp(), prop_oneof![Just(0i64), stamp()]),
            (any::<i64>(), prop_oneof![Just(0i64), stamp()]),
            proptest::collection::vec(text(), 0..4),
        )
            .prop_map(
                |((id, kind, content, metadata), (sync_id, c, u, d), (version, e), tags)| Item {
                    id,
                    kind,
                    content,
                    metadata,
                    sync_id,
                    created_at: c,
                    updated_at: u,
                    deleted_at: d,
                    version,
                    edited_at: e,
                    tags,
                },
            )
    }

    type ExtrasIn = (
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<Option<String>>,
        Option<bool>,
    );

    fn extras() -> impl Strategy<Value = ExtrasIn> {
        (
            proptest::option::of(text()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(proptest::option::of(text())),
            proptest::option::of(any::<bool>()),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn lists_are_byte_identical_to_serde(
            items in proptest::collection::vec(item(), 0..5),
            (since, cursor, epoch, next_cursor, has_more) in extras(),
        ) {
            let page = listing(&items);
            let extras = Extras { since: since.as_deref(), cursor, epoch, next_cursor, has_more };
            let ours = list_json(&page, &extras);
            let theirs = reference(&page, &extras);
            prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }

        /// One writer for many dates, as in an answer (the remembered
        /// day must never leak into another date).
        #[test]
        fn iso_dates_match_the_protocol_formatter(
            base in stamp(),
            steps in proptest::collection::vec(prop_oneof![0i64..3_600_000, 0i64..200_000_000, any::<i64>()], 1..8),
        ) {
            let mut w = IsoWriter::new();
            let mut ms = base;
            for step in steps {
                let mut ours = Vec::new();
                w.write(&mut ours, ms);
                prop_assert_eq!(ours, serde_json::to_vec(&Iso(ms)).unwrap(), "{}", ms);
                ms = ms.wrapping_add(step);
            }
        }

        #[test]
        fn strings_and_numbers_match_serde(s in text(), n in any::<i64>()) {
            let mut ours = Vec::new();
            string(&mut ours, &s);
            prop_assert_eq!(&ours, &serde_json::to_vec(&s).unwrap());
            let mut ours = Vec::new();
            int(&mut ours, n);
            prop_assert_eq!(&ours, &serde_json::to_vec(&n).unwrap());
        }
    }

    #[test]
    fn every_byte_escapes_as_serde_does() {
        for b in 0u8..0x80 {
            let s = format!("abcdefgh{}ijklmnop", char::from(b));
            let mut ours = Vec::new();
            string(&mut ours, &s);
            assert_eq!(ours, serde_json::to_vec(&s).unwrap(), "byte {b:#04x}");
        }
        for n in [0, -1, i64::MIN, i64::MAX, 10, 1_769_508_000_123] {
            let mut ours = Vec::new();
            int(&mut ours, n);
            assert_eq!(ours, n.to_string().as_bytes());
        }
    }

    #[test]
    fn calendar_edges_match_the_protocol_formatter() {
        // Leap days, year ends, the last whole-ms of the fast range.
        for ms in [
            0,
            951_782_400_000,     // 2000-02-29
            4_107_542_399_999,   // 2100-02-28T23:59:59.999
            4_107_542_400_000,   // 2100-03-01
            1_709_164_800_000,   // 2024-02-29
            253_402_207_199_999, // just under the clamp
            253_402_207_200_000,
        ] {
            let mut ours = Vec::new();
            IsoWriter::new().write(&mut ours, ms);
            assert_eq!(ours, serde_json::to_vec(&Iso(ms)).unwrap(), "{ms}");
        }
    }
}
