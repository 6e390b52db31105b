//! The platform models' decisions (§4.1 `syncAll` with each model's
//! variations, `platform::Behaviour`). They reproduce the originals' bugs
//! on purpose (`docs/platform-models.md`) and are not held to the
//! guarantees; they are rules here so the legacy session, like the
//! reference, only asks and applies.

use crate::model::{ItemType, LocalItem, ServerItem};
use crate::platform::{Behaviour, ServerChange};

/// What merging one pulled item does on a platform model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelMerge {
    /// Nothing (same time, a NaN time, or a deleted twin on the models
    /// that check for one).
    Skip,
    /// A new local row. `crash`: the model's insert of a NaN time fails
    /// after the row is written (D1), which stops the sync.
    Insert { crash: bool },
    /// The local edit time is later: kept, counted as a conflict (D12:
    /// local edit time against server arrival time).
    Conflict,
    /// Overwrite the local row with these values.
    Update {
        kind: ItemType,
        content: Option<String>,
    },
}

/// §4.1 merge. `local`: the live local row with this sync id (deleted
/// rows are not matched, so they come back: D5); `deleted_twin`: a
/// deleted local row has this sync id (only read by the models with
/// `skip_if_deleted_twin`). `deletedAt` is never read (D4).
pub fn merge(
    b: &Behaviour,
    deleted_twin: bool,
    local: Option<&LocalItem>,
    s: &ServerItem,
) -> ModelMerge {
    if b.skip_if_deleted_twin && deleted_twin {
        return ModelMerge::Skip;
    }
    let nan = s.updated_at == i64::MIN;
    let Some(local) = local else {
        return ModelMerge::Insert {
            crash: nan && b.nan_insert_fails,
        };
    };
    if nan || s.updated_at == local.updated_at {
        return ModelMerge::Skip; // NaN compares false both ways
    }
    if s.updated_at < local.updated_at {
        return ModelMerge::Conflict;
    }
    let content = match (&s.content, b.content_only_if_truthy) {
        (Some(c), true) if c.is_empty() => local.content.clone(),
        (None, true) => local.content.clone(),
        _ => s.content.clone(),
    };
    let kind = if b.update_type_on_pull {
        s.kind
    } else {
        local.kind
    };
    ModelMerge::Update { kind, content }
}

/// Whether the model's `syncAll` resets its sync markers and cursor at
/// start (the server-change check, D14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartReset {
    Keep,
    Reset,
    /// D14: the extension resets on a first run when any live item came
    /// from a server, which duplicates everything (D15). The store
    /// answers that.
    IfAnyFromServer,
}

/// `stored`: the server URL and profile of the last sync, `None` on a
/// first run.
pub fn start_reset(
    rule: ServerChange,
    stored: Option<(&str, &str)>,
    url: &str,
    profile: &str,
) -> StartReset {
    match (rule, stored) {
        (ServerChange::Never, _) => StartReset::Keep,
        (_, Some((u, p))) if u != url || p != profile => StartReset::Reset,
        (_, Some(_)) | (ServerChange::StoredOnly, None) => StartReset::Keep,
        (ServerChange::StoredOrFirstRun, None) => StartReset::IfAnyFromServer,
    }
}

/// Which live rows a model pushes: never synced (`syncSource` empty), or,
/// on an incremental sync, edited after their last sync by the device's
/// own clock (D11, D13).
pub fn marked_for_push(
    sync_source: &str,
    synced_at: i64,
    updated_at: i64,
    incremental: bool,
) -> bool {
    sync_source.is_empty() || (incremental && synced_at > 0 && updated_at > synced_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Model;

    fn local(updated_at: i64) -> LocalItem {
        LocalItem {
            id: "l".into(),
            kind: ItemType::Url,
            content: Some("old".into()),
            metadata: None,
            tags: vec![],
            sync_id: "s".into(),
            sync_source: "server".into(),
            synced_at: 1,
            created_at: 1,
            updated_at,
            deleted_at: 0,
            local_rev: 1,
        }
    }

    fn server(updated_at: i64, content: Option<&str>) -> ServerItem {
        ServerItem {
            id: "s".into(),
            kind: ItemType::Text,
            content: content.map(str::to_string),
            metadata: None,
            tags: vec![],
            created_at: 1,
            updated_at,
            deleted_at: 0,
            version: None,
            edited_at: None,
            sync_id: None,
        }
    }

    #[test]
    fn merge_table() {
        let js = Model::JsEngine.behaviour();
        let electron = Model::Electron.behaviour();
        let l = local(100);
        let nan = i64::MIN;
        assert_eq!(
            merge(&js, false, None, &server(nan, None)),
            ModelMerge::Insert { crash: true }
        );
        assert_eq!(
            merge(&electron, false, None, &server(nan, None)),
            ModelMerge::Insert {
                crash: electron.nan_insert_fails
            }
        );
        assert_eq!(
            merge(&js, false, Some(&l), &server(nan, Some("x"))),
            ModelMerge::Skip
        );
        assert_eq!(
            merge(&js, false, Some(&l), &server(100, Some("x"))),
            ModelMerge::Skip
        );
        assert_eq!(
            merge(&js, false, Some(&l), &server(99, Some("x"))),
            ModelMerge::Conflict
        );
        for m in Model::ALL {
            let b = m.behaviour();
            let want_kind = if b.update_type_on_pull {
                ItemType::Text
            } else {
                ItemType::Url
            };
            let want_content = if b.content_only_if_truthy {
                Some("old".to_string())
            } else {
                Some(String::new())
            };
            assert_eq!(
                merge(&b, false, Some(&l), &server(101, Some(""))),
                ModelMerge::Update {
                    kind: want_kind,
                    content: want_content
                },
                "{}",
                m.name()
            );
            let twin = merge(&b, true, None, &server(101, Some("x")));
            assert_eq!(
                twin == ModelMerge::Skip,
                b.skip_if_deleted_twin,
                "{}",
                m.name()
            );
        }
    }

    #[test]
    fn start_reset_table() {
        use ServerChange::*;
        use StartReset::*;
        let table = [
            (Never, Some(("u2", "")), Keep),
            (StoredOnly, None, Keep),
            (StoredOnly, Some(("u", "")), Keep),
            (StoredOnly, Some(("u2", "")), Reset),
            (StoredOnly, Some(("u", "p")), Reset),
            (StoredOrFirstRun, None, IfAnyFromServer),
            (StoredOrFirstRun, Some(("u", "")), Keep),
            (StoredOrFirstRun, Some(("u2", "")), Reset),
        ];
        for (rule, stored, want) in table {
            assert_eq!(
                start_reset(rule, stored, "u", ""),
                want,
                "{rule:?} {stored:?}"
            );
        }
    }

    #[test]
    fn push_markers() {
        assert!(marked_for_push("", 0, 0, false));
        assert!(
            !marked_for_push("server", 5, 9, false),
            "full syncs push new rows only"
        );
        assert!(marked_for_push("server", 5, 9, true));
        assert!(!marked_for_push("server", 5, 5, true));
        assert!(!marked_for_push("server", 0, 9, true));
    }
}
