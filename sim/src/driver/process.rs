//! The world's side of a driver process (`sh -c CMD`). Its reply lines and
//! the requests its HTTP front receives arrive on one channel ([`Msg`]),
//! so a sync can be served request by request on the world's thread while
//! the driver runs it; a driver that hangs fails its world (the reply
//! timeout) instead of the whole run.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command as Proc, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use engine::sync::{Request, Response};
use engine::transport::TransportError;
use serde_json::Value;

use super::{Command, Envelope, Reply};
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

/// An external client implementation, one process per device.
pub struct DriverClient {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Msg>,
    tx: Sender<Msg>,
    next: u64,
    /// What the driver's `hello` answered as its name.
    name: String,
}

impl DriverClient {
    pub fn spawn(cmd: &str) -> Result<Self, DriverError> {
        let mut child = Proc::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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
        let (tx, rx) = mpsc::channel();
        let lines = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(Msg::Line(line)).is_err() {
                    break;
                }
            }
        });
        let mut me = Self {
            child,
            stdin,
            rx,
            tx,
            next: 0,
            name: String::new(),
        };
        let hello = me.send(Command::Hello)?;
        me.name = hello["name"].as_str().unwrap_or("driver").to_string();
        Ok(me)
    }

    /// The implementation's name, from `hello`.
    pub fn name(&self) -> &str {
        &self.name
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
        self.next += 1;
        let id = self.next;
        let line = serde_json::to_string(&Envelope { id, cmd })
            .map_err(|e| DriverError::Driver(e.to_string()))?;
        writeln!(self.stdin, "{line}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| DriverError::Driver(format!("driver stdin: {e}")))?;
        loop {
            let msg = self
                .rx
                .recv_timeout(REPLY_TIMEOUT)
                .map_err(|_| DriverError::Driver(format!("no reply to request {id}")))?;
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
        let _ = self.send(Command::Shutdown);
        // Our own child, by its handle: never a broad kill.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
