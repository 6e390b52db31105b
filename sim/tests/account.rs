//! A replay against a running server (`peek-sim replay FILE --server URL
//! --key K`) works in a scratch space of the key's account: the account's
//! own profiles and items are the same afterwards, the session's writes
//! went to fresh `peek-scratch-replay-…` profiles (the default profile's
//! too, addressed by UUID with strictProfile), requests that would act on
//! the account as a whole are not sent, and the scratch profiles are gone
//! at the end — or kept and named, or named when the server cannot delete
//! profiles. The server is the production router on a loopback port.

use std::path::PathBuf;
use std::sync::Arc;

use server::clock::{ManualClock, SeededIds};
use sim::account::{Scratch, NAME_PREFIX};
use sim::session::replay::{self, Target};
use sim::session::{Exchange, Line, Req, Resp, Session};

const USER: &str = "bob";
const KEY: &str = "bob-key";

/// A real peek-server on 127.0.0.1; `no_delete`: it answers
/// `DELETE /profiles/:id` with the 404 of a route it does not have.
async fn serve(dir: &std::path::Path, no_delete: bool) -> (String, server::AppState) {
    let state = server::AppState::open(
        dir,
        Arc::new(ManualClock::new(sim::config::EPOCH_MS)),
        Arc::new(SeededIds::new(41)),
    )
    .unwrap();
    state
        .system
        .create_user(USER, KEY, "2026-01-27T10:00:00.000Z")
        .unwrap();
    let mut app = server::app(state.clone());
    if no_delete {
        app = app.layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                if req.method() == axum::http::Method::DELETE
                    && req.uri().path().starts_with("/profiles/")
                {
                    use axum::response::IntoResponse;
                    return (axum::http::StatusCode::NOT_FOUND, "404 Not Found").into_response();
                }
                next.run(req).await
            },
        ));
    }
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, state)
}

