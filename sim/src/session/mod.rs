//! Recorded sync sessions: what devices and a server said to each other, in
//! the versioned JSON-lines format of `docs/session-format.md`. The same
//! format is written by the recording proxy (`peek-sim record`), by the HAR
//! importer, and by the simulator itself (its `--trace`), so a failing seed
//! is a fixture as it stands.
//!
//! Secrets never reach a session: `Authorization`, API-key headers and
//! key-like query parameters are redacted when a line is built, not when it
//! is written.

mod event;
pub use event::{DeviceFault, TraceEvent};
pub mod compare;
pub mod har;
pub mod playback;
pub mod record;
pub mod replay;

use std::io::BufRead;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `format` field of every session header.
pub const FORMAT: &str = "peek-session";
/// The version this code writes; readers accept this one and older.
pub const VERSION: u32 = 1;
/// What replaces a redacted secret.
pub const REDACTED: &str = "<redacted>";

/// One line of a session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Line {
    /// The first line: what this file is and who wrote it.
    Header(Header),
    /// One request and what came of it.
    Exchange(Box<Exchange>),
    /// Anything else that happened (simulator events, faults, checks):
    /// typed where the simulator wrote it (`crate::trace::TraceEvent`),
    /// kept as it stands otherwise; ignored by replay except server events.
    Event(TraceEvent),
}

/// The first line of a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub recorder: Recorder,
    /// What the server said about itself (`GET /` answer), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Value>,
    /// The simulator world the session came from (`WorldConfig`), if any:
    /// with the session's `event` lines it re-creates every device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<Value>,
}

/// Which tool wrote a session, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorder {
    /// `peek-sim`.
    pub tool: String,
    pub version: String,
    /// `sim`, `record` or `har`.
    pub mode: String,
    /// Where the requests went (`record`: the upstream URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

impl Header {
    pub fn new(mode: &str) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            recorder: Recorder {
                tool: "peek-sim".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                mode: mode.into(),
                upstream: None,
            },
            server: None,
            world: None,
        }
    }
}

/// One request and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    /// Position in the session, from 0.
    pub seq: u64,
    /// Which device sent it.
    pub device: String,
    /// The device's clock when it sent the request (ms since the epoch),
    /// if known: skew shows up as the gap to `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<i64>,
    /// When it happened by the server's clock, or by the recorder's
    /// (ms since the epoch). An in-process replay sets its server's clock
    /// to this, so even time stamps come out the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    /// Which server it went to, when a session spans several (`s0`, `s1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub request: Req,
    /// The server's answer; `None` when it never answered (lost request,
    /// 5xx from a proxy in front of it, partition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Resp>,
    /// What the device saw instead of `response`, if anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times the server received the request: 0 (lost on the
    /// way), 1, or 2 (delivered twice).
    #[serde(default = "one")]
    pub delivered: u32,
    /// The injected fault, in simulator sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<AppliedFault>,
    /// Wall time the exchange took, in recorded sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
}

fn one() -> u32 {
    1
}

/// A fault the simulator applied to one exchange (`Exchange::fault`): the
/// scheduled request faults (`crate::event::Fault`) plus a partition the
/// device was in when it sent the request. The serde names are the
/// session format's (`docs/session-format.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppliedFault {
    /// The request never reached the server.
    RequestLost,
    /// The server committed; the answer was lost.
    ResponseLost,
    /// Delivered twice; the device saw the second answer.
    Duplicate,
    /// A 503 from a proxy; the server never saw the request.
    ServerError,
    /// The device was cut off; nothing was sent.
    Partitioned,
}

impl AppliedFault {
    pub const ALL: [AppliedFault; 5] = [
        AppliedFault::RequestLost,
        AppliedFault::ResponseLost,
        AppliedFault::Duplicate,
        AppliedFault::ServerError,
        AppliedFault::Partitioned,
    ];

    /// The session-format name (the serde name).
    pub const fn name(self) -> &'static str {
        match self {
            AppliedFault::RequestLost => "request-lost",
            AppliedFault::ResponseLost => "response-lost",
            AppliedFault::Duplicate => "duplicate",
            AppliedFault::ServerError => "server-error",
            AppliedFault::Partitioned => "partitioned",
        }
    }

    /// How many times the server received the request.
    pub const fn delivered(self) -> u32 {
        match self {
            AppliedFault::RequestLost | AppliedFault::ServerError | AppliedFault::Partitioned => 0,
            AppliedFault::ResponseLost => 1,
            AppliedFault::Duplicate => 2,
        }
    }
}

impl From<crate::event::Fault> for AppliedFault {
    fn from(f: crate::event::Fault) -> Self {
        match f {
            crate::event::Fault::RequestLost => AppliedFault::RequestLost,
            crate::event::Fault::ResponseLost => AppliedFault::ResponseLost,
            crate::event::Fault::Duplicate => AppliedFault::Duplicate,
            crate::event::Fault::ServerError => AppliedFault::ServerError,
        }
    }
}

