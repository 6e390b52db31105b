//! The driver's side of the conformance driver protocol
//! (`docs/driver-protocol.md`, protocol 2), for drivers written in Rust.
//!
//! A driver implements [`Client`] over the app's own code and calls [`run`]
//! from `main`. The kit does the rest:
//!
//! * the stdin/stdout line loop: one request per line, one reply per line,
//!   matched by `id`. A `sync` runs on its own thread while the loop keeps
//!   reading, so commands sent during a sync are answered as they complete
//!   (`"concurrent": true`);
//! * stdout hygiene: the real stdout is kept for replies only, and fd 1 is
//!   pointed at stderr, so the app's own `println!` lands in the log;
//! * `hello`: the reply with name, protocol 2, the source the driver was
//!   built from and its capabilities; the device's `dataDir` (a fresh
//!   directory under `$TMPDIR` when the suite sends none, as protocol 1
//!   suites do); `TMPDIR` is pointed inside it so that nothing is written
//!   outside;
//! * `set_clock`: an offset read by the clock override that the driver
//!   binary links with [`override_clock!`];
//! * `restart`: a re-exec of the same binary on the same stdin/stdout, with
//!   the same `dataDir` (and, for protocol 1 suites that do not re-send it,
//!   the same clock offset), so the app comes back from what it persisted;
//! * `shutdown` and end of input: wait for running syncs, then exit.
//!
//! It also computes the `source` digest ([`Source::digest`]), which a
//! driver's `build.rs` can call (the kit as a build dependency).

use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

pub use libc;
use serde_json::{json, Map, Value};

pub mod clock;

/// An error reply: `{"kind": …, "message": …}` (kinds in the protocol doc:
/// `sync`, `refused`, `unsupported`, `internal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverError {
    pub kind: String,
    pub message: String,
}

impl DriverError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        DriverError {
            kind: kind.into(),
            message: message.into(),
        }
    }
    /// The sync failed (transport error, non-2xx, version mismatch…).
    pub fn sync(message: impl Into<String>) -> Self {
        Self::new("sync", message)
    }
    /// Bad input: unknown item, unknown type, bad request line.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new("refused", message)
    }
    /// The implementation cannot do this.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new("unsupported", message)
    }
    /// The driver itself broke.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("internal", message)
    }
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for DriverError {}

/// What a command answers: its `result` object, or an error.
pub type Outcome = Result<Value, DriverError>;

/// One device's app, behind the protocol's commands. `&self` everywhere:
/// `sync` runs on its own thread while other commands arrive, so an
/// implementation locks what it shares, as the app does.
pub trait Client: Send + Sync {
    /// `serverUrl`, `apiKey`, `serverProfileId` (None: the server's default).
    fn configure(
        &self,
        server_url: &str,
        api_key: &str,
        server_profile_id: Option<&str>,
    ) -> Outcome;
    /// Answers `{"id": local id}`.
    fn create(
        &self,
        kind: &str,
        content: Option<&str>,
        tags: &[String],
        metadata: Option<&str>,
    ) -> Outcome;
    /// `content` None: unchanged; `tags` None: unchanged.
    fn update(&self, item: &str, content: Option<&str>, tags: Option<&[String]>) -> Outcome;
    fn delete(&self, item: &str) -> Outcome;
    fn tag(&self, item: &str, tag: &str) -> Outcome;
    /// `mode`: `full`, `pull` or `push`. Answers `{"pulled": n, "pushed": n}`.
    fn sync(&self, mode: &str) -> Outcome;
    /// Answers `{"items": [{id, type, content, tags, deleted, syncId, metadata?}]}`.
    fn items(&self, include_deleted: bool) -> Outcome;
    /// `seed_row`: a row inserted straight into the app's database.
    fn seed_row(&self, _request: &Value) -> Outcome {
        Err(DriverError::unsupported("seed_row"))
    }
}

/// Opens the app over a device directory (called at `hello`, and at start
/// after a re-exec restart).
pub type Open = dyn Fn(&Path) -> Result<Arc<dyn Client>, DriverError>;

/// Where the driven code came from (the `source` of the hello reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The git commit of the checkout, if known.
    pub commit: Option<String>,
    /// `sha256:<hex>` of the concatenated bytes of `paths`, in that order.
    pub files: String,
    /// The files built, relative to the checkout.
    pub paths: Vec<String>,
}

