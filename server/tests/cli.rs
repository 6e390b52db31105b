//! `peek-server` as an operator runs it: the built binary, on temporary
//! data directories, with a clean environment. User names, `user delete`,
//! `backup list`, read commands on a mistyped `--data-dir`, the data
//! directory lock, `--version`, and the log formats of a running server.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peek-server");

/// The binary with none of the caller's settings.
fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    for v in [
        "DATA_DIR",
        "PORT",
        "API_KEY",
        "PEEK_API_KEY",
        "RUST_LOG",
        "PEEK_LOG_FORMAT",
        "PEEK_METRICS_LISTEN",
        "NO_COLOR",
    ] {
        c.env_remove(v);
    }
    c.arg("--data-dir").arg(dir);
    c
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd(dir).args(args).output().expect("run peek-server");
    Run {
        ok: status.success(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// The key `user create` printed (its last line).
fn key_of(r: &Run) -> String {
    assert!(r.ok, "{}{}", r.stdout, r.stderr);
    r.stdout.lines().last().unwrap().to_string()
}

#[test]
fn version_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["--version"]);
    assert!(r.ok);
    assert_eq!(
        r.stdout.trim(),
        format!("peek-server {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_user_names_are_refused_with_the_rule_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["Alice Smith", "a/b", "", "../evil", ".hidden", "backups"] {
        let r = run(dir.path(), &["user", "create", bad]);
        assert!(!r.ok, "{bad:?} was accepted: {}", r.stdout);
        assert!(
            r.stderr
                .starts_with(&format!("peek-server: invalid user name {bad:?}: ")),
            "{bad:?}: {}",
            r.stderr
        );
        assert!(
            !r.stdout.contains("API key"),
            "no key printed: {}",
            r.stdout
        );
    }
    let r = run(dir.path(), &["user", "create", "Alice Smith"]);
    assert!(r.stderr.contains(
        "a user name is 1 to 128 characters of A-Z a-z 0-9 - _ . @, starting with a letter or digit"
    ));
    let list = run(dir.path(), &["user", "list"]);
    assert!(list.ok, "{}", list.stderr);
    assert_eq!(list.stdout, "");
}

#[test]
fn a_second_create_of_a_name_says_so() {
    let dir = tempfile::tempdir().unwrap();
    key_of(&run(dir.path(), &["user", "create", "alice"]));
    let r = run(dir.path(), &["user", "create", "alice"]);
    assert!(!r.ok);
    assert_eq!(
        r.stderr.trim(),
        "peek-server: user alice already exists (to give it a new key: peek-server user rotate-key alice)"
    );
    assert!(!r.stderr.contains("UNIQUE"));
}

#[test]
fn read_commands_refuse_a_missing_data_dir_and_do_not_create_it() {
    let parent = tempfile::tempdir().unwrap();
    let typo = parent.path().join("dat");
    for args in [
        &["user", "list"][..],
        &["profile", "list"],
        &["backup", "list"],
        &["backup"],
        &["user", "rotate-key", "alice"],
        &["user", "delete", "alice"],
        &["restore", "--user", "alice", "peek-backup-alice-x"],
        &["migrate", "--dry-run"],
    ] {
        let r = run(&typo, args);
        assert!(!r.ok, "{args:?}");
        assert!(
            r.stderr.contains("no data directory at") && r.stderr.contains("check --data-dir"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    // A directory that exists but is not a data directory is not turned
    // into one by a read.
    let r = run(parent.path(), &["user", "list"]);
    assert!(
        r.stderr
            .contains("is not a Peek data directory (it has no system.db)"),
        "{}",
        r.stderr
    );
    assert!(!parent.path().join("system.db").exists());
    // `user create` does make one.
    key_of(&run(&typo, &["user", "create", "alice"]));
    assert!(typo.join("system.db").is_file());
}

#[test]
fn user_delete_backs_up_keeps_the_data_unless_purged_and_can_be_undone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_of(&run(d, &["user", "create", "alice"]));
    key_of(&run(d, &["user", "create", "bob"]));
    // Some data for alice, the way the server lays it out.
    std::fs::create_dir_all(d.join("alice/profiles")).unwrap();
    let r = run(d, &["user", "delete", "alice"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("user \"alice\" deleted: its key no longer works"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("final backup: "), "{}", r.stdout);
    assert!(r.stdout.contains("its data is kept in "), "{}", r.stdout);
    assert!(d.join("alice").is_dir());
    let list = run(d, &["user", "list"]);
    assert!(
        list.stdout.starts_with("bob\t") && !list.stdout.contains("alice"),
        "{}",
        list.stdout
    );
    // The final backup is listed, though the user is gone.
    let backups = run(d, &["backup", "list"]);
    assert!(backups.ok, "{}", backups.stderr);
    let line = backups
        .stdout
        .lines()
        .find(|l| l.contains("\talice\t"))
        .unwrap_or_else(|| panic!("{}", backups.stdout));
    let cols: Vec<&str> = line.split('\t').collect();
    assert_eq!(cols.len(), 4, "{line}");
    assert!(
        cols[0].ends_with('Z') && cols[2].parse::<u64>().is_ok(),
        "{line}"
    );
    assert!(cols[3].starts_with("peek-backup-alice-"), "{line}");
    // Undo: create again, restore the final backup.
    key_of(&run(d, &["user", "create", "alice"]));
    let r = run(d, &["restore", "--user", "alice", cols[3]]);
    assert!(r.ok, "{}", r.stderr);
    // Gone for good with --purge; the backups stay.
    let r = run(d, &["user", "delete", "alice", "--purge"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("removed its data folder"), "{}", r.stdout);
    assert!(!d.join("alice").exists());
    assert!(d.join("backups/alice").is_dir());
    let r = run(d, &["user", "delete", "alice"]);
    assert_eq!(r.stderr.trim(), "peek-server: no user named \"alice\"");
}

/// A `serve` child and what it prints; killed on drop.
struct Server {
    child: Child,
    addr: String,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = cmd(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--no-startup-backup"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // Blocks until the server is listening (or has exited).
        out.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("peek-server listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            addr,
            stderr: rx,
        }
    }

    /// Stderr lines until one satisfies `want` (bounded wait, so a missing
    /// line fails the test instead of hanging it).
    fn wait_for(&self, want: impl Fn(&str) -> bool) -> String {
        let mut seen = String::new();
        while let Ok(l) = self.stderr.recv_timeout(Duration::from_secs(30)) {
            seen.push_str(&l);
            seen.push('\n');
            if want(&l) {
                return l;
            }
        }
        panic!("no such line in:\n{seen}");
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_served_directory_is_locked_against_a_second_server_and_a_restore() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let port = srv.addr.rsplit(':').next().unwrap();
    assert_ne!(port, "0");
    let expect = format!(
        "is in use by peek-server serve (pid {}, listening on {})",
        srv.child.id(),
        srv.addr
    );
    let second = run(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!second.ok);
    assert!(second.stderr.contains(&expect), "{}", second.stderr);
    key_of(&run(dir.path(), &["user", "create", "alice"]));
    let restore = run(
        dir.path(),
        &[
            "restore",
            "--user",
            "alice",
            "peek-backup-alice-2026-01-27T10-00-00-123Z",
        ],
    );
    assert!(restore.stderr.contains(&expect), "{}", restore.stderr);
    assert!(restore.stderr.contains("stop that process first"));
    // Row-only admin commands run alongside the server.
    let list = run(dir.path(), &["user", "list"]);
    assert!(
        list.ok && list.stdout.starts_with("alice\t"),
        "{}",
        list.stderr
    );
    drop(srv);
    // Once it has stopped, the directory is free again.
    let restore = run(
        dir.path(),
        &[
            "restore",
            "--user",
            "alice",
            "peek-backup-alice-2026-01-27T10-00-00-123Z",
        ],
    );
    assert!(
        restore.stderr.contains("backup not found"),
        "{}",
        restore.stderr
    );
}

#[test]
fn a_running_server_logs_access_lines_plain_or_as_json_and_serves_metrics() {
    let dir = tempfile::tempdir().unwrap();
    // A row `user create` would refuse, as an older server wrote them.
    key_of(&run(dir.path(), &["user", "create", "alice"]));
    rusqlite::Connection::open(dir.path().join("system.db"))
        .unwrap()
        .execute("INSERT INTO users VALUES ('Alice Smith', 'h', 't')", [])
        .unwrap();
    let text = Server::start(dir.path(), &[]);
    let warned = text.wait_for(|l| l.contains(" WARN "));
    assert!(
        warned.contains("skipped user \"Alice Smith\": not a valid user id"),
        "{warned}"
    );
    let r = http_get(&text.addr, "/healthz?token=hunter2");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.ends_with(r#"{"status":"ok"}"#), "{r}");
    let line = text.wait_for(|l| l.contains(" access: "));
    assert!(
        line.contains("INFO access: request method=GET route=/healthz status=200 ms="),
        "{line}"
    );
    assert!(
        !line.contains('\u{1b}'),
        "no colours off a terminal: {line:?}"
    );
    assert!(!line.contains("hunter2"), "{line}");
    // The container HEALTHCHECK's command.
    let hc = run(dir.path(), &["healthcheck", "--addr", &text.addr]);
    assert!(
        hc.ok && hc.stdout.trim() == "ok",
        "{}{}",
        hc.stdout,
        hc.stderr
    );
    drop(text);
    let hc = run(dir.path(), &["healthcheck", "--addr", "127.0.0.1:1"]);
    assert!(
        !hc.ok && hc.stderr.contains("no server at 127.0.0.1:1"),
        "{}",
        hc.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let json = Server::start(
        dir.path(),
        &["--log-format", "json", "--metrics-listen", "127.0.0.1:0"],
    );
    // The metrics address is logged (as JSON too: every line is an
    // object), before the server listens.
    let m = json.wait_for(|l| l.contains("/metrics"));
    let v: serde_json::Value = serde_json::from_str(&m).expect(&m);
    let maddr = v["addr"].as_str().unwrap().to_string();
    http_get(&json.addr, "/items?key=hunter2");
    let line = json.wait_for(|l| l.contains("\"target\":\"access\""));
    let v: serde_json::Value = serde_json::from_str(&line).expect(&line);
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["route"], "/items");
    assert_eq!(v["status"], 401);
    assert_eq!(v["user"], "-");
    assert!(v["ms"].is_f64(), "{line}");
    assert!(!line.contains("hunter2"), "{line}");
    let scraped = http_get(&maddr, "/metrics");
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(
        scraped.contains(r#"peek_http_requests_total{route="/items",method="GET",status="401"} 1"#),
        "{scraped}"
    );
}
