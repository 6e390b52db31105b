//! The seven guarantees of the issue, one named test (or a few) each,
//! against the real server in-process.
use crate::common::*;
use engine::model::ItemType;
use engine::sync::{Method, Step, SyncSession};
use engine::transport::Transport;
use engine::{Error, Mode, Store};
use serde_json::json;

// ---- Guarantee 1: no local change is ever lost ----------------------------

#[tokio::test]
async fn g1_failed_push_keeps_the_change_pending() {
    let net = Net::new("http://s1", 1);
    let mut a = Device::new(10, "http://s1", None);
    a.url("https://example.com/a");
    let t = Faulty::new(net.t.clone(), |r| {
        if is_push(r) {
            Fault::Status(500)
        } else {
            Fault::Pass
        }
    });
    let err = a.sync_mode(&t, Mode::Full).await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 500, .. }), "{err}");
    assert_eq!(net.items(None).await.len(), 0);
    let t = Faulty::new(net.t.clone(), |r| {
        if is_push(r) {
            Fault::Drop
        } else {
            Fault::Pass
        }
    });
    assert!(a.sync_mode(&t, Mode::Full).await.is_err());
    let s = a.sync(&net.t).await;
    assert_eq!(s.pushed, 1);
    assert_eq!(lines(&net.live(None).await), a.live());
}

#[tokio::test]
async fn g1_lost_response_after_commit_is_retried_idempotently() {
    let net = Net::new("http://s1", 1);
    let mut a = Device::new(10, "http://s1", None);
    a.url("https://example.com/a");
    a.add(ItemType::Text, Some("note"), &["x"]);
    let t = Faulty::new(net.t.clone(), |r| {
        if is_push(r) {
            Fault::LoseResponse
        } else {
            Fault::Pass
        }
    });
    assert!(a.sync_mode(&t, Mode::Full).await.is_err());
    assert_eq!(net.items(None).await.len(), 2, "the server committed");
    // A pull-only sync first (the worst order): it sees the committed rows.
    a.sync_mode(&net.t, Mode::PullOnly).await.expect("pull");
    let s = a.sync(&net.t).await;
    assert_eq!(s.pushed, 2, "retried with the same sync ids");
    assert_eq!(net.items(None).await.len(), 2, "no duplicate on the server");
    assert_eq!(a.live().len(), 2, "no duplicate locally");
    let s = a.sync(&net.t).await;
    assert_eq!((s.pushed, s.pulled), (0, 0));
}

/// Edge case 2 of §6 / D13: a crash between any two steps. For every k,
/// the device sends k requests, the k-th one commits on the server and
/// then the process dies (store reopened from disk). The next syncs must
/// end with everything on both sides, once.
#[tokio::test]
async fn g1_crash_between_any_two_steps_loses_nothing() {
    for k in 1..=8 {
        let net = Net::new("http://s1", 1);
        net.post(
            json!({"type":"url","content":"https://server/1","tags":["s"],"sync_id":"other-1"}),
        )
        .await;
        net.post(json!({"type":"text","content":"server note","sync_id":"other-2"}))
            .await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peek.db");
        let mut a = Device::with_store(Store::open(&path).unwrap(), 10, "http://s1", None);
        let first = a.url("https://local/1");
        a.url("https://local/2");
        a.add(ItemType::Tagset, None, &["p", "q"]);
        a.sync(&net.t).await;
        a.delete(&first);
        a.url("https://local/3");
        net.tick(10);
        net.post(json!({"type":"url","content":"https://server/3","sync_id":"other-3"}))
            .await;
        // Crash at step k of the second sync.
        let mut session = SyncSession::new(a.cfg.clone(), Mode::Full, a.ids.clone());
        for step in 1..=k {
            let now = a.now();
            match session.poll(&mut a.store, now).unwrap() {
                Step::Send(req) => {
                    let resp = net.t.send(req).await;
                    if step == k {
                        break; // the server committed; the answer is lost with the process
                    }
                    session.on_response(&mut a.store, resp, now).unwrap();
                }
                Step::Done(_) => break,
            }
        }
        drop(session);
        let cfg = a.cfg.clone();
        drop(a);
        let mut a = Device::with_store(Store::open(&path).unwrap(), 99, "http://s1", None);
        a.cfg = cfg;
        a.sync(&net.t).await;
        let s = a.sync(&net.t).await;
        assert_eq!((s.pushed, s.pulled), (0, 0), "k={k}: settled");
        assert_eq!(a.live().len(), 6, "k={k}: {:?}", a.live());
        assert_eq!(lines(&net.live(None).await), a.live(), "k={k}");
        assert_eq!(
            net.items(None).await.len(),
            7,
            "k={k}: one tombstone, no duplicates"
        );
    }
}

