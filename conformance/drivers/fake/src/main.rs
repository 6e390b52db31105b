//! `peek-fake-client`: a deliberately small fake Peek client behind the
//! driver protocol, written here (no original code). It exists to prove
//! `driver-kit` end to end in CI, where no original checkout is present:
//! the protocol loop, the clock override, re-exec restarts, one directory
//! per device, and commands answered while a sync's HTTP request is held.
//!
//! The client: items in `items.json` in the device directory; a sync
//! pushes every locally changed item with `POST /items` carrying its
//! `sync_id` (and `deletedAt` for a delete), then pulls
//! `GET /items/since/<ISO of the newest server updatedAt seen>`. No
//! conflict handling beyond "a pulled item overwrites a clean local one".

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use driver_kit::{item_view, Client, Driver, DriverError, Outcome, Source};
use serde_json::{json, Value};

driver_kit::override_clock!();

fn main() {
    let driver = Driver {
        name: format!("peek-fake-client {}", env!("CARGO_PKG_VERSION")),
        source: Source::local(&["conformance/drivers/fake/src/main.rs"]),
        capabilities: json!({
            "restart": "reexec",
            "syncModes": ["full", "pull", "push"],
            "clock": "offset",
            "profiles": "id",
            "metadata": true,
            "concurrent": true,
            "seed": false,
        }),
    };
    driver_kit::run(driver, |dir| {
        Ok(Arc::new(Fake::open(dir)?) as Arc<dyn Client>)
    })
}

/// One local item.
#[derive(Clone, Debug)]
struct Item {
    id: String,
    kind: String,
    content: Option<String>,
    tags: Vec<String>,
    deleted: bool,
    sync_id: String,
    metadata: Option<String>,
    /// Changed locally since the last push.
    dirty: bool,
}

/// Everything the device keeps (persisted as one JSON file).
#[derive(Clone, Debug, Default)]
struct State {
    server_url: String,
    api_key: String,
    profile: Option<String>,
    /// The newest server `updatedAt` pulled (server clock).
    cursor: i64,
    next_id: u64,
    items: Vec<Item>,
}

impl State {
    fn to_json(&self) -> Value {
        json!({
            "serverUrl": self.server_url,
            "apiKey": self.api_key,
            "profile": self.profile,
            "cursor": self.cursor,
            "nextId": self.next_id,
            "items": self.items.iter().map(|i| json!({
                "id": i.id, "type": i.kind, "content": i.content, "tags": i.tags,
                "deleted": i.deleted, "syncId": i.sync_id, "metadata": i.metadata,
                "dirty": i.dirty,
            })).collect::<Vec<_>>(),
        })
    }

    fn from_json(v: &Value) -> State {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        State {
            server_url: s("serverUrl"),
            api_key: s("apiKey"),
            profile: v.get("profile").and_then(Value::as_str).map(str::to_string),
            cursor: v.get("cursor").and_then(Value::as_i64).unwrap_or(0),
            next_id: v.get("nextId").and_then(Value::as_u64).unwrap_or(0),
            items: v
                .get("items")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(item_from_json).collect())
                .unwrap_or_default(),
        }
    }
}

fn item_from_json(v: &Value) -> Item {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Item {
        id: s("id"),
        kind: s("type"),
        content: v.get("content").and_then(Value::as_str).map(str::to_string),
        tags: tags_of(v.get("tags")),
        deleted: v.get("deleted").and_then(Value::as_bool).unwrap_or(false),
        sync_id: s("syncId"),
        metadata: v
            .get("metadata")
            .and_then(Value::as_str)
            .map(str::to_string),
        dirty: v.get("dirty").and_then(Value::as_bool).unwrap_or(false),
    }
}

