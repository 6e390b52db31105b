//! §5.3 profiles and three-way routing: each device's items land in, and
//! only in, the server profile it is configured for (D16), and items flow
//! both ways between devices and another client posting to the server.

use engine::Mode;
use serde_json::{json, Value};

use super::{ensure, Ctx, Failure};

/// "Mobile" and "desktop" on Default, a third device on Development: each
/// profile holds exactly its devices' items, and each device sees exactly
/// its profile.
pub fn isolation(ctx: &mut Ctx) -> Result<Value, Failure> {
    let default = ctx.profile("Default")?;
    let dev = ctx.profile("Development")?;
    let mut mobile = ctx.device(Some(&default))?;
    let mut desktop = ctx.device(Some(&default))?;
    let mut other = ctx.device(Some(&dev))?;
    let s = ctx.server.as_ref();
    mobile.create(s, "url", Some("https://example.com/mobile-1"), &["mobile"])?;
    mobile.create(s, "text", Some("mobile note"), &["mobile"])?;
    desktop.create(
        s,
        "url",
        Some("https://example.com/desktop-1"),
        &["desktop"],
    )?;
    desktop.create(s, "text", Some("desktop note"), &["desktop"])?;
    other.create(
        s,
        "url",
        Some("https://example.com/development-only"),
        &["dev"],
    )?;
    for _ in 0..2 {
        for d in [&mut mobile, &mut desktop, &mut other] {
            ctx.tick(1_000);
            d.sync(s, Mode::Full)?;
        }
    }
    let in_default = ctx.server_live(&default)?;
    let in_dev = ctx.server_live(&dev)?;
    ensure(in_default.len() == 4, || {
        format!("D16: profile Default holds {in_default:?}, want the 4 mobile and desktop items")
    })?;
    ensure(
        in_dev == vec!["url|https://example.com/development-only|dev".to_string()],
        || format!("D16: profile Development holds {in_dev:?}"),
    )?;
    let (lm, ld, lo) = (mobile.live()?, desktop.live()?, other.live()?);
    ensure(lm == in_default && ld == in_default, || {
        format!("Default devices hold {lm:?} / {ld:?}, the profile {in_default:?}")
    })?;
    ensure(lo == in_dev, || {
        format!("the Development device holds {lo:?}")
    })?;
    Ok(json!({ "default": in_default, "development": in_dev }))
}

/// Round trip between a server-side client, "mobile" and "desktop" on one
/// profile: every party's items reach the two others.
pub fn routing(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("Routing")?;
    let mut mobile = ctx.device(Some(&profile))?;
    let mut desktop = ctx.device(Some(&profile))?;
    ctx.post(
        &profile,
        json!({"type":"url","content":"https://example.com/from-server","tags":["server"],"sync_id":"srv-1"}),
    )?;
    let s = ctx.server.as_ref();
    mobile.create(
        s,
        "url",
        Some("https://example.com/from-mobile"),
        &["mobile"],
    )?;
    ctx.tick(1_000);
    mobile.sync(s, Mode::Full)?;
    ctx.tick(1_000);
    desktop.sync(s, Mode::Full)?;
    let ld = desktop.live()?;
    ensure(ld.len() == 2, || {
        format!("desktop holds {ld:?}, want the server's and mobile's items")
    })?;
    desktop.create(s, "text", Some("from desktop"), &["desktop"])?;
    ctx.tick(1_000);
    desktop.sync(s, Mode::Full)?;
    ctx.tick(1_000);
    mobile.sync(s, Mode::Full)?;
    let server = ctx.server_live(&profile)?;
    let (lm, ld) = (mobile.live()?, desktop.live()?);
    ensure(server.len() == 3, || {
        format!("server holds {server:?}, want 3")
    })?;
    ensure(lm == server && ld == server, || {
        format!("mobile {lm:?} / desktop {ld:?} differ from the server {server:?}")
    })?;
    Ok(json!({ "server": server }))
}
