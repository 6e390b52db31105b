//! §5.4 version compatibility: the 9 (datastore, protocol) combinations of
//! `e2e-version-test.sh`. Server half: requests speaking each combination
//! get a 409 "Version mismatch" with a `type` when a header is > 0 and not
//! 1 (a 0 header is not checked, §1.1), else 200; version headers on every
//! answer; nothing saved by a refused request. Client half: against a
//! server speaking each combination, the client stops its sync and applies
//! nothing, then syncs normally against (1,1) (guarantee 7).

use engine::sync::{Method, Request, Response};
use engine::transport::TransportError;
use engine::Mode;
use serde_json::{json, Value};

use super::{ensure, Ctx, Failure};
use crate::server::{request, Server, ServerError};

const COMBOS: [(i64, i64); 9] = [
    (1, 1),
    (2, 1),
    (0, 1),
    (1, 2),
    (1, 0),
    (2, 2),
    (0, 0),
    (2, 0),
    (0, 2),
];

/// §1.1: a header that is 0 (or absent) is not checked.
fn accepted(ds: i64, p: i64) -> bool {
    (ds == 0 || ds == 1) && (p == 0 || p == 1)
}

pub fn matrix(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("Versions")?;
    let mut rows = Vec::new();
    for (ds, p) in COMBOS {
        let mut row = Vec::new();
        for (method, body) in [
            (
                Method::Post,
                Some(
                    json!({"type":"text","content":format!("v{ds}{p}"),"sync_id":format!("v{ds}{p}")}),
                ),
            ),
            (Method::Get, None),
        ] {
            let mut req = request(
                ctx.server.as_ref(),
                method,
                &format!("/items?profile={profile}"),
                body.as_ref(),
            );
            for (k, v) in req.headers.iter_mut() {
                if k == "X-Peek-Datastore-Version" {
                    *v = ds.to_string();
                } else if k == "X-Peek-Protocol-Version" {
                    *v = p.to_string();
                }
            }
            let resp = ctx
                .server
                .call(req)
                .map_err(|e| Failure::Setup(e.to_string()))?;
            let want = if accepted(ds, p) { 200 } else { 409 };
            ensure(resp.status == want, || {
                format!(
                    "{method:?} with DS={ds} P={p}: status {}, want {want}",
                    resp.status
                )
            })?;
            for h in ["x-peek-datastore-version", "x-peek-protocol-version"] {
                ensure(resp.header(h) == Some("1"), || {
                    format!(
                        "{method:?} with DS={ds} P={p}: {h} is {:?}, want \"1\"",
                        resp.header(h)
                    )
                })?;
            }
            if want == 409 {
                let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                ensure(
                    v["error"] == "Version mismatch"
                        && v["type"].as_str().is_some_and(|t| !t.is_empty()),
                    || format!("409 body for DS={ds} P={p}: {v}"),
                )?;
            }
            row.push(resp.status);
        }
        rows.push(json!({ "ds": ds, "p": p, "post": row[0], "get": row[1] }));
    }
    let saved = ctx.server_live(&profile)?;
    let mut want: Vec<String> = COMBOS
        .iter()
        .filter(|(ds, p)| accepted(*ds, *p))
        .map(|(ds, p)| format!("text|v{ds}{p}|"))
        .collect();
    want.sort();
    ensure(saved == want, || {
        format!("the server saved {saved:?}, want only the accepted posts {want:?}")
    })?;
    let client = client_half(ctx)?;
    Ok(json!({ "server": rows, "client": client }))
}

/// The client against servers speaking each combination (a driver's
/// requests reach the rewritten server through its front, as an
/// in-process client's do).
fn client_half(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("Versions client")?;
    let mut d = ctx.device(Some(&profile))?;
    let s = ctx.server.as_ref();
    d.create(s, "url", Some("https://example.com/versioned"), &[])?;
    let mut refused = 0;
    for (ds, p) in COMBOS.into_iter().filter(|c| *c != (1, 1)) {
        let speaking = Versioned { inner: s, ds, p };
        ctx.tick(1_000);
        let r = d.sync(&speaking, Mode::Full);
        ensure(r.is_err(), || {
            format!("the client synced with a server speaking DS={ds} P={p}")
        })?;
        refused += 1;
    }
    ensure(ctx.server_live(&profile)?.is_empty(), || {
        "pushed to a mismatched server".into()
    })?;
    ctx.tick(1_000);
    d.sync(s, Mode::Full)?;
    let server = ctx.server_live(&profile)?;
    ensure(server.len() == 1, || {
        format!("after the mismatches, a (1,1) sync left the server with {server:?}")
    })?;
    Ok(json!({ "refused": refused, "then_synced": server }))
}

/// A server speaking (ds, p): its health answer carries those headers, and
/// every other request gets the 409 a server of that version sends.
struct Versioned<'a> {
    inner: &'a dyn Server,
    ds: i64,
    p: i64,
}

impl Server for Versioned<'_> {
    fn url(&self) -> String {
        self.inner.url()
    }
    fn key(&self) -> String {
        self.inner.key()
    }
    fn create_profile(&self, name: &str) -> Result<String, ServerError> {
        self.inner.create_profile(name)
    }
    fn now(&self) -> i64 {
        self.inner.now()
    }
    fn tick(&self, ms: i64) {
        self.inner.tick(ms);
    }
    fn call(&self, req: Request) -> Result<Response, TransportError> {
        let mut resp = if req.path == "/" || req.path.starts_with("/?") {
            self.inner.call(req)?
        } else {
            Response {
                status: 409,
                headers: Vec::new(),
                body: json!({
                    "error": "Version mismatch",
                    "type": "datastore_version_mismatch",
                    "message": format!("Datastore version mismatch: server speaks {}/{}", self.ds, self.p),
                    "client_version": 1,
                    "server_version": self.ds,
                })
                .to_string()
                .into_bytes(),
            }
        };
        resp.headers
            .retain(|(k, _)| !k.to_ascii_lowercase().starts_with("x-peek-"));
        resp.headers
            .push(("x-peek-datastore-version".into(), self.ds.to_string()));
        resp.headers
            .push(("x-peek-protocol-version".into(), self.p.to_string()));
        Ok(resp)
    }
}
