//! HAR 1.2 import (what Chrome DevTools, Electron's netLog viewers and
//! mitmproxy export): each entry becomes an exchange. Secrets are redacted
//! on the way in, like everything else that becomes a session line.

use base64::Engine as _;
use serde_json::Value;

use super::{Exchange, Header, Line, Req, Resp, Session};

/// Why a HAR file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a HAR file: {0}")]
    Shape(&'static str),
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some((
                h["name"].as_str()?.to_string(),
                h["value"].as_str()?.to_string(),
            ))
        })
        .filter(|(k, _)| !k.starts_with(':')) // HTTP/2 pseudo-headers
        .collect()
}

fn content_bytes(text: Option<&str>, encoding: Option<&str>) -> Vec<u8> {
    match (text, encoding) {
        (Some(t), Some("base64")) => base64::engine::general_purpose::STANDARD
            .decode(t)
            .unwrap_or_default(),
        (Some(t), _) => t.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    }
}

/// Parses an ISO 8601 `startedDateTime` to ms since the epoch.
fn started(v: &Value) -> Option<i64> {
    v.as_str().and_then(server::timestamp::parse_iso)
}

/// Splits an absolute URL into `(origin, path?query)`.
fn split_url(url: &str) -> (String, String) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => (
            url[..after_scheme + i].to_string(),
            url[after_scheme + i..].to_string(),
        ),
        None => (url.to_string(), "/".into()),
    }
}

/// Converts a HAR document into a session. `host`, if given, keeps only
/// entries whose URL starts with it (a browser HAR holds every request of
/// the page).
pub fn import(har: &str, host: Option<&str>) -> Result<Session, HarError> {
    let doc: Value = serde_json::from_str(har)?;
    let entries = doc["log"]["entries"]
        .as_array()
        .ok_or(HarError::Shape("no log.entries array"))?;
    let mut header = Header::new("har");
    header.recorder.upstream = doc["log"]["creator"]["name"]
        .as_str()
        .map(|c| format!("HAR from {c}"));
    let mut lines = Vec::new();
    for e in entries {
        let req = &e["request"];
        let Some(url) = req["url"].as_str() else {
            continue;
        };
        if host.is_some_and(|h| !url.starts_with(h)) {
            continue;
        }
        let (_, target) = split_url(url);
        let req_headers = pairs(&req["headers"]);
        let device = req_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-peek-device"))
            .or_else(|| {
                req_headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("x-peek-client"))
            })
            .map_or_else(|| "har".to_string(), |(_, v)| v.clone());
        let body = content_bytes(
            req["postData"]["text"].as_str(),
            req["postData"]["encoding"].as_str(),
        );
        let request = Req::new(
            req["method"].as_str().unwrap_or("GET"),
            &target,
            req_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &body,
        );
        let res = &e["response"];
        // Status 0 is how HAR writers mark "no response" (blocked, failed).
        let status = res["status"].as_u64().unwrap_or(0) as u16;
        let response = (status != 0).then(|| {
            let res_headers = pairs(&res["headers"]);
            let bytes = content_bytes(
                res["content"]["text"].as_str(),
                res["content"]["encoding"].as_str(),
            );
            Resp::new(
                status,
                res_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                &bytes,
            )
        });
        let x = Exchange {
            seq: lines.len() as u64,
            device,
            clock: None,
            at: started(&e["startedDateTime"]),
            server: None,
            delivered: u32::from(response.is_some()),
            error: response
                .is_none()
                .then(|| "no response in the HAR".to_string()),
            response,
            request,
            fault: None,
            ms: e["time"].as_f64(),
        };
        lines.push(Line::Exchange(Box::new(x)));
    }
    Ok(Session { header, lines })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_become_redacted_exchanges() {
        let har = r#"{"log":{"version":"1.2","creator":{"name":"WebInspector"},"entries":[
          {"startedDateTime":"2026-01-27T10:00:00.000Z","time":12.5,
           "request":{"method":"POST","url":"https://peek.example/items?profile=p&key=s3cret",
             "headers":[{"name":"Authorization","value":"Bearer s3cret"},{"name":"X-Peek-Client","value":"ios-1"},{"name":":authority","value":"x"}],
             "postData":{"mimeType":"application/json","text":"{\"type\":\"url\",\"content\":\"https://a\"}"}},
           "response":{"status":200,"headers":[{"name":"Content-Type","value":"application/json"}],
             "content":{"size":9,"mimeType":"application/json","text":"eyJpZCI6IngifQ==","encoding":"base64"}}},
          {"startedDateTime":"2026-01-27T10:00:01.000Z","time":1,
           "request":{"method":"GET","url":"https://other.example/x","headers":[]},
           "response":{"status":0,"headers":[],"content":{"size":0}}}
        ]}}"#;
        let s = import(har, Some("https://peek.example")).unwrap();
        let xs: Vec<_> = s.exchanges().collect();
        assert_eq!(xs.len(), 1);
        let x = xs[0];
        assert_eq!(x.device, "ios-1");
        assert_eq!(x.request.path, "/items");
        assert_eq!(x.request.query, "profile=p&key=<redacted>");
        assert_eq!(x.request.header("authorization"), Some("<redacted>"));
        assert!(x.request.header(":authority").is_none());
        assert_eq!(x.request.body.json().unwrap()["type"], "url");
        assert_eq!(x.response.as_ref().unwrap().body.json().unwrap()["id"], "x");
        assert_eq!(x.at, Some(1_769_508_000_000));
        assert!(!String::from_utf8(s.to_jsonl()).unwrap().contains("s3cret"));
        let all = import(har, None).unwrap();
        let failed = all.exchanges().nth(1).unwrap();
        assert_eq!((failed.delivered, failed.response.is_none()), (0, true));
        assert!(import("{}", None).is_err());
    }
}
