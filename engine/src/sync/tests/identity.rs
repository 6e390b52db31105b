//! Not a guarantee: how a session names its client. By default exactly
//! the model's own `X-Peek-Client` and no `X-Peek-Device` (what the
//! simulator's devices send, so their traces do not move); a CLI install
//! names itself with `with_client`/`with_device`.

use super::script::*;
use crate::sync::{Mode, Request, SyncSession};
use crate::Model;

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_session_sends_the_models_client_header_unless_named() {
    let mut d = Device::new();
    d.url("https://a");
    let mut plain = Script::first_push();
    d.sync(&mut plain);
    for r in &plain.sent {
        assert_eq!(header(r, "X-Peek-Client"), Some("peek-sync-rs"));
        assert_eq!(header(r, "X-Peek-Device"), None);
    }
    let mut d = Device::new();
    d.url("https://a");
    let mut named = Script::first_push();
    let session = SyncSession::new(d.cfg.clone(), Mode::Full, d.ids.clone())
        .with_client("peek-sync/0.1.0 (laptop)")
        .with_device("laptop");
    d.sync_session(&mut named, session).expect("sync");
    named.assert_done();
    assert_eq!(named.sent.len(), 3);
    for r in &named.sent {
        assert_eq!(header(r, "X-Peek-Client"), Some("peek-sync/0.1.0 (laptop)"));
        assert_eq!(header(r, "X-Peek-Device"), Some("laptop"));
    }
}

#[test]
fn a_platform_model_keeps_its_header_and_can_carry_a_device() {
    let mut d = Device::new();
    d.cfg.model = Model::Electron;
    let session =
        SyncSession::new(d.cfg.clone(), Mode::PullOnly, d.ids.clone()).with_device("desk");
    // Electron's pull; a 500 ends the sync after its headers were sent.
    let mut s = Script::new().on(
        crate::sync::Method::Get,
        "/items",
        answer(500, serde_json::json!({})),
    );
    let _ = d.sync_session(&mut s, session);
    let first = s.sent.first().expect("a request");
    assert_eq!(header(first, "X-Peek-Client"), Some("desktop"));
    assert_eq!(header(first, "X-Peek-Device"), Some("desk"));
}
