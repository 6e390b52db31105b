//! `driver-kit` end to end through the fake client's binary: the protocol
//! loop, the clock override, re-exec restarts, one directory per device,
//! and commands answered while a sync's HTTP request is held. No network
//! (a test server on 127.0.0.1 only), no original checkout.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Duration;

use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// One driver process.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<Value>,
    early: HashMap<u64, Value>,
    next: u64,
}

impl Proc {
    /// A driver whose `$TMPDIR` (where it makes a device directory when
    /// `hello` brings none) is `tmp`.
    fn spawn(tmp: &Path) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peek-fake-client"))
            .env("TMPDIR", tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the fake client");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, replies) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("non-JSON on stdout: {line:?} ({e})"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            stdin,
            replies,
            early: HashMap::new(),
            next: 1,
        }
    }

    /// Sends a request, returns its id (no wait).
    fn send(&mut self, mut req: Value) -> u64 {
        let id = self.next;
        self.next += 1;
        req["id"] = id.into();
        writeln!(self.stdin, "{req}").unwrap();
        self.stdin.flush().unwrap();
        id
    }

    /// The reply to `id` (other replies are kept for later).
    fn reply(&mut self, id: u64) -> Value {
        if let Some(v) = self.early.remove(&id) {
            return v;
        }
        loop {
            let v = self.replies.recv_timeout(WAIT).expect("a reply in time");
            let got = v["id"].as_u64().expect("reply id");
            if got == id {
                return v;
            }
            self.early.insert(got, v);
        }
    }

    /// Sends and waits; returns `result`, panics on an error reply.
    fn ok(&mut self, req: Value) -> Value {
        let id = self.send(req.clone());
        let r = self.reply(id);
        assert_eq!(r["ok"], true, "{req} answered {r}");
        r["result"].clone()
    }

    fn err(&mut self, req: Value) -> Value {
        let id = self.send(req.clone());
        let r = self.reply(id);
        assert_eq!(r["ok"], false, "{req} answered {r}");
        r["error"].clone()
    }

    fn hello(&mut self, dir: Option<&Path>) -> Value {
        match dir {
            Some(d) => self.ok(json!({"cmd": "hello", "protocol": 2, "dataDir": d})),
            None => self.ok(json!({"cmd": "hello"})),
        }
    }

    fn shutdown(mut self) {
        self.ok(json!({"cmd": "shutdown"}));
        let status = self.child.wait().unwrap();
        assert!(status.success());
    }
}

