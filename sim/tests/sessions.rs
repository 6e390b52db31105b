//! Sessions (`docs/session-format.md`): simulator traces replay against a
//! fresh server and against the client with no divergence; a tampered
//! answer is caught where it is; the recording proxy captures a real sync
//! over TCP that then replays clean, and differentially against a second
//! server; the documented flows under `fixtures/sessions/` are current and
//! replay clean (`PEEK_UPDATE_FIXTURES=1` rewrites them).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use engine::store::items::NewItem;
use engine::transport::HttpTransport;
use engine::{Mode, Model, Store, SyncConfig};
use server::clock::{ManualClock, SeededIds};
use sim::check::Invariant;
use sim::config::{Options, WorldConfig};
use sim::event::{Event, Kind};
use sim::run;
use sim::session::replay::{self, Target};
use sim::session::{playback, AppliedFault, Line, Session};
use sim::trace::TraceEvent;

fn session_of(cfg: &WorldConfig, events: &[Event]) -> (Session, run::Outcome) {
    let o = run::run_events(cfg, events, true).expect("world runs");
    let bytes = o.trace.clone().expect("trace kept");
    (Session::read(&bytes[..]).expect("a trace is a session"), o)
}

fn assert_clean_everywhere(name: &str, s: &Session) {
    let report = replay::replay(s, &mut Target::in_process()).unwrap();
    assert!(report.sent() > 0, "{name}: nothing sent");
    assert!(
        report.is_clean(),
        "{name}:\n{}",
        replay::render(&report, false)
    );
    let devices = playback::replay_client(s, None).unwrap();
    for d in &devices {
        assert!(d.is_clean(), "{name}: {d:?}");
        assert!(d.made > 0, "{name}: {} made no request", d.device);
    }
}

#[test]
fn a_simulator_trace_with_faults_and_restores_replays_clean_against_server_and_client() {
    let opts = Options {
        steps: 150,
        ..Options::default()
    };
    // A world that lost and duplicated requests and restored a server.
    let (s, o) = (0..60)
        .find_map(|seed| {
            let cfg = WorldConfig::from_seed(seed, &opts);
            let events = sim::event::generate(&cfg, opts.steps);
            let (s, o) = session_of(&cfg, &events);
            let faults: Vec<AppliedFault> = s.exchanges().filter_map(|x| x.fault).collect();
            let want = [
                AppliedFault::RequestLost,
                AppliedFault::ResponseLost,
                AppliedFault::Duplicate,
            ];
            (o.stats.restores > 0 && want.iter().all(|f| faults.contains(f))).then_some((s, o))
        })
        .expect("some world has every fault and a restore");
    assert!(o.ok());
    assert_eq!(s.exchanges().count() as u64, o.stats.exchanges);
    assert_clean_everywhere("faulty world", &s);
}

#[test]
fn a_tampered_answer_is_reported_at_its_exchange() {
    let cfg = WorldConfig::from_seed(
        4,
        &Options {
            steps: 60,
            faults: false,
            ..Options::default()
        },
    );
    let events = sim::event::generate(&cfg, 60);
    let (mut s, _) = session_of(&cfg, &events);
    // Change the content of the first item an answer of one item carries.
    let mut tampered = None;
    for line in &mut s.lines {
        let Line::Exchange(x) = line else { continue };
        let Some(r) = x.response.as_mut() else {
            continue;
        };
        let Some(mut body) = r.body.json() else {
            continue;
        };
        let Some(items) = body.get_mut("items").and_then(|i| i.as_array_mut()) else {
            continue;
        };
        // An answer of one item: answers are compared as sets, and the
        // report should point at the changed field, not at a re-pairing.
        if items.len() != 1 {
            continue;
        }
        if let Some(first) = items.iter_mut().find(|i| i["content"].is_string()) {
            first["content"] = "tampered".into();
            r.body = sim::session::Body::json_value(&body);
            tampered = Some(x.seq);
            break;
        }
    }
    let seq = tampered.expect("some answer carries an item");
    let report = replay::replay(&s, &mut Target::in_process()).unwrap();
    let first = report.divergent().next().expect("divergence found");
    assert_eq!(first.seq, seq);
    let text = replay::render(&report, true);
    assert!(text.contains("\"tampered\""), "{text}");
    assert!(
        text.contains(&format!("first divergence at exchange #{seq}")),
        "{text}"
    );
    // A model's requests are not the reference engine's.
    let electron = playback::replay_client(&s, Some(Model::Electron)).unwrap();
    assert!(electron.iter().any(|d| !d.is_clean()));
}

