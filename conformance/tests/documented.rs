//! The documented scenarios of §5 against the reference engine and the
//! in-process server: every one passes, and its redacted outcome (no ids,
//! no times) is snapshotted.

use conformance::documented::{self, Failure};
use conformance::server::ServerSpec;
use conformance::spec::ClientSpec;
use engine::Model;

fn outcome(name: &str, client: &ClientSpec) -> Result<serde_json::Value, Failure> {
    let s = documented::ALL
        .iter()
        .find(|s| s.name == name)
        .expect("a documented scenario of that name");
    documented::run(s, client, &ServerSpec::InProcess, 1)
}

fn passes(name: &str) -> serde_json::Value {
    match outcome(name, &ClientSpec::Engine(Model::Reference)) {
        Ok(v) => v,
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn three_way_convergence() {
    insta::assert_json_snapshot!(passes("three-way-convergence"));
}

#[test]
fn cross_device_dedup() {
    insta::assert_json_snapshot!(passes("cross-device-dedup"));
}

#[test]
fn dedup_cleanup() {
    insta::assert_json_snapshot!(passes("dedup-cleanup"));
}

#[test]
fn delete_propagation() {
    insta::assert_json_snapshot!(passes("delete-propagation"));
}

#[test]
fn profile_isolation() {
    insta::assert_json_snapshot!(passes("profile-isolation"));
}

#[test]
fn three_way_routing() {
    insta::assert_json_snapshot!(passes("three-way-routing"));
}

#[test]
fn echo_stability() {
    insta::assert_json_snapshot!(passes("echo-stability"));
}

#[test]
fn skew_ping_pong() {
    insta::assert_json_snapshot!(passes("skew-ping-pong"));
}

#[test]
fn write_during_sync() {
    insta::assert_json_snapshot!(passes("write-during-sync"));
}

#[test]
fn edit_after_pull() {
    insta::assert_json_snapshot!(passes("edit-after-pull"));
}

#[test]
fn return_to_server() {
    insta::assert_json_snapshot!(passes("return-to-server"));
}

#[test]
fn version_matrix() {
    insta::assert_json_snapshot!(passes("version-matrix"));
}

/// The same scenarios show the documented bugs of the platform models:
/// deletes never propagate (D4) and come back (D5); Tauri desktop lands in
/// the default profile (D16).
#[test]
fn platform_models_fail_where_documented() {
    for m in [
        Model::JsEngine,
        Model::Electron,
        Model::Extension,
        Model::TauriMobile,
    ] {
        let r = outcome("delete-propagation", &ClientSpec::Engine(m));
        assert!(
            matches!(r, Err(Failure::Fail(ref d)) if d.contains("D4")),
            "{m:?}: {r:?}"
        );
    }
    let r = outcome(
        "profile-isolation",
        &ClientSpec::Engine(Model::TauriDesktop),
    );
    assert!(
        matches!(r, Err(Failure::Fail(ref d)) if d.contains("D16")),
        "{r:?}"
    );
}
