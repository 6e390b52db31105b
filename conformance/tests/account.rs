//! `peek-conform --server URL` works in a scratch space of the key's
//! account: after property worlds and documented scenarios against our
//! server on a loopback port, the account holds exactly the profiles and
//! items it held before, none of the run's `peek-scratch-conform-…`
//! profiles is left, and a client that writes outside its profile (the
//! Tauri desktop model sends its local profile id, which the server
//! answers from its default profile: D16) is caught by the survey after
//! the run.

use ::server::clock::SeededIds;
use conformance::documented;
use conformance::property::{self, Group, Verdict};
use conformance::server::{self, Remote, Server, ServerSpec};
use conformance::spec::ClientSpec;
use engine::sync::Method;
use engine::Model;
use sim::account::Scratch;

/// Every profile of the account (id, name) with its items.
fn account(s: &dyn Server) -> Vec<(String, String, Vec<serde_json::Value>)> {
    let list = server::json(s, "profiles", Method::Get, "/profiles", None).unwrap();
    let mut out: Vec<_> = list["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let id = p["id"].as_str().unwrap().to_string();
            let items = server::items(s, &id).unwrap();
            (id, p["name"].as_str().unwrap().to_string(), items)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn seeded() -> Remote {
    let local = Remote::serve_local(11).unwrap();
    // The account's own data: its default profile and one more.
    server::json(
        &local,
        "post",
        Method::Post,
        "/items",
        Some(&serde_json::json!({"type":"text","content":"mine"})),
    )
    .unwrap();
    let work = server::create_profile(&local, "Work").unwrap();
    server::json(
        &local,
        "post",
        Method::Post,
        &format!("/items?profile={work}"),
        Some(&serde_json::json!({"type":"url","content":"https://mine.example"})),
    )
    .unwrap();
    local
}

#[test]
fn a_conformance_run_by_url_leaves_the_account_as_it_was() {
    let local = seeded();
    let before = account(&local);
    assert_eq!(before.len(), 2);
    let scratch = Scratch::open(
        &local.url(),
        &local.key(),
        "conform",
        &SeededIds::new(4),
        false,
    )
    .unwrap();
    assert!(scratch.prefix().starts_with("peek-scratch-conform-"));
    let survey = scratch.survey().unwrap();
    assert!(survey.warning(&scratch).is_some());
    let url = ServerSpec::Url(scratch.clone());
    let reference = ClientSpec::Engine(Model::Reference);
    match property::run_target(Group::Tombstones, &reference, &url, 3, 0, 0) {
        Verdict::Pass { cases } => assert_eq!(cases, 3),
        other => panic!("{other:?}"),
    }
    for name in [
        "three-way-convergence",
        "delete-propagation",
        "return-to-server",
    ] {
        let sc = documented::ALL.iter().find(|s| s.name == name).unwrap();
        documented::run(sc, &reference, &url, 1).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Each scenario gave its profiles back when it ended.
        assert!(scratch.live().is_empty(), "{name}: {:?}", scratch.live());
    }
    let after = account(&local);
    assert_eq!(after, before, "the account changed");
    assert!(scratch
        .survey()
        .unwrap()
        .changed_since(&survey, &scratch)
        .is_empty());
    let cleanup = scratch.finish();
    assert!(cleanup.clean() && cleanup.deleted > 0, "{cleanup}");
}

#[test]
fn a_client_writing_outside_its_profile_is_caught_after_the_run() {
    let local = seeded();
    let scratch = Scratch::open(
        &local.url(),
        &local.key(),
        "conform",
        &SeededIds::new(5),
        false,
    )
    .unwrap();
    let survey = scratch.survey().unwrap();
    let url = ServerSpec::Url(scratch.clone());
    let desktop = ClientSpec::Engine(Model::TauriDesktop);
    let sc = documented::ALL
        .iter()
        .find(|s| s.name == "profile-isolation")
        .unwrap();
    let r = documented::run(sc, &desktop, &url, 1);
    assert!(r.is_err(), "D16 did not show: {r:?}");
    let changes = scratch.survey().unwrap().changed_since(&survey, &scratch);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(
        changes[0].contains("was written to during the run"),
        "{changes:?}"
    );
    let default = survey.default_profile().unwrap();
    assert!(changes[0].contains(&default.id), "{changes:?}");
    assert!(scratch.finish().clean());
}
