//! The curated mutant set of `scripts/mutation/` stays applicable: every
//! mutant's `find` snippet occurs exactly once in its file, so a change
//! to the sync code that moves a snippet fails here (and in
//! `run.py --check`) instead of silently shrinking the mutation run. The
//! mutation run itself is a script, not part of `cargo test`
//! (docs/mutation.md).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mutant {
    id: String,
    kind: String,
    file: String,
    find: String,
    replace: String,
    why: String,
    /// The argument that the mutant is equivalent, if someone made one.
    #[serde(default)]
    equivalence: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Set {
    mutant: Vec<Mutant>,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What is wrong with one mutant against the files `read` returns (by
/// path from the repository root): empty when it applies.
fn problems(m: &Mutant, read: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    let kebab = !m.id.is_empty()
        && m.id.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !kebab {
        out.push(format!("{}: id is not kebab-case", m.id));
    }
    if m.kind.is_empty() || m.why.is_empty() {
        out.push(format!("{}: kind and why must be given", m.id));
    }
    if m.equivalence
        .as_deref()
        .is_some_and(|e| e.trim().is_empty())
    {
        out.push(format!("{}: an equivalence must say why", m.id));
    }
    if m.find.is_empty() || m.find == m.replace {
        out.push(format!(
            "{}: find must be non-empty and differ from replace",
            m.id
        ));
    }
    match read(&m.file) {
        None => out.push(format!("{}: {} does not exist", m.id, m.file)),
        Some(text) => {
            let n = if m.find.is_empty() {
                0
            } else {
                text.matches(m.find.as_str()).count()
            };
            if n != 1 {
                out.push(format!(
                    "{}: its find occurs {n} times in {} (must be exactly once)",
                    m.id, m.file
                ));
            }
        }
    }
    out
}

fn load() -> Set {
    let path = repo().join("scripts/mutation/mutants.toml");
    let text = std::fs::read_to_string(&path).expect("scripts/mutation/mutants.toml is readable");
    toml::from_str(&text).expect("mutants.toml parses")
}

#[test]
fn every_mutant_applies_exactly_once() {
    let set = load();
    let root = repo();
    let read = |f: &str| std::fs::read_to_string(root.join(f)).ok();
    let all: Vec<String> = set.mutant.iter().flat_map(|m| problems(m, &read)).collect();
    assert!(
        all.is_empty(),
        "stale mutants (update scripts/mutation/mutants.toml):\n{}",
        all.join("\n")
    );
    let ids: BTreeSet<&str> = set.mutant.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), set.mutant.len(), "mutant ids are unique");
    assert!(
        set.mutant.len() >= 14,
        "the set has {} mutants",
        set.mutant.len()
    );
}

/// The check above can fail: a snippet that is missing, or found twice,
/// or a file that is gone, is reported.
#[test]
fn the_check_reports_missing_doubled_and_orphaned_snippets() {
    let mutant = |file: &str, find: &str| Mutant {
        id: "probe".into(),
        kind: "test".into(),
        file: file.into(),
        find: find.into(),
        replace: "y".into(),
        why: "a probe".into(),
        equivalence: None,
    };
    let read = |f: &str| (f == "a.rs").then(|| "let x = 1; let x = 1; let z = 2;".to_string());
    assert!(problems(&mutant("a.rs", "let z = 2;"), &read).is_empty());
    let missing = problems(&mutant("a.rs", "let q = 3;"), &read);
    assert!(missing[0].contains("occurs 0 times"), "{missing:?}");
    let doubled = problems(&mutant("a.rs", "let x = 1;"), &read);
    assert!(doubled[0].contains("occurs 2 times"), "{doubled:?}");
    let gone = problems(&mutant("b.rs", "let z = 2;"), &read);
    assert!(gone[0].contains("does not exist"), "{gone:?}");
    let mut bad_id = mutant("a.rs", "let z = 2;");
    bad_id.id = "Not_Kebab".into();
    assert!(problems(&bad_id, &read)[0].contains("kebab-case"));
    let mut empty_argument = mutant("a.rs", "let z = 2;");
    empty_argument.equivalence = Some(" ".into());
    assert!(problems(&empty_argument, &read)[0].contains("must say why"));
}
