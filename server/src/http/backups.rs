//! `/backups` (§1.4): list and create the caller's own backups.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::backup::{self, Backup};
use crate::error::ApiResult;
use crate::http::extract::UserId;
use crate::state::AppState;
use crate::timestamp::format_iso;

pub async fn list(State(state): State<AppState>, UserId(user): UserId) -> ApiResult<Json<Value>> {
    let backups = state
        .run(move |state| Ok(backup::list(state, &user)?))
        .await?;
    Ok(Json(json!({ "backups": backups })))
}

/// `POST /backups`: the whole backup runs as one blocking call (it copies
/// every profile database and image of the user).
pub async fn create(State(state): State<AppState>, UserId(user): UserId) -> ApiResult<Json<Value>> {
    let made = state
        .run(move |state| Ok(backup::backup_user(state, &user)?))
        .await?;
    Ok(Json(match made {
        Some(b) => created_body(&b),
        // The Node server's answer, with its 200 (the caller's user
        // vanished between auth and the backup).
        None => json!({ "success": false, "error": "User not found" }),
    }))
}

/// The Node server's answer to a backup taken: also what `peek-server
/// backup` prints, one line per user.
pub fn created_body(b: &Backup) -> Value {
    json!({
        "success": true, "filename": b.filename, "path": b.path.display().to_string(),
        "size": b.size, "timestamp": format_iso(b.taken_ms),
        "tableCounts": backup::counts_json(b.totals),
    })
}
