//! What a pulled server item does to the local store (reference rules,
//! §3 and guarantees 2–5), and who keeps a server row two local rows
//! claim.

use serde_json::Value;

use super::LinkState;
use crate::model::{ItemType, LocalItem, ServerItem};

/// What the device holds for a pulled server row.
#[derive(Debug, Clone, Copy)]
pub enum Local<'a> {
    /// A local row linked to this server row.
    Linked(LinkState, &'a LocalItem),
    /// No link, but a local image with this item's identity that was held
    /// back for want of its bytes (see [`held_for_bytes`]): another device
    /// brought it here, so it is the same item.
    HeldImage(&'a LocalItem),
    /// Never seen here.
    Unknown,
}

/// What applying one pulled item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullAction {
    /// A new local row, linked at this state (tombstones too: a deleted
    /// row, so a later push of an older copy cannot resurrect it).
    Insert,
    /// The server state overwrites the local row, linked at that state.
    Take,
    /// Already seen at this version (overlap, echo of our own push: D10).
    Skip,
    /// A local edit is pending: the push decides (guarantee 5).
    Defer,
    /// A held image ([`Local::HeldImage`]) whose local state is a later
    /// edit than this row: linked to the row ([`link_kept`]) but not
    /// overwritten, and pending, so the push brings the later state there
    /// (in the update form: the server has the bytes); the reference
    /// pushes again in the same sync, after its pull. Taking the row
    /// would turn the item back into an older state, which the device
    /// then pushes on as its own edit wherever else it is linked (found by
    /// the simulator, seed 6483).
    Keep,
}

/// The pull rule.
pub fn on_pulled(local: Local<'_>, s: &ServerItem) -> PullAction {
    match local {
        Local::Unknown => PullAction::Insert,
        // The first contact of this item with this row: judged by edit
        // time, as the server judges a push without `baseVersion`, and an
        // exact tie goes to the row the server holds (docs/protocol.md).
        Local::HeldImage(it) if it.updated_at > s.edit_time() => PullAction::Keep,
        Local::HeldImage(_) => PullAction::Take,
        Local::Linked(link, item) if already_seen(&link, item, s) => PullAction::Skip,
        Local::Linked(link, item) if item.local_rev > link.pushed_rev => PullAction::Defer,
        Local::Linked(..) => PullAction::Take,
    }
}

/// Whether the link already records this server version. With versions,
/// by version; without (a v1 server), an older `updatedAt` is stale and
/// an equal one may be a second write in the same millisecond (D9), so
/// the contents decide.
pub fn already_seen(link: &LinkState, local: &LocalItem, s: &ServerItem) -> bool {
    match (link.server_version, s.version) {
        (Some(have), Some(got)) => got <= have,
        _ => s.updated_at < link.server_updated_at || same_state(local, s),
    }
}

/// Whether a local image was held back from this server for want of its
/// bytes: no bytes here and no trustworthy link here (never linked, or
/// its row lost in a restore). A pulled row with its identity is then
/// the same item: the image links to it and takes it, unless its own
/// state is the later edit ([`PullAction::Keep`]); its bytes are fetched
/// after.
pub fn held_for_bytes(kind: ItemType, has_bytes: bool, link_here: Option<&LinkState>) -> bool {
    kind == ItemType::Image && !has_bytes && !link_here.is_some_and(LinkState::trusted)
}

fn same_json(a: Option<&str>, b: Option<&str>) -> bool {
    let parse = |s: Option<&str>| {
        s.map(|s| serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.into())))
    };
    parse(a) == parse(b)
}

/// Whether the local row already shows exactly this server state.
pub fn same_state(it: &LocalItem, s: &ServerItem) -> bool {
    it.kind == s.kind
        && it.content == s.content
        && same_json(it.metadata.as_deref(), s.metadata.as_deref())
        && it.tags == s.tags
        && (it.deleted_at == 0) == (s.deleted_at == 0)
}

/// What happens to another local row linked to a server row that a push
/// or a `stale` answer gives to this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwinAction {
    /// A pulled copy of our own item with no local edit: redundant, it
    /// goes (row, tags, links, bytes).
    HardDelete,
    /// It holds a local edit: it keeps its data and loses the link, so it
    /// is pushed as its own item. Nothing local is lost either way.
    Unlink,
}