fn contents(items: &Value) -> Vec<String> {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["content"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A fresh directory for one test, removed when the test is done.
struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("fake-kit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

#[test]
fn protocol_loop_hello_commands_and_errors() {
    let dir = temp_dir("loop");
    let mut p = Proc::spawn(&dir);
    let hello = p.hello(Some(&dir.join("dev")));
    assert_eq!(hello["protocol"], 2);
    assert!(hello["name"]
        .as_str()
        .unwrap()
        .starts_with("peek-fake-client "));
    assert_eq!(hello["capabilities"]["restart"], "reexec");
    assert_eq!(hello["capabilities"]["concurrent"], true);
    assert!(hello["source"]["paths"].is_array());
    assert!(dir.join("dev").is_dir(), "the driver made its dataDir");

    let a = p.ok(
        json!({"cmd": "create", "type": "url", "content": "https://a.example/", "tags": ["x"]}),
    );
    let a = a["id"].as_str().unwrap().to_string();
    p.ok(json!({"cmd": "tag", "item": a, "tag": "y"}));
    p.ok(json!({"cmd": "update", "item": a, "content": "https://b.example/"}));
    let items = p.ok(json!({"cmd": "items"}));
    assert_eq!(contents(&items), ["https://b.example/"]);
    assert_eq!(items["items"][0]["tags"], json!(["x", "y"]));
    assert_eq!(items["items"][0]["syncId"], "");
    p.ok(json!({"cmd": "delete", "item": a}));
    assert_eq!(contents(&p.ok(json!({"cmd": "items"}))).len(), 0);
    let all = p.ok(json!({"cmd": "items", "includeDeleted": true}));
    assert_eq!(all["items"][0]["deleted"], true);

    assert_eq!(p.err(json!({"cmd": "frobnicate"}))["kind"], "refused");
    assert_eq!(
        p.err(json!({"cmd": "delete", "item": "no-such"}))["kind"],
        "refused"
    );
    assert_eq!(
        p.err(json!({"cmd": "create", "type": "video", "content": "x"}))["kind"],
        "refused"
    );
    // A failed sync is `sync`, never `internal`.
    assert_eq!(p.err(json!({"cmd": "sync"}))["kind"], "sync");
    p.ok(json!({"cmd": "configure", "serverUrl": "http://127.0.0.1:9", "apiKey": "k", "serverProfileId": null}));
    assert_eq!(p.err(json!({"cmd": "sync"}))["kind"], "sync");
    // A line that is not JSON gets a `refused` reply, and the loop goes on.
    writeln!(p.stdin, "not json").unwrap();
    let bad = p.replies.recv_timeout(WAIT).unwrap();
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["error"]["kind"], "refused");
    p.shutdown();
}

#[test]
fn clock_override_shifts_realtime_only() {
    let tmp = temp_dir("clock");
    let mut p = Proc::spawn(&tmp);
    p.hello(None);
    let before = p.ok(json!({"cmd": "clock_probe"}));
    let near = |a: &Value, b: &Value, want: i64| {
        let d = a.as_i64().unwrap() - b.as_i64().unwrap() - want;
        assert!(d.abs() < 2000, "{a} - {b} is not {want} (off by {d})");
    };
    near(&before["systemTimeMs"], &before["realMs"], 0);
    let offset = -90 * 60 * 1000;
    p.ok(json!({"cmd": "set_clock", "offsetMs": offset}));
    let after = p.ok(json!({"cmd": "clock_probe"}));
    // SystemTime (what chrono and the apps read) and a direct
    // gettimeofday call both follow the offset...
    near(&after["systemTimeMs"], &after["realMs"], offset);
    near(&after["gettimeofdayMs"], &after["realMs"], offset);
    // ...and the monotonic clock does not.
    near(&after["monotonicMs"], &after["realMonotonicMs"], 0);
    near(&after["monotonicMs"], &before["monotonicMs"], 0);
    p.ok(json!({"cmd": "set_clock", "offsetMs": 0}));
    let back = p.ok(json!({"cmd": "clock_probe"}));
    near(&back["systemTimeMs"], &back["realMs"], 0);
    p.shutdown();
}

#[test]
fn reexec_restart_keeps_the_data() {
    let tmp = temp_dir("restart");
    let dir = tmp.join("dev");
    // Protocol 2: shutdown, a new process, hello with the same dataDir.
    let mut p = Proc::spawn(&tmp);
    p.hello(Some(&dir));
    p.ok(json!({"cmd": "configure", "serverUrl": "http://127.0.0.1:9", "apiKey": "k", "serverProfileId": null}));
    p.ok(json!({"cmd": "create", "type": "text", "content": "kept", "tags": []}));
    p.shutdown();
    let mut p = Proc::spawn(&tmp);
    p.hello(Some(&dir));
    assert_eq!(contents(&p.ok(json!({"cmd": "items"}))), ["kept"]);

    // The `restart` command: the same process id is re-executed over the
    // same stdin/stdout, and comes back from the directory (and the clock
    // offset, which a protocol 1 suite does not re-send).
    let pid = p.child.id();
    p.ok(json!({"cmd": "set_clock", "offsetMs": 5000}));
    p.ok(json!({"cmd": "create", "type": "text", "content": "also kept", "tags": []}));
    // Written back to back: the request after `restart` must reach the
    // new image, not die in the old one's buffer.
    let r = p.send(json!({"cmd": "restart"}));
    let i = p.send(json!({"cmd": "items"}));
    assert_eq!(p.reply(r)["ok"], true);
    let items = p.reply(i);
    assert_eq!(contents(&items["result"]), ["kept", "also kept"]);
    assert_eq!(p.child.id(), pid);
    assert_eq!(p.ok(json!({"cmd": "clock_probe"}))["offsetMs"], 5000);
    p.shutdown();
}

#[test]
fn each_device_has_its_own_directory() {
    let tmp = temp_dir("devices");
    let mut a = Proc::spawn(&tmp);
    let mut b = Proc::spawn(&tmp);
    let da = a.hello(None)["dataDir"].as_str().unwrap().to_string();
    let db = b.hello(None)["dataDir"].as_str().unwrap().to_string();
    assert_ne!(da, db);
    // Made under the process's $TMPDIR, as protocol 1 suites need.
    assert!(Path::new(&da).starts_with(&*tmp) && Path::new(&db).starts_with(&*tmp));
    a.ok(json!({"cmd": "create", "type": "text", "content": "only on a", "tags": []}));
    assert_eq!(contents(&b.ok(json!({"cmd": "items"}))).len(), 0);
    assert_eq!(contents(&a.ok(json!({"cmd": "items"}))), ["only on a"]);
    assert!(Path::new(&da).join("items.json").exists());
    assert!(!Path::new(&db).join("items.json").exists());
    a.shutdown();
    b.shutdown();
    // A directory the kit made itself ends with its device.
    assert!(!Path::new(&da).exists() && !Path::new(&db).exists());
}

/// Reads one HTTP/1.1 request (head and Content-Length body).
fn read_request(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).unwrap() == 0 {
            break;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    head.lines().next().unwrap_or("").to_string()
}

fn answer(s: &mut TcpStream, body: &str) {
    write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
}

#[test]
fn commands_are_answered_while_a_sync_is_held() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (held_tx, held) = channel::<String>();
    let (release, release_rx) = channel::<()>();
    let server = std::thread::spawn(move || {
        // The push: held until the test says so.
        let (mut s, _) = listener.accept().unwrap();
        let line = read_request(&mut s);
        held_tx.send(line).unwrap();
        release_rx.recv().unwrap();
        answer(&mut s, r#"{"id":"srv-1","created":true}"#);
        drop(s);
        // The pull.
        let (mut s, _) = listener.accept().unwrap();
        let line = read_request(&mut s);
        held_tx.send(line).unwrap();
        answer(&mut s, r#"{"items":[]}"#);
    });

    let tmp = temp_dir("concurrent");
    let mut p = Proc::spawn(&tmp);
    p.hello(None);
    p.ok(json!({"cmd": "configure", "serverUrl": url, "apiKey": "k", "serverProfileId": "p1"}));
    p.ok(json!({"cmd": "create", "type": "url", "content": "https://before.example/", "tags": []}));
    let sync = p.send(json!({"cmd": "sync", "mode": "full"}));
    let first = held
        .recv_timeout(WAIT)
        .expect("the sync's push reached the server");
    assert!(first.starts_with("POST /items?profile=p1"), "{first}");

    // The push is held: a write and a read are answered meanwhile.
    let during = p.ok(json!({"cmd": "create", "type": "text", "content": "during", "tags": []}));
    assert!(during["id"].is_string());
    let seen = p.ok(json!({"cmd": "items"}));
    assert_eq!(contents(&seen), ["https://before.example/", "during"]);
    match p.replies.recv_timeout(Duration::from_millis(200)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("the sync answered while its request was held: {other:?}"),
    }

    release.send(()).unwrap();
    let second = held.recv_timeout(WAIT).expect("the pull");
    assert!(second.starts_with("GET /items/since/"), "{second}");
    let r = p.reply(sync);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["result"], json!({"pulled": 0, "pushed": 1}));
    server.join().unwrap();
    let items = p.ok(json!({"cmd": "items"}));
    assert_eq!(items["items"][0]["syncId"], "srv-1");
    assert_eq!(items["items"][1]["syncId"], "");
    p.shutdown();
}
