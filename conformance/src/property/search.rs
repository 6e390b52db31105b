//! The search for a counterexample: proptest's own generate-then-shrink
//! loop (`TestRunner::run`), step for step, without what it prints.
//! proptest writes "Aborting shrinking after N iterations…" to stderr
//! whenever shrinking reaches `max_shrink_iters`, at a level no `verbose`
//! setting turns off, so a `peek-conform` run with a small shrinking
//! budget (`--portable-shrink-iters 32`) was full of it. The counterexample
//! is the same as proptest's (the same seeds, the same steps: a test
//! checks it), and the cap is reported in the verdict instead.
//!
//! Only what our runners use is kept: no failure persistence, no result
//! cache, no fork or timeout (our `Config` turns them all off).

use std::panic::{self, AssertUnwindSafe};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Reason, TestCaseError, TestCaseResult, TestError, TestRunner};

/// How a search ended, beside proptest's own result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Shrinking {
    /// Simplification steps tried.
    pub steps: u32,
    /// Shrinking stopped at `max_shrink_iters`, not at a minimum.
    pub capped: bool,
}

/// Runs `test` on `cases` values of `strategy` drawn as `runner.run`
/// draws them; shrinks the first failure.
pub fn run<S: Strategy>(
    runner: &mut TestRunner,
    strategy: &S,
    test: impl Fn(S::Value) -> TestCaseResult,
) -> (Result<(), TestError<S::Value>>, Shrinking) {
    let config = runner.config().clone();
    let mut successes = 0;
    let mut rejects = 0;
    while successes < config.cases {
        // proptest draws each case from a fresh seed taken from the
        // runner's generator (`gen_get_seed`): the same, with public calls.
        let fresh = runner.new_rng();
        *runner.rng() = fresh;
        let mut tree = match strategy.new_tree(runner) {
            Ok(t) => t,
            Err(why) => return (Err(TestError::Abort(why)), Shrinking::default()),
        };
        match call(&test, tree.current()) {
            Ok(()) => successes += 1,
            Err(TestCaseError::Reject(_)) => {
                rejects += 1;
                if rejects >= config.max_global_rejects {
                    let why = Reason::from("Too many global rejects");
                    return (Err(TestError::Abort(why)), Shrinking::default());
                }
            }
            Err(TestCaseError::Fail(why)) => {
                let (last, shrinking) = shrink(&mut tree, &test, &config);
                return (
                    Err(TestError::Fail(last.unwrap_or(why), tree.current())),
                    shrinking,
                );
            }
        }
    }
    (Ok(()), Shrinking::default())
}

/// The test on one value; a panic is a failure, as in proptest.
fn call<V>(test: &impl Fn(V) -> TestCaseResult, v: V) -> TestCaseResult {
    match panic::catch_unwind(AssertUnwindSafe(|| test(v))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panicked".into());
            Err(TestCaseError::fail(msg))
        }
    }
}

/// proptest's shrinking loop: simplify while the test fails, complicate
/// when it passes, up to the step limit; the last failure's reason.
fn shrink<T: ValueTree>(
    tree: &mut T,
    test: &impl Fn(T::Value) -> TestCaseResult,
    config: &proptest::test_runner::Config,
) -> (Option<Reason>, Shrinking) {
    let mut out = Shrinking::default();
    if config.max_shrink_iters == 0 || !tree.simplify() {
        return (None, out);
    }
    let limit = config.max_shrink_iters();
    let mut last = None;
    loop {
        if out.steps >= limit {
            out.capped = true;
            // As proptest does on giving up: back to the last failing
            // value.
            while tree.complicate() {}
            break;
        }
        out.steps += 1;
        match call(test, tree.current()) {
            Ok(()) | Err(TestCaseError::Reject(_)) => {
                if !tree.complicate() {
                    break;
                }
            }
            Err(TestCaseError::Fail(why)) => {
                last = Some(why);
                if !tree.simplify() {
                    break;
                }
            }
        }
    }
    (last, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::property::{runner, strategy, Group};
    use engine::Model;

    /// A cheap stand-in for a world: fails on big or three-device cases,
    /// so both searches must generate and shrink, with no world to run.
    fn judge(case: crate::property::Case) -> TestCaseResult {
        if case.events.len() > 40 || case.config.devices.len() == 3 {
            Err(TestCaseError::fail("too big"))
        } else {
            Ok(())
        }
    }

    #[test]
    fn finds_exactly_the_counterexample_proptest_finds() {
        for (group, seed, shrink) in [
            (Group::Dedup, 0, 256),
            (Group::ClockSkew, 3, 4),
            (Group::Dedup, 5, 1),
            (Group::ServerSwitching, 9, 0),
            (Group::Tombstones, 1, 32),
        ] {
            let s = strategy(group, Model::Reference);
            let theirs = runner(group, 64, seed, shrink).run(&s, judge);
            let (ours, shrinking) = run(&mut runner(group, 64, seed, shrink), &s, judge);
            match (theirs, ours) {
                (Err(TestError::Fail(a, x)), Err(TestError::Fail(b, y))) => {
                    assert_eq!(a, b);
                    assert_eq!(x, y, "{group:?} seed {seed}: another counterexample");
                    assert!(shrinking.steps <= shrink);
                    assert!(!shrinking.capped || shrinking.steps == shrink);
                }
                (t, o) => panic!("{group:?}: proptest {t:?}, ours {o:?}"),
            }
        }
        // A property that holds passes both, over the same cases.
        let s = strategy(Group::Dedup, Model::Reference);
        let (ours, _) = run(&mut runner(Group::Dedup, 16, 0, 8), &s, |_| Ok(()));
        assert!(ours.is_ok());
    }
}
