//! The documented scenarios of `docs/original-system.md` §5, as fixed,
//! deterministic scenarios over the [`Client`] and [`Server`] targets: the
//! same body runs against the reference engine, each platform model or a
//! driver, and against the in-process server or one given by URL. Each
//! returns a redacted summary (no ids, no times) that the tests snapshot.

mod convergence;
mod deletes;
mod profiles;
mod repeat;
mod timing;
mod versions;

use serde_json::Value;

use crate::client::{Client, ClientError};
use crate::server::{self, Server, ServerError, ServerSpec};
use crate::spec::ClientSpec;

/// Why a scenario did not pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Failure {
    /// The target broke an expectation of the scenario.
    #[error("{0}")]
    Fail(String),
    /// The scenario cannot run against this target (reported "n/a").
    #[error("n/a: {0}")]
    NotApplicable(String),
    /// The harness could not set the scenario up (neither pass nor fail).
    #[error("setup: {0}")]
    Setup(String),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Unsupported(m) => Failure::NotApplicable(m),
            // A client that cannot sync, refuses a valid edit, or whose
            // driver breaks fails the scenario it was in.
            other => Failure::Fail(other.to_string()),
        }
    }
}

impl From<ServerError> for Failure {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Unsupported(_) => Failure::NotApplicable(e.to_string()),
            other => Failure::Setup(other.to_string()),
        }
    }
}

/// Fails the scenario with `msg` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), Failure> {
    if cond {
        Ok(())
    } else {
        Err(Failure::Fail(msg()))
    }
}

/// One scenario's world: a fresh server and fresh devices of the client
/// under test.
pub struct Ctx {
    pub server: Box<dyn Server>,
    pub client: ClientSpec,
    devices: u64,
    /// Makes profile names unique on a shared server.
    nonce: String,
    /// One directory per device (`d1`, `d2`…): a driver's data and its
    /// stderr, read back when the scenario fails.
    homes: tempfile::TempDir,
}

impl Ctx {
    pub fn new(client: &ClientSpec, server: &ServerSpec, seed: u64) -> Result<Self, Failure> {
        let srv = server.open(seed, client.wall_clock())?;
        let homes = tempfile::Builder::new()
            .prefix("peek-conform-")
            .tempdir()
            .map_err(|e| Failure::Setup(format!("device homes: {e}")))?;
        let nonce = format!("{:x}", srv.now());
        Ok(Self {
            server: srv,
            client: client.clone(),
            devices: 0,
            nonce,
            homes,
        })
    }

    /// A fresh device of the client under test, configured for `profile`.
    pub fn device(&mut self, profile: Option<&str>) -> Result<Box<dyn Client>, Failure> {
        self.devices += 1;
        let home = self.homes.path().join(format!("d{}", self.devices));
        let mut c = self.client.open(self.devices, &home)?;
        c.configure(&self.server.url(), &self.server.key(), profile)?;
        Ok(c)
    }

    /// A fresh server profile (`name` plus this run's nonce).
    pub fn profile(&self, name: &str) -> Result<String, Failure> {
        let name = format!("{name} {}", self.nonce);
        Ok(self.server.create_profile(&name)?)
    }

    /// The server's live items of a profile as sorted `type|content|tags`.
    pub fn server_live(&self, profile: &str) -> Result<Vec<String>, Failure> {
        let mut v: Vec<String> = server::items(self.server.as_ref(), profile)?
            .iter()
            .filter(|i| i["deletedAt"].as_i64().unwrap_or(0) == 0)
            .map(line)
            .collect();
        v.sort();
        Ok(v)
    }

    /// Posts an item to the server as another client would.
    pub fn post(&self, profile: &str, body: Value) -> Result<Value, Failure> {
        Ok(server::json(
            self.server.as_ref(),
            "post item",
            engine::sync::Method::Post,
            &format!("/items?profile={profile}"),
            Some(&body),
        )?)
    }

    pub fn tick(&self, ms: i64) {
        self.server.tick(ms);
    }

    /// The end of each driver device's stderr, by device (`d1`…).
    pub fn logs(&self, lines: usize) -> Vec<(String, String)> {
        (1..=self.devices)
            .map(|n| format!("d{n}"))
            .filter_map(|d| {
                let tail = sim::driver::log_tail(&self.homes.path().join(&d), lines);
                (!tail.is_empty()).then_some((d, tail))
            })
            .collect()
    }
}