/// The account's own data: every profile (id, name) and, for each, every
/// item as the server lists it, tombstones included.
fn account(scratch: &Scratch) -> Vec<(String, String, serde_json::Value)> {
    let get = |path: &str| -> serde_json::Value {
        let r = scratch
            .call(engine::sync::Request {
                method: engine::sync::Method::Get,
                path: path.into(),
                headers: vec![("Authorization".into(), format!("Bearer {KEY}"))],
                body: None,
            })
            .unwrap();
        assert_eq!(r.status, 200, "{path}");
        serde_json::from_slice(&r.body).unwrap()
    };
    let mut out = Vec::new();
    for p in get("/profiles")["profiles"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap().to_string();
        let items = get(&format!(
            "/items?profile={id}&strictProfile=true&includeDeleted=true"
        ));
        out.push((
            id,
            p["name"].as_str().unwrap().to_string(),
            items["items"].clone(),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Items in the default profile (made by a request naming no profile, as
/// an app does) and in a profile of the user's own.
fn seed_account(scratch: &Scratch) {
    let call = |method, path: &str, body: serde_json::Value| {
        let r = scratch
            .call(engine::sync::Request {
                method,
                path: path.into(),
                headers: vec![
                    ("Authorization".into(), format!("Bearer {KEY}")),
                    ("Content-Type".into(), "application/json".into()),
                ],
                body: Some(body.to_string().into_bytes()),
            })
            .unwrap();
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()
    };
    use engine::sync::Method::Post;
    call(
        Post,
        "/items",
        serde_json::json!({"type":"text","content":"mine, in Default"}),
    );
    let work = call(Post, "/profiles", serde_json::json!({"name":"Work"}));
    let work = work["profile"]["id"].as_str().unwrap();
    call(
        Post,
        &format!("/items?profile={work}"),
        serde_json::json!({"type":"url","content":"https://mine.example/work"}),
    );
}

fn fixture(name: &str) -> Session {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../fixtures/sessions/{name}"));
    Session::open(&p).unwrap()
}

/// The same session as an app on the default profile would have recorded
/// it: no `profile` (nor `strictProfile`) on any request.
fn on_the_default_profile(mut s: Session) -> Session {
    for line in &mut s.lines {
        if let Line::Exchange(x) = line {
            x.request.query = x
                .request
                .query
                .split('&')
                .filter(|p| !p.starts_with("profile=") && !p.starts_with("strictProfile="))
                .collect::<Vec<_>>()
                .join("&");
        }
    }
    s
}

/// An exchange the session's device made, answered `status` with `body`.
fn exchange(seq: u64, method: &str, target: &str, body: &str, status: u16, answer: &str) -> Line {
    Line::Exchange(Box::new(Exchange {
        seq,
        device: "app".into(),
        clock: None,
        at: None,
        server: None,
        request: Req::new(
            method,
            target,
            [("content-type", "application/json")],
            body.as_bytes(),
        ),
        response: Some(Resp::new(
            status,
            [("content-type", "application/json")],
            answer.as_bytes(),
        )),
        error: None,
        delivered: 1,
        fault: None,
        ms: None,
    }))
}

fn replay_into(scratch: &Arc<Scratch>, s: &Session) -> replay::Report {
    let mut targets = [Target::http(scratch.clone())];
    let (mut reports, _) =
        replay::replay_all(&s.header, s.lines.iter().cloned().map(Ok), &mut targets).unwrap();
    reports.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_into_a_live_account_leaves_its_data_alone_and_its_scratch_gone() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _state) = serve(dir.path(), false).await;
    tokio::task::spawn_blocking(move || {
        let scratch = Scratch::open(&url, KEY, "replay", &SeededIds::new(7), false).unwrap();
        assert!(scratch.prefix().starts_with("peek-scratch-replay-"));
        seed_account(&scratch);
        let before = account(&scratch);
        assert_eq!(before.len(), 2, "{before:?}");
        let survey = scratch.survey().unwrap();
        let warning = survey.warning(&scratch).expect("the account holds items");
        assert!(warning.contains("the default profile"), "{warning}");
        assert!(warning.contains("\"Work\""), "{warning}");
        assert!(warning.contains(scratch.prefix()), "{warning}");
        let work = before.iter().find(|p| p.1 == "Work").unwrap().0.clone();

        // A session on a named profile, one on the default profile, and
        // requests that reach outside any profile.
        let named = fixture("three-way-sync.jsonl");
        let default = on_the_default_profile(named.clone());
        let mut outside = Session {
            header: named.header.clone(),
            lines: Vec::new(),
        };
        outside.lines.push(exchange(0, "POST", "/profiles", r#"{"name":"Made by the app"}"#, 200,
            r#"{"profile":{"id":"11111111-1111-4111-8111-111111111111","name":"Made by the app"},"created":true}"#));
        outside.lines.push(exchange(1, "POST", "/backups", "", 200, r#"{"success":true}"#));
        outside.lines.push(exchange(2, "DELETE", &format!("/profiles/{work}"), "", 200, r#"{"deleted":true}"#));
        outside.lines.push(exchange(3, "POST", "/items", r#"{"type":"text","content":"no profile named"}"#, 200, "{}"));

        for (name, s) in [("named", &named), ("default", &default)] {
            let report = replay_into(&scratch, s);
            assert!(report.sent() > 4, "{name}: nothing sent");
            assert!(report.is_clean(), "{name}:\n{}", replay::render(&report, false));
            let pushed = report
                .outcomes
                .iter()
                .filter(|o| o.line.starts_with("POST /items") && o.status == Some(200))
                .count();
            assert!(pushed > 0, "{name}: no push was answered");
        }
        let report = replay_into(&scratch, &outside);
        let notes = report.unreproduced.join("\n");
        assert!(notes.contains("POST /backups (not sent: it backs up the whole account)"), "{notes}");
        assert!(notes.contains("(not sent: it deletes a profile this run did not make)"), "{notes}");
        // While the run lasts, the writes are in its scratch profiles:
        // two sessions (one profile each) and the third's item and its
        // own profile.
        let live = scratch.live();
        assert_eq!(live.len(), 4, "{live:?}");
        assert!(live.iter().any(|(_, n)| n == "Made by the app"), "{live:?}");
        let mid = account(&scratch);
        let held: usize = mid
            .iter()
            .filter(|(id, _, _)| scratch.holds(id))
            .map(|(_, _, items)| items.as_array().unwrap().len())
            .sum();
        assert_eq!(held, 6 + 6 + 1, "{mid:#?}");
        // The account's own data is as it was, even mid-run.
        let own: Vec<_> = mid.iter().filter(|p| !scratch.holds(&p.0)).cloned().collect();
        assert_eq!(own, before);
        let after_survey = scratch.survey().unwrap();
        assert!(after_survey.changed_since(&survey, &scratch).is_empty());

        let cleanup = scratch.finish();
        assert!(cleanup.clean(), "{cleanup}");
        assert_eq!(cleanup.deleted, 4);
        assert!(cleanup.to_string().contains("4 profile(s) of peek-scratch-replay-"));
        assert!(cleanup.to_string().contains("deleted, none left"));
        assert_eq!(account(&scratch), before, "the account changed");
        // Finishing again (Ctrl-C after the end) reports the same.
        assert_eq!(scratch.finish(), cleanup);
        assert!(scratch.create("late").is_err(), "a closed space makes profiles");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_or_undeletable_scratch_profiles_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _state) = serve(&dir.path().join("a"), false).await;
    let (bare, _bare_state) = serve(&dir.path().join("b"), true).await;
    tokio::task::spawn_blocking(move || {
        let s = fixture("three-way-sync.jsonl");
        // --keep-scratch: nothing deleted, every profile named.
        let kept = Scratch::open(&url, KEY, "replay", &SeededIds::new(8), true).unwrap();
        replay_into(&kept, &s);
        let c = kept.finish();
        assert!(c.kept && !c.clean() && c.deleted == 0, "{c:?}");
        let text = c.to_string();
        assert!(text.contains("--keep-scratch"), "{text}");
        for (id, name) in kept.live() {
            assert!(name.starts_with(kept.prefix()), "{name}");
            assert!(text.contains(&id), "{text}");
        }
        // The next run's survey names them as leftovers.
        let next = Scratch::open(&url, KEY, "replay", &SeededIds::new(9), false).unwrap();
        assert_ne!(next.prefix(), kept.prefix(), "run ids differ by source");
        let w = next.survey().unwrap().warning(&next).unwrap();
        assert!(w.contains("left by earlier scratch runs"), "{w}");
        assert!(w.contains(NAME_PREFIX), "{w}");
        // A server without DELETE /profiles/:id: said so, profiles named.
        let stuck = Scratch::open(&bare, KEY, "replay", &SeededIds::new(10), false).unwrap();
        replay_into(&stuck, &s);
        let c = stuck.finish();
        assert!(c.no_delete.is_some() && c.left.len() == 1, "{c:?}");
        let text = c.to_string();
        assert!(text.contains("cannot delete profiles"), "{text}");
        assert!(text.contains(&c.left[0].0), "{text}");
    })
    .await
    .unwrap();
}
