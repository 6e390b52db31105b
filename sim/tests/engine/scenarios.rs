//! The documented multi-device scenarios of §5, with engines against the
//! real server in-process.
use crate::common::*;
use engine::model::ItemType;
use serde_json::json;

/// §5.5 three-way convergence, then §5.6 cross-device dedup.
#[tokio::test]
async fn three_way_convergence_then_cross_device_dedup() {
    let net = Net::new("http://s1", 1);
    let profile = "0a0a0a0a-0000-4000-8000-000000000001";
    net.create_profile(profile, "Default2");
    let q = format!("/items?profile={profile}");
    for body in [
        json!({"type":"url","content":"https://example.com/server-origin-1","tags":["server","e2e"],"sync_id":"seed-1"}),
        json!({"type":"text","content":"Note created on server","tags":["server","note"],"sync_id":"seed-2"}),
    ] {
        let (s, _) = net.raw(engine::sync::Method::Post, &q, Some(body)).await;
        assert_eq!(s, 200);
    }
    let mut desktop = Device::new(10, "http://s1", Some(profile));
    let mut ios = Device::new(20, "http://s1", Some(profile));
    ios.clock.advance(-90_000); // a phone whose clock is 90 s behind
    let s = desktop
        .sync_mode(&net.t, engine::Mode::PullOnly)
        .await
        .unwrap();
    assert_eq!(s.pulled, 2);
    desktop.add(
        ItemType::Url,
        Some("https://example.com/desktop-origin-1"),
        &["desktop", "e2e"],
    );
    desktop.add(
        ItemType::Text,
        Some("Note created on desktop"),
        &["desktop", "note"],
    );
    desktop.sync(&net.t).await;
    assert_eq!(net.live(Some(profile)).await.len(), 4);
    ios.add(
        ItemType::Url,
        Some("https://example.com/ios-e2e-url-1"),
        &["ios"],
    );
    ios.add(ItemType::Text, Some("ios-e2e-note-1"), &["ios", "note"]);
    net.tick(1000);
    ios.sync(&net.t).await;
    desktop.sync(&net.t).await;
    assert_eq!(net.live(Some(profile)).await.len(), 6);
    assert_eq!(desktop.live().len(), 6);
    assert_eq!(ios.live().len(), 6);
    assert_eq!(desktop.live(), ios.live());

    // §5.6 step 11: re-POST the newest server item with its own id.
    let items = net.live(Some(profile)).await;
    let newest = items[0]["id"].as_str().unwrap().to_string();
    net.tick(1000);
    let (s, _) = net
        .raw(
            engine::sync::Method::Post,
            &q,
            Some(json!({"type":"url","content":"server-origin-1","sync_id":newest})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(net.live(Some(profile)).await.len(), 6);
    // Steps 12–13: the same URL and the same tagset on both devices.
    for d in [&mut desktop, &mut ios] {
        d.add(
            ItemType::Url,
            Some("https://example.com/cross-device-url"),
            &["cross-device"],
        );
        d.add(ItemType::Tagset, None, &["shared", "tagset"]);
    }
    net.tick(1000);
    desktop.sync(&net.t).await;
    ios.sync(&net.t).await;
    desktop.sync(&net.t).await;
    let server = net.live(Some(profile)).await;
    assert_eq!(server.len(), 10);
    assert_eq!(desktop.live().len(), 10);
    assert_eq!(ios.live().len(), 10);
    assert_eq!(desktop.live(), lines(&server));
    assert_eq!(ios.live(), lines(&server));
    let cross = server
        .iter()
        .filter(|i| i["content"] == "https://example.com/cross-device-url")
        .count();
    let tagsets = server.iter().filter(|i| i["type"] == "tagset").count();
    assert_eq!(
        (cross, tagsets),
        (2, 2),
        "no content dedup on the sync path"
    );
    // Step 18: stable.
    for _ in 0..2 {
        let s = desktop.sync(&net.t).await;
        assert_eq!((s.pulled, s.pushed), (0, 0));
        ios.sync(&net.t).await;
    }
    assert_eq!(net.live(Some(profile)).await.len(), 10);
    assert_eq!(desktop.live().len(), 10);
}

/// Tombstones both ways across three devices, with edits in between.
#[tokio::test]
async fn tombstones_both_ways_across_three_devices() {
    let net = Net::new("http://s1", 1);
    let mut d: Vec<Device> = (0..3)
        .map(|i| Device::new(10 + i, "http://s1", None))
        .collect();
    let mut ids = Vec::new();
    for (i, dev) in d.iter_mut().enumerate() {
        ids.push(dev.url(&format!("https://d{i}")));
        dev.sync(&net.t).await;
    }
    for dev in d.iter_mut() {
        dev.sync(&net.t).await;
        assert_eq!(dev.live().len(), 3);
    }
    d[0].delete(&ids[0]);
    let other = d[1]
        .store
        .items(false)
        .unwrap()
        .into_iter()
        .find(|i| i.content.as_deref() == Some("https://d2"))
        .unwrap();
    d[1].delete(&other.id);
    for _ in 0..2 {
        for dev in d.iter_mut() {
            net.tick(7);
            dev.sync(&net.t).await;
        }
    }
    for dev in &d {
        assert_eq!(dev.live(), vec!["url|https://d1|t"]);
    }
    assert_eq!(lines(&net.live(None).await), vec!["url|https://d1|t"]);
}
