//! One test per platform model, each reproducing at least one documented
//! bug of its original (§4.7), with the reference as the control where
//! the same scenario can run.
use crate::common::*;
use engine::model::ItemType;
use engine::sync::{Step, SyncSession};
use engine::transport::Transport;
use engine::{Mode, Model};
use serde_json::json;

#[test]
fn every_model_has_a_name_that_round_trips() {
    for m in Model::ALL {
        assert_eq!(Model::parse(m.name()), Some(m));
    }
    assert_eq!(Model::parse("nope"), None);
}

/// js-engine: local deletes never leave the device (D4), and a later pull
/// of the server copy brings the deleted item back (D5).
#[tokio::test]
async fn js_engine_never_pushes_deletes_and_resurrects_them_d4_d5() {
    let net = Net::new("http://s1", 1);
    let mut a = Device::new(10, "http://s1", None).model(Model::JsEngine);
    let id = a.url("https://doomed");
    assert_eq!(a.sync(&net.t).await.pushed, 1);
    a.delete(&id);
    let s = a.sync(&net.t).await;
    assert_eq!(s.pushed, 0);
    assert_eq!(
        net.live(None).await.len(),
        1,
        "D4: the delete did not propagate"
    );
    // Another device edits the item; the pull re-inserts it as live.
    let sid = net.live(None).await[0]["id"].as_str().unwrap().to_string();
    net.tick(50);
    net.post(json!({"type":"url","content":"https://doomed-edited","sync_id":sid}))
        .await;
    a.clock.advance(10);
    a.sync(&net.t).await;
    assert_eq!(
        a.live(),
        vec!["url|https://doomed-edited|"],
        "D5: resurrected"
    );
}

/// Electron: IPC `sync-push` moves the pull cursor (D7), so a server write
/// made before it is never pulled incrementally. The reference gets it.
#[tokio::test]
async fn electron_push_only_moves_the_cursor_d7() {
    for model in [Model::Electron, Model::Reference] {
        let net = Net::new("http://s1", 1);
        let mut a = Device::new(10, "http://s1", None).model(model);
        a.sync(&net.t).await;
        net.tick(5);
        net.post(json!({"type":"text","content":"from b","sync_id":"b1"}))
            .await;
        a.clock.advance(100);
        a.url("https://a/1");
        a.sync_mode(&net.t, Mode::PushOnly).await.unwrap();
        a.clock.advance(100);
        a.sync(&net.t).await;
        let has_b = a.live().iter().any(|l| l.contains("from b"));
        assert_eq!(has_b, model == Model::Reference, "{model:?}");
    }
}

/// Tauri desktop: sends the local profile id (and an ignored `slug`), so
/// everything lands in the server's default profile (D16).
#[tokio::test]
async fn tauri_desktop_lands_in_the_default_profile_d16() {
    let net = Net::new("http://s1", 1);
    let work = "44444444-4444-4444-8444-444444444444";
    net.create_profile(work, "Work");
    let mut a = Device::new(10, "http://s1", Some(work)).model(Model::TauriDesktop);
    a.url("https://meant-for-work");
    assert_eq!(a.sync(&net.t).await.pushed, 1);
    assert!(
        net.live(Some(work)).await.is_empty(),
        "D16: not in the configured profile"
    );
    assert_eq!(net.live(None).await.len(), 1, "D16: in the default profile");
}

/// Tauri mobile: the cursor is the client time *after* the push (D6): a
/// write that reaches the server while the sync runs is never pulled.
#[tokio::test]
async fn tauri_mobile_end_time_cursor_skips_writes_during_the_sync_d6() {
    for model in [Model::TauriMobile, Model::Reference] {
        let net = Net::new("http://s1", 1);
        let mut a = Device::new(10, "http://s1", None).model(model);
        a.url("https://mine");
        let mut session = SyncSession::new(a.cfg.clone(), Mode::Full, a.ids.clone());
        let mut pulled = false;
        loop {
            let now = a.now();
            match session.poll(&mut a.store, now).unwrap() {
                Step::Send(req) => {
                    let is_pull = req.path.starts_with("/items?")
                        || req.path == "/items"
                        || req.path.starts_with("/items/changes")
                        || req.path.starts_with("/items/since");
                    let resp = net.t.send(req).await;
                    session.on_response(&mut a.store, resp, now).unwrap();
                    if is_pull && !pulled {
                        pulled = true;
                        // Another device writes while this sync is running.
                        net.tick(5);
                        net.post(json!({"type":"text","content":"during","sync_id":"b1"}))
                            .await;
                        a.clock.advance(10);
                    }
                }
                Step::Done(_) => break,
            }
        }
        a.clock.advance(10);
        net.tick(10);
        a.sync(&net.t).await;
        let has = a.live().iter().any(|l| l.contains("during"));
        assert_eq!(has, model == Model::Reference, "{model:?}");
    }
}