impl Source {
    /// Reads `paths` (relative to `root`) in order and digests them. The
    /// error names the first file that cannot be read.
    pub fn digest(root: &Path, paths: &[&str]) -> Result<Source, String> {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for p in paths {
            let full = root.join(p);
            let bytes =
                std::fs::read(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))?;
            hasher.update(&bytes);
        }
        let hex: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Source {
            commit: commit_of(root),
            files: format!("sha256:{hex}"),
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
    }

    /// Code that lives in this repository (no original checkout).
    pub fn local(paths: &[&str]) -> Source {
        Source {
            commit: None,
            files: String::new(),
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn to_json(&self) -> Value {
        json!({"commit": self.commit, "files": self.files, "paths": self.paths})
    }
}

/// The commit of a checkout: `.peek-commit` if present (written by the build
/// scripts from `git archive`'s source), else `git rev-parse HEAD`, else None.
pub fn commit_of(root: &Path) -> Option<String> {
    if let Ok(s) = std::fs::read_to_string(root.join(".peek-commit")) {
        let s = s.trim();
        if !s.is_empty() {
            return Some(s.to_string());
        }
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (out.status.success() && !s.is_empty()).then(|| s.to_string())
}

/// The driver: its hello reply and how to open the app.
pub struct Driver {
    /// First word: the matrix column (`original-tauri-desktop 0.1`).
    pub name: String,
    pub source: Source,
    /// The `capabilities` object of the hello reply.
    pub capabilities: Value,
}

/// The environment variable that carries a device over a re-exec restart:
/// `<offset ms>\n<owned: 0|1>\n<dataDir>`.
const RESUME_ENV: &str = "PEEK_DRIVER_KIT_RESUME";

/// Counter for fresh directory names.
static FRESH: AtomicI64 = AtomicI64::new(0);

/// A new empty directory under `$TMPDIR` (the protocol 1 fallback for a
/// missing `dataDir`: every process is one fresh device).
pub fn fresh_temp_dir() -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir();
    let pid = std::process::id();
    loop {
        let n = FRESH.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("peek-driver-{pid}-{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot make a device directory in {}: {e}", base.display()),
                ))
            }
        }
    }
}

/// The reply channel: the process's original stdout.
struct Out {
    file: Mutex<File>,
    fd: i32,
}

impl Out {
    /// Keeps fd 1 as a private close-on-exec fd for replies and points fd 1
    /// at stderr, so that whatever the app prints goes to the log.
    fn take_stdout() -> Out {
        // SAFETY: plain fd calls on the process's own standard fds.
        let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
        assert!(fd >= 0, "cannot duplicate stdout");
        // SAFETY: as above; fd 2 stays open for the life of the process.
        unsafe { libc::dup2(2, 1) };
        Out {
            // SAFETY: `fd` was just made and is owned by this File only.
            file: Mutex::new(unsafe { File::from_raw_fd(fd) }),
            fd,
        }
    }

    fn reply(&self, id: &Value, outcome: Outcome) {
        let line = match outcome {
            Ok(result) => json!({"id": id, "ok": true, "result": result}),
            Err(e) => {
                eprintln!("[driver-kit] request {id}: {e}");
                json!({"id": id, "ok": false, "error": {"kind": e.kind, "message": e.message}})
            }
        };
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(f, "{line}");
        let _ = f.flush();
    }

    /// Gives fd 1 back its original stdout (before an exec).
    fn restore_stdout(&self) {
        // SAFETY: `self.fd` is open (owned by `self.file`).
        unsafe { libc::dup2(self.fd, 1) };
    }
}

/// State of the loop.
struct Session {
    driver: Driver,
    open: Box<Open>,
    out: Arc<Out>,
    client: Option<Arc<dyn Client>>,
    data_dir: Option<PathBuf>,
    /// The kit made `data_dir` itself (no `dataDir` from the suite): it
    /// is removed when the device ends, as a protocol 1 device's storage
    /// ends with its process.
    owned: bool,
    syncs: Vec<std::thread::JoinHandle<()>>,
}