/// `type|content|tags` of a server item.
pub fn line(it: &Value) -> String {
    let tags = sim::check::tags_of(it);
    format!(
        "{}|{}|{}",
        it["type"].as_str().unwrap_or(""),
        it["content"].as_str().unwrap_or(""),
        tags.join(",")
    )
}

/// A documented scenario: its report name, the section of
/// `docs/original-system.md` it comes from, what it checks (one line for
/// the report, so a reader of the matrix need not open the code), and its
/// body.
pub struct Scenario {
    pub name: &'static str,
    pub section: &'static str,
    pub what: &'static str,
    pub run: fn(&mut Ctx) -> Result<Value, Failure>,
}

/// Every documented scenario, in report order.
pub const ALL: [Scenario; 12] = [
    Scenario {
        name: "three-way-convergence",
        section: "§5.5",
        what: "server, desktop and iOS each end with the same 6 live items",
        run: convergence::three_way,
    },
    Scenario {
        name: "cross-device-dedup",
        section: "§5.6",
        what: "a re-post by sync id keeps one item; the same URL and tagset created on two devices stay two items each (no content dedup on the sync path); stable over more syncs",
        run: convergence::cross_device_dedup,
    },
    Scenario {
        name: "dedup-cleanup",
        section: "§3.8, §5.6, D17",
        what: "the one-time cleanup on a legacy profile turns duplicates into tombstones that reach every device, keeps cross-device copies (D17), and a second restart changes nothing",
        run: convergence::dedup_cleanup,
    },
    Scenario {
        name: "delete-propagation",
        section: "§5.7, D4, D5",
        what: "a delete on either device reaches the server and the other device, and nothing comes back (D4, D5)",
        run: deletes::propagation,
    },
    Scenario {
        name: "profile-isolation",
        section: "§5.3, D16",
        what: "devices on two profiles: each profile holds exactly its devices' items, each device sees exactly its profile (D16)",
        run: profiles::isolation,
    },
    Scenario {
        name: "three-way-routing",
        section: "§5.3",
        what: "a server-side client, mobile and desktop on one profile: every party's items reach the two others",
        run: profiles::routing,
    },
    Scenario {
        name: "echo-stability",
        section: "§4.7 D10",
        what: "once a push is answered, the next sync has nothing to pull or push: pushed items do not come back as newer (D10)",
        run: repeat::echo,
    },
    Scenario {
        name: "skew-ping-pong",
        section: "§4.7 D11",
        what: "devices 10 minutes behind the server converge and then stop: nothing is re-pushed every sync (D11)",
        run: repeat::skew_ping_pong,
    },
    Scenario {
        name: "write-during-sync",
        section: "§4.7 D6",
        what: "another device's write lands between this device's answered pull and the end of its sync; the next sync brings it (D6)",
        run: timing::write_during_sync,
    },
    Scenario {
        name: "edit-after-pull",
        section: "§4.7 D13",
        what: "a device that has only pulled edits a pulled item; its next sync pushes the edit (D13)",
        run: timing::edit_after_pull,
    },
    Scenario {
        name: "return-to-server",
        section: "§5.8, D14, D15",
        what: "a device switches to another profile and back: nothing lost, no duplicates on the device or either side (D14, D15)",
        run: repeat::return_to_server,
    },
    Scenario {
        name: "version-matrix",
        section: "§5.4",
        what: "the 9 datastore/protocol version combinations: a mismatch gets 409 and saves nothing, 0 is not checked, the client stops on a mismatch and syncs again at 1/1",
        run: versions::matrix,
    },
];

/// Runs one scenario against one target pair.
pub fn run(
    s: &Scenario,
    client: &ClientSpec,
    server: &ServerSpec,
    seed: u64,
) -> Result<Value, Failure> {
    run_logged(s, client, server, seed).0
}

/// [`run`], with the drivers' last log lines by device when it fails.
pub fn run_logged(
    s: &Scenario,
    client: &ClientSpec,
    server: &ServerSpec,
    seed: u64,
) -> (Result<Value, Failure>, Vec<(String, String)>) {
    let mut ctx = match Ctx::new(client, server, seed) {
        Ok(c) => c,
        Err(e) => return (Err(e), Vec::new()),
    };
    let r = (s.run)(&mut ctx);
    let logs = match &r {
        Err(Failure::Fail(_) | Failure::Setup(_)) => ctx.logs(sim::driver::LOG_LINES),
        _ => Vec::new(),
    };
    (r, logs)
}
