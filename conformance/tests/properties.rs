//! The four property groups against the reference engine and the
//! in-process server: every generated world must keep every invariant.
//! `PEEK_CONFORM_CASES` (or `PROPTEST_CASES`) sets the number of worlds
//! per property (256 by default).

use conformance::property::{self, Group, Verdict};
use engine::Model;

fn holds(group: Group) {
    let cases = property::cases_from_env();
    match property::run(group, Model::Reference, cases, 0, 512) {
        Verdict::Pass { cases: n } => assert_eq!(n, cases),
        Verdict::Fail {
            case, violations, ..
        } => {
            let events: Vec<String> = case.events.iter().map(|e| e.line()).collect();
            panic!(
                "{}: minimal counterexample\nconfig: {}\nevents:\n{}\nviolations: {violations:#?}",
                group.name(),
                serde_json::to_string(&case.config).unwrap_or_default(),
                events.join("\n")
            );
        }
        Verdict::Error(e) => panic!("{}: {e}", group.name()),
    }
}

#[test]
fn dedup() {
    holds(Group::Dedup);
}

#[test]
fn tombstones() {
    holds(Group::Tombstones);
}

#[test]
fn server_switching() {
    holds(Group::ServerSwitching);
}

#[test]
fn clock_skew() {
    holds(Group::ClockSkew);
}
