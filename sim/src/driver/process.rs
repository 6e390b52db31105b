//! The world's side of a driver process (`sh -c CMD`). Its reply lines and
//! the requests its HTTP front receives arrive on one channel ([`Msg`]),
//! so a sync can be served request by request on the world's thread while
//! the driver runs it; a driver that hangs fails its world (the reply
//! timeout) instead of the whole run.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command as Proc, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use engine::sync::{Request, Response};
use engine::transport::TransportError;
use serde_json::Value;

use super::{Capabilities, Command, Envelope, Hello, Reply, RestartKind};
use crate::front::Msg;

/// How long one command may take (a sync against a slow server included).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a driver command failed: the protocol's error kinds, and the
/// driver itself breaking.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverError {
    #[error("sync failed: {0}")]
    Sync(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("not supported by this client: {0}")]
    Unsupported(String),
    #[error("driver: {0}")]
    Driver(String),
}

/// The file in a device's home that keeps its driver's stderr.
pub const STDERR_LOG: &str = "stderr.log";

/// An external client implementation, one process per device. Its home
/// directory holds the client's data (`data/`, handed over in `hello`)
/// and its stderr ([`STDERR_LOG`]); both outlive a re-exec restart.
pub struct DriverClient {
    cmd: String,
    home: PathBuf,
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    next: u64,
    hello: Hello,
    /// The last `set_clock` offset: a re-exec loses it, so it is sent
    /// again to the new process.
    offset: Option<i64>,
}

/// A started process and its stdin.
fn start(cmd: &str, home: &Path, tx: &Sender<Msg>) -> Result<(Child, ChildStdin), DriverError> {
    let fail = |what: &str, e: std::io::Error| DriverError::Driver(format!("{what}: {e}"));
    std::fs::create_dir_all(home.join("data")).map_err(|e| fail("driver home", e))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join(STDERR_LOG))
        .map_err(|e| fail("driver log", e))?;
    let mut child = Proc::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| DriverError::Driver(format!("cannot start {cmd:?}: {e}")))?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| DriverError::Driver("no stdin".into()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| DriverError::Driver("no stdout".into()))?;
    let lines = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(Msg::Line(line)).is_err() {
                break;
            }
        }
    });
    Ok((child, stdin))
}

impl DriverClient {
    /// Starts `cmd` (`sh -c`) for a device whose home is `home` (made if
    /// missing) and asks it `hello`.
    pub fn spawn(cmd: &str, home: &Path) -> Result<Self, DriverError> {
        let (tx, rx) = mpsc::channel();
        let (child, stdin) = start(cmd, home, &tx)?;
        let mut me = Self {
            cmd: cmd.to_string(),
            home: home.to_path_buf(),
            child,
            stdin,
            rx,
            tx,
            next: 0,
            hello: Hello {
                name: String::new(),
                protocol: 1,
                source: None,
                capabilities: Capabilities::default(),
            },
            offset: None,
        };
        me.greet()?;
        Ok(me)
    }

    fn greet(&mut self) -> Result<(), DriverError> {
        let data_dir = self.home.join("data").to_string_lossy().into_owned();
        let v = self.send(Command::Hello {
            protocol: super::PROTOCOL,
            data_dir: Some(data_dir),
        })?;
        self.hello = serde_json::from_value(v)
            .map_err(|e| DriverError::Driver(format!("hello reply: {e}")))?;
        Ok(())
    }

