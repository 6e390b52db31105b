//! Exploration across machines, on whatever fans jobs out (a CI matrix, a
//! Kubernetes indexed Job, plain `xargs`): `peek-sim explore --shard K/N
//! --out FILE` runs one shard's seeds and writes its [`Results`];
//! `peek-sim merge FILE...` folds the shards back into one [`Summary`],
//! the same table and repro lines one machine would have printed.
//!
//! Seeds are dealt round-robin (`(seed - from) % N == K - 1`), so slow
//! seeds spread over the shards and a shard's set depends only on
//! `(from, seeds, K, N)`: any machine can run any shard, and a rerun of a
//! shard gives the same file but for its timing.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{SeedReport, Summary, Timing};
use crate::config::Options;

/// Says "this file is an exploration's result", so `merge` refuses any
/// other JSON.
pub const FORMAT: &str = "peek-sim-explore-results";
/// Bumped when the file's shape changes incompatibly. A key added with a
/// default (each seed's `exercised` counts) does not bump it: older files
/// read as zeros, and older readers ignore the key.
pub const VERSION: u32 = 1;

/// Shard `index` of `count` (1-based, as people count them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// `K/N`, with 1 ≤ K ≤ N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard takes K/N with 1 <= K <= N (e.g. 2/8), got {s:?}");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Whether `seed` of an exploration starting at `from` is this shard's.
    pub fn holds(self, seed: u64, from: u64) -> bool {
        seed.wrapping_sub(from) % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One shard's results file (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub format: String,
    pub version: u32,
    /// The whole exploration this shard is part of.
    pub options: Options,
    pub from: u64,
    pub seeds: u64,
    pub shard: Shard,
    /// Wall time of the shard, seconds, and the workers that ran at once:
    /// what the merged throughput is computed from.
    pub elapsed_s: f64,
    pub busy: usize,
    /// Every seed of the shard, in seed order.
    pub results: Vec<SeedReport>,
}

impl Results {
    pub fn new(summary: &Summary, from: u64, seeds: u64, shard: Shard, timing: Timing) -> Self {
        Results {
            format: FORMAT.into(),
            version: VERSION,
            options: summary.options.clone(),
            from,
            seeds,
            shard,
            elapsed_s: timing.elapsed.as_secs_f64(),
            busy: timing.busy,
            results: summary.seeds.clone(),
        }
    }

    /// Reads a results file, refusing one that is not (or not this
    /// version of) an exploration's.
    pub fn parse(text: &str) -> Result<Results, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match v.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => return Err(format!("a {other:?} file, not {FORMAT:?}")),
            None => return Err(format!("not a {FORMAT:?} file (no \"format\" key)")),
        }
        let r: Results = serde_json::from_value(v).map_err(|e| format!("bad results: {e}"))?;
        if r.version != VERSION {
            return Err(format!(
                "version {} of the format; this peek-sim reads version {VERSION}",
                r.version
            ));
        }
        Ok(r)
    }
}

/// Why shards could not be merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    #[error("no results to merge")]
    Empty,
    #[error("{0} is from another exploration ({1}); merge only the shards of one run")]
    Mismatch(String, String),
    #[error("shard {0} is given twice")]
    Twice(Shard),
    #[error("shards missing: {0} (run them, or merge what exists with --partial)")]
    Missing(String),
}

