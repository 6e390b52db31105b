//! `/profiles` (§1.4): no `profile` parameter, not version-checked.
//! Kept quirk (D20): create answers `userId`, list and get answer `user_id`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, Segment, UserId};
use crate::state::AppState;
use crate::store::error::StoreError;

pub async fn list(State(state): State<AppState>, UserId(user): UserId) -> ApiResult<Json<Value>> {
    let profiles = state
        .run(move |state| Ok(state.system.profiles(&user)?))
        .await?;
    Ok(Json(json!({ "profiles": profiles })))
}

pub async fn create(
    State(state): State<AppState>,
    UserId(user): UserId,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let name = body
        .object()?
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let p = state
        .run(move |state| {
            let id = state.ids.uuid();
            let p = state
                .system
                .create_profile(&user, &id, &name, &state.now_iso())
                .map_err(StoreError::from)?;
            // Create its datastore now so that it is born with its dedup
            // flag set and is never swept by a later restart's cleanup
            // (D17). If that fails (disk full, read-only), the row goes
            // too: a refused request leaves nothing behind, and the same
            // request succeeds once storage is back (found by
            // scripts/diskfault).
            if let Err(e) = state.profile_db(&user, &p.id) {
                if let Err(undo) = state.system.delete_profile(&user, &p.id) {
                    tracing::error!(error = %undo, profile = %p.id, "could not remove a half-created profile");
                }
                return Err(e.into());
            }
            Ok(p)
        })
        .await?;
    Ok(Json(json!({
        "profile": {
            "id": p.id, "userId": p.user_id, "slug": p.slug, "name": p.name,
            "created_at": p.created_at, "last_used_at": p.last_used_at,
        },
        "created": true,
    })))
}

pub async fn get(
    State(state): State<AppState>,
    UserId(user): UserId,
    Segment(id): Segment,
) -> ApiResult<Json<Value>> {
    let p = state
        .run(move |state| Ok(state.system.profile(&user, &id.to_ascii_lowercase())?))
        .await?
        .ok_or_else(|| ApiError::not_found("profile not found"))?;
    Ok(Json(json!({ "profile": p })))
}

/// Deletes the record only; the data folder stays, as deployed.
pub async fn delete(
    State(state): State<AppState>,
    UserId(user): UserId,
    Segment(id): Segment,
) -> ApiResult<Json<Value>> {
    state
        .run(move |state| {
            if !state
                .system
                .delete_profile(&user, &id.to_ascii_lowercase())?
            {
                return Err(ApiError::bad(format!(
                    "Profile '{id}' not found for user '{user}'"
                )));
            }
            Ok(())
        })
        .await?;
    Ok(Json(json!({ "deleted": true })))
}
