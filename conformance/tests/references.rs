//! Every reference to the original system resolves inside this repository:
//! each `§N.M` and each D-number cited in code, docs, expectations and
//! scripts names a section or a catalogue entry of
//! `docs/original-system.md`, so a reader never needs a document we do not
//! ship.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The repository's text files, without build output and installed packages.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | "node_modules" | ".git" | "out" | "data"
            ) && !name.starts_with('.')
            {
                files(&p, out);
            }
        } else if [".rs", ".md", ".toml", ".sh", ".mjs", ".js", ".ts"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            out.push(p);
        }
    }
}

/// `§` citations: the digits and dots after it, without a trailing dot.
fn sections(text: &str) -> Vec<String> {
    text.split('§')
        .skip(1)
        .map(|rest| {
            let s: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            s.trim_end_matches('.').to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// D-numbers: `D` and one or two digits, as a word.
fn d_numbers(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len() {
        if b[i] != b'D' || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) {
            continue;
        }
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let end = i + 1 + digits;
        let word_ends = b
            .get(end)
            .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_');
        if (1..=2).contains(&digits) && word_ends {
            out.push(text[i..end].to_string());
        }
    }
    out
}

#[test]
fn every_section_and_d_number_cited_is_in_original_system_md() {
    let doc = std::fs::read_to_string(root().join("docs/original-system.md")).expect("the doc");
    let mut known_sections = BTreeSet::new();
    let mut known_ds = BTreeSet::new();
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix('#') {
            let h = h.trim_start_matches('#').trim_start();
            let num: String = h
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if !num.is_empty() {
                known_sections.insert(num.trim_end_matches('.').to_string());
            }
            if let Some(d) = d_numbers(h).first() {
                if h.starts_with(d.as_str()) {
                    known_ds.insert(d.clone());
                }
            }
        }
        // §5's subsections are the rows of its table: `| 5.3 | …`.
        if let Some(row) = line.strip_prefix("| ") {
            let num: String = row
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if num.contains('.') && row[num.len()..].starts_with(" |") {
                known_sections.insert(num);
            }
        }
    }
    assert!(
        known_ds.contains("D1") && known_ds.contains("D34"),
        "{known_ds:?}"
    );

    let mut all = Vec::new();
    files(&root(), &mut all);
    all.sort();
    let mut missing = Vec::new();
    for f in &all {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let rel = f.strip_prefix(root()).unwrap_or(f).display().to_string();
        for s in sections(&text) {
            if !known_sections.contains(&s) {
                missing.push(format!("{rel}: §{s}"));
            }
        }
        for d in d_numbers(&text) {
            if !known_ds.contains(&d) {
                missing.push(format!("{rel}: {d}"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "cited but not in docs/original-system.md: {missing:#?}"
    );
}

#[test]
fn the_scanners_find_what_they_should() {
    assert_eq!(sections("see §1.4, §2.3. and §5"), ["1.4", "2.3", "5"]);
    assert_eq!(
        d_numbers("D7, (D13) D100 XD4 D2x D35."),
        ["D7", "D13", "D35"]
    );
}
