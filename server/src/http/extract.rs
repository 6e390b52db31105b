//! Request extractors that turn every client mistake into a JSON 4xx
//! (D30), instead of axum's plain-text rejections or the Node server's 500.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated user, put in the request by the gate middleware.
#[derive(Debug, Clone)]
pub struct UserId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UserId {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<UserId>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

/// Query parameters as a map (last value of a repeated key wins).
#[derive(Debug, Clone, Default)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// A non-negative integer parameter; 400 if present and not one.
    pub fn uint(&self, k: &str) -> Result<Option<u64>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| ApiError::bad(format!("{k} must be a non-negative integer"))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        Ok(Params(
            form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        ))
    }
}

/// The one path parameter of a route (`{id}`, `{ts}`), percent-decoded.
/// Axum's `Path` answers a segment that does not decode to UTF-8 (e.g.
/// `/items/%80`) with a plain-text 400; this answers JSON like every
/// other client mistake (D30). Found by the hostile-input fuzz test.
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(s)| Segment(s))
            .map_err(|e| ApiError::bad(e.body_text()))
    }
}

/// Reads the whole body up to the configured limit (413 beyond it).
pub async fn body_bytes(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })
}

/// A JSON body of any shape. Content-Type is not required: the deployed
/// clients all send it, but Hono's `c.req.json()` never checked it.
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = body_bytes(req.into_body(), state.limits.body_bytes).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Value::Object(Default::default())));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))
    }
}

impl JsonBody {
    /// The body as an object, or 400.
    pub fn object(&self) -> Result<&serde_json::Map<String, Value>, ApiError> {
        self.0
            .as_object()
            .ok_or_else(|| ApiError::bad("request body must be a JSON object"))
    }
}
