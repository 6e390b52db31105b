//! The event list of a world: the workload, the fault schedule and the
//! passage of time, drawn from the seed. It is what the shrinker cuts down,
//! so every event stays meaningful whatever events are removed around it
//! (items are picked by index modulo what exists).

use serde::{Deserialize, Serialize};

use crate::config::WorldConfig;
use crate::host::PROFILES;
use crate::rng::Rng;

/// A fault applied to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The request never reaches the server.
    RequestLost,
    /// The server commits, the answer is lost.
    ResponseLost,
    /// The request is delivered twice; the device sees the second answer.
    Duplicate,
    /// A 503 from a proxy; the server never sees the request.
    ServerError,
}

/// The four item types, as the workload uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Url,
    Text,
    Tagset,
    /// A small PNG, sent with its bytes on the first push.
    Image,
}

/// A write through one of the server's non-sync endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum ApiWrite {
    /// `PATCH /items/:id/tags`: the row `pick` selects gets `tag` added.
    Retag { pick: u32, tag: String },
    /// `DELETE /items/:id` of the live row `pick` selects.
    Delete { pick: u32 },
    /// `POST /webhook` with one url (the shortcuts' endpoint).
    Webhook { tags: Vec<String> },
    /// `POST /texts` (the legacy endpoint).
    Text { tags: Vec<String> },
    /// `POST /tagsets` (the legacy endpoint).
    Tagset { tags: Vec<String> },
    /// The url or text `pick` selects saved again without a sync id
    /// (`POST /webhook`, `POST /texts`), with `tag` added: the server's
    /// content dedup merges it into that row (§3.2), tags replaced.
    Resave { pick: u32, tag: String },
}

/// A change to the account that devices do not make themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum AccountChange {
    /// `DELETE /profiles/:id` of a profile devices may target: its rows
    /// are no longer served, its devices' syncs are refused.
    DeleteProfile { profile: usize },
    /// `POST /profiles` of a deleted profile again, by its name: a new
    /// UUID, empty (no-op while it exists). A user re-points their
    /// devices at it; they bring back what they hold.
    RecreateProfile { profile: usize },
    /// The profile's name (and so its slug) changes, or changes back: a
    /// device that targets it by slug no longer finds it.
    RenameProfile { profile: usize },
    /// The user's API key is replaced (`peek-server user rotate-key`):
    /// every request with the old key is refused until its device is
    /// given the new one.
    RotateKey,
}

/// One step of the world. `dev` indexes `WorldConfig::devices`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Event {
    /// True time passes.
    Wait {
        ms: i64,
    },
    Create {
        dev: usize,
        kind: Kind,
        tags: Vec<String>,
        unicode: bool,
    },
    /// Two devices create the same content independently (§5.6: the
    /// sync path keeps both).
    CreateSame {
        dev: usize,
        other: usize,
        kind: Kind,
    },
    /// A large text item (64 KiB).
    CreateLarge {
        dev: usize,
    },
    Edit {
        dev: usize,
        pick: u32,
    },
    Delete {
        dev: usize,
        pick: u32,
    },
    Tag {
        dev: usize,
        pick: u32,
        tag: String,
    },
    Untag {
        dev: usize,
        pick: u32,
    },
    /// The device starts a sync (no-op if one is running).
    Sync {
        dev: usize,
    },
    /// The device's running sync makes its next request, maybe faulted.
    /// If an answer is in flight (a `Send` before), this step is that
    /// answer arriving instead.
    Step {
        dev: usize,
        fault: Option<Fault>,
    },
    /// The device's running sync sends its next request, maybe faulted;
    /// the server handles it now, and its answer stays in flight until
    /// the device's next `Step`. Whatever happens between (above all the
    /// device's own local edits, as a user edits while a sync runs)
    /// happens while the request is in flight. A device that cannot hold
    /// an answer takes this as a `Step`.
    Send {
        dev: usize,
        fault: Option<Fault>,
    },
    /// The device process dies: its sync is gone, its SQLite file stays.
    Crash {
        dev: usize,
    },
    /// The device is cut off from every server for `ms`.
    Partition {
        dev: usize,
        ms: i64,
    },
    /// The device is pointed at another server (server switch).
    SwitchServer {
        dev: usize,
        server: usize,
    },
    /// The device's local profile is pointed at another server profile
    /// (`host::PROFILES` index): its data follows (D14/D15 server-change
    /// detection), the old profile keeps what it had.
    SwitchProfile {
        dev: usize,
        profile: usize,
    },
    RestartServer {
        server: usize,
    },
    /// A writer outside the sync path (the extension's save button, a
    /// shortcut, a script) writes to a server profile directly.
    Api {
        server: usize,
        /// `host::PROFILES` index.
        profile: usize,
        write: ApiWrite,
    },
    /// The account changes on a server under the devices' feet.
    Account {
        server: usize,
        change: AccountChange,
    },
    /// The server takes a backup (`POST /backups` semantics).
    BackupServer {
        server: usize,
    },
    /// The server is stopped, restored from its newest backup and started
    /// again (no-op before the first backup).
    RestoreServer {
        server: usize,
    },
}

