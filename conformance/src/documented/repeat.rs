//! Repeated syncs and switches, the shapes of three documented bugs as
//! fixed scenarios any client can run: the echo of one's own pushes (D10),
//! clock-skew ping-pong (D11), and returning to a server or profile used
//! before (§5.8, D14, D15).

use engine::Mode;
use serde_json::{json, Value};

use super::{ensure, Ctx, Failure};
use crate::client::{Client, SyncReport};
use crate::server::Server;

fn quiet(
    who: &str,
    round: usize,
    c: &mut dyn Client,
    s: &dyn Server,
    d: &str,
) -> Result<(), Failure> {
    let r = c.sync(s, Mode::Full)?;
    ensure(r == SyncReport::default(), || {
        format!(
            "{d}: {who}'s sync {round} after converging still pulled {} and pushed {}",
            r.pulled, r.pushed
        )
    })
}

/// D10: once a push is answered, the next sync has nothing to pull or push
/// (the pushed items must not come back as "newer").
pub fn echo(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("Echo")?;
    let mut a = ctx.device(Some(&profile))?;
    let mut b = ctx.device(Some(&profile))?;
    let s = ctx.server.as_ref();
    a.create(s, "url", Some("https://example.com/echo-1"), &["echo"])?;
    a.create(s, "text", Some("echo note"), &[])?;
    ctx.tick(1_000);
    let first = a.sync(s, Mode::Full)?;
    ensure(first.pushed == 2, || {
        format!("first sync pushed {}, want 2", first.pushed)
    })?;
    ctx.tick(1_000);
    quiet("a", 2, a.as_mut(), s, "D10 (echo)")?;
    ctx.tick(1_000);
    let pulled = b.sync(s, Mode::Full)?;
    ensure(pulled.pulled == 2, || {
        format!("b pulled {}, want 2", pulled.pulled)
    })?;
    ctx.tick(1_000);
    quiet("b", 2, b.as_mut(), s, "D10 (echo)")?;
    Ok(json!({ "server": ctx.server_live(&profile)? }))
}

/// D11: devices whose clocks are 10 minutes behind the server converge
/// and then stop: no item is re-pushed because the server's time stamps
/// look newer than the device's own marker.
pub fn skew_ping_pong(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("Skew")?;
    let mut a = ctx.device(Some(&profile))?;
    let mut b = ctx.device(Some(&profile))?;
    a.set_clock_offset(-600_000)?;
    b.set_clock_offset(-600_000)?;
    let s = ctx.server.as_ref();
    a.create(s, "url", Some("https://example.com/skewed"), &[])?;
    for _ in 0..2 {
        ctx.tick(1_000);
        a.sync(s, Mode::Full)?;
        ctx.tick(1_000);
        b.sync(s, Mode::Full)?;
    }
    for round in 3..6 {
        ctx.tick(1_000);
        quiet("a", round, a.as_mut(), s, "D11 (clock-skew ping-pong)")?;
        ctx.tick(1_000);
        quiet("b", round, b.as_mut(), s, "D11 (clock-skew ping-pong)")?;
    }
    let server = ctx.server_live(&profile)?;
    ensure(server.len() == 1, || format!("server has {server:?}"))?;
    Ok(json!({ "server": server }))
}

/// §5.8: a device switches to another profile (as it would to another
/// server URL) and back: nothing lost, no duplicates on the device or on
/// either server side (D14, D15), and each side holds the device's items.
pub fn return_to_server(ctx: &mut Ctx) -> Result<Value, Failure> {
    let first = ctx.profile("First")?;
    let second = ctx.profile("Second")?;
    let mut a = ctx.device(Some(&first))?;
    let url = ctx.server.url();
    let key = ctx.server.key();
    let s = ctx.server.as_ref();
    a.create(s, "url", Some("https://example.com/before-switch"), &["x"])?;
    a.create(s, "text", Some("before switch"), &[])?;
    ctx.tick(1_000);
    a.sync(s, Mode::Full)?;
    a.configure(&url, &key, Some(&second))?;
    ctx.tick(1_000);
    a.sync(s, Mode::Full)?;
    a.create(s, "url", Some("https://example.com/on-second"), &[])?;
    ctx.tick(1_000);
    a.sync(s, Mode::Full)?;
    a.configure(&url, &key, Some(&first))?;
    for _ in 0..2 {
        ctx.tick(1_000);
        a.sync(s, Mode::Full)?;
    }
    let mine = a.live()?;
    let on_first = ctx.server_live(&first)?;
    let on_second = ctx.server_live(&second)?;
    let dup = |v: &[String]| v.windows(2).any(|w| w[0] == w[1]);
    ensure(!dup(&mine), || {
        format!("D15: duplicates on the device after returning: {mine:?}")
    })?;
    ensure(!dup(&on_first) && !dup(&on_second), || {
        format!("D15: duplicates on the server: {on_first:?} / {on_second:?}")
    })?;
    ensure(mine.len() == 3, || {
        format!("the device holds {mine:?}, want its 3 items")
    })?;
    ensure(on_first == mine, || {
        format!(
            "D14: back on the first profile, the server holds {on_first:?}, the device {mine:?}"
        )
    })?;
    Ok(json!({ "device": mine, "first": on_first, "second": on_second }))
}
