//! The HTTP surface: routes, the §1.1 pipeline, and thin handlers that
//! parse, call the store, and shape JSON.

pub mod backups;
pub mod extract;
pub mod gate;
pub mod images;
pub mod items;
pub mod legacy;
pub mod list_body;
pub mod observe;
pub mod profile;
pub mod profiles;
pub mod wire;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch};
use axum::{middleware, Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;
use crate::{DATASTORE_VERSION, PROTOCOL_VERSION};

/// Protocol extensions this server offers, listed by `GET /`. Names are
/// stable; clients must ignore names they do not know (`docs/protocol.md`).
pub const FEATURES: &[&str] = &[
    "changes-feed",
    "batch-push",
    "items-paging",
    "edit-conflicts",
    "strict-profile",
    "snake-case-aliases",
];

/// `GET /` (public).
async fn health() -> Json<Value> {
    Json(json!({
        "status": "ok",
        "message": "Webhook server running",
        "datastore_version": DATASTORE_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "features": FEATURES,
    }))
}

/// `GET /healthz` (public): the process is up and answering. Touches no
/// database, so a probe every few seconds costs nothing and a slow disk
/// does not make an orchestrator kill a server that is busy catching up;
/// `GET /` stays as the Node server had it.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Unknown routes and unknown methods on known routes: Hono's plain-text
/// 404, kept so that clients probing endpoints see what they saw before.
async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        "404 Not Found",
    )
}

/// The whole service. `main`, the tests and the simulator all call this.
pub fn app(state: AppState) -> Router {
    let legacy_item = |r: Router<AppState>, base: &str| {
        r.route(&format!("{base}/{{id}}"), delete(items::delete_item))
            .route(&format!("{base}/{{id}}/tags"), patch(items::patch_tags))
    };
    let mut r = Router::new()
        .route("/", get(health))
        .route("/healthz", get(healthz))
        .route("/items", get(items::list_items).post(items::post_item))
        .route("/items/batch", axum::routing::post(items::post_batch))
        .route("/items/changes", get(items::changes))
        .route("/items/since/{ts}", get(items::since))
        .route(
            "/items/{id}",
            get(items::get_item).delete(items::delete_item),
        )
        .route("/items/{id}/tags", patch(items::patch_tags))
        .route("/webhook", axum::routing::post(legacy::webhook))
        .route("/urls", get(legacy::list_urls))
        .route("/texts", get(legacy::list_texts).post(legacy::post_text))
        .route(
            "/tagsets",
            get(legacy::list_tagsets).post(legacy::post_tagset),
        )
        .route("/tags", get(legacy::list_tags))
        .route("/images", get(images::list_images).post(images::post_image))
        .route("/images/{id}", get(images::get_image))
        .route("/profiles", get(profiles::list).post(profiles::create))
        .route(
            "/profiles/{id}",
            get(profiles::get).delete(profiles::delete),
        )
        .route("/backups", get(backups::list).post(backups::create));
    for base in ["/urls", "/texts", "/tagsets", "/images"] {
        r = legacy_item(r, base);
    }
    r.fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            gate::auth_and_versions,
        ))
        .layer(middleware::from_fn(gate::version_headers))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.limits.body_bytes,
        ))
        .with_state(state)
}
