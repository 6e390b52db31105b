//! Where the store work of a request runs (`server::state::Execution`):
//! the same answers from a current-thread runtime (the simulator's case)
//! and a multi-threaded one, with the blocking pool and inline; work that
//! panics is a 500 JSON either way.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use serde_json::json;
use server::error::{ApiError, ApiResult};
use server::state::Execution;

use crate::common::Srv;

fn srv(execution: Execution) -> Srv {
    let Srv {
        dir,
        state,
        clock,
        key,
    } = Srv::new();
    // `state` is not shared yet, so the strategy takes.
    let state = state.with_execution(execution);
    assert_eq!(state.execution, execution);
    Srv {
        dir,
        state,
        clock,
        key,
    }
}

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }
}

/// A write, the reads of the sync API, the auth lookup (a wrong key) and
/// an error of the store: every answer's status and bytes.
async fn exchange(s: &Srv) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    let mut note = |r: crate::common::Resp| out.push((r.status.as_u16(), r.text));
    let p = s
        .post(
            "/items",
            json!({"type":"text","content":"a","sync_id":"s1","tags":["t"]}),
        )
        .await;
    let id = p.body["id"].as_str().unwrap_or_default().to_string();
    note(p);
    note(s.get("/items").await);
    note(s.get(&format!("/items/{id}")).await);
    note(s.get("/items/changes?after=0").await);
    note(s.get("/items/since/0").await);
    note(s.get("/tags").await);
    note(s.get("/profiles").await);
    note(s.get("/items/nope").await);
    note(
        s.as_key("wrong", axum::http::Method::GET, "/items", None)
            .await,
    );
    note(s.post("/items", json!({"type":"url","sync_id":"s2"})).await);
    out
}

#[test]
fn reads_and_writes_answer_the_same_on_every_runtime_and_strategy() {
    let mut answers = Vec::new();
    for multi in [false, true] {
        for execution in [Execution::BlockingPool, Execution::Inline] {
            let rt = runtime(multi);
            let s = srv(execution);
            let got = rt.block_on(exchange(&s));
            let statuses: Vec<u16> = got.iter().map(|a| a.0).collect();
            assert_eq!(
                statuses,
                [200, 200, 200, 200, 200, 200, 200, 404, 401, 400],
                "multi={multi} {execution:?}: {got:?}"
            );
            answers.push(((multi, execution), got));
        }
    }
    let (first, want) = &answers[0];
    for (which, got) in &answers[1..] {
        assert_eq!(got, want, "{which:?} answered differently from {first:?}");
    }
}

/// On a current-thread runtime (no worker to hand over) the blocking pool
/// takes the work off the thread that polls the handler; inline keeps it
/// there.
#[test]
fn the_blocking_pool_runs_store_work_on_another_thread() {
    for (execution, same) in [(Execution::BlockingPool, false), (Execution::Inline, true)] {
        let s = srv(execution);
        let rt = runtime(false);
        let caller = std::thread::current().id();
        let ran_on = rt
            .block_on(s.state.run(|_| Ok(std::thread::current().id())))
            .unwrap();
        assert_eq!(ran_on == caller, same, "{execution:?}");
    }
}

/// On a multi-threaded runtime the work may run on the thread that polled
/// the handler (`block_in_place`), but that thread first hands its async
/// duties on: with a single worker, another task still runs while the
/// store work waits for it. Inline work would wait forever (here: until
/// the timeout) and report `false`.
#[test]
fn store_work_never_holds_up_the_async_workers() {
    let s = srv(Execution::BlockingPool);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let state = s.state.clone();
    let got = rt.block_on(async move {
        let work = tokio::spawn(async move {
            state
                .run(move |_| Ok(rx.recv_timeout(std::time::Duration::from_secs(10)).is_ok()))
                .await
        });
        // Give the work a head start on the one worker, then need it.
        tokio::task::yield_now().await;
        let other = tokio::spawn(async move { tx.send(()).is_ok() });
        (work.await, other.await)
    });
    assert!(matches!(got, (Ok(Ok(true)), Ok(true))), "{got:?}");
}

#[test]
fn store_work_that_panics_is_a_500_json_with_either_strategy() {
    for execution in [Execution::BlockingPool, Execution::Inline] {
        for multi in [false, true] {
            let s = srv(execution);
            let rt = runtime(multi);
            let (status, body) = rt.block_on(async {
                let r: ApiResult<()> = s.state.run(|_| panic!("boom")).await;
                let e = r.expect_err("a panic is an error");
                assert!(matches!(e, ApiError::Store(_)), "{e:?}");
                let resp = e.into_response();
                let status = resp.status();
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                (status, String::from_utf8_lossy(&bytes).into_owned())
            });
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(body, r#"{"error":"internal server error"}"#);
            // And the server goes on serving.
            let r = rt.block_on(s.get("/items"));
            assert_eq!(r.status, StatusCode::OK, "{execution:?} multi={multi}");
        }
    }
}
