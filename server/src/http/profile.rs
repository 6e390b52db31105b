//! `?profile=` resolution (§1.2): UUID, else legacy slug, else the user's
//! default profile (created on demand).
//!
//! Departures (D16): UUIDs match case-insensitively (they are stored in
//! lower case), and `strictProfile=true` turns the silent fallback into a
//! 404 for clients that want exact targeting. Without it, unknown ids
//! still land in the default profile, because Tauri desktop and mobile send
//! their *local* profile id and depend on that fallback.

use std::sync::Arc;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::Params;
use crate::state::AppState;
use crate::store::datastore::ProfileDb;

/// 8-4-4-4-12 hex, any case (the Node server's regex).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The database the request's `profile` parameter names, for `user`.
/// Blocking (`system.db`, maybe opening the file): call it inside
/// `AppState::run`.
pub fn resolve(state: &AppState, user: &str, params: &Params) -> ApiResult<Arc<ProfileDb>> {
    let raw = params
        .get("profile")
        .filter(|p| !p.is_empty())
        .unwrap_or("default");
    let strict = params.get("strictProfile") == Some("true");
    let found = if is_uuid(raw) {
        state.system.profile(user, &raw.to_ascii_lowercase())?
    } else {
        state.system.profile_by_slug(user, raw)?
    };
    let profile = match found {
        Some(p) => p,
        None if strict => return Err(ApiError::not_found("profile not found")),
        None => state
            .system
            .default_profile(user, || state.ids.uuid(), &state.now_iso())?,
    };
    Ok(state.profile_db(user, &profile.id)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_shape() {
        assert!(super::is_uuid("2F1C6F7E-0000-4000-8000-000000000000"));
        assert!(!super::is_uuid("default"));
        assert!(!super::is_uuid("2f1c6f7e-0000-4000-8000-00000000000g"));
    }
}
