//! `/items` — the sync API (§1.4) and its additive extensions: paging on
//! `GET /items`, the change feed, batch push, the conflict fields.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, Params, Segment, UserId};
use crate::http::list_body::{self, Extras};
use crate::http::profile;
use crate::http::wire::{self, ItemOut};
use crate::state::AppState;
use crate::store::images;
use crate::store::items::{self, ItemType, ListQuery, WriteOutcome, WriteStatus, TYPE_ERROR};
use crate::timestamp;

/// `?type=`: absent is no filter, anything else must be a valid type.
pub fn type_filter(params: &Params) -> ApiResult<Option<ItemType>> {
    match params.get("type") {
        None | Some("") => Ok(None),
        Some(t) => ItemType::parse(t)
            .map(Some)
            .ok_or_else(|| ApiError::bad(TYPE_ERROR)),
    }
}

/// Saves one parsed item in `tx` (images through the image store).
fn save_one(
    state: &AppState,
    dir: &std::path::Path,
    tx: &rusqlite::Connection,
    v: &Value,
) -> ApiResult<WriteOutcome> {
    let now = state.now();
    let (w, img) = wire::parse_item(v, now)?;
    if w.kind == Some(ItemType::Image) {
        let up = images::ImageUpload {
            data: img.data.as_deref(),
            filename: img.filename.as_deref(),
            mime: img.mime.as_deref(),
        };
        return Ok(images::save_from_items(
            tx,
            state.ids.as_ref(),
            dir,
            &w,
            &up,
            now,
        )?);
    }
    Ok(items::save(tx, state.ids.as_ref(), &w, now)?)
}

/// `POST /items`. `created` stays `true` on updates, as deployed (D20);
/// `status` and `version` say what really happened.
pub async fn post_item(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    body.object()?;
    let resp = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let (state, dir) = (state.clone(), db.dir.clone());
            db.write(move |tx| {
                let out = save_one(&state, &dir, tx, &body.0)?;
                let mut resp = json!({
                    "id": out.id, "type": out.kind, "created": true,
                    "status": out.status.as_str(), "version": out.version,
                });
                if let Some(item) = stale_item(tx, &out)? {
                    resp["item"] = json!(ItemOut::new(&item, true));
                }
                Ok(resp)
            })
        })
        .await?;
    Ok(Json(resp))
}

/// For a `stale` write, the version the server kept, so the client can
/// adopt it without another round trip (conflict extension).
fn stale_item(tx: &rusqlite::Connection, out: &WriteOutcome) -> ApiResult<Option<items::Item>> {
    if out.status != WriteStatus::Stale {
        return Ok(None);
    }
    Ok(items::by_id(tx, &out.id)?)
}

/// `POST /items/batch` `{"items":[...]}`: one transaction, one result per
/// item in order. A bad item gets an `error` result and is skipped; the
/// others are saved. Idempotent by sync id like single pushes.
pub async fn post_batch(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let JsonBody(Value::Object(mut obj)) = body else {
        return Err(ApiError::bad("request body must be a JSON object"));
    };
    let Some(Value::Array(list)) = obj.remove("items") else {
        return Err(ApiError::bad("items must be an array"));
    };
    if list.len() > state.limits.batch_items {
        return Err(ApiError::bad(format!(
            "too many items in one batch (limit {})",
            state.limits.batch_items
        )));
    }
    let results = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let (state, dir) = (state.clone(), db.dir.clone());
            db.write(move |tx| {
                let mut results = Vec::with_capacity(list.len());
                // No savepoint per item: every check that can refuse an item
                // (parsing, §1.4 validation, image type and size) runs before
                // its first write, so a refused item has written nothing, and
                // any other error fails the whole batch.
                for (index, v) in list.iter().enumerate() {
                    match save_one(&state, &dir, tx, v) {
                        Ok(o) => {
                            let mut r = json!({
                                "index": index, "id": o.id, "type": o.kind,
                                "status": o.status.as_str(), "version": o.version,
                            });
                            if let Some(item) = stale_item(tx, &o)? {
                                r["item"] = json!(ItemOut::new(&item, true));
                            }
                            results.push(r);
                        }
                        Err(ApiError::BadRequest(msg)) => {
                            results
                                .push(json!({ "index": index, "status": "error", "error": msg }));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok((results, items::feed_epoch(tx)?))
            })
        })
        .await?;
    // The feed epoch here too, so a client that pushed before a restore
    // but never read the feed still notices it (found by the simulator).
    let (results, epoch) = results;
    Ok(Json(json!({ "results": results, "epoch": epoch })))
}

fn parse_cursor(raw: &str) -> ApiResult<(i64, String)> {
    raw.split_once(':')
        .and_then(|(ts, id)| Some((ts.parse().ok()?, id.to_string())))
        .ok_or_else(|| ApiError::bad("invalid cursor"))
}

/// `GET /items`, with optional `limit` and `cursor` paging.
pub async fn list_items(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
) -> ApiResult<axum::response::Response> {
    let kind = type_filter(&params)?;
    let limit = params
        .uint("limit")?
        .map(|l| (l as usize).clamp(1, state.limits.page_max));
    let after = params
        .get("cursor")
        .filter(|c| !c.is_empty())
        .map(parse_cursor)
        .transpose()?;
    let include_deleted = params.get("includeDeleted") == Some("true");
    let q = ListQuery {
        kind,
        include_deleted,
        limit,
        after,
    };
    // The body is written on the blocking pool too, after the read: a
    // full list is megabytes of JSON.
    let body = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let (page, more) = db.read(|tx| Ok(items::list_page(tx, &q)?))?;
            let mut extras = Extras::default();
            if limit.is_some() {
                let next = page
                    .last()
                    .filter(|_| more)
                    .map(|l| format!("{}:{}", l.created_at(), l.id()));
                extras.next_cursor = Some(next);
                extras.has_more = Some(more);
            }
            Ok(list_body::list_json(&page, &extras))
        })
        .await?;
    Ok(json_bytes(body))
}