/// Runs the protocol on stdin/stdout until `shutdown` or end of input, then
/// exits the process.
pub fn run(
    driver: Driver,
    open: impl Fn(&Path) -> Result<Arc<dyn Client>, DriverError> + 'static,
) -> ! {
    let out = Arc::new(Out::take_stdout());
    let mut s = Session {
        driver,
        open: Box::new(open),
        out,
        client: None,
        data_dir: None,
        owned: false,
        syncs: Vec::new(),
    };
    if let Ok(resume) = std::env::var(RESUME_ENV) {
        // A re-exec restart: the same device, back from its directory.
        std::env::remove_var(RESUME_ENV);
        let mut parts = resume.splitn(3, '\n');
        if let (Some(offset), Some(owned), Some(dir)) = (parts.next(), parts.next(), parts.next()) {
            clock::set_offset_ms(offset.parse().unwrap_or(0));
            let dir = PathBuf::from(dir);
            eprintln!("[driver-kit] restarted over {}", dir.display());
            match s.open_dir(&dir) {
                Ok(()) => s.owned = owned == "1",
                Err(e) => eprintln!("[driver-kit] reopen failed: {e}"),
            }
        }
    }
    while let Some(line) = read_line_unbuffered() {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let req: Value = match serde_json::from_str(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                s.out.reply(
                    &Value::from(0),
                    Err(DriverError::refused(format!("bad request line: {text}"))),
                );
                continue;
            }
        };
        let id = req.get("id").cloned().unwrap_or(Value::from(0));
        let cmd = req.get("cmd").and_then(Value::as_str).unwrap_or("");
        eprintln!("[driver-kit] > {text}");
        match cmd {
            "shutdown" => {
                s.wait_syncs();
                s.end();
                s.out.reply(&id, Ok(json!({})));
                std::process::exit(0);
            }
            "restart" => {
                s.wait_syncs();
                let outcome = s.reexec_prepare();
                match outcome {
                    Ok(dir) => {
                        s.out.reply(&id, Ok(json!({})));
                        s.reexec(&dir);
                    }
                    Err(e) => s.out.reply(&id, Err(e)),
                }
            }
            "sync" => match s.client() {
                Ok(client) => {
                    let out = s.out.clone();
                    let mode = req
                        .get("mode")
                        .and_then(Value::as_str)
                        .unwrap_or("full")
                        .to_string();
                    s.syncs.retain(|h| !h.is_finished());
                    s.syncs.push(std::thread::spawn(move || {
                        let outcome = guarded(|| client.sync(&mode));
                        out.reply(&id, outcome);
                    }));
                }
                Err(e) => s.out.reply(&id, Err(e)),
            },
            _ => {
                let outcome = s.command(cmd, &req);
                s.out.reply(&id, outcome);
            }
        }
    }
    s.wait_syncs();
    s.end();
    std::process::exit(0);
}

/// One line of stdin, read a byte at a time: nothing past the newline is
/// taken from the pipe, so a re-exec restart loses no request that the
/// suite wrote early. None at end of input.
fn read_line_unbuffered() -> Option<String> {
    let mut bytes = Vec::new();
    loop {
        let mut b = 0u8;
        // SAFETY: reads one byte into `b`.
        let n = unsafe { libc::read(0, (&mut b as *mut u8).cast(), 1) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned());
        }
        if b == b'\n' {
            return Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        bytes.push(b);
    }
}

/// Runs `f`, turning a panic in the app's code into an `internal` error.
fn guarded(f: impl FnOnce() -> Outcome) -> Outcome {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(o) => o,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Err(DriverError::internal(format!("panic: {msg}")))
        }
    }
}

