//! D-numbers: which of the original's documented bugs a cell names, and
//! each one's title as `docs/original-system.md` gives it (the account is
//! compiled in, so a report read on paper names the bug, not only its
//! number, and a link points at its `#dN` anchor).

use std::collections::BTreeMap;
use std::sync::OnceLock;

const ACCOUNT: &str = include_str!("../../../docs/original-system.md");

/// The D-numbers a text names, in order of first mention: `D8/D9 cursor
/// gaps, D4 (…)` → `[8, 9, 4]`. A `D` inside a word (`ID5`) is not one.
pub fn d_numbers(text: &str) -> Vec<u32> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len() {
        if b[i] != b'D' || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let digits: String = text[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let after = b.get(i + 1 + digits.len());
        if digits.is_empty() || after.is_some_and(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        if let Ok(n) = digits.parse::<u32>() {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// `### D4 — deletes never propagate (H)` → 4: "deletes never propagate (H)".
fn titles() -> &'static BTreeMap<u32, &'static str> {
    static T: OnceLock<BTreeMap<u32, &'static str>> = OnceLock::new();
    T.get_or_init(|| {
        ACCOUNT
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("### D")?;
                let (n, title) = rest.split_once(" — ")?;
                Some((n.trim().parse().ok()?, title.trim()))
            })
            .collect()
    })
}

/// The title of D`n` in the account, if it has one.
pub fn title(n: u32) -> Option<&'static str> {
    titles().get(&n).copied()
}

/// Whether the account has the `<a id="dN">` anchor a link points at.
pub fn has_anchor(n: u32) -> bool {
    ACCOUNT.contains(&format!("<a id=\"d{n}\"></a>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d_numbers_are_read_from_expectation_notes_and_details() {
        assert_eq!(
            d_numbers("D8/D9 cursor gaps, D4 (cleanup tombstones never applied), D13"),
            vec![8, 9, 4, 13]
        );
        assert_eq!(d_numbers("likely D8 (the cursor…): D8 again"), vec![8]);
        assert_eq!(d_numbers("ID5, DELETE, D, 3D4x"), Vec::<u32>::new());
        assert_eq!(d_numbers("§4.7 D10"), vec![10]);
    }

    #[test]
    fn every_d_number_of_the_account_has_a_title_and_an_anchor() {
        for n in 1..=36 {
            assert!(title(n).is_some(), "D{n} has no title");
            assert!(has_anchor(n), "D{n} has no anchor");
        }
        assert_eq!(title(4), Some("deletes never propagate (H)"));
        assert_eq!(title(99), None);
    }
}
