//! `/backups` (§1.4): list and create the caller's own backups.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::backup;
use crate::error::ApiResult;
use crate::http::extract::UserId;
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, UserId(user): UserId) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "backups": backup::list(&state, &user)? })))
}

pub async fn create(State(state): State<AppState>, UserId(user): UserId) -> ApiResult<Json<Value>> {
    Ok(Json(backup::backup_user(&state, &user)?))
}