impl Session {
    /// The device ends: a directory the kit made is removed.
    fn end(&mut self) {
        self.client = None;
        if let (true, Some(dir)) = (self.owned, &self.data_dir) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    fn wait_syncs(&mut self) {
        for h in self.syncs.drain(..) {
            let _ = h.join();
        }
    }

    fn open_dir(&mut self, dir: &Path) -> Result<(), DriverError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| DriverError::internal(format!("dataDir {}: {e}", dir.display())))?;
        // Temp files (SQLite's included) stay inside the device directory.
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| DriverError::internal(format!("{}: {e}", tmp.display())))?;
        std::env::set_var("TMPDIR", &tmp);
        let client = guarded_open(&*self.open, dir)?;
        self.client = Some(client);
        self.data_dir = Some(dir.to_path_buf());
        Ok(())
    }

    /// The app, opened over a fresh directory if no `hello` came first.
    fn client(&mut self) -> Result<Arc<dyn Client>, DriverError> {
        if self.client.is_none() {
            let dir = fresh_temp_dir().map_err(|e| DriverError::internal(e.to_string()))?;
            self.open_dir(&dir)?;
            self.owned = true;
        }
        Ok(self.client.clone().expect("opened"))
    }

    fn hello(&mut self, req: &Value) -> Outcome {
        let (dir, owned) = match req.get("dataDir").and_then(Value::as_str) {
            Some(d) => (PathBuf::from(d), false),
            None => match &self.data_dir {
                Some(d) => (d.clone(), self.owned),
                None => (
                    fresh_temp_dir().map_err(|e| DriverError::internal(e.to_string()))?,
                    true,
                ),
            },
        };
        if self.data_dir.as_deref() != Some(dir.as_path()) {
            self.end();
            self.open_dir(&dir)?;
        }
        self.owned = owned;
        Ok(json!({
            "name": self.driver.name,
            "protocol": 2,
            "source": self.driver.source.to_json(),
            "capabilities": self.driver.capabilities,
            "dataDir": dir,
        }))
    }

    fn command(&mut self, cmd: &str, req: &Value) -> Outcome {
        match cmd {
            "hello" => return self.hello(req),
            "set_clock" => {
                let offset = req
                    .get("offsetMs")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| DriverError::refused("set_clock needs an integer offsetMs"))?;
                return clock::set_offset_checked(offset).map(|()| json!({}));
            }
            "clock_probe" => return Ok(clock::probe()),
            _ => {}
        }
        let client = self.client()?;
        let str_arg = |k: &str| req.get(k).and_then(Value::as_str);
        let need =
            |k: &str| str_arg(k).ok_or_else(|| DriverError::refused(format!("{cmd}: missing {k}")));
        let tags = |k: &str| -> Result<Option<Vec<String>>, DriverError> {
            match req.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|t| {
                        t.as_str().map(str::to_string).ok_or_else(|| {
                            DriverError::refused(format!("{cmd}: {k} must be strings"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(DriverError::refused(format!("{cmd}: {k} must be an array"))),
            }
        };
        guarded(|| match cmd {
            "configure" => client.configure(
                need("serverUrl")?,
                str_arg("apiKey").unwrap_or(""),
                str_arg("serverProfileId"),
            ),
            "create" => client.create(
                need("type")?,
                str_arg("content"),
                &tags("tags")?.unwrap_or_default(),
                str_arg("metadata"),
            ),
            "update" => client.update(need("item")?, str_arg("content"), tags("tags")?.as_deref()),
            "delete" => client.delete(need("item")?),
            "tag" => client.tag(need("item")?, need("tag")?),
            "items" => client.items(
                req.get("includeDeleted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ),
            "seed_row" => client.seed_row(req),
            other => Err(DriverError::refused(format!("unknown command {other:?}"))),
        })
    }

    /// The directory to come back to after a re-exec.
    fn reexec_prepare(&mut self) -> Result<PathBuf, DriverError> {
        match &self.data_dir {
            Some(d) => Ok(d.clone()),
            None => {
                self.client()?;
                Ok(self.data_dir.clone().expect("opened"))
            }
        }
    }

    /// Replaces this process by a new run of the same binary, on the same
    /// stdin/stdout, over the same directory. Nothing is read from stdin
    /// between the reply to `restart` and the exec (the loop is here), so
    /// no request is lost.
    fn reexec(&mut self, dir: &Path) -> ! {
        use std::os::unix::process::CommandExt;
        self.client = None;
        self.out.restore_stdout();
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        let mut args = std::env::args_os();
        let _ = args.next();
        let err = std::process::Command::new(exe)
            .args(args)
            .env(
                RESUME_ENV,
                format!(
                    "{}\n{}\n{}",
                    clock::offset_ms(),
                    u8::from(self.owned),
                    dir.display()
                ),
            )
            .exec();
        // Only reached when exec failed.
        // SAFETY: put fd 1 back on stderr as before.
        unsafe { libc::dup2(2, 1) };
        eprintln!("[driver-kit] re-exec failed: {err}");
        std::process::exit(70);
    }
}

fn guarded_open(open: &Open, dir: &Path) -> Result<Arc<dyn Client>, DriverError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open(dir))) {
        Ok(r) => r,
        Err(_) => Err(DriverError::internal(format!(
            "the app panicked opening {}",
            dir.display()
        ))),
    }
}

/// An `items` entry, as the protocol spells it.
pub fn item_view(
    id: &str,
    kind: &str,
    content: Option<&str>,
    tags: &[String],
    deleted: bool,
    sync_id: &str,
    metadata: Option<&str>,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert("type".into(), kind.into());
    m.insert("content".into(), content.into());
    m.insert("tags".into(), tags.into());
    m.insert("deleted".into(), deleted.into());
    m.insert("syncId".into(), sync_id.into());
    if let Some(md) = metadata {
        m.insert("metadata".into(), md.into());
    }
    Value::Object(m)
}