// ---- Guarantee 2: the cursor never passes an unapplied change -------------

#[tokio::test]
async fn g2_same_millisecond_writes_and_client_skew_are_never_skipped() {
    for (feed, skew) in [
        (true, 3_600_000),
        (true, -3_600_000),
        (false, 3_600_000),
        (false, -3_600_000),
    ] {
        let net = Net::new("http://s1", 1);
        let v1 = Faulty::new(net.t.clone(), |_| Fault::Pass).rewriting(as_v1_server);
        let mut a = Device::new(10, "http://s1", None);
        a.clock.advance(skew);
        net.post(json!({"type":"text","content":"n0","sync_id":"x0"}))
            .await;
        let s = if feed {
            a.sync(&net.t).await
        } else {
            a.sync(&v1).await
        };
        assert_eq!(s.pulled, 1);
        // Same server millisecond as the newest item seen (D9).
        for i in 1..4 {
            net.post(json!({"type":"text","content":format!("n{i}"),"sync_id":format!("x{i}")}))
                .await;
        }
        let s = if feed {
            a.sync(&net.t).await
        } else {
            a.sync(&v1).await
        };
        assert_eq!(
            s.pulled, 3,
            "feed={feed} skew={skew}: nothing skipped, nothing counted twice"
        );
        let s = if feed {
            a.sync(&net.t).await
        } else {
            a.sync(&v1).await
        };
        assert_eq!(
            (s.pulled, s.pushed),
            (0, 0),
            "feed={feed}: overlap is deduplicated"
        );
        assert_eq!(a.live().len(), 4);
    }
}

#[tokio::test]
async fn g2_push_only_does_not_move_the_cursor() {
    let net = Net::new("http://s1", 1);
    let mut a = Device::new(10, "http://s1", None);
    a.sync(&net.t).await;
    net.tick(5);
    net.post(json!({"type":"text","content":"from b","sync_id":"b1"}))
        .await;
    a.url("https://a/1");
    net.tick(5);
    let s = a.sync_mode(&net.t, Mode::PushOnly).await.unwrap();
    assert_eq!((s.pushed, s.pulled), (1, 0));
    let s = a.sync(&net.t).await;
    assert_eq!(
        s.pulled, 1,
        "D7: the write before the push-only sync still arrives"
    );
}

#[tokio::test]
async fn g2_feed_pages_apply_with_their_cursor() {
    let net = Net::new("http://s1", 1);
    let body: Vec<_> = (0..2500)
        .map(|i| json!({"type":"text","content":format!("n{i}"),"sync_id":format!("x{i}")}))
        .collect();
    for chunk in body.chunks(1000) {
        let (s, _) = net
            .raw(Method::Post, "/items/batch", Some(json!({"items": chunk})))
            .await;
        assert_eq!(s, 200);
    }
    let mut a = Device::new(10, "http://s1", None);
    let mut n = 0;
    // The third feed page fails: the first two pages stay applied.
    let t = Faulty::new(net.t.clone(), move |r| {
        if r.path.starts_with("/items/changes") {
            n += 1;
            if n == 3 {
                return Fault::Drop;
            }
        }
        Fault::Pass
    });
    assert!(a.sync_mode(&t, Mode::Full).await.is_err());
    assert_eq!(a.live().len(), 2000);
    let s = a.sync(&net.t).await;
    assert_eq!(s.pulled, 500);
    assert_eq!(a.live().len(), 2500);
}

