//! `/images` (§1.5): JSON base64 or multipart upload, listing, bytes.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::http::extract::{JsonBody, Params, Segment, UserId};
use crate::http::profile;
use crate::http::wire::tags_field;
use crate::state::AppState;
use crate::store::images::{self, NewImage, MAX_IMAGE_BYTES};

struct Upload {
    bytes: Vec<u8>,
    filename: String,
    mime: String,
    tags: Vec<String>,
}

async fn from_multipart(req: Request, state: &AppState) -> ApiResult<Upload> {
    let mut mp = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::bad(format!("invalid multipart body: {e}")))?;
    let mut file = None;
    let mut tags = Vec::new();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::bad(format!("invalid multipart body: {e}")))?
    {
        match field.name() {
            Some("file") => {
                let filename = field.file_name().unwrap_or("upload").to_string();
                let mime = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::bad(format!("invalid multipart body: {e}")))?;
                file = Some((bytes.to_vec(), filename, mime));
            }
            Some("tags") => {
                // A JSON array string; anything unparsable means no tags, as deployed.
                let text = field.text().await.unwrap_or_default();
                tags = serde_json::from_str::<Vec<String>>(&text).unwrap_or_default();
            }
            _ => {}
        }
    }
    let (bytes, filename, mime) = file.ok_or_else(|| ApiError::bad("file is required"))?;
    Ok(Upload {
        bytes,
        filename,
        mime,
        tags,
    })
}

async fn from_json(req: Request, state: &AppState) -> ApiResult<Upload> {
    let body = JsonBody::from_request(req, state).await?;
    let obj = body.object()?;
    let s = |k: &str| obj.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    let content =
        s("content").ok_or_else(|| ApiError::bad("content (base64 image data) is required"))?;
    let filename = s("filename").ok_or_else(|| ApiError::bad("filename is required"))?;
    let mime = s("mime").ok_or_else(|| ApiError::bad("mime type is required"))?;
    let b64 = content
        .split_once("base64,")
        .map_or(content, |(_, rest)| rest);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| ApiError::bad("content must be base64 image data"))?;
    Ok(Upload {
        bytes,
        filename: filename.to_string(),
        mime: mime.to_string(),
        tags: tags_field(obj)?,
    })
}

/// `POST /images`.
pub async fn post_image(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
    req: Request,
) -> ApiResult<Json<Value>> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let up = if multipart {
        from_multipart(req, &state).await?
    } else {
        from_json(req, &state).await?
    };
    if !up.mime.starts_with("image/") {
        return Err(ApiError::bad("file must be an image"));
    }
    if up.bytes.len() > MAX_IMAGE_BYTES {
        return Err(ApiError::bad("image exceeds maximum size of 10 MB"));
    }
    let out = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            let (state, dir) = (state.clone(), db.dir.clone());
            Ok(db.write(move |tx| {
                let img = NewImage {
                    bytes: &up.bytes,
                    filename: &up.filename,
                    mime: &up.mime,
                    tags: &up.tags,
                    sync_id: None,
                    client_metadata: None,
                    deleted_at: None,
                    edited_at: None,
                };
                images::save(tx, state.ids.as_ref(), &dir, &img, state.now())
            })?)
        })
        .await?;
    Ok(Json(
        json!({ "id": out.id, "type": "image", "created": true }),
    ))
}

/// `GET /images`.
pub async fn list_images(
    State(state): State<AppState>,
    UserId(user): UserId,
    params: Params,
) -> ApiResult<Json<Value>> {
    let list = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            Ok(db.read(images::list)?)
        })
        .await?;
    Ok(Json(json!({ "images": list })))
}

/// `GET /images/:id`: the bytes with their type and an inline disposition.
pub async fn get_image(
    State(state): State<AppState>,
    UserId(user): UserId,
    Segment(id): Segment,
    params: Params,
) -> ApiResult<Response> {
    // The file's bytes are read in the same blocking call as its row.
    let f = state
        .run(move |state| {
            let db = profile::resolve(state, &user, &params)?;
            Ok(db.read(|tx| images::read(tx, &db.dir, &id))?)
        })
        .await?;
    let name: String = f
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, f.mime),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        f.bytes,
    )
        .into_response())
}
