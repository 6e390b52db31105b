//! Push-side decisions of the reference: what is pending, what is held
//! back, what a push carries, and what each answer means (§3.1, the
//! `edit-conflicts` extension, guarantees 1 and 5).

use super::LinkState;
use crate::model::{ItemType, LocalItem};

/// Where one local item stands with one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    /// The server holds this revision.
    Synced,
    /// New here, or changed since the last push here (`localRev >
    /// pushedRev`; never a clock comparison: D11, D13).
    Pending,
    /// An image this device never got the bytes of, on a server that
    /// never had it: it cannot be created there (the bytes live
    /// elsewhere), so it waits until the device holds them or the server
    /// sends the row (found by the simulator). After a restore
    /// (`pushedRev` -1) it is pending instead, pushed in the update form:
    /// the server either still has the row or answers that it needs the
    /// bytes.
    HeldBack,
}

/// The pending rule. `link_pushed_rev`: the link's `pushedRev` on this
/// server, `None` when not linked there.
pub fn push_state(
    kind: ItemType,
    live: bool,
    local_rev: i64,
    link_pushed_rev: Option<i64>,
    has_bytes: bool,
) -> PushState {
    match link_pushed_rev {
        Some(pushed) if pushed >= local_rev => PushState::Synced,
        None if kind == ItemType::Image && live && !has_bytes => PushState::HeldBack,
        _ => PushState::Pending,
    }
}

/// Whether a refused push of an item means the server does not have its
/// row and cannot get it from this device: an image without its bytes,
/// linked only by a link a restore marked (`pushedRev` -1). Its link is
/// then dropped, which makes it [`PushState::HeldBack`]: pushing it again
/// on every sync would be refused every time (found by the simulator's
/// transfer check, `no-redundant-transfer`).
pub fn refused_for_good(kind: ItemType, has_bytes: bool, link: Option<&LinkState>) -> bool {
    uncarriable(kind, has_bytes) && link.is_some_and(|l| !l.trusted())
}

/// Whether an item is an image this device cannot bring to a server that
/// does not have it (no bytes held locally).
pub fn uncarriable(kind: ItemType, has_bytes: bool) -> bool {
    kind == ItemType::Image && !has_bytes
}

/// The sync id a push carries: the item's identity, the sync id it was
/// first pushed with (its creator's local id, recorded on push and learnt
/// on pull), else, for an item never pushed, this device's local id.
/// Never this server's row id: the server matches it against the row's
/// `syncId`, and if the row is gone (a restore) every device recreates
/// one row under the same key instead of each under its own (found by
/// the simulator).
pub fn identity(item: &LocalItem) -> &str {
    if item.sync_id.is_empty() {
        &item.id
    } else {
        &item.sync_id
    }
}

/// Whether an image's bytes go with this push: its first push to a
/// server, and again after a restore (the restored server may have lost
/// the row, and without the bytes it cannot recreate it).
pub fn carries_bytes(kind: ItemType, link: Option<&LinkState>) -> bool {
    kind == ItemType::Image && !link.is_some_and(LinkState::trusted)
}

/// `baseVersion`: the last version this server gave us, 0 when it never
/// did (or the link was marked by a restore): any concurrent row there is
/// then judged by edit time, so a stale copy brought from another server
/// cannot overwrite a newer edit (found by the simulator).
pub fn base_version(link: Option<&LinkState>) -> i64 {
    link.filter(|l| l.trusted())
        .and_then(|l| l.server_version)
        .unwrap_or(0)
}

/// What one push result (an element of a batch answer, or a single
/// answer) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushAnswer<'a> {
    /// The server refused this item: it stays pending, counted as failed,
    /// not pushed again in this session.
    Refused,
    /// The server kept a later edit and sent it: take it (a conflict).
    StaleAdopt { server_id: &'a str },
    /// The server kept a later edit without sending it: refetch it, and do
    /// not push this item again this session (no ping-pong with `stale`).
    StaleRefetch { server_id: &'a str },
    /// Accepted: record the link. `created`: the server made a new row,
    /// so no other local row can be linked to it (no claim check).
    Recorded { server_id: &'a str, created: bool },
    /// An answer without an id: the sync stops.
    Malformed,
}

/// The push answer rule. `status` absent counts as `updated`.
pub fn on_push_result<'a>(
    status: Option<&str>,
    id: Option<&'a str>,
    has_item: bool,
) -> PushAnswer<'a> {
    match (status.unwrap_or("updated"), id) {
        ("error", _) => PushAnswer::Refused,
        ("stale", Some(id)) if has_item => PushAnswer::StaleAdopt { server_id: id },
        ("stale", Some(id)) => PushAnswer::StaleRefetch { server_id: id },
        (status, Some(id)) => PushAnswer::Recorded {
            server_id: id,
            created: status == "created",
        },
        (_, None) => PushAnswer::Malformed,
    }
}

/// What to do with the server's winning copy (a `stale` answer, or its
/// refetch) when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStale {
    /// The local item is as it was sent: the server's copy replaces it.
    Adopt,
    /// The user changed the item while the push was in flight: that edit
    /// is newer than both the copy sent and the server's, so it is kept
    /// and stays pending; only the link moves to the server's row and
    /// version, so the next push is based on what the server has. Taking
    /// the server's copy here would silently drop the edit (found by the
    /// simulator once local edits could run while a request was in flight).
    KeepNewer,
}