fn tags_of(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

struct Fake {
    file: PathBuf,
    state: Mutex<State>,
    http: reqwest::blocking::Client,
}

impl Fake {
    fn open(dir: &Path) -> Result<Fake, DriverError> {
        let file = dir.join("items.json");
        let state = match std::fs::read(&file) {
            Ok(bytes) => {
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| DriverError::internal(format!("{}: {e}", file.display())))?;
                State::from_json(&v)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(DriverError::internal(format!("{}: {e}", file.display()))),
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(25))
            .build()
            .map_err(|e| DriverError::internal(e.to_string()))?;
        eprintln!(
            "[fake] opened {} ({} items)",
            file.display(),
            state.items.len()
        );
        Ok(Fake {
            file,
            state: Mutex::new(state),
            http,
        })
    }

    /// Runs `f` on the state under the lock and saves it.
    fn edit<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let out = f(&mut st)?;
        let text = serde_json::to_vec_pretty(&st.to_json())
            .map_err(|e| DriverError::internal(e.to_string()))?;
        let tmp = self.file.with_extension("json.new");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.file))
            .map_err(|e| DriverError::internal(format!("{}: {e}", self.file.display())))?;
        Ok(out)
    }

    fn snapshot(&self) -> State {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn request(
        &self,
        st: &State,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        let mut url = format!("{}{}", st.server_url.trim_end_matches('/'), path);
        if let Some(p) = &st.profile {
            url.push_str(if url.contains('?') { "&" } else { "?" });
            url.push_str("profile=");
            url.push_str(p);
        }
        eprintln!("[fake] {method} {url}");
        self.http
            .request(method, url)
            .bearer_auth(&st.api_key)
            .header("X-Peek-Datastore-Version", "1")
            .header("X-Peek-Protocol-Version", "1")
            .header("X-Peek-Client", "peek-fake-client")
    }

    fn send(rb: reqwest::blocking::RequestBuilder) -> Result<Value, DriverError> {
        let resp = rb
            .send()
            .map_err(|e| DriverError::sync(format!("transport: {e}")))?;
        let status = resp.status();
        let body = resp
            .text()
            .map_err(|e| DriverError::sync(format!("reading the answer: {e}")))?;
        if !status.is_success() {
            return Err(DriverError::sync(format!("Server error {status}: {body}")));
        }
        serde_json::from_str(&body).map_err(|e| DriverError::sync(format!("bad JSON answer: {e}")))
    }

    fn push(&self) -> Result<u64, DriverError> {
        let st = self.snapshot();
        let mut pushed = 0;
        for item in st.items.iter().filter(|i| i.dirty) {
            let mut body = json!({
                "type": item.kind, "content": item.content, "tags": item.tags,
                "sync_id": if item.sync_id.is_empty() { &item.id } else { &item.sync_id },
            });
            if let Some(md) = &item.metadata {
                body["metadata"] = serde_json::from_str(md).unwrap_or(Value::String(md.clone()));
            }
            if item.deleted {
                body["deletedAt"] = json!(1);
            }
            let answer = Self::send(
                self.request(&st, reqwest::Method::POST, "/items")
                    .json(&body),
            )?;
            let server_id = answer
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| DriverError::sync("push answer without id"))?
                .to_string();
            let pushed_state = item.clone();
            self.edit(|s| {
                if let Some(i) = s.items.iter_mut().find(|i| i.id == pushed_state.id) {
                    i.sync_id = server_id;
                    // An edit made while the request was out stays dirty.
                    let same = i.content == pushed_state.content
                        && i.tags == pushed_state.tags
                        && i.deleted == pushed_state.deleted;
                    if same {
                        i.dirty = false;
                    }
                }
                Ok(())
            })?;
            pushed += 1;
        }
        Ok(pushed)
    }

    fn pull(&self) -> Result<u64, DriverError> {
        let st = self.snapshot();
        let since = iso_ms(st.cursor);
        let answer =
            Self::send(self.request(&st, reqwest::Method::GET, &format!("/items/since/{since}")))?;
        let items = answer
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut pulled = 0;
        self.edit(|s| {
            for si in &items {
                let Some(sid) = si.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let updated = si.get("updatedAt").and_then(Value::as_i64).unwrap_or(0);
                s.cursor = s.cursor.max(updated);
                let deleted = si
                    .get("deletedAt")
                    .map(|d| !d.is_null() && d != 0)
                    .unwrap_or(false);
                let content = si
                    .get("content")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let tags = tags_of(si.get("tags"));
                let metadata = si
                    .get("metadata")
                    .filter(|m| !m.is_null())
                    .map(|m| match m {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                let kind = si
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("url")
                    .to_string();
                match s.items.iter_mut().find(|i| i.sync_id == sid) {
                    Some(local) if local.dirty => {}
                    Some(local) => {
                        local.content = content;
                        local.tags = tags;
                        local.deleted = deleted;
                        local.metadata = metadata;
                        pulled += 1;
                    }
                    None => {
                        s.next_id += 1;
                        let id = format!("fake_{}", s.next_id);
                        s.items.push(Item {
                            id,
                            kind,
                            content,
                            tags,
                            deleted,
                            sync_id: sid.to_string(),
                            metadata,
                            dirty: false,
                        });
                        pulled += 1;
                    }
                }
            }
            Ok(())
        })?;
        Ok(pulled)
    }
}

/// `1970-01-01T00:00:00.000Z` form of a ms timestamp (civil from days,
/// H. Hinnant's algorithm), so the fake needs no date crate.
fn iso_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

fn find<'a>(st: &'a mut State, item: &str) -> Result<&'a mut Item, DriverError> {
    st.items
        .iter_mut()
        .find(|i| i.id == item)
        .ok_or_else(|| DriverError::refused(format!("unknown item {item}")))
}

