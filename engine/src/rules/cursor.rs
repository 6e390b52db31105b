//! How the reference's pull cursors move (guarantee 2), and what a new
//! feed epoch resets.

/// Safety overlap of the timestamp cursor against a server without the
/// change feed: re-reads the last 5 s of server time, so writes that share
/// or trail the newest millisecond seen are never skipped (D9).
pub const TIMESTAMP_OVERLAP_MS: i64 = 5_000;

/// Whether a change-feed page may be applied: its cursor never goes back,
/// and a page announcing more moves it forward (else the next request
/// would read the same page forever).
pub fn feed_step_ok(after: i64, cursor: i64, has_more: bool) -> bool {
    !(cursor < after || (has_more && cursor == after))
}

/// The timestamp cursor after a `/items/since/<since>` page whose newest
/// server `updatedAt` is `newest`: server clock only, minus the overlap,
/// never behind where it was (D6, D8, D9). `None`: an empty page leaves
/// it where it is.
pub fn timestamp_cursor(since: i64, newest: Option<i64>) -> Option<i64> {
    newest.map(|n| (n - TIMESTAMP_OVERLAP_MS).max(since))
}

/// What a feed `epoch` in an answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochAction {
    /// The epoch this device knows: nothing.
    Same,
    /// The first epoch seen from this server: remember it.
    Learn,
    /// Another epoch: the server was restored from a backup
    /// (`docs/protocol.md`). Every link is marked for push (`pushedRev`
    /// -1, pushed under the item's identity since the row may be gone),
    /// the feed cursor is dropped and the new epoch remembered; the
    /// session goes back to its push phase, so what the backup predates
    /// returns to the server before anything is read again.
    Restored,
}

pub fn on_epoch(known: Option<i64>, got: i64) -> EpochAction {
    match known {
        Some(k) if k == got => EpochAction::Same,
        Some(_) => EpochAction::Restored,
        None => EpochAction::Learn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_cursor_only_moves_forward() {
        let table = [
            (0, 5, false, true),
            (5, 5, false, true),
            (5, 5, true, false),
            (5, 4, false, false),
            (5, 9, true, true),
        ];
        for (after, cursor, more, ok) in table {
            assert_eq!(
                feed_step_ok(after, cursor, more),
                ok,
                "{after}->{cursor} more={more}"
            );
        }
    }

    #[test]
    fn timestamp_cursor_keeps_the_overlap_and_never_goes_back() {
        assert_eq!(timestamp_cursor(0, None), None);
        assert_eq!(timestamp_cursor(0, Some(10_000)), Some(5_000));
        assert_eq!(timestamp_cursor(9_000, Some(10_000)), Some(9_000));
        assert_eq!(timestamp_cursor(0, Some(1_000)), Some(0));
    }

    #[test]
    fn epoch_table() {
        assert_eq!(on_epoch(None, 1), EpochAction::Learn);
        assert_eq!(on_epoch(Some(1), 1), EpochAction::Same);
        assert_eq!(on_epoch(Some(1), 2), EpochAction::Restored);
        assert_eq!(on_epoch(Some(2), 1), EpochAction::Restored);
    }
}
