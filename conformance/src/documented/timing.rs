//! When a write happens relative to a sync: a write by another device
//! while this one is syncing (D6), and a local edit after a pull-only sync
//! (D13). Both must reach everyone by the next sync.

use std::cell::Cell;

use engine::sync::{Method, Request, Response};
use engine::transport::TransportError;
use engine::Mode;
use serde_json::{json, Value};

use super::{ensure, Ctx, Failure};
use crate::server::{request, Server, ServerError};

/// D6: another device's write reaches the server after this device's pull
/// has been answered but before its sync ends; the next sync must bring
/// it. The write is slipped in by a server wrapper, which answers a
/// driver's requests too (they reach it through the driver's front).
pub fn write_during_sync(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("During")?;
    let mut a = ctx.device(Some(&profile))?;
    let s = ctx.server.as_ref();
    a.create(s, "url", Some("https://example.com/mine"), &[])?;
    let slipping = Slip {
        inner: s,
        profile: profile.clone(),
        done: Cell::new(false),
    };
    ctx.tick(1_000);
    a.sync(&slipping, Mode::Full)?;
    ensure(slipping.done.get(), || "the sync never pulled".into())?;
    for _ in 0..2 {
        ctx.tick(1_000);
        a.sync(s, Mode::Full)?;
    }
    let mine = a.live()?;
    let server = ctx.server_live(&profile)?;
    ensure(mine == server, || {
        format!(
            "D6: the write made during a sync never arrived: device {mine:?}, server {server:?}"
        )
    })?;
    Ok(json!({ "server": server }))
}

/// Passes requests through; right after the first pull is answered,
/// another client writes an item.
struct Slip<'a> {
    inner: &'a dyn Server,
    profile: String,
    done: Cell<bool>,
}

impl Server for Slip<'_> {
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
        let pull = req.method == Method::Get
            && ["/items?", "/items/changes", "/items/since"]
                .iter()
                .any(|p| req.path.starts_with(p))
            || req.path == "/items";
        let resp = self.inner.call(req)?;
        if pull && !self.done.get() {
            self.done.set(true);
            self.inner.tick(5);
            let body =
                json!({"type":"text","content":"written during the sync","sync_id":"during-1"});
            let path = format!("/items?profile={}", self.profile);
            let post = request(self.inner, Method::Post, &path, Some(&body));
            self.inner.call(post)?;
            self.inner.tick(5);
        }
        Ok(resp)
    }
}

/// D13: a device that only pulled so far edits a pulled item; its next
/// full sync must push the edit (the originals skip it while their cursor
/// is 0, because the row already came from the server).
pub fn edit_after_pull(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("Edit after pull")?;
    let mut a = ctx.device(Some(&profile))?;
    let mut b = ctx.device(Some(&profile))?;
    let s = ctx.server.as_ref();
    a.create(s, "text", Some("original text"), &[])?;
    ctx.tick(1_000);
    a.sync(s, Mode::Full)?;
    ctx.tick(1_000);
    b.sync(s, Mode::PullOnly)?;
    let pulled = b
        .items(false)?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Fail("b pulled nothing".into()))?;
    ctx.tick(1_000);
    b.update(s, &pulled.id, Some("edited on b"), None)?;
    ctx.tick(1_000);
    b.sync(s, Mode::Full)?;
    let server = ctx.server_live(&profile)?;
    ensure(server == vec!["text|edited on b|".to_string()], || {
        format!("D13: b's edit of a pulled item was not pushed by its next sync: server {server:?}")
    })?;
    ctx.tick(1_000);
    a.sync(s, Mode::Full)?;
    let la = a.live()?;
    ensure(la == server, || {
        format!("a holds {la:?}, the server {server:?}")
    })?;
    Ok(json!({ "server": server }))
}