impl Client for Fake {
    fn configure(&self, server_url: &str, api_key: &str, profile: Option<&str>) -> Outcome {
        self.edit(|s| {
            s.server_url = server_url.to_string();
            s.api_key = api_key.to_string();
            s.profile = profile.map(str::to_string);
            Ok(json!({}))
        })
    }

    fn create(
        &self,
        kind: &str,
        content: Option<&str>,
        tags: &[String],
        metadata: Option<&str>,
    ) -> Outcome {
        if !["url", "text", "tagset"].contains(&kind) {
            return Err(DriverError::refused(format!("unknown type {kind}")));
        }
        self.edit(|s| {
            s.next_id += 1;
            let id = format!("fake_{}", s.next_id);
            s.items.push(Item {
                id: id.clone(),
                kind: kind.to_string(),
                content: content.map(str::to_string),
                tags: tags.to_vec(),
                deleted: false,
                sync_id: String::new(),
                metadata: metadata.map(str::to_string),
                dirty: true,
            });
            Ok(json!({ "id": id }))
        })
    }

    fn update(&self, item: &str, content: Option<&str>, tags: Option<&[String]>) -> Outcome {
        self.edit(|s| {
            let i = find(s, item)?;
            if let Some(c) = content {
                i.content = Some(c.to_string());
            }
            if let Some(t) = tags {
                i.tags = t.to_vec();
            }
            i.dirty = true;
            Ok(json!({}))
        })
    }

    fn delete(&self, item: &str) -> Outcome {
        self.edit(|s| {
            let i = find(s, item)?;
            i.deleted = true;
            i.dirty = true;
            Ok(json!({}))
        })
    }

    fn tag(&self, item: &str, tag: &str) -> Outcome {
        self.edit(|s| {
            let i = find(s, item)?;
            if !i.tags.iter().any(|t| t == tag) {
                i.tags.push(tag.to_string());
            }
            i.dirty = true;
            Ok(json!({}))
        })
    }

    fn sync(&self, mode: &str) -> Outcome {
        if self.snapshot().server_url.is_empty() {
            return Err(DriverError::sync("not configured"));
        }
        let (pushed, pulled) = match mode {
            "full" => (self.push()?, self.pull()?),
            "push" => (self.push()?, 0),
            "pull" => (0, self.pull()?),
            other => return Err(DriverError::refused(format!("unknown sync mode {other}"))),
        };
        Ok(json!({"pulled": pulled, "pushed": pushed}))
    }

    fn items(&self, include_deleted: bool) -> Outcome {
        let st = self.snapshot();
        let items: Vec<Value> = st
            .items
            .iter()
            .filter(|i| include_deleted || !i.deleted)
            .map(|i| {
                item_view(
                    &i.id,
                    &i.kind,
                    i.content.as_deref(),
                    &i.tags,
                    i.deleted,
                    &i.sync_id,
                    i.metadata.as_deref(),
                )
            })
            .collect();
        Ok(json!({ "items": items }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_format() {
        assert_eq!(super::iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso_ms(1_769_508_000_123), "2026-01-27T10:00:00.123Z");
    }
}