    /// What the driver said of itself.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The device's home: its data directory and its log.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The last `lines` lines the driver wrote on stderr (for a failure
    /// report; the whole log stays in the home).
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.home, lines)
    }

    /// A device restart as the driver can do it: a re-exec on the same
    /// data directory (then the clock offset again), or its `restart`
    /// command.
    pub fn restart(&mut self) -> Result<(), DriverError> {
        match self.hello.capabilities.restart {
            RestartKind::InProcess => self.send(Command::Restart).map(|_| ()),
            RestartKind::None => Err(DriverError::Unsupported(format!(
                "{} cannot restart",
                self.name()
            ))),
            RestartKind::Reexec => {
                self.stop();
                let (child, stdin) = start(&self.cmd, &self.home, &self.tx)?;
                self.child = child;
                self.stdin = stdin;
                self.greet()?;
                if let Some(ms) = self.offset {
                    self.send(Command::SetClock { offset_ms: ms })?;
                }
                Ok(())
            }
        }
    }

    /// Asks the process to end and waits for it (ended by its handle if it
    /// does not within the reply timeout).
    fn stop(&mut self) {
        let _ = self.send(Command::Shutdown);
        let deadline = std::time::Duration::from_millis(50);
        for _ in 0..(REPLY_TIMEOUT.as_millis() / deadline.as_millis()) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(deadline);
        }
        // Our own child, by its handle: never a broad kill.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The implementation's name, from `hello`.
    pub fn name(&self) -> &str {
        &self.hello.name
    }

    /// Where an HTTP front posts the requests it receives.
    pub fn requests(&self) -> Sender<Msg> {
        self.tx.clone()
    }

    /// Sends one command and waits for its reply (lines that are not
    /// replies, such as a runtime's warnings, are skipped). A request
    /// arriving meanwhile is refused: only a sync makes requests.
    pub fn send(&mut self, cmd: Command) -> Result<Value, DriverError> {
        self.send_serving(cmd, &mut |_| {
            Err(TransportError::Io("no sync is running".into()))
        })
    }

    /// Sends one command and, until its reply, answers the requests its
    /// front receives with `serve`.
    pub fn send_serving(
        &mut self,
        cmd: Command,
        serve: &mut dyn FnMut(Request) -> Result<Response, TransportError>,
    ) -> Result<Value, DriverError> {
        if let Command::SetClock { offset_ms } = cmd {
            self.offset = Some(offset_ms);
        }
        self.next += 1;
        let id = self.next;
        let line = serde_json::to_string(&Envelope { id, cmd })
            .map_err(|e| DriverError::Driver(e.to_string()))?;
        writeln!(self.stdin, "{line}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| DriverError::Driver(format!("driver stdin: {e}")))?;
        // Waits in short slices so a driver that died is reported at once
        // (with its exit status), not after the whole reply timeout.
        // A reply written just before the exit may still be on its way
        // from the reader thread: the exit counts after one more slice.
        let slice = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        let mut exited = None;
        loop {
            let msg = match self.rx.recv_timeout(slice) {
                Ok(m) => m,
                Err(_) if waited >= REPLY_TIMEOUT => {
                    return Err(DriverError::Driver(format!("no reply to request {id}")))
                }
                Err(_) => {
                    if let Some(status) = exited {
                        return Err(DriverError::Driver(format!(
                            "the driver exited ({status}) before answering request {id}; its stderr is in {}",
                            self.home.join(STDERR_LOG).display()
                        )));
                    }
                    waited += slice;
                    exited = self.child.try_wait().ok().flatten();
                    continue;
                }
            };
            let got = match msg {
                Msg::Request(req, answer) => {
                    let _ = answer.send(serve(req));
                    continue;
                }
                Msg::Line(l) => l,
            };
            let Ok(reply) = serde_json::from_str::<Reply>(&got) else {
                continue;
            };
            if reply.id != id {
                continue;
            }
            if reply.ok {
                return Ok(reply.result.unwrap_or(Value::Null));
            }
            let err = reply.error.unwrap_or(super::ReplyError {
                kind: "internal".into(),
                message: "error without details".into(),
            });
            return Err(match err.kind.as_str() {
                "sync" => DriverError::Sync(err.message),
                "refused" => DriverError::Refused(err.message),
                "unsupported" => DriverError::Unsupported(err.message),
                _ => DriverError::Driver(err.message),
            });
        }
    }
}

impl Drop for DriverClient {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `lines` lines of the stderr log in a device's `home`.
pub fn log_tail(home: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(home.join(STDERR_LOG)).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