impl Event {
    /// The device an event is about, if any.
    pub fn device(&self) -> Option<usize> {
        match self {
            Event::Wait { .. }
            | Event::Api { .. }
            | Event::Account { .. }
            | Event::RestartServer { .. }
            | Event::BackupServer { .. }
            | Event::RestoreServer { .. } => None,
            Event::Create { dev, .. }
            | Event::CreateSame { dev, .. }
            | Event::CreateLarge { dev }
            | Event::Edit { dev, .. }
            | Event::Delete { dev, .. }
            | Event::Tag { dev, .. }
            | Event::Untag { dev, .. }
            | Event::Sync { dev }
            | Event::Step { dev, .. }
            | Event::Send { dev, .. }
            | Event::Crash { dev }
            | Event::Partition { dev, .. }
            | Event::SwitchServer { dev, .. }
            | Event::SwitchProfile { dev, .. } => Some(*dev),
        }
    }

    /// One compact line for reports.
    pub fn line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| format!("{self:?}"))
    }
}

/// The share of a device's requests whose answer stays in flight while
/// other events happen (`Event::Send`).
const IN_FLIGHT: f64 = 0.15;

const TAGS: [&str; 6] = ["work", "read", "Work", "日本", "later", "a/b"];

/// Draws `steps` events for a world.
pub fn generate(cfg: &WorldConfig, steps: usize) -> Vec<Event> {
    let mut rng = Rng::new(cfg.seed).fork("events");
    let n = cfg.devices.len();
    let f = &cfg.faults;
    let kinds: &[Kind] = if cfg.images {
        &[Kind::Url, Kind::Text, Kind::Tagset, Kind::Image]
    } else {
        &[Kind::Url, Kind::Text, Kind::Tagset]
    };
    let mut out = Vec::with_capacity(steps * 2);
    for _ in 0..steps {
        if rng.chance(0.5) {
            out.push(Event::Wait {
                ms: rng.range(1, 3_000),
            });
        }
        let dev = rng.below(n as u64) as usize;
        let pick = rng.next_u64() as u32;
        let roll = rng.below(100);
        let ev = match roll {
            0..=11 => Event::Create {
                dev,
                kind: *rng.pick(kinds),
                tags: (0..rng.below(3))
                    .map(|_| rng.pick(&TAGS).to_string())
                    .collect(),
                unicode: rng.chance(0.2),
            },
            12..=13 => Event::CreateSame {
                dev,
                other: rng.below(n as u64) as usize,
                kind: *rng.pick(kinds),
            },
            14 => Event::CreateLarge { dev },
            15..=19 => Event::Edit { dev, pick },
            20..=24 => Event::Delete { dev, pick },
            25..=28 => Event::Tag {
                dev,
                pick,
                tag: rng.pick(&TAGS).to_string(),
            },
            29..=30 => Event::Untag { dev, pick },
            31..=42 => Event::Sync { dev },
            _ => {
                let fault = if rng.chance(f.request_lost) {
                    Some(Fault::RequestLost)
                } else if rng.chance(f.response_lost) {
                    Some(Fault::ResponseLost)
                } else if rng.chance(f.duplicate) {
                    Some(Fault::Duplicate)
                } else if rng.chance(f.server_error) {
                    Some(Fault::ServerError)
                } else {
                    None
                };
                if rng.chance(IN_FLIGHT) {
                    Event::Send { dev, fault }
                } else {
                    Event::Step { dev, fault }
                }
            }
        };
        let in_flight = matches!(ev, Event::Send { .. });
        out.push(ev);
        // A user who edits while the device's own request is in flight:
        // the one window a whole-request step never opens.
        if in_flight && rng.chance(0.6) {
            let pick = rng.next_u64() as u32;
            out.push(match rng.below(4) {
                0 => Event::Tag {
                    dev,
                    pick,
                    tag: rng.pick(&TAGS).to_string(),
                },
                1 => Event::Delete { dev, pick },
                _ => Event::Edit { dev, pick },
            });
        }
        if rng.chance(f.device_crash) {
            out.push(Event::Crash { dev });
        }
        if rng.chance(f.partition) {
            out.push(Event::Partition {
                dev,
                ms: rng.range(1_000, 60_000),
            });
        }
        if rng.chance(f.server_restart) {
            out.push(Event::RestartServer {
                server: rng.below(cfg.servers as u64) as usize,
            });
        }
        if rng.chance(f.restore) {
            out.push(Event::BackupServer {
                server: rng.below(cfg.servers as u64) as usize,
            });
        }
        if rng.chance(f.restore / 2.0) {
            out.push(Event::RestoreServer {
                server: rng.below(cfg.servers as u64) as usize,
            });
        }
        if rng.chance(cfg.api_writes) {
            let server = rng.below(cfg.servers as u64) as usize;
            let profile = rng.below(PROFILES.len() as u64) as usize;
            let tags: Vec<String> = (0..rng.below(3))
                .map(|_| rng.pick(&TAGS).to_string())
                .collect();
            let write = match rng.below(6) {
                5 => ApiWrite::Resave {
                    pick: rng.next_u64() as u32,
                    tag: rng.pick(&TAGS).to_string(),
                },
                0 => ApiWrite::Retag {
                    pick: rng.next_u64() as u32,
                    tag: rng.pick(&TAGS).to_string(),
                },
                1 => ApiWrite::Delete {
                    pick: rng.next_u64() as u32,
                },
                2 => ApiWrite::Webhook { tags },
                3 => ApiWrite::Text { tags },
                _ => ApiWrite::Tagset {
                    tags: if tags.is_empty() {
                        vec![rng.pick(&TAGS).to_string()]
                    } else {
                        tags
                    },
                },
            };
            out.push(Event::Api {
                server,
                profile,
                write,
            });
        }
        if rng.chance(cfg.account_events) {
            let server = rng.below(cfg.servers as u64) as usize;
            let profile = rng.below(PROFILES.len() as u64) as usize;
            let change = match rng.below(4) {
                0 => AccountChange::DeleteProfile { profile },
                1 => AccountChange::RecreateProfile { profile },
                2 => AccountChange::RenameProfile { profile },
                _ => AccountChange::RotateKey,
            };
            out.push(Event::Account { server, change });
        }
        if cfg.servers > 1 && rng.chance(0.01) {
            out.push(Event::SwitchServer {
                dev,
                server: rng.below(cfg.servers as u64) as usize,
            });
        }
        if rng.chance(cfg.profile_switch) {
            out.push(Event::SwitchProfile {
                dev,
                profile: rng.below(PROFILES.len() as u64) as usize,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Options;

    #[test]
    fn same_seed_same_events_and_faults_only_when_on() {
        let o = Options::default();
        let cfg = WorldConfig::from_seed(11, &o);
        assert_eq!(generate(&cfg, 200), generate(&cfg, 200));
        let quiet = WorldConfig::from_seed(11, &Options { faults: false, ..o });
        let evs = generate(&quiet, 500);
        assert!(evs.iter().all(|e| !matches!(
            e,
            Event::Step { fault: Some(_), .. }
                | Event::Crash { .. }
                | Event::Partition { .. }
                | Event::RestartServer { .. }
                | Event::BackupServer { .. }
                | Event::RestoreServer { .. }
        )));
        let line = Event::Step {
            dev: 1,
            fault: Some(Fault::ResponseLost),
        }
        .line();
        assert_eq!(line, r#"{"op":"step","dev":1,"fault":"response-lost"}"#);
        let back: Event = serde_json::from_str(&line).unwrap();
        assert_eq!(
            back,
            Event::Step {
                dev: 1,
                fault: Some(Fault::ResponseLost)
            }
        );
    }
}
