//! Platform models: one setting that makes the engine behave like one of
//! the five original clients of §4, bugs included, so the simulator and
//! the conformance suite can show what today's apps do. The reference
//! behaviour is the default and the only one held to the guarantees.
//! Each departure is listed, with its D-number, in `docs/platform-models.md`.

use crate::model::TimestampKeys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Model {
    #[default]
    Reference,
    /// `sync/sync.js` (§4.1).
    JsEngine,
    /// `backend/electron/sync.ts` (§4.2).
    Electron,
    /// `backend/tauri/src-tauri/src/sync.rs` (§4.3).
    TauriDesktop,
    /// `backend/tauri-mobile/src-tauri/src/lib.rs` (§4.4).
    TauriMobile,
    /// `backend/extension/sync.js` (§4.5).
    Extension,
}

impl Model {
    pub const ALL: [Model; 6] = [
        Model::Reference,
        Model::JsEngine,
        Model::Electron,
        Model::TauriDesktop,
        Model::TauriMobile,
        Model::Extension,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Model::Reference => "reference",
            Model::JsEngine => "js-engine",
            Model::Electron => "electron",
            Model::TauriDesktop => "tauri-desktop",
            Model::TauriMobile => "tauri-mobile",
            Model::Extension => "extension",
        }
    }

    pub fn behaviour(self) -> Behaviour {
        let snake = TimestampKeys::SnakeOnly {
            strings_only: false,
            required: false,
        };
        let base = Behaviour {
            client_header: "sync-engine",
            timestamp_keys: snake,
            nan_insert_fails: false,
            profile: ProfileParam::ServerOrOmit,
            incremental_always: false,
            cursor: CursorRule::StartTime,
            cursor_on_push_only: false,
            cursor_on_pull_only: true,
            server_change: ServerChange::StoredOnly,
            skip_if_deleted_twin: false,
            update_type_on_pull: false,
            content_only_if_truthy: false,
            since: SinceFormat::IsoMs,
            tag_edits_mark_changed: true,
            markers_on_pull_only: true,
            pull_only_full: false,
        };
        match self {
            // The reference does not use these flags (see `sync::reference`).
            Model::Reference => Behaviour {
                client_header: "peek-sync-rs",
                timestamp_keys: TimestampKeys::Lenient,
                profile: ProfileParam::Strict,
                ..base
            },
            Model::JsEngine => Behaviour {
                nan_insert_fails: true,
                // `DataEngine.tagItem`/`untagItem` write the link only
                // (sync/data.js:176-185): D35.
                tag_edits_mark_changed: false,
                // Only `syncAll` records the server (sync/sync.js:176).
                markers_on_pull_only: false,
                // `pullFromServer` never writes `lastSyncTime`; only
                // `syncAll` does (M:sync/sync.js:44-60, 166-186).
                cursor_on_pull_only: false,
                ..base
            },
            Model::Electron => Behaviour {
                client_header: "desktop",
                nan_insert_fails: true,
                profile: ProfileParam::ServerOrDefault,
                cursor_on_push_only: true,
                content_only_if_truthy: true,
                // `tagItem`/`untagItem` never touch the item's `updatedAt`
                // (backend/electron/datastore.ts:1546-1587): D35.
                tag_edits_mark_changed: false,
                ..base
            },
            Model::TauriDesktop => Behaviour {
                client_header: "desktop-tauri",
                timestamp_keys: TimestampKeys::SnakeOnly {
                    strings_only: true,
                    required: true,
                },
                profile: ProfileParam::LocalIdWithSlug,
                server_change: ServerChange::Never,
                // `tag_item`/`untag_item` leave `updated_at` alone
                // (backend/tauri/src-tauri/src/datastore.rs:1633, 1677): D35.
                tag_edits_mark_changed: false,
                // The UI's pull passes no `since` and nothing saves the
                // cursor outside `sync_full` (src-tauri/src/commands/sync.rs:35-66).
                cursor_on_pull_only: false,
                pull_only_full: true,
                ..base
            },
            Model::TauriMobile => Behaviour {
                client_header: "mobile",
                timestamp_keys: TimestampKeys::SnakeOnly {
                    strings_only: false,
                    required: true,
                },
                profile: ProfileParam::ServerElseLocalId,
                incremental_always: true,
                cursor: CursorRule::EndTime,
                server_change: ServerChange::Never,
                skip_if_deleted_twin: true,
                update_type_on_pull: true,
                since: SinceFormat::Rfc3339Raw,
                // Only `sync_all_internal` writes `last_sync`
                // (backend/tauri-mobile/src-tauri/src/lib.rs:3727-3733).
                cursor_on_pull_only: false,
                ..base
            },
            Model::Extension => Behaviour {
                client_header: "extension",
                profile: ProfileParam::ServerOrDefault,
                server_change: ServerChange::StoredOrFirstRun,
                content_only_if_truthy: true,
                // `tagItem`/`untagItem` never touch the item's `updatedAt`
                // (backend/extension/datastore.js:328-376): D35.
                tag_edits_mark_changed: false,
                // `pullFromServer` saves neither the cursor nor the server
                // markers; only `syncAll` does (backend/extension/sync.js:122-162,
                // 504-517), so the next full sync takes the first-run reset.
                cursor_on_pull_only: false,
                markers_on_pull_only: false,
                ..base
            },
        }
    }
}

