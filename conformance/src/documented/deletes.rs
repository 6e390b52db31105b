//! §5.7 tombstones and deletes: a delete on either device reaches the
//! server and the other device, and nothing comes back (D4, D5).

use engine::Mode;
use serde_json::{json, Value};

use super::{ensure, Ctx, Failure};

pub fn propagation(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("Deletes")?;
    let mut a = ctx.device(Some(&profile))?;
    let mut b = ctx.device(Some(&profile))?;
    let s = ctx.server.as_ref();
    let doomed = a.create(s, "url", Some("https://example.com/doomed"), &["x"])?;
    a.create(s, "url", Some("https://example.com/kept"), &["x"])?;
    a.create(s, "text", Some("deleted on b"), &[])?;
    ctx.tick(1_000);
    a.sync(s, Mode::Full)?;
    ctx.tick(1_000);
    b.sync(s, Mode::Full)?;
    ensure(b.live()?.len() == 3, || {
        format!("b did not get a's items: {:?}", b.live())
    })?;
    // a deletes; b must lose the item.
    a.delete(s, &doomed)?;
    ctx.tick(1_000);
    a.sync(s, Mode::Full)?;
    ctx.tick(1_000);
    b.sync(s, Mode::Full)?;
    let server = ctx.server_live(&profile)?;
    ensure(server.len() == 2, || {
        format!("D4: a's delete did not reach the server: {server:?}")
    })?;
    let lb = b.live()?;
    ensure(lb == server, || {
        format!("D4: a's delete did not reach b: {lb:?}")
    })?;
    // b deletes; a must lose the item.
    let other = b
        .items(false)?
        .into_iter()
        .find(|i| i.content.as_deref() == Some("deleted on b"))
        .ok_or_else(|| Failure::Fail("b lacks the text item".into()))?;
    b.delete(s, &other.id)?;
    for _ in 0..3 {
        ctx.tick(1_000);
        b.sync(s, Mode::Full)?;
        ctx.tick(1_000);
        a.sync(s, Mode::Full)?;
    }
    let server = ctx.server_live(&profile)?;
    let (la, lb) = (a.live()?, b.live()?);
    let want = vec!["url|https://example.com/kept|x".to_string()];
    ensure(server == want, || {
        format!("server has {server:?}, want only the kept item (D4, D5)")
    })?;
    ensure(la == want && lb == want, || {
        format!("devices have {la:?} / {lb:?}, want only the kept item (D4, D5)")
    })?;
    let tombstones = crate::server::items(ctx.server.as_ref(), &profile)?
        .iter()
        .filter(|i| i["deletedAt"].as_i64().unwrap_or(0) != 0)
        .count();
    ensure(tombstones == 2, || {
        format!("{tombstones} tombstones on the server, want 2")
    })?;
    Ok(json!({ "server": server, "a": la, "b": lb, "tombstones": tombstones }))
}
