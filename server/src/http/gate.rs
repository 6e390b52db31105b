//! The global request pipeline of §1.1, in the Node server's order:
//! version headers on every response, then auth for every path but `/`
//! (and our `/healthz`), then the version check for `/items` and
//! `/items/*` only.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::http::extract::UserId;
use crate::state::AppState;
use crate::{DATASTORE_VERSION, PROTOCOL_VERSION};

pub use protocol::version::header::{
    DATASTORE_VERSION as DATASTORE_HEADER, PROTOCOL_VERSION as PROTOCOL_HEADER,
};

/// Outermost layer: stamps both version headers on every response,
/// including 401, 404, 409, 413 and image bytes.
pub async fn version_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(DATASTORE_HEADER, HeaderValue::from(DATASTORE_VERSION));
    h.insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
    resp
}

/// JS `parseInt(x, 10)`: leading digits after optional sign and space;
/// anything unparsable is 0 ("not checked").
fn parse_int_like_js(v: &str) -> i64 {
    let t = v.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(18)
        .collect();
    let n = digits.parse::<i64>().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

/// §1.1 step 3. A header that is absent, unparsable or 0 is not checked.
pub fn check_versions(headers: &HeaderMap) -> Result<(), ApiError> {
    let read = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(parse_int_like_js)
            .unwrap_or(0)
    };
    let ds = read(DATASTORE_HEADER);
    if ds > 0 && ds != DATASTORE_VERSION {
        return Err(ApiError::VersionMismatch {
            datastore: true,
            client: ds,
            server: DATASTORE_VERSION,
        });
    }
    let proto = read(PROTOCOL_HEADER);
    if proto > 0 && proto != PROTOCOL_VERSION {
        return Err(ApiError::VersionMismatch {
            datastore: false,
            client: proto,
            server: PROTOCOL_VERSION,
        });
    }
    Ok(())
}

fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Auth, then the version check, then an early 413 on a declared
/// oversize body (before anything reads it).
pub async fn auth_and_versions(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if path == "/" || path == "/healthz" {
        return next.run(req).await;
    }
    let is_items = path == "/items" || path.starts_with("/items/");
    let Some(key) = bearer_key(req.headers()).map(str::to_owned) else {
        return ApiError::Unauthorized.into_response();
    };
    // The one store call not sent to the blocking pool first: a single
    // indexed read of `system.db` (WAL mode, so it never waits for a
    // writer; about 2 µs) costs less than the hand-off there and back,
    // four context switches (a one-connection push went from 10.5 to 6.1
    // switches per request without it). Only when another request holds
    // the connection does it go the usual way, so an async worker never
    // waits for the lock.
    let found = match state.system.try_user_for_key(&key) {
        Some(found) => found.map_err(ApiError::from),
        None => state.run(move |s| Ok(s.system.user_for_key(&key)?)).await,
    };
    let user = match found {
        Ok(Some(user)) => user,
        Ok(None) => return ApiError::Unauthorized.into_response(),
        Err(e) => return e.into_response(),
    };
    if is_items {
        if let Err(e) = check_versions(req.headers()) {
            return e.into_response();
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.limits.body_bytes as u64) {
        return ApiError::PayloadTooLarge {
            limit: state.limits.body_bytes,
        }
        .into_response();
    }
    req.extensions_mut().insert(UserId(user.clone()));
    let mut resp = next.run(req).await;
    // For the access log (`http::observe`); never sent.
    resp.extensions_mut().insert(UserId(user));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_headers_parse_like_parse_int() {
        assert_eq!(parse_int_like_js("1"), 1);
        assert_eq!(parse_int_like_js("1.9"), 1);
        assert_eq!(parse_int_like_js("abc"), 0);
        assert_eq!(parse_int_like_js(" 2x"), 2);
        assert_eq!(parse_int_like_js("-3"), -3);
    }

    #[test]
    fn only_positive_mismatches_are_rejected() {
        let mut h = HeaderMap::new();
        h.insert(DATASTORE_HEADER, HeaderValue::from_static("abc"));
        h.insert(PROTOCOL_HEADER, HeaderValue::from_static("0"));
        assert!(check_versions(&h).is_ok());
        h.insert(PROTOCOL_HEADER, HeaderValue::from_static("2"));
        assert!(matches!(
            check_versions(&h),
            Err(ApiError::VersionMismatch {
                datastore: false,
                client: 2,
                ..
            })
        ));
        h.insert(DATASTORE_HEADER, HeaderValue::from_static("2"));
        assert!(matches!(
            check_versions(&h),
            Err(ApiError::VersionMismatch {
                datastore: true,
                ..
            })
        ));
    }
}