/// What the model sends as `?profile=` (D16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileParam {
    /// Reference: the configured server profile with `strictProfile=true`.
    Strict,
    /// js-engine: the server profile if set, else omitted.
    ServerOrOmit,
    /// Electron/extension: the server profile, `default` when unset.
    ServerOrDefault,
    /// Tauri desktop: the *local* profile id plus an ignored `slug`.
    LocalIdWithSlug,
    /// Mobile: the server profile, else the local profile id.
    ServerElseLocalId,
}

/// When the pull cursor is taken (D6, D8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorRule {
    /// Client clock before the pull.
    StartTime,
    /// Client clock after the push (mobile, D6).
    EndTime,
}

/// Server-change detection (D14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerChange {
    /// Tauri desktop and mobile.
    Never,
    /// Engine, Electron: reset only when stored values exist and differ.
    StoredOnly,
    /// Extension: also reset on a first run if any item came from a server.
    StoredOrFirstRun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinceFormat {
    IsoMs,
    /// Mobile inserts its stored RFC 3339 string (`+00:00`) raw.
    Rfc3339Raw,
}

/// The per-model flags the legacy sync path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviour {
    pub client_header: &'static str,
    /// Keys and value shapes read for timestamps (D1, D2).
    pub timestamp_keys: TimestampKeys,
    /// A pulled item with `NaN` timestamps violates `NOT NULL` after the
    /// row was inserted, aborting the sync (D1, engine and Electron).
    pub nan_insert_fails: bool,
    pub profile: ProfileParam,
    /// Push "modified" rows even when the cursor is 0 (mobile); the others
    /// push only never-synced rows then (D13).
    pub incremental_always: bool,
    pub cursor: CursorRule,
    /// A push-only sync moves the pull cursor (Electron IPC, D7).
    pub cursor_on_push_only: bool,
    /// A pull-only sync moves the pull cursor. The JS engine's
    /// `pullFromServer` does not, so an edit made after it is judged with
    /// the cursor still 0 (D13).
    pub cursor_on_pull_only: bool,
    pub server_change: ServerChange,
    /// Mobile: a deleted local twin blocks re-import (no D5).
    pub skip_if_deleted_twin: bool,
    /// Mobile updates `type` on pull; the others never do (D25).
    pub update_type_on_pull: bool,
    /// Electron/extension never clear content from an empty server value.
    pub content_only_if_truthy: bool,
    pub since: SinceFormat,
    /// A tag-only local edit marks the item changed (and so pushed).
    /// Electron, the extension and Tauri desktop write the tag link only,
    /// so such an edit never leaves the device (D35).
    pub tag_edits_mark_changed: bool,
    /// A pull-only sync records the server it pulled from (the markers
    /// server-change detection reads). The extension's does not (D14).
    pub markers_on_pull_only: bool,
    /// A pull-only sync is always a full `GET /items`, whatever the
    /// cursor (Tauri desktop).
    pub pull_only_full: bool,
}