/// Extension: with no stored server values it resets when any item came
/// from a server (D14), and the full pull that follows duplicates every
/// item locally; the reset rows are re-pushed under new sync ids, so the
/// server gets copies too (D15).
#[tokio::test]
async fn extension_first_run_reset_duplicates_d14_d15() {
    let net = Net::new("http://s1", 1);
    net.post(json!({"type":"url","content":"https://one","sync_id":"o1"}))
        .await;
    net.post(json!({"type":"text","content":"two","sync_id":"o2"}))
        .await;
    let mut a = Device::new(10, "http://s1", None).model(Model::Extension);
    assert_eq!(a.sync(&net.t).await.pulled, 2);
    // An install that has items from a server but no stored server values
    // (for example, data synced by an older build).
    a.store
        .conn()
        .execute(
            "DELETE FROM settings WHERE key LIKE 'sync.legacy.lastSync%'",
            [],
        )
        .unwrap();
    a.clock.advance(10);
    net.tick(10);
    let s = a.sync(&net.t).await;
    assert!(s.server_changed, "D14: reset without a server change");
    assert_eq!(a.live().len(), 4, "D15: local duplicates");
    assert_eq!(net.live(None).await.len(), 4, "and server duplicates");
}

/// js-engine and Electron against a server that sends only camelCase keys
/// (the deployed server, D1): the first pulled item is inserted half-made
/// and the sync aborts; Tauri desktop rejects the whole answer.
#[tokio::test]
async fn originals_break_on_camel_case_only_answers_d1() {
    let camel_only = |_: &engine::sync::Request, mut r: engine::sync::Response| {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&r.body) {
            if let Some(items) = v.get_mut("items").and_then(|i| i.as_array_mut()) {
                for it in items {
                    if let Some(o) = it.as_object_mut() {
                        o.remove("created_at");
                        o.remove("updated_at");
                        o.remove("deleted_at");
                    }
                }
            }
            r.body = v.to_string().into_bytes();
        }
        r
    };
    for model in [
        Model::JsEngine,
        Model::Electron,
        Model::TauriDesktop,
        Model::Extension,
        Model::Reference,
    ] {
        let net = Net::new("http://s1", 1);
        net.post(json!({"type":"url","content":"https://s1","sync_id":"o1"}))
            .await;
        net.post(json!({"type":"url","content":"https://s2","sync_id":"o2"}))
            .await;
        let t = Faulty::new(net.t.clone(), |_| Fault::Pass).rewriting(camel_only);
        let mut a = Device::new(10, "http://s1", None).model(model);
        a.add(ItemType::Text, Some("local"), &[]);
        let r = a.sync_mode(&t, Mode::Full).await;
        match model {
            Model::JsEngine | Model::Electron => {
                assert!(r.is_err(), "{model:?}");
                assert_eq!(
                    a.live().len(),
                    2,
                    "{model:?}: one half-made row, then abort; nothing pushed"
                );
                assert_eq!(net.live(None).await.len(), 2);
            }
            Model::TauriDesktop => {
                assert!(r.is_err());
                assert_eq!(a.live().len(), 1);
            }
            Model::Extension => {
                assert!(r.is_ok());
                let zero = a
                    .store
                    .items(false)
                    .unwrap()
                    .iter()
                    .filter(|i| i.updated_at == 0)
                    .count();
                assert_eq!(zero, 2, "NaN timestamps");
            }
            _ => {
                assert!(r.is_ok());
                assert_eq!(a.live().len(), 3);
                assert_eq!(net.live(None).await.len(), 3);
            }
        }
    }
}

/// The JS engine, Electron, the extension and Tauri desktop write a tag
/// edit to the tag link only, so it never leaves the device (D35); the
/// reference and Tauri mobile (whose update commands bump the row) push it.
#[tokio::test]
async fn a_tag_only_edit_never_leaves_the_js_clients_or_tauri_desktop_d35() {
    for model in [
        Model::Electron,
        Model::Extension,
        Model::TauriDesktop,
        Model::JsEngine,
        Model::TauriMobile,
        Model::Reference,
    ] {
        let net = Net::new("http://s1", 1);
        let mut a = Device::new(10, "http://s1", None).model(model);
        let id = a.url("https://tagged");
        a.sync(&net.t).await;
        net.tick(5);
        a.clock.advance(100);
        a.tag(&id, "later");
        a.clock.advance(100);
        a.sync(&net.t).await;
        let server = lines(&net.live(None).await);
        let pushed = server.iter().any(|l| l.contains("later"));
        let unmarked = matches!(
            model,
            Model::Electron | Model::Extension | Model::TauriDesktop | Model::JsEngine
        );
        assert_eq!(pushed, !unmarked, "{model:?}: server {server:?}");
    }
}

/// The extension's pull-only sync (`pullFromServer`) records neither the
/// cursor nor the server markers, so the full sync after it takes the
/// first-run reset and pushes the pulled item back as new (D14, D15).
#[tokio::test]
async fn extension_pull_only_then_full_sync_duplicates_on_the_server_d14_d15() {
    for model in [Model::Extension, Model::Electron] {
        let net = Net::new("http://s1", 1);
        net.post(json!({"type":"text","content":"on the server","sync_id":"s1"}))
            .await;
        let mut b = Device::new(20, "http://s1", None).model(model);
        b.clock.advance(100);
        b.sync_mode(&net.t, Mode::PullOnly).await.unwrap();
        b.clock.advance(100);
        b.sync(&net.t).await;
        let n = net.live(None).await.len();
        let want = if model == Model::Extension { 2 } else { 1 };
        assert_eq!(n, want, "{model:?}");
    }
}
