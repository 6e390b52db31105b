//! §5.5 three-way convergence, §5.6 cross-device dedup, and the one-time
//! dedup cleanup (§3.8) that must not break them (D17).

use serde_json::{json, Value};

use super::{ensure, Ctx, Failure};
use crate::client::Client;
use crate::client::ClientError;
use engine::Mode;

/// Desktop and iOS devices on one fresh server profile, converged on the
/// six items of §5.5 (2 server-origin, 2 desktop, 2 iOS).
struct Three {
    profile: String,
    desktop: Box<dyn Client>,
    ios: Box<dyn Client>,
}

fn three_way_setup(ctx: &mut Ctx) -> Result<Three, Failure> {
    let profile = ctx.profile("Default")?;
    ctx.post(
        &profile,
        json!({"type":"url","content":"https://example.com/server-origin-1","tags":["server","e2e"],"sync_id":"seed-1"}),
    )?;
    ctx.post(
        &profile,
        json!({"type":"text","content":"Note created on server","tags":["server","note"],"sync_id":"seed-2"}),
    )?;
    let mut desktop = ctx.device(Some(&profile))?;
    let mut ios = ctx.device(Some(&profile))?;
    // A phone whose clock is 90 s behind, as in the original run.
    ios.set_clock_offset(-90_000)?;
    let s = ctx.server.as_ref();
    ctx.tick(1_000);
    desktop.sync(s, Mode::PullOnly)?;
    ensure(desktop.live()?.len() == 2, || {
        format!(
            "desktop pull-only: {:?}, want the 2 server items",
            desktop.live()
        )
    })?;
    desktop.create(
        s,
        "url",
        Some("https://example.com/desktop-origin-1"),
        &["desktop", "e2e"],
    )?;
    desktop.create(
        s,
        "text",
        Some("Note created on desktop"),
        &["desktop", "note"],
    )?;
    ctx.tick(1_000);
    desktop.sync(s, Mode::Full)?;
    let server = ctx.server_live(&profile)?;
    ensure(server.len() == 4, || {
        format!("server after the desktop push: {server:?}, want 4")
    })?;
    ios.create(
        s,
        "url",
        Some("https://example.com/ios-e2e-url-1"),
        &["ios"],
    )?;
    ios.create(s, "text", Some("ios-e2e-note-1"), &["ios", "note"])?;
    ctx.tick(1_000);
    ios.sync(s, Mode::Full)?;
    ctx.tick(1_000);
    desktop.sync(s, Mode::Full)?;
    Ok(Three {
        profile,
        desktop,
        ios,
    })
}

/// §5.5: server, desktop and iOS each end with the same 6 live items.
pub fn three_way(ctx: &mut Ctx) -> Result<Value, Failure> {
    let mut t = three_way_setup(ctx)?;
    let server = ctx.server_live(&t.profile)?;
    let desktop = t.desktop.live()?;
    let ios = t.ios.live()?;
    ensure(server.len() == 6, || {
        format!("server has {server:?}, want 6 items")
    })?;
    ensure(desktop == server, || {
        format!("desktop {desktop:?} differs from the server {server:?}")
    })?;
    ensure(ios == server, || {
        format!("iOS {ios:?} differs from the server {server:?}")
    })?;
    Ok(json!({ "server": server, "desktop": desktop, "ios": ios }))
}

/// §5.6 steps 11–18: a re-post by sync id keeps 6; the same URL and the
/// same tagset created on both devices stay 2 + 2 items (no content dedup
/// on the sync path); 10 everywhere, stable over more syncs.
pub fn cross_device_dedup(ctx: &mut Ctx) -> Result<Value, Failure> {
    let Three {
        profile,
        mut desktop,
        mut ios,
    } = three_way_setup(ctx)?;
    let items = crate::server::items(ctx.server.as_ref(), &profile)?;
    let newest = items
        .iter()
        .filter(|i| i["deletedAt"].as_i64().unwrap_or(0) == 0)
        .max_by_key(|i| i["version"].as_i64().unwrap_or(0))
        .and_then(|i| i["id"].as_str())
        .ok_or_else(|| Failure::Fail("the server has no items".into()))?
        .to_string();
    ctx.tick(1_000);
    ctx.post(
        &profile,
        json!({"type":"url","content":"server-origin-1","sync_id":newest}),
    )?;
    let server = ctx.server_live(&profile)?;
    ensure(server.len() == 6, || {
        format!("a re-post by sync id changed the count: {server:?}")
    })?;
    let s = ctx.server.as_ref();
    for d in [&mut desktop, &mut ios] {
        d.create(
            s,
            "url",
            Some("https://example.com/cross-device-url"),
            &["cross-device"],
        )?;
        d.create(s, "tagset", None, &["shared", "tagset"])?;
    }
    ctx.tick(1_000);
    desktop.sync(s, Mode::Full)?;
    ctx.tick(1_000);
    ios.sync(s, Mode::Full)?;
    ctx.tick(1_000);
    desktop.sync(s, Mode::Full)?;
    let mut rounds = Vec::new();
    for round in 0..3 {
        let server = ctx.server_live(&profile)?;
        let d = desktop.live()?;
        let i = ios.live()?;
        ensure(server.len() == 10, || {
            format!(
                "round {round}: server has {} items, want 10: {server:?}",
                server.len()
            )
        })?;
        ensure(d == server && i == server, || {
            format!("round {round}: desktop {d:?} / iOS {i:?} differ from the server {server:?}")
        })?;
        let cross = server
            .iter()
            .filter(|l| l.contains("|https://example.com/cross-device-url|"))
            .count();
        let tagsets = server.iter().filter(|l| l.starts_with("tagset|")).count();
        ensure((cross, tagsets) == (2, 2), || {
            format!("{cross} cross-device URLs and {tagsets} tagsets, want 2 and 2 (no content dedup on the sync path)")
        })?;
        rounds.push(server);
        ctx.tick(1_000);
        desktop.sync(s, Mode::Full)?;
        ctx.tick(1_000);
        ios.sync(s, Mode::Full)?;
    }
    ensure(rounds.windows(2).all(|w| w[0] == w[1]), || {
        "the item set changed over re-syncs".to_string()
    })?;
    Ok(json!({ "server": rounds[0], "stable_rounds": rounds.len() }))
}