/// The claim rule (a push whose response was lost, then a pull of the
/// row it made, leaves two local rows for one server row).
pub fn on_twin(twin_local_rev: i64, twin_pushed_rev: i64) -> TwinAction {
    if twin_local_rev <= twin_pushed_rev {
        TwinAction::HardDelete
    } else {
        TwinAction::Unlink
    }
}

/// The link after the server accepted revision `rev`: the version it
/// answered (else the one known), the pull time kept, and the pushed
/// revision never moving back (an older push answered late).
pub fn link_after_push(old: Option<&LinkState>, rev: i64, version: Option<i64>) -> LinkState {
    LinkState {
        server_version: version.or(old.and_then(|o| o.server_version)),
        server_updated_at: old.map_or(0, |o| o.server_updated_at),
        pushed_rev: rev.max(old.map_or(0, |o| o.pushed_rev)),
    }
}

/// The link after taking (or inserting) a pulled state at local revision
/// `rev`: this server holds exactly what the row shows.
pub fn link_after_pull(s: &ServerItem, rev: i64) -> LinkState {
    LinkState {
        server_version: s.version,
        server_updated_at: s.updated_at,
        pushed_rev: rev,
    }
}

/// The link of a held image kept over an older row ([`PullAction::Keep`]):
/// at the row's version, so the push that follows is based on it, and
/// with `pushedRev` 0 (no local revision of the item is there), so the
/// item is pending.
pub fn link_kept(s: &ServerItem) -> LinkState {
    LinkState {
        server_version: s.version,
        server_updated_at: s.updated_at,
        pushed_rev: 0,
    }
}

/// What a `GET /images/:id` answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAnswer {
    /// The bytes: keep them.
    Keep,
    /// The server has none (404, 410, an empty body from a legacy row):
    /// not an error, the image is skipped for the rest of the session.
    NoBytes,
    /// Anything else stops the sync.
    Fail,
}