// ---- Guarantee 3: deletes propagate both ways, nothing resurrects ---------

#[tokio::test]
async fn g3_tombstones_travel_both_ways_and_nothing_resurrects() {
    let net = Net::new("http://s1", 1);
    let mut a = Device::new(10, "http://s1", None);
    let mut b = Device::new(20, "http://s1", None);
    let x = a.url("https://x");
    a.url("https://y");
    a.sync(&net.t).await;
    b.sync(&net.t).await;
    assert_eq!(b.live().len(), 2);
    a.delete(&x);
    let s = a.sync(&net.t).await;
    assert_eq!(s.pushed, 1, "the tombstone is pushed (D4)");
    assert_eq!(net.live(None).await.len(), 1);
    b.sync(&net.t).await;
    assert_eq!(b.live(), vec!["url|https://y|t"], "applied on B");
    // A delete made on the server side (another client) reaches A.
    let y_server = net.live(None).await[0]["id"].as_str().unwrap().to_string();
    net.tick(3);
    net.raw(
        Method::Post,
        "/items",
        Some(json!({"type":"url","content":"https://y","sync_id":y_server,"deletedAt":T0})),
    )
    .await;
    a.sync(&net.t).await;
    assert!(a.live().is_empty());
    // A tombstone for an item never seen locally still lands, as deleted.
    let ghost = net
        .post(json!({"type":"url","content":"https://ghost","sync_id":"g"}))
        .await;
    net.tick(1);
    net.raw(
        Method::Post,
        "/items",
        Some(json!({"type":"url","content":"https://ghost","sync_id":ghost,"deletedAt":T0})),
    )
    .await;
    let mut c = Device::new(30, "http://s1", None);
    c.sync(&net.t).await;
    assert!(c.live().is_empty());
    assert_eq!(
        c.store.items(true).unwrap().len(),
        3,
        "three tombstones held locally"
    );
    a.sync(&net.t).await;
    b.sync(&net.t).await;
    // Full re-pulls (fresh cursor) never bring anything back (D5).
    for d in [&mut a, &mut b, &mut c] {
        d.store
            .conn()
            .execute("DELETE FROM settings WHERE key LIKE 'sync.cursor.%'", [])
            .unwrap();
        let s = d.sync(&net.t).await;
        assert_eq!((s.pulled, s.pushed), (0, 0));
        assert!(d.live().is_empty());
    }
    assert!(net.live(None).await.is_empty());
}

// ---- Guarantee 4: no echo, no ping-pong -----------------------------------

#[tokio::test]
async fn g4_nothing_new_means_zero_pulls_and_zero_pushes_under_any_skew() {
    for skew in [0, 3_600_000, -3_600_000] {
        let net = Net::new("http://s1", 1);
        let mut a = Device::new(10, "http://s1", None);
        let mut b = Device::new(20, "http://s1", None);
        a.clock.advance(skew);
        b.clock.advance(-skew);
        a.url("https://a/1");
        a.add(ItemType::Text, Some("t"), &[]);
        let s = a.sync(&net.t).await;
        assert_eq!(
            (s.pushed, s.pulled),
            (2, 0),
            "skew={skew}: no echo of our own pushes (D10)"
        );
        let s = b.sync(&net.t).await;
        assert_eq!((s.pushed, s.pulled), (0, 2));
        for _ in 0..3 {
            net.tick(1000);
            for d in [&mut a, &mut b] {
                let s = d.sync(&net.t).await;
                assert_eq!(
                    (s.pushed, s.pulled),
                    (0, 0),
                    "skew={skew}: no ping-pong (D11)"
                );
            }
        }
        let versions: Vec<i64> = net
            .items(None)
            .await
            .iter()
            .map(|i| i["version"].as_i64().unwrap())
            .collect();
        assert!(
            versions.iter().all(|v| *v <= 2),
            "no server write after the first push: {versions:?}"
        );
    }
}

