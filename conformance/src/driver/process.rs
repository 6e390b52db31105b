//! The suite's side of the driver protocol: a subprocess (`sh -c CMD`)
//! behind the [`Client`] trait. Replies are read on a thread so that a
//! driver that hangs fails its scenario instead of the whole run.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command as Proc, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use engine::Mode;
use serde_json::Value;

use super::{Command, Envelope, Reply};
use crate::client::{Client, ClientError, ItemView, SyncReport};
use crate::server::Server;

/// How long one command may take (a sync against a slow server included).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// An external client implementation, one process per simulated device.
pub struct DriverClient {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next: u64,
    /// What the driver's `hello` answered as its name.
    name: String,
}

impl DriverClient {
    pub fn spawn(cmd: &str) -> Result<Self, ClientError> {
        let mut child = Proc::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| ClientError::Driver(format!("cannot start {cmd:?}: {e}")))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| ClientError::Driver("no stdin".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| ClientError::Driver("no stdout".into()))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut me = Self {
            child,
            stdin,
            lines: rx,
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

    /// Sends one command and waits for its reply (lines that are not
    /// replies, such as a runtime's warnings, are skipped).
    pub fn send(&mut self, cmd: Command) -> Result<Value, ClientError> {
        self.next += 1;
        let id = self.next;
        let line = serde_json::to_string(&Envelope { id, cmd })
            .map_err(|e| ClientError::Driver(e.to_string()))?;
        writeln!(self.stdin, "{line}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| ClientError::Driver(format!("driver stdin: {e}")))?;
        loop {
            let got = self
                .lines
                .recv_timeout(REPLY_TIMEOUT)
                .map_err(|_| ClientError::Driver(format!("no reply to request {id}")))?;
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
                "sync" => ClientError::Sync(err.message),
                "refused" => ClientError::Refused(err.message),
                "unsupported" => ClientError::Unsupported(err.message),
                _ => ClientError::Driver(err.message),
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

fn owned(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

impl Client for DriverClient {
    fn configure(
        &mut self,
        url: &str,
        key: &str,
        profile: Option<&str>,
    ) -> Result<(), ClientError> {
        self.send(Command::Configure {
            server_url: url.into(),
            api_key: key.into(),
            server_profile_id: profile.map(str::to_string),
        })
        .map(|_| ())
    }

    fn create(
        &mut self,
        _: &dyn Server,
        kind: &str,
        content: Option<&str>,
        tags: &[&str],
    ) -> Result<String, ClientError> {
        let v = self.send(Command::Create {
            kind: kind.into(),
            content: content.map(str::to_string),
            tags: owned(tags),
        })?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Driver("create: no id in the reply".into()))
    }

    fn update(
        &mut self,
        _: &dyn Server,
        id: &str,
        content: Option<&str>,
        tags: Option<&[&str]>,
    ) -> Result<(), ClientError> {
        self.send(Command::Update {
            id: id.into(),
            content: content.map(str::to_string),
            tags: tags.map(owned),
        })
        .map(|_| ())
    }

    fn delete(&mut self, _: &dyn Server, id: &str) -> Result<(), ClientError> {
        self.send(Command::Delete { id: id.into() }).map(|_| ())
    }

    fn tag(&mut self, _: &dyn Server, id: &str, tag: &str) -> Result<(), ClientError> {
        self.send(Command::Tag {
            id: id.into(),
            tag: tag.into(),
        })
        .map(|_| ())
    }

    fn sync(&mut self, _: &dyn Server, mode: Mode) -> Result<SyncReport, ClientError> {
        let mode = match mode {
            Mode::Full => "full",
            Mode::PullOnly => "pull",
            Mode::PushOnly => "push",
        };
        let v = self.send(Command::Sync { mode: mode.into() })?;
        serde_json::from_value(v).map_err(|e| ClientError::Driver(format!("sync reply: {e}")))
    }

    fn items(&mut self, include_deleted: bool) -> Result<Vec<ItemView>, ClientError> {
        let v = self.send(Command::Items { include_deleted })?;
        serde_json::from_value(v["items"].clone())
            .map_err(|e| ClientError::Driver(format!("items reply: {e}")))
    }

    fn set_clock_offset(&mut self, ms: i64) -> Result<(), ClientError> {
        self.send(Command::SetClock { offset_ms: ms }).map(|_| ())
    }

    fn restart(&mut self) -> Result<(), ClientError> {
        self.send(Command::Restart).map(|_| ())
    }
}