pub fn on_image(status: u16, body_empty: bool) -> ImageAnswer {
    match status {
        200 if !body_empty => ImageAnswer::Keep,
        200 | 404 | 410 => ImageAnswer::NoBytes,
        _ => ImageAnswer::Fail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(rev: i64) -> LocalItem {
        LocalItem {
            id: "l1".into(),
            kind: ItemType::Url,
            content: Some("https://a".into()),
            metadata: None,
            tags: vec!["t".into()],
            sync_id: "l1".into(),
            sync_source: "server".into(),
            synced_at: 0,
            created_at: 1,
            updated_at: 100,
            deleted_at: 0,
            local_rev: rev,
        }
    }

    fn server(version: Option<i64>, updated_at: i64, content: &str) -> ServerItem {
        ServerItem {
            id: "s1".into(),
            kind: ItemType::Url,
            content: Some(content.into()),
            metadata: None,
            tags: vec!["t".into()],
            created_at: 1,
            updated_at,
            deleted_at: 0,
            version,
            edited_at: None,
            sync_id: None,
        }
    }

    fn link(version: Option<i64>, updated_at: i64, pushed_rev: i64) -> LinkState {
        LinkState {
            server_version: version,
            server_updated_at: updated_at,
            pushed_rev,
        }
    }

    #[test]
    fn pull_rule_table() {
        use PullAction::*;
        let same = "https://a";
        let other = "https://b";
        // (link, local rev, server version, server updatedAt, content, expected, why)
        let table = [
            (
                link(Some(5), 100, 1),
                1,
                Some(5),
                100,
                other,
                Skip,
                "same version: echo",
            ),
            (
                link(Some(5), 100, 1),
                1,
                Some(4),
                100,
                other,
                Skip,
                "older version: overlap",
            ),
            (
                link(Some(5), 100, 1),
                1,
                Some(6),
                100,
                other,
                Take,
                "newer version, nothing pending",
            ),
            (
                link(Some(5), 100, 1),
                2,
                Some(6),
                100,
                other,
                Defer,
                "newer version, local edit pending",
            ),
            (
                link(Some(5), 100, 2),
                2,
                Some(6),
                100,
                other,
                Take,
                "the edit was pushed",
            ),
            (
                link(Some(5), 100, -1),
                1,
                Some(6),
                100,
                other,
                Defer,
                "restored: pending again",
            ),
            (
                link(None, 100, 1),
                1,
                None,
                99,
                other,
                Skip,
                "v1: older updatedAt",
            ),
            (
                link(None, 100, 1),
                1,
                None,
                100,
                same,
                Skip,
                "v1: same ms, same content",
            ),
            (
                link(None, 100, 1),
                1,
                None,
                100,
                other,
                Take,
                "v1: same ms, another write (D9)",
            ),
            (link(None, 100, 1), 1, None, 101, other, Take, "v1: newer"),
            (
                link(Some(5), 100, 1),
                1,
                None,
                100,
                same,
                Skip,
                "one side unversioned: by time and content",
            ),
            (
                link(None, 100, 1),
                2,
                None,
                101,
                other,
                Defer,
                "v1: newer, local edit pending",
            ),
        ];
        for (l, rev, v, t, content, want, why) in table {
            let it = local(rev);
            let s = server(v, t, content);
            assert_eq!(on_pulled(Local::Linked(l, &it), &s), want, "{why}");
        }
        // A tombstone here, pushed at version 2: an older live copy (an
        // overlap, a replayed page) does not bring it back.
        let mut dead = local(2);
        dead.deleted_at = 50;
        let old_copy = server(Some(1), 10, "https://a");
        assert_eq!(
            on_pulled(Local::Linked(link(Some(2), 0, 2), &dead), &old_copy),
            Skip
        );
        let it = local(1);
        let s = server(Some(1), 1, "x");
        assert_eq!(on_pulled(Local::Unknown, &s), Insert);
        // A held image against a row of the same item: the later edit
        // stays (local `updatedAt` 100), the row's wins from 100 on.
        for (edited, want) in [(99, Keep), (100, Take), (101, Take)] {
            let mut s = server(Some(1), 1, "x");
            s.edited_at = Some(edited);
            assert_eq!(on_pulled(Local::HeldImage(&it), &s), want, "{edited}");
        }
    }

    #[test]
    fn same_state_compares_json_and_liveness() {
        let mut it = local(1);
        let mut s = server(None, 1, "https://a");
        it.metadata = Some(r#"{"a":1,"b":2}"#.into());
        s.metadata = Some(r#"{"b":2,"a":1}"#.into());
        assert!(same_state(&it, &s), "metadata compared as JSON");
        s.deleted_at = 5;
        assert!(!same_state(&it, &s), "a tombstone is another state");
        s.deleted_at = 0;
        s.tags = vec![];
        assert!(!same_state(&it, &s));
    }

    #[test]
    fn held_images_are_images_without_bytes_or_trusted_link() {
        let trusted = link(Some(1), 0, 1);
        let restored = link(Some(1), 0, -1);
        let table = [
            (ItemType::Image, false, None, true),
            (ItemType::Image, false, Some(&restored), true),
            (ItemType::Image, false, Some(&trusted), false),
            (ItemType::Image, true, None, false),
            (ItemType::Url, false, None, false),
        ];
        for (kind, bytes, l, want) in table {
            assert_eq!(
                held_for_bytes(kind, bytes, l),
                want,
                "{kind:?} {bytes} {l:?}"
            );
        }
    }

    #[test]
    fn twin_rule_keeps_local_edits() {
        assert_eq!(on_twin(1, 1), TwinAction::HardDelete);
        assert_eq!(on_twin(1, 3), TwinAction::HardDelete);
        assert_eq!(on_twin(2, 1), TwinAction::Unlink, "an unpushed edit");
        assert_eq!(on_twin(1, -1), TwinAction::Unlink, "restored: pending");
    }

    #[test]
    fn pushed_links_never_move_back() {
        let old = link(Some(7), 50, 4);
        assert_eq!(link_after_push(None, 2, Some(3)), link(Some(3), 0, 2));
        assert_eq!(
            link_after_push(Some(&old), 5, Some(9)),
            link(Some(9), 50, 5)
        );
        assert_eq!(link_after_push(Some(&old), 3, None), link(Some(7), 50, 4));
        let s = server(Some(8), 60, "x");
        assert_eq!(link_after_pull(&s, 6), link(Some(8), 60, 6));
    }

    #[test]
    fn image_answers() {
        assert_eq!(on_image(200, false), ImageAnswer::Keep);
        assert_eq!(on_image(200, true), ImageAnswer::NoBytes);
        assert_eq!(on_image(404, true), ImageAnswer::NoBytes);
        assert_eq!(on_image(410, false), ImageAnswer::NoBytes);
        assert_eq!(on_image(500, false), ImageAnswer::Fail);
    }
}