impl std::fmt::Display for AppliedFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses a session-format name; `"none"` (no fault) is not a fault.
impl std::str::FromStr for AppliedFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppliedFault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("no applied fault named {s:?}"))
    }
}

/// A recorded request. `path` has no query string; `query` is the raw
/// query (without `?`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Req {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    #[serde(flatten)]
    pub body: Body,
}

/// A recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resp {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    #[serde(flatten)]
    pub body: Body,
}

/// A message body: JSON as JSON (readable, diffable), other text as text,
/// anything else as base64. At most one field is set; none means empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl Body {
    pub fn from_bytes(bytes: &[u8]) -> Body {
        if bytes.is_empty() {
            return Body::default();
        }
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            return Body {
                body: Some(v),
                ..Body::default()
            };
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => Body {
                body_text: Some(s.to_string()),
                ..Body::default()
            },
            Err(_) => Body {
                body_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                ..Body::default()
            },
        }
    }

    /// A JSON body from a value.
    pub fn json_value(v: &Value) -> Body {
        Body {
            body: Some(v.clone()),
            ..Body::default()
        }
    }

    /// The JSON body; `None` when the body is not JSON.
    pub fn json(&self) -> Option<Value> {
        self.body.clone()
    }

    /// The bytes to send. JSON is re-serialized: the same value, not
    /// necessarily the same bytes (documented in the format).
    pub fn to_bytes(&self) -> Vec<u8> {
        if let Some(v) = &self.body {
            return serde_json::to_vec(v).unwrap_or_default();
        }
        if let Some(t) = &self.body_text {
            return t.as_bytes().to_vec();
        }
        self.body_base64
            .as_deref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_none() && self.body_text.is_none() && self.body_base64.is_none()
    }
}

/// Header names whose values are secrets.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "set-cookie",
];
/// Query parameters whose values are secrets.
const SECRET_PARAMS: [&str; 5] = ["key", "api_key", "apikey", "apiKey", "token"];

/// Headers lower-cased, secrets redacted, sorted (HTTP header order carries
/// no meaning, and a stable order keeps sessions diffable).
pub fn redact_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .into_iter()
        .map(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let v = if SECRET_HEADERS.contains(&k.as_str()) {
                REDACTED.to_string()
            } else {
                v.to_string()
            };
            (k, v)
        })
        .collect();
    out.sort();
    out
}

/// The query string with secret parameters' values redacted.
pub fn redact_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k)) => {
                format!("{k}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl Req {
    /// A recorded request from its parts; secrets are redacted here.
    pub fn new<'a>(
        method: &str,
        path_and_query: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
    ) -> Req {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Req {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query: redact_query(query),
            headers: redact_headers(headers),
            body: Body::from_bytes(body),
        }
    }

    /// Path and query, as sent.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// A header's value (names are stored lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// One line for reports: `POST /items?profile=…`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target())
    }
}

impl Req {
    /// The session form of a request the engine made (secrets redacted).
    pub fn from_request(r: &engine::sync::Request) -> Req {
        Req::new(
            r.method.as_str(),
            &r.path,
            r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            r.body.as_deref().unwrap_or_default(),
        )
    }
}

impl Resp {
    /// The session form of an answer a transport returned.
    pub fn from_response(r: &engine::sync::Response) -> Resp {
        Resp::new(
            r.status,
            r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &r.body,
        )
    }

    pub fn new<'a>(
        status: u16,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
    ) -> Resp {
        Resp {
            status,
            headers: redact_headers(headers),
            body: Body::from_bytes(body),
        }
    }
}

/// Why a session file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {msg}")]
    Parse { line: usize, msg: String },
    #[error("not a session: {0}")]
    NotASession(String),
}

/// A whole session in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub header: Header,
    /// Every line after the header, in order.
    pub lines: Vec<Line>,
}

impl Session {
    pub fn exchanges(&self) -> impl Iterator<Item = &Exchange> {
        self.lines.iter().filter_map(|l| match l {
            Line::Exchange(x) => Some(x.as_ref()),
            _ => None,
        })
    }

    /// Reads a session; the first line must be a header of a version this
    /// code understands.
    pub fn read(r: impl BufRead) -> Result<Session, SessionError> {
        let (header, rest) = Session::lines_of(r)?;
        let lines = rest.collect::<Result<Vec<_>, _>>()?;
        Ok(Session { header, lines })
    }

    /// Reads the header, then yields the remaining lines one at a time:
    /// replaying a large session never holds it all in memory.
    pub fn stream(
        path: &Path,
    ) -> Result<(Header, impl Iterator<Item = Result<Line, SessionError>>), SessionError> {
        let f = std::fs::File::open(path)?;
        Session::lines_of(std::io::BufReader::new(f))
    }