/// A JSON body written by hand (see [`list_body`]).
fn json_bytes(body: Vec<u8>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `GET /items/since/:timestamp` (§1.4).
pub async fn since(
    State(state): State<AppState>,
    UserId(user): UserId,
    Segment(raw): Segment,
    params: Params,
) -> ApiResult<axum::response::Response> {
    let ts = timestamp::parse_since_param(&raw)
        .ok_or_else(|| ApiError::bad("Invalid timestamp format. Use ISO 8601 or Unix ms."))?;
    let kind = type_filter(&params)?;
    let body = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let found = db.read(|tx| Ok(items::since(tx, ts, kind)?))?;
            let extras = Extras {
                since: Some(&raw),
                ..Extras::default()
            };
            Ok(list_body::list_json(&found, &extras))
        })
        .await?;
    Ok(json_bytes(body))
}

/// `GET /items/changes?after=<cursor>&limit=<n>`: every item whose latest
/// version is after the cursor, tombstones included, in commit order. The
/// cursor is a server-assigned sequence, so no client clock and no number
/// of same-millisecond writes can make a reader skip a change (D8, D9).
pub async fn changes(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
) -> ApiResult<axum::response::Response> {
    let after = params.uint("after")?.unwrap_or(0) as i64;
    let limit = params
        .uint("limit")?
        .map_or(state.limits.page_default, |l| l as usize)
        .clamp(1, state.limits.page_max);
    let body = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let (page, more, epoch) = db.read(|tx| {
                let (page, more) = items::changes(tx, after, limit)?;
                Ok((page, more, items::feed_epoch(tx)?))
            })?;
            let extras = Extras {
                cursor: Some(page.last().map_or(after, |i| i.version())),
                epoch: Some(epoch),
                has_more: Some(more),
                ..Extras::default()
            };
            Ok(list_body::list_json(&page, &extras))
        })
        .await?;
    Ok(json_bytes(body))
}

/// `GET /items/:id`: live items only, without `deletedAt` (§1.3).
pub async fn get_item(
    State(state): State<AppState>,
    UserId(user): UserId,
    Segment(id): Segment,
    params: Params,
) -> ApiResult<Json<Value>> {
    let item = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            Ok(db.read(|tx| Ok(items::live_by_id(tx, &id)?))?)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("item not found"))?;
    Ok(Json(json!({ "item": ItemOut::new(&item, false) })))
}

/// `DELETE /items/:id` and the legacy `DELETE /<type>s/:id`. Always
/// `{"deleted":true}`, as deployed, even for unknown ids (D22 kept).
pub async fn delete_item(
    State(state): State<AppState>,
    UserId(user): UserId,
    Segment(id): Segment,
    params: Params,
) -> ApiResult<Json<Value>> {
    state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let state = state.clone();
            Ok(db.write(move |tx| items::soft_delete(tx, &id, state.now()))?)
        })
        .await?;
    Ok(Json(json!({ "deleted": true })))
}

/// `PATCH /items/:id/tags` and the legacy variants. `{"updated":true}` as
/// deployed; unknown or deleted ids are left untouched (D22).
pub async fn patch_tags(
    State(state): State<AppState>,
    UserId(user): UserId,
    Segment(id): Segment,
    params: Params,
    body: JsonBody,
) -> ApiResult<Json<Value>> {
    let tags = wire::tags_field(body.object()?)?;
    state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let state = state.clone();
            Ok(db.write(move |tx| {
                items::set_tags(tx, state.ids.as_ref(), &id, &tags, state.now())
            })?)
        })
        .await?;
    Ok(Json(json!({ "updated": true })))
}
