//! The type-specific endpoints older clients and integrations use (§1.4):
//! `/webhook`, `/urls`, `/texts`, `/tagsets`, `/tags`. Not version-checked;
//! every save takes the non-sync path (content dedup, §3.2).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, Params, UserId};
use crate::http::profile;
use crate::http::wire::{metadata_field, tags_field};
use crate::state::AppState;
use crate::store::error::StoreError;
use crate::store::items::{self, Item, ItemType, ItemWrite, ListQuery};
use crate::store::tags;

fn metadata_json(item: &Item) -> Option<Value> {
    item.metadata
        .as_deref()
        .map(|m| serde_json::from_str(m).unwrap_or_else(|_| Value::String(m.to_string())))
}

fn with_metadata(mut v: Value, item: &Item) -> Value {
    if let Some(m) = metadata_json(item) {
        v["metadata"] = m;
    }
    v
}

async fn live_of(
    state: &AppState,
    user: String,
    params: Params,
    kind: ItemType,
) -> ApiResult<Vec<Item>> {
    state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let q = ListQuery {
                kind: Some(kind),
                ..ListQuery::default()
            };
            Ok(db.read(|tx| Ok(items::list(tx, &q)?))?.0)
        })
        .await
}

fn write_unsynced(
    kind: ItemType,
    content: Option<String>,
    obj: &Map<String, Value>,
) -> ApiResult<ItemWrite> {
    Ok(ItemWrite {
        kind: Some(kind),
        content,
        tags: tags_field(obj)?,
        metadata: metadata_field(obj),
        ..ItemWrite::default()
    })
}

fn entries<'a>(
    body: &'a Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a Map<String, Value>> {
    body.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn non_empty_str(obj: &Map<String, Value>, k: &str) -> Option<String> {
    obj.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `POST /webhook`: entries without `url`/`content`/tags are skipped;
/// extra keys (`id`, `saved_at`) are ignored. All or nothing.
pub async fn webhook(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let body = body.object()?;
    let mut writes = Vec::new();
    for e in entries(body, "urls") {
        if let Some(url) = non_empty_str(e, "url") {
            writes.push(write_unsynced(ItemType::Url, Some(url), e)?);
        }
    }
    for e in entries(body, "texts") {
        if let Some(c) = non_empty_str(e, "content") {
            writes.push(write_unsynced(ItemType::Text, Some(c), e)?);
        }
    }
    for e in entries(body, "tagsets") {
        let w = write_unsynced(ItemType::Tagset, None, e)?;
        if !w.tags.is_empty() {
            writes.push(w);
        }
    }
    let saved = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let state = state.clone();
            Ok(db.write(move |tx| {
                let now = state.now();
                for w in &writes {
                    items::save(tx, state.ids.as_ref(), w, now)?;
                }
                Ok::<_, StoreError>(writes.len())
            })?)
        })
        .await?;
    Ok(Json(json!({ "received": true, "saved_count": saved })))
}

/// `GET /urls`: `savedAt` is `createdAt`, as deployed.
pub async fn list_urls(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
) -> ApiResult<Json<Value>> {
    let urls: Vec<Value> = live_of(&state, user, params, ItemType::Url)
        .await?
        .iter()
        .map(|i| {
            with_metadata(
                json!({"id": i.id, "url": i.content, "savedAt": i.created_at, "tags": i.tags}),
                i,
            )
        })
        .collect();
    Ok(Json(json!({ "urls": urls })))
}

/// `GET /texts`.
pub async fn list_texts(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
) -> ApiResult<Json<Value>> {
    let texts: Vec<Value> = live_of(&state, user, params, ItemType::Text)
        .await?
        .iter()
        .map(|i| {
            with_metadata(
                json!({"id": i.id, "content": i.content, "createdAt": i.created_at, "updatedAt": i.updated_at, "tags": i.tags}),
                i,
            )
        })
        .collect();
    Ok(Json(json!({ "texts": texts })))
}

/// `GET /tagsets`.
pub async fn list_tagsets(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
) -> ApiResult<Json<Value>> {
    let sets: Vec<Value> = live_of(&state, user, params, ItemType::Tagset)
        .await?
        .iter()
        .map(|i| with_metadata(json!({"id": i.id, "createdAt": i.created_at, "updatedAt": i.updated_at, "tags": i.tags}), i))
        .collect();
    Ok(Json(json!({ "tagsets": sets })))
}

async fn save_single(
    state: AppState,
    user: String,
    params: Params,
    w: ItemWrite,
) -> ApiResult<Json<Value>> {
    let out = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let state = state.clone();
            Ok(db.write(move |tx| items::save(tx, state.ids.as_ref(), &w, state.now()))?)
        })
        .await?;
    Ok(Json(json!({ "id": out.id, "created": true })))
}

/// `POST /texts` `{content, tags?, metadata?}`.
pub async fn post_text(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let obj = body.object()?;
    let content =
        non_empty_str(obj, "content").ok_or_else(|| ApiError::bad("content is required"))?;
    let w = write_unsynced(ItemType::Text, Some(content), obj)?;
    save_single(state, user, params, w).await
}

/// `POST /tagsets` `{tags, metadata?}`.
pub async fn post_tagset(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let obj = body.object()?;
    let w = write_unsynced(ItemType::Tagset, None, obj)
        .ok()
        .filter(|w| !w.tags.is_empty())
        .ok_or_else(|| ApiError::bad("tags array is required and must not be empty"))?;
    save_single(state, user, params, w).await
}

/// `GET /tags`: every tag, stored frecency score descending (§1.4).
pub async fn list_tags(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
) -> ApiResult<Json<Value>> {
    let stats = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            Ok(db.read(|tx| Ok(tags::stats(tx)?))?)
        })
        .await?;
    Ok(Json(json!({ "tags": stats })))
}
