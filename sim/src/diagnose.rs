//! Which documented divergence (reference sheet §4.7) a violation most
//! likely reproduces, given the device models involved. Used in reports so
//! that a failing seed of a platform model names its D-number.

use engine::Model;

use crate::check::Violation;

/// The D-numbers a model is known to reproduce that can break `invariant`
/// (see `docs/platform-models.md`). Empty for the reference engine: any
/// failure there is a new bug.
pub fn likely(model: Model, invariant: &str, detail: &str) -> Vec<&'static str> {
    if model == Model::Reference {
        return Vec::new();
    }
    let tombstone = detail.contains("deleted: true") || detail.contains("deleted last");
    let mut d: Vec<&'static str> = match invariant {
        "no-resurrection" => vec![
            "D5 (local deletes resurrected)",
            "D4 (deletes never propagate)",
        ],
        "convergence" if tombstone => vec![
            "D4 (deletes never propagate)",
            "D5 (local deletes resurrected)",
        ],
        "convergence" => vec![
            "D13 (conflict winners not pushed while the cursor is 0)",
            "D12 (arrival time wins)",
        ],
        "no-lost-write" => vec![
            "D12 (arrival time wins)",
            "D13 (conflict winners not pushed)",
        ],
        "stability" => vec!["D10 (echo)", "D11 (clock-skew ping-pong)"],
        "no-sync-duplicates" => vec![
            "D15 (returning to a server duplicates)",
            "D14 (server-change reset)",
        ],
        "cursor-completeness" => vec!["D8 (client-clock cursor)", "D9 (same-millisecond boundary)"],
        "profile-isolation" => vec!["D16 (profile targeting)"],
        _ => Vec::new(),
    };
    match model {
        Model::TauriMobile if matches!(invariant, "convergence" | "cursor-completeness") => {
            d.insert(0, "D6 (end-time cursor)")
        }
        Model::Electron if invariant == "convergence" => d.push("D7 (push-only moves the cursor)"),
        Model::TauriDesktop if matches!(invariant, "convergence" | "profile-isolation") => {
            d.insert(0, "D16 (local profile id lands in the default profile)")
        }
        Model::Extension if invariant == "no-sync-duplicates" => {
            d.insert(0, "D14 (first-run reset)")
        }
        _ => {}
    }
    d
}

/// The likely D-numbers of a violation in a world whose devices run
/// `models` (the union, in order, without repeats).
pub fn for_violation(models: &[Model], v: &Violation) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for m in models {
        for d in likely(*m, v.invariant, &v.detail) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_failures_are_never_excused() {
        assert!(likely(Model::Reference, "convergence", "").is_empty());
        assert_eq!(
            likely(Model::TauriMobile, "convergence", "")[0],
            "D6 (end-time cursor)"
        );
        assert!(likely(Model::JsEngine, "no-resurrection", "")[0].starts_with("D5"));
    }
}