/// The stale-answer rule: `sent_rev` is the local revision the push sent,
/// `local_rev` the item's revision now.
pub fn on_stale(sent_rev: i64, local_rev: i64) -> OnStale {
    if local_rev > sent_rev {
        OnStale::KeepNewer
    } else {
        OnStale::Adopt
    }
}

/// Whether a push response's HTTP status refuses every item in it (a 400,
/// 413, …): they stay pending and the rest of the sync goes on. (5xx,
/// 401, 403 and 409 stop the sync before this.)
pub fn refused_whole(status: u16) -> bool {
    !(200..300).contains(&status)
}

/// What a refetch (`GET /items/:id` after a `stale` without the item)
/// answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefetchAnswer {
    /// The winning item: take it.
    Item,
    /// `GET /items/:id` hides deleted rows: the winner is a delete, taken
    /// as a tombstone of the local row.
    Deleted,
    /// Anything else stops the sync.
    Fail,
}

pub fn on_refetch(status: u16) -> RefetchAnswer {
    match status {
        200 => RefetchAnswer::Item,
        404 => RefetchAnswer::Deleted,
        _ => RefetchAnswer::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ItemType::{Image, Url};

    #[test]
    fn pending_rule_table() {
        use PushState::*;
        // (kind, live, localRev, link pushedRev, bytes, expected, why)
        let table = [
            (Url, true, 1, None, false, Pending, "never pushed here"),
            (Url, false, 2, None, false, Pending, "a tombstone too"),
            (
                Url,
                true,
                1,
                Some(1),
                false,
                Synced,
                "pushed at this revision",
            ),
            (
                Url,
                true,
                3,
                Some(4),
                false,
                Synced,
                "pulled after the push",
            ),
            (Url, true, 2, Some(1), false, Pending, "edited since"),
            (Url, true, 1, Some(-1), false, Pending, "restored server"),
            (
                Image,
                true,
                1,
                None,
                false,
                HeldBack,
                "image without bytes, never here",
            ),
            (Image, true, 1, None, true, Pending, "image with bytes"),
            (
                Image,
                false,
                2,
                None,
                false,
                Pending,
                "a deleted image needs no bytes",
            ),
            (
                Image,
                true,
                1,
                Some(-1),
                false,
                Pending,
                "restored: update form",
            ),
            (
                Image,
                true,
                2,
                Some(1),
                false,
                Pending,
                "linked image edited",
            ),
        ];
        for (kind, live, rev, pushed, bytes, want, why) in table {
            assert_eq!(push_state(kind, live, rev, pushed, bytes), want, "{why}");
        }
    }

    #[test]
    fn what_a_push_carries() {
        let trusted = LinkState {
            server_version: Some(7),
            server_updated_at: 0,
            pushed_rev: 2,
        };
        let restored = LinkState {
            pushed_rev: -1,
            ..trusted
        };
        let unversioned = LinkState {
            server_version: None,
            ..trusted
        };
        assert!(carries_bytes(Image, None));
        assert!(carries_bytes(Image, Some(&restored)));
        assert!(!carries_bytes(Image, Some(&trusted)));
        assert!(!carries_bytes(Url, None));
        assert_eq!(base_version(None), 0);
        assert_eq!(base_version(Some(&trusted)), 7);
        assert_eq!(base_version(Some(&restored)), 0, "a restore: by edit time");
        assert_eq!(base_version(Some(&unversioned)), 0);
        assert!(uncarriable(Image, false));
        assert!(!uncarriable(Image, true));
        assert!(!uncarriable(Url, false));
    }

    #[test]
    fn identity_is_the_first_sync_id() {
        let mut it = LocalItem {
            id: "local".into(),
            kind: Url,
            content: None,
            metadata: None,
            tags: vec![],
            sync_id: String::new(),
            sync_source: String::new(),
            synced_at: 0,
            created_at: 0,
            updated_at: 0,
            deleted_at: 0,
            local_rev: 1,
        };
        assert_eq!(identity(&it), "local");
        it.sync_id = "creator".into();
        assert_eq!(identity(&it), "creator");
    }

    #[test]
    fn push_answer_table() {
        use PushAnswer::*;
        let table = [
            (
                Some("created"),
                Some("s"),
                false,
                Recorded {
                    server_id: "s",
                    created: true,
                },
            ),
            (
                Some("updated"),
                Some("s"),
                false,
                Recorded {
                    server_id: "s",
                    created: false,
                },
            ),
            (
                Some("unchanged"),
                Some("s"),
                false,
                Recorded {
                    server_id: "s",
                    created: false,
                },
            ),
            (
                None,
                Some("s"),
                false,
                Recorded {
                    server_id: "s",
                    created: false,
                },
            ),
            (
                Some("stale"),
                Some("s"),
                true,
                StaleAdopt { server_id: "s" },
            ),
            (
                Some("stale"),
                Some("s"),
                false,
                StaleRefetch { server_id: "s" },
            ),
            (Some("error"), None, false, Refused),
            (Some("error"), Some("s"), false, Refused),
            (Some("stale"), None, true, Malformed),
            (Some("created"), None, false, Malformed),
        ];
        for (status, id, item, want) in table {
            assert_eq!(on_push_result(status, id, item), want, "{status:?} {id:?}");
        }
        assert!(refused_whole(400) && refused_whole(413) && !refused_whole(200));
        assert_eq!(on_refetch(200), RefetchAnswer::Item);
        assert_eq!(on_refetch(404), RefetchAnswer::Deleted);
        assert_eq!(on_refetch(500), RefetchAnswer::Fail);
    }
}