// ---- Guarantee 5: conflicts converge by the documented rule ---------------

#[tokio::test]
async fn g5_concurrent_edits_converge_to_the_later_edit_whatever_the_skew() {
    for (skew_a, skew_b, a_first) in [
        (0, 0, true),
        (3_600_000, -3_600_000, true),
        (-3_600_000, 3_600_000, false),
    ] {
        let net = Net::new("http://s1", 1);
        let mut a = Device::new(10, "http://s1", None);
        let mut b = Device::new(20, "http://s1", None);
        let id = a.url("https://shared");
        a.sync(&net.t).await;
        b.sync(&net.t).await;
        a.clock.advance(skew_a);
        b.clock.advance(skew_b);
        let bid = b.store.items(false).unwrap()[0].id.clone();
        // Both edit offline; the rule keeps the later edit time (the
        // server's `edit-conflicts` extension), whichever pushes first.
        a.edit(&id, "https://from-a");
        b.edit(&bid, "https://from-b");
        let later_is_a = a.now() > b.now();
        let (first, second) = if a_first {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        first.sync(&net.t).await;
        let s = second.sync(&net.t).await;
        first.sync(&net.t).await;
        let expect = if later_is_a {
            "url|https://from-a|t"
        } else {
            "url|https://from-b|t"
        };
        assert_eq!(a.live(), vec![expect], "skews {skew_a}/{skew_b}");
        assert_eq!(b.live(), vec![expect]);
        assert_eq!(lines(&net.live(None).await), vec![expect]);
        let _ = s;
        for d in [&mut a, &mut b] {
            let s = d.sync(&net.t).await;
            assert_eq!((s.pushed, s.pulled), (0, 0));
        }
    }
}

#[tokio::test]
async fn g5_delete_versus_edit_converges() {
    let net = Net::new("http://s1", 1);
    let mut a = Device::new(10, "http://s1", None);
    let mut b = Device::new(20, "http://s1", None);
    let id = a.url("https://shared");
    a.sync(&net.t).await;
    b.sync(&net.t).await;
    let bid = b.store.items(false).unwrap()[0].id.clone();
    b.edit(&bid, "https://edited");
    a.clock.advance(10);
    a.delete(&id); // the later edit: a delete
    b.sync(&net.t).await;
    let s = a.sync(&net.t).await;
    assert_eq!(s.pushed, 1);
    b.sync(&net.t).await;
    assert!(a.live().is_empty() && b.live().is_empty());
    assert!(net.live(None).await.is_empty());
}

// ---- Guarantee 6: switching servers and profiles ---------------------------

#[tokio::test]
async fn g6_switching_server_and_back_creates_no_duplicates() {
    let s1 = Net::new("http://s1", 1);
    let s2 = Net::new("http://s2", 2);
    let mut a = Device::new(10, "http://s1", None);
    a.url("https://a/1");
    a.url("https://a/2");
    s1.post(json!({"type":"text","content":"on s1","sync_id":"o1"}))
        .await;
    a.sync(&s1.t).await;
    assert_eq!(a.live().len(), 3);
    a.cfg.server_url = "http://s2".into();
    let s = a.sync(&s2.t).await;
    assert!(s.server_changed);
    assert_eq!(
        s.pushed, 3,
        "everything is re-pushed to the new server (D14)"
    );
    assert_eq!(lines(&s2.live(None).await), a.live());
    a.url("https://a/3");
    a.cfg.server_url = "http://s1/".into(); // back, spelled with a slash
    let s = a.sync(&s1.t).await;
    assert!(s.server_changed);
    assert_eq!(
        (s.pushed, s.pulled),
        (1, 0),
        "only the new item; old server ids reused (D15)"
    );
    assert_eq!(s1.items(None).await.len(), 4);
    assert_eq!(a.live().len(), 4);
    assert_eq!(lines(&s1.live(None).await), a.live());
}

#[tokio::test]
async fn g6_profile_targeting_is_exact() {
    let net = Net::new("http://s1", 1);
    let p1 = "11111111-1111-4111-8111-111111111111";
    let p2 = "22222222-2222-4222-8222-222222222222";
    net.create_profile(p1, "Work");
    net.create_profile(p2, "Home");
    let mut a = Device::new(10, "http://s1", Some(p1));
    a.url("https://a/1");
    a.sync(&net.t).await;
    assert_eq!(net.live(Some(p1)).await.len(), 1);
    a.cfg.server_profile = Some(p2.into());
    let s = a.sync(&net.t).await;
    assert_eq!(s.pushed, 1);
    assert_eq!(net.live(Some(p2)).await.len(), 1);
    assert_eq!(net.live(Some(p1)).await.len(), 1, "p1 untouched");
    assert!(
        net.live(None).await.is_empty(),
        "nothing in the default profile"
    );
    // An unknown profile is an error, never a silent fallback (D16).
    a.cfg.server_profile = Some("33333333-3333-4333-8333-333333333333".into());
    let err = a.sync_mode(&net.t, Mode::Full).await.unwrap_err();
    assert!(
        matches!(err, Error::Server { status: 404, .. }) || format!("{err}").contains("404"),
        "{err}"
    );
    assert!(net.live(None).await.is_empty());
}

// ---- Guarantee 7: both spellings parse; 409 stops and changes nothing -----

#[tokio::test]
async fn g7_snake_case_iso_only_answers_sync_the_same() {
    let net = Net::new("http://s1", 1);
    net.post(json!({"type":"url","content":"https://s","tags":["a"],"sync_id":"o"}))
        .await;
    // Strip every camelCase timestamp: only `created_at` etc. (ISO) remain.
    let snake = Faulty::new(net.t.clone(), |_| Fault::Pass).rewriting(|_, mut r| {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&r.body) {
            if let Some(items) = v.get_mut("items").and_then(|i| i.as_array_mut()) {
                for it in items {
                    if let Some(o) = it.as_object_mut() {
                        o.remove("createdAt");
                        o.remove("updatedAt");
                        o.remove("deletedAt");
                    }
                }
            }
            r.body = v.to_string().into_bytes();
        }
        r
    });
    let mut a = Device::new(10, "http://s1", None);
    let s = a.sync(&snake).await;
    assert_eq!(s.pulled, 1);
    let it = &a.store.items(false).unwrap()[0];
    assert_eq!(it.updated_at, T0);
    assert_eq!(a.sync(&snake).await.pulled, 0);
}

#[tokio::test]
async fn g7_version_mismatch_stops_the_sync_and_changes_nothing() {
    let net = Net::new("http://s1", 1);
    net.post(json!({"type":"url","content":"https://s","sync_id":"o"}))
        .await;
    let mut a = Device::new(10, "http://s1", None);
    a.url("https://mine");
    let before = a.store.items(true).unwrap();
    let t = Faulty::new(net.t.clone(), |r| {
        if r.path.starts_with("/items") {
            Fault::Status(409)
        } else {
            Fault::Pass
        }
    });
    let err = a.sync_mode(&t, Mode::Full).await.unwrap_err();
    assert!(matches!(err, Error::VersionMismatch(_)), "{err}");
    assert_eq!(a.store.items(true).unwrap(), before);
    assert_eq!(
        a.store
            .conn()
            .query_row("SELECT COUNT(*) FROM server_links", [], |r| r
                .get::<_, i64>(0))
            .unwrap(),
        0
    );
    assert_eq!(net.items(None).await.len(), 1);
}