/// Folds shard files (named, for messages) into one summary and its
/// timing: the longest shard's wall time, every shard's workers.
pub fn merge(files: &[(String, Results)], partial: bool) -> Result<(Summary, Timing), MergeError> {
    let (_, first) = files.first().ok_or(MergeError::Empty)?;
    let mut seen = std::collections::BTreeSet::new();
    for (name, r) in files {
        let same = r.options == first.options
            && r.from == first.from
            && r.seeds == first.seeds
            && r.shard.count == first.shard.count;
        if !same {
            return Err(MergeError::Mismatch(
                name.clone(),
                format!(
                    "seeds {}..{}, {} shards, not {}..{}, {}",
                    r.from,
                    r.from.saturating_add(r.seeds),
                    r.shard.count,
                    first.from,
                    first.from.saturating_add(first.seeds),
                    first.shard.count
                ),
            ));
        }
        if !seen.insert(r.shard.index) {
            return Err(MergeError::Twice(r.shard));
        }
    }
    let missing: Vec<String> = (1..=first.shard.count)
        .filter(|k| !seen.contains(k))
        .map(|k| format!("{k}/{}", first.shard.count))
        .collect();
    if !missing.is_empty() && !partial {
        return Err(MergeError::Missing(missing.join(", ")));
    }
    let mut seeds: Vec<SeedReport> = files
        .iter()
        .flat_map(|(_, r)| r.results.iter().cloned())
        .collect();
    seeds.sort_by_key(|s| s.seed);
    let elapsed = files
        .iter()
        .map(|(_, r)| r.elapsed_s)
        .fold(0.0_f64, f64::max);
    let timing = Timing {
        elapsed: std::time::Duration::from_secs_f64(elapsed.max(0.0)),
        busy: files.iter().map(|(_, r)| r.busy.max(1)).sum(),
    };
    Ok((
        Summary {
            options: first.options.clone(),
            seeds,
        },
        timing,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::Verdict;
    use std::time::Duration;

    fn report(seed: u64, ok: bool) -> SeedReport {
        let mut exercised = crate::explore::Exercised::default();
        exercised
            .faults
            .add(crate::session::AppliedFault::ResponseLost);
        exercised.crashes = seed % 2;
        SeedReport {
            seed,
            verdict: if ok {
                Verdict::Passed
            } else {
                Verdict::Failed {
                    invariant: "convergence".into(),
                    violations: 1,
                }
            },
            exchanges: 10,
            faults: 1,
            exercised,
            cost: crate::transfer::Cost {
                moved: crate::transfer::Moved {
                    requests: 10,
                    pushed: seed,
                    ..Default::default()
                },
                changes: 4,
            },
        }
    }

    fn shard_file(k: u64, n: u64, seeds: u64) -> (String, Results) {
        let sh = Shard { index: k, count: n };
        let summary = Summary {
            options: Options::default(),
            seeds: (0..seeds)
                .filter(|&s| sh.holds(s, 0))
                .map(|s| report(s, s != 5))
                .collect(),
        };
        let timing = Timing {
            elapsed: Duration::from_secs(k),
            busy: 2,
        };
        (
            format!("s{k}.json"),
            Results::new(&summary, 0, seeds, sh, timing),
        )
    }

    #[test]
    fn shards_split_every_seed_once_and_round_robin() {
        let n = 3;
        let mut owners = vec![0; 10];
        for k in 1..=n {
            let sh = Shard { index: k, count: n };
            for (seed, owner) in owners.iter_mut().enumerate() {
                if sh.holds(seed as u64 + 100, 100) {
                    *owner += 1;
                }
            }
        }
        assert!(owners.iter().all(|&c| c == 1), "{owners:?}");
        assert!(Shard { index: 2, count: 3 }.holds(101, 100));
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn merged_shards_are_the_one_machine_summary() {
        let files: Vec<_> = (1..=3).map(|k| shard_file(k, 3, 10)).collect();
        // Through the file format and back.
        let files: Vec<_> = files
            .into_iter()
            .map(|(n, r)| {
                (
                    n,
                    Results::parse(&serde_json::to_string(&r).unwrap()).unwrap(),
                )
            })
            .collect();
        let (summary, timing) = merge(&files, false).unwrap();
        let seeds: Vec<u64> = summary.seeds.iter().map(|s| s.seed).collect();
        assert_eq!(seeds, (0..10).collect::<Vec<_>>());
        assert_eq!(summary.failed(), 1);
        assert_eq!(summary.exchanges(), 100);
        assert_eq!(timing.busy, 6);
        assert_eq!(timing.elapsed, Duration::from_secs(3));
        assert_eq!(summary.repro_lines().len(), 1);
        // What the worlds went through is merged too.
        let ex = summary.exercised();
        assert_eq!(ex.faults.response_lost, 10);
        assert_eq!(
            ex.faults.total(),
            summary.seeds.iter().map(|s| s.faults).sum::<u64>()
        );
        assert_eq!(ex.crashes, 5);
        // And what they moved: seeds 0..10 pushed 0 + 1 + … + 9 items.
        let cost = summary.cost();
        assert_eq!((cost.moved.pushed, cost.changes), (45, 40));
        assert_eq!(summary.costliest().map(|s| s.seed), Some(9));
    }

    /// A results file written before seeds carried what they exercised
    /// still merges (its counts read as zeros): the format grew
    /// compatibly, so its version stays 1.
    #[test]
    fn a_file_without_exercised_counts_still_reads() {
        let (_, r) = shard_file(1, 1, 3);
        let mut v = serde_json::to_value(&r).unwrap();
        for seed in v["results"].as_array_mut().unwrap() {
            seed.as_object_mut().unwrap().remove("exercised");
        }
        let old = Results::parse(&v.to_string()).unwrap();
        assert_eq!(old.version, 1);
        assert!(old
            .results
            .iter()
            .all(|s| s.exercised == crate::explore::Exercised::default()));
        let (summary, _) = merge(&[("old.json".into(), old)], false).unwrap();
        assert_eq!(summary.seeds.len(), 3);
    }

    #[test]
    fn merge_refuses_foreign_files_duplicates_gaps_and_mixed_runs() {
        assert!(Results::parse("{\"format\":\"something-else\"}")
            .unwrap_err()
            .contains("something-else"));
        assert!(Results::parse("[1,2]")
            .unwrap_err()
            .contains("no \"format\""));
        assert!(Results::parse("nope").unwrap_err().contains("not JSON"));
        let a = shard_file(1, 2, 10);
        assert_eq!(
            merge(&[a.clone(), a.clone()], false).unwrap_err(),
            MergeError::Twice(Shard { index: 1, count: 2 })
        );
        assert_eq!(
            merge(std::slice::from_ref(&a), false).unwrap_err(),
            MergeError::Missing("2/2".into())
        );
        assert!(merge(std::slice::from_ref(&a), true).is_ok());
        let other = shard_file(2, 2, 20);
        assert!(matches!(
            merge(&[a, other], false),
            Err(MergeError::Mismatch(..))
        ));
    }
}