/// A real peek-server on a loopback port.
async fn serve(dir: &std::path::Path) -> (String, tokio::task::JoinHandle<()>) {
    let state = server::AppState::open(
        dir,
        Arc::new(ManualClock::new(sim::config::EPOCH_MS)),
        Arc::new(SeededIds::new(99)),
    )
    .unwrap();
    state
        .system
        .create_user("bob", "bob-key", "2026-01-27T10:00:00.000Z")
        .unwrap();
    let app = server::app(state);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let h = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_proxy_captures_a_real_sync_that_replays_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, _srv) = serve(&dir.path().join("up")).await;
    let out = dir.path().join("rec.jsonl");
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", l.local_addr().unwrap());
    let rec = {
        let (up, out) = (upstream.clone(), out.clone());
        tokio::spawn(async move { sim::session::record::run(l, &up, &out, None).await })
    };
    // Two devices sync through the proxy.
    for (n, text) in [(1u64, "first"), (2, "second")] {
        let mut store = Store::open(&dir.path().join(format!("dev{n}.sqlite"))).unwrap();
        let ids = Arc::new(SeededIds::new(n));
        store
            .add_item(
                ids.as_ref(),
                sim::config::EPOCH_MS,
                NewItem {
                    kind: Some(engine::model::ItemType::Text),
                    content: Some(text.into()),
                    metadata: None,
                    tags: vec!["rec".into()],
                    blob: None,
                },
            )
            .unwrap();
        let t = HttpTransport::new(&proxy, Duration::from_secs(10)).unwrap();
        let cfg = SyncConfig {
            server_url: proxy.clone(),
            api_key: "bob-key".into(),
            server_profile: None,
            model: Model::Reference,
        };
        let clock = ManualClock::new(sim::config::EPOCH_MS + n as i64 * 1000);
        let sum = engine::run(&mut store, &t, &clock, ids, cfg, Mode::Full)
            .await
            .unwrap();
        assert_eq!(sum.pushed, 1);
    }
    rec.abort();
    let s = Session::open(&out).unwrap();
    assert_eq!(s.header.recorder.mode, "record");
    assert!(s
        .header
        .server
        .as_ref()
        .is_some_and(|v| v["features"].is_array()));
    assert!(s.exchanges().count() >= 4);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("bob-key"), "a key reached the session");
    assert!(s.exchanges().all(|x| x.ms.is_some() && x.at.is_some()));
    // Fresh in-process server: the same answers, ids mapped.
    let sess = s.clone();
    let report = tokio::task::spawn_blocking(move || {
        replay::replay(&sess, &mut Target::in_process()).unwrap()
    })
    .await
    .unwrap();
    assert!(report.is_clean(), "{}", replay::render(&report, false));
    // Differential: in-process against a second real server by URL.
    let (other, _srv2) = serve(&dir.path().join("other")).await;
    let diff = tokio::task::spawn_blocking(move || {
        let mut targets = [
            Target::in_process(),
            Target::http(
                sim::account::Scratch::open(&other, "bob-key", "replay", &SeededIds::new(5), false)
                    .unwrap(),
            ),
        ];
        let lines = s.lines.iter().cloned().map(Ok);
        let (reports, diff) = replay::replay_all(&s.header, lines, &mut targets).unwrap();
        assert!(
            reports[1].is_clean(),
            "{}",
            replay::render(&reports[1], false)
        );
        diff
    })
    .await
    .unwrap();
    assert!(diff.is_empty(), "{diff:?}");
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/sessions")
}

fn create(dev: usize, kind: Kind) -> Event {
    Event::Create {
        dev,
        kind,
        tags: vec!["e2e".into()],
        unicode: false,
    }
}

fn sync_all(devs: &[usize]) -> Vec<Event> {
    devs.iter()
        .flat_map(|&dev| {
            std::iter::once(Event::Sync { dev })
                .chain((0..12).map(move |_| Event::Step { dev, fault: None }))
        })
        .collect()
}