/// The one-time cleanup (§3.8) on a profile left by a legacy server: off
/// the sync path, duplicates become tombstones that reach every device;
/// cross-device copies with their own sync ids stay (D17); the flag is
/// set and a second restart changes nothing. As in the original's e2e
/// flows, each device also holds a row seeded straight into its database
/// (the same content on both: a cross-device copy once synced), and every
/// server restart is followed by a restart of each client (the desktop
/// app restarted, the iOS app relaunched). Needs the in-process server.
pub fn dedup_cleanup(ctx: &mut Ctx) -> Result<Value, Failure> {
    let profile = ctx.profile("Cleanup")?;
    // Off the sync path (no sync id), as the webhook and `/texts` write.
    ctx.post(&profile, json!({"type":"text","content":"legacy-a"}))?;
    ctx.post(&profile, json!({"type":"text","content":"legacy-b"}))?;
    // What a legacy server left behind: two rows with one content, no flag.
    ctx.server.legacy_sql(
        &profile,
        &format!(
            "UPDATE items SET content = 'legacy-a' WHERE content = 'legacy-b';
             DELETE FROM settings WHERE key = '{}';",
            server::store::schema::DEDUP_FLAG
        ),
    )?;
    ensure(!ctx.server.dedup_flag(&profile)?, || {
        "flag set before the cleanup".into()
    })?;
    let mut a = ctx.device(Some(&profile))?;
    let mut b = ctx.device(Some(&profile))?;
    let s = ctx.server.as_ref();
    a.create(s, "url", Some("https://example.com/same"), &[])?;
    b.create(s, "url", Some("https://example.com/same"), &[])?;
    for d in [&mut a, &mut b] {
        // A client whose driver cannot write its database directly saves
        // the row the app's way: the same row, through the app's code.
        let seeded = ("text", Some("seeded on the device"), &["seeded"][..]);
        match d.seed_row(s, seeded.0, seeded.1, seeded.2) {
            Err(ClientError::Unsupported(_)) => d.create(s, seeded.0, seeded.1, seeded.2),
            r => r,
        }?;
    }
    for _ in 0..2 {
        ctx.tick(1_000);
        a.sync(s, Mode::Full)?;
        ctx.tick(1_000);
        b.sync(s, Mode::Full)?;
    }
    let before = ctx.server_live(&profile)?;
    ensure(before.len() == 6, || {
        format!("before the cleanup: {before:?}, want 6")
    })?;
    ctx.server.restart()?;
    ensure(ctx.server.dedup_flag(&profile)?, || {
        "flag not set by the cleanup".into()
    })?;
    let mut states = Vec::new();
    for restart in 0..2 {
        a.restart()?;
        b.restart()?;
        let s = ctx.server.as_ref();
        for _ in 0..2 {
            ctx.tick(1_000);
            a.sync(s, Mode::Full)?;
            ctx.tick(1_000);
            b.sync(s, Mode::Full)?;
        }
        let server = ctx.server_live(&profile)?;
        let (la, lb) = (a.live()?, b.live()?);
        ensure(server.len() == 5, || {
            format!("after restart {restart}: server {server:?}, want one legacy-a and both copies of each cross-device item")
        })?;
        ensure(la == server && lb == server, || {
            format!("after restart {restart}: devices {la:?} / {lb:?} differ from the server {server:?}")
        })?;
        states.push(server);
        ctx.server.restart()?;
    }
    ensure(states[0] == states[1], || {
        "the second restart changed the items".into()
    })?;
    Ok(json!({ "before": before, "after": states[0], "flag": true }))
}