    /// The header of `r` (checked), and an iterator over the other lines;
    /// a second header is an error where it stands.
    fn lines_of(
        r: impl BufRead,
    ) -> Result<(Header, impl Iterator<Item = Result<Line, SessionError>>), SessionError> {
        let parse = |i: usize, l: &str| {
            serde_json::from_str::<Line>(l).map_err(|e| SessionError::Parse {
                line: i + 1,
                msg: e.to_string(),
            })
        };
        let mut lines = r
            .lines()
            .enumerate()
            .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()));
        let header = match lines.next() {
            None => return Err(SessionError::NotASession("empty file".into())),
            Some((i, l)) => match parse(i, &l?)? {
                Line::Header(h) if h.format == FORMAT && h.version <= VERSION => h,
                Line::Header(h) => {
                    return Err(SessionError::NotASession(format!(
                        "format {:?} version {} (this reads {FORMAT} up to {VERSION})",
                        h.format, h.version
                    )))
                }
                _ => {
                    return Err(SessionError::NotASession(
                        "the first line is not a header".into(),
                    ))
                }
            },
        };
        let rest = lines.map(move |(i, l)| match parse(i, &l?)? {
            Line::Header(_) => Err(SessionError::Parse {
                line: i + 1,
                msg: "a second header".into(),
            }),
            other => Ok(other),
        });
        Ok((header, rest))
    }

    pub fn open(path: &Path) -> Result<Session, SessionError> {
        let f = std::fs::File::open(path)?;
        Session::read(std::io::BufReader::new(f))
    }

    /// Whether a file starts with a session header (rather than being,
    /// say, a minimized simulator world).
    pub fn sniff(path: &Path) -> bool {
        let Ok(f) = std::fs::File::open(path) else {
            return false;
        };
        let mut first = String::new();
        if std::io::BufReader::new(f).read_line(&mut first).is_err() {
            return false;
        }
        matches!(serde_json::from_str::<Line>(&first), Ok(Line::Header(_)))
    }

    /// The session as JSON lines.
    pub fn to_jsonl(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for l in std::iter::once(&Line::Header(self.header.clone())).chain(&self.lines) {
            if serde_json::to_writer(&mut out, l).is_ok() {
                out.push(b'\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_a_line() {
        let r = Req::new(
            "post",
            "/items?profile=p&key=s3cret&apiKey=x",
            [
                ("Authorization", "Bearer s3cret"),
                ("X-Peek-Client", "ios"),
                ("x-api-key", "s3cret"),
            ],
            br#"{"type":"url"}"#,
        );
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains("s3cret"), "{line}");
        assert_eq!(r.query, "profile=p&key=<redacted>&apiKey=<redacted>");
        assert_eq!(r.header("authorization"), Some(REDACTED));
        assert_eq!(r.header("X-Peek-Client"), Some("ios"));
        assert_eq!(r.method, "POST");
    }

    #[test]
    fn bodies_round_trip_as_json_text_or_base64() {
        for bytes in [
            &b"{\"a\":[1,2]}"[..],
            b"plain text",
            &[0xff, 0x00, 0x10],
            b"",
        ] {
            let b = Body::from_bytes(bytes);
            let back = b.to_bytes();
            if bytes.starts_with(b"{") {
                assert!(b.body.is_some());
                assert_eq!(
                    serde_json::from_slice::<Value>(&back).unwrap(),
                    serde_json::from_slice::<Value>(bytes).unwrap()
                );
            } else {
                assert_eq!(back, bytes);
            }
        }
        assert!(Body::from_bytes(&[0xff]).body_base64.is_some());
        assert!(Body::from_bytes(b"").is_empty());
        // Pretty-printed JSON is kept as a value on one line.
        let pretty = Body::from_bytes(b"{\n  \"a\": 1\n}");
        assert_eq!(pretty.json(), Some(serde_json::json!({"a": 1})));
        assert!(!serde_json::to_string(&pretty).unwrap().contains('\n'));
    }

    #[test]
    fn a_session_reads_back_and_bad_files_say_why() {
        let x = Exchange {
            seq: 0,
            device: "d0".into(),
            clock: Some(5),
            at: Some(7),
            server: None,
            request: Req::new("GET", "/items?since=0", [], b""),
            response: Some(Resp::new(
                200,
                [("content-type", "application/json")],
                b"{\"items\":[]}",
            )),
            error: None,
            delivered: 1,
            fault: None,
            ms: None,
        };
        let ev = TraceEvent::Crash { t: 3, dev: 0 };
        let s = Session {
            header: Header::new("sim"),
            lines: vec![Line::Exchange(Box::new(x)), Line::Event(ev)],
        };
        let bytes = s.to_jsonl();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"kind\":\"header\""), "{text}");
        let back = Session::read(&bytes[..]).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.exchanges().count(), 1);
        let no_header = text.lines().skip(1).collect::<Vec<_>>().join("\n");
        assert!(matches!(
            Session::read(no_header.as_bytes()),
            Err(SessionError::NotASession(_))
        ));
        let future = text.replace("\"version\":1", "\"version\":99");
        assert!(Session::read(future.as_bytes()).is_err());
        assert!(matches!(
            Session::read(&b"{\"kind\":\"header\"\n"[..]),
            Err(SessionError::Parse { line: 1, .. })
        ));
    }
}