/// The documented end-to-end flows (§5.5–5.8) as fault-free worlds.
fn flows() -> Vec<(&'static str, WorldConfig, Vec<Event>)> {
    let base = |devices: usize, servers: usize| {
        let mut c = WorldConfig::from_seed(
            1,
            &Options {
                devices,
                faults: false,
                max_skew_ms: 0,
                ..Options::default()
            },
        );
        c.servers = servers;
        c.profile_switch = 0.0;
        // The documented flows name their profile by UUID and have no
        // writers outside sync nor account changes.
        c.api_writes = 0.0;
        c.account_events = 0.0;
        for d in &mut c.devices {
            d.profile = 0;
            d.by_slug = false;
        }
        c
    };
    let mut out = Vec::new();
    // §5.5: three devices, two items each, six everywhere.
    let mut ev = Vec::new();
    for dev in 0..3 {
        ev.extend([create(dev, Kind::Url), create(dev, Kind::Text)]);
        ev.extend(sync_all(&[dev]));
    }
    ev.extend(sync_all(&[0, 1, 2]));
    out.push(("three-way-sync", base(3, 1), ev));
    // §5.6: the same URL and tagset made on two devices stay two rows.
    let mut ev = vec![
        Event::CreateSame {
            dev: 0,
            other: 1,
            kind: Kind::Url,
        },
        Event::CreateSame {
            dev: 0,
            other: 1,
            kind: Kind::Tagset,
        },
        create(0, Kind::Text),
        create(1, Kind::Text),
    ];
    ev.extend(sync_all(&[0, 1, 0, 1]));
    out.push(("cross-device-dedup", base(2, 1), ev));
    // §5.7: a delete on one device reaches the other.
    let mut ev = vec![create(0, Kind::Url), create(0, Kind::Text)];
    ev.extend(sync_all(&[0, 1]));
    ev.push(Event::Delete { dev: 1, pick: 0 });
    ev.extend(sync_all(&[1, 0]));
    out.push(("delete-propagation", base(2, 1), ev));
    // §5.8: a device moves to another server and back.
    let mut ev = vec![create(0, Kind::Url)];
    ev.extend(sync_all(&[0, 1]));
    ev.push(Event::SwitchServer { dev: 0, server: 1 });
    ev.push(create(0, Kind::Text));
    ev.extend(sync_all(&[0]));
    ev.push(Event::SwitchServer { dev: 0, server: 0 });
    ev.extend(sync_all(&[0, 1]));
    out.push(("server-switch", base(2, 2), ev));
    out
}

#[test]
fn documented_flows_are_current_fixtures_and_replay_clean() {
    let update = std::env::var("PEEK_UPDATE_FIXTURES").is_ok_and(|v| v == "1");
    for (name, cfg, events) in flows() {
        let (s, o) = session_of(&cfg, &events);
        assert!(o.ok(), "{name}: {:?}", o.violations);
        let path = fixtures_dir().join(format!("{name}.jsonl"));
        let bytes = o.trace.unwrap();
        if update {
            std::fs::create_dir_all(fixtures_dir()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (PEEK_UPDATE_FIXTURES=1 writes it)", path.display())
        });
        assert!(
            committed == bytes,
            "{name}: the flow no longer produces the committed session; if the change is intended, run PEEK_UPDATE_FIXTURES=1 cargo test -p sim --test sessions"
        );
        assert_clean_everywhere(name, &Session::open(&path).unwrap());
        drop(s);
    }
}

/// A failing simulator seed, exported with one command
/// (`peek-sim run --seed 2 --steps 60 --models electron --trace FILE`),
/// kept as a regression fixture: the server still answers it the same, the
/// model still makes the same requests, and re-running its world still
/// breaks the same invariant.
#[test]
fn an_exported_failing_seed_is_a_regression_fixture() {
    let path = fixtures_dir().join("electron-seed-2.jsonl");
    let s = Session::open(&path).unwrap();
    // Every event line of the fixture reads as a typed event and writes
    // back byte for byte.
    assert!(!s
        .lines
        .iter()
        .any(|l| matches!(l, Line::Event(TraceEvent::Other(_)))));
    assert_eq!(
        String::from_utf8(s.to_jsonl()).unwrap(),
        std::fs::read_to_string(&path).unwrap()
    );
    let recorded: Vec<Invariant> = s
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Event(TraceEvent::Violation { invariant, .. }) => Some(*invariant),
            _ => None,
        })
        .collect();
    assert!(!recorded.is_empty(), "the fixture records no violation");
    let cfg: WorldConfig = serde_json::from_value(s.header.world.clone().unwrap()).unwrap();
    // The fault phase's events: what follows the `heal` line is the
    // world's own healing, which the run does again.
    let events: Vec<Event> = s
        .lines
        .iter()
        .take_while(|l| !matches!(l, Line::Event(TraceEvent::Heal { .. })))
        .filter_map(|l| match l {
            Line::Event(TraceEvent::Event { event, .. }) => Some(event.clone()),
            _ => None,
        })
        .collect();
    let again = run::run_events(&cfg, &events, false).unwrap();
    let now: Vec<Invariant> = again.violations.iter().map(|v| v.invariant).collect();
    assert_eq!(now, recorded);
    assert_clean_everywhere("electron-seed-2", &s);
}
