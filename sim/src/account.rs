//! A live account that a run borrows: `peek-sim replay --server URL` and
//! `peek-conform --server URL` talk to a real server with a real user's
//! key, and must leave that user's data as they found it. A run works in
//! a [`Scratch`] space: fresh profiles named `peek-scratch-<tool>-<run id>
//! <n> <label>` (recognisable in any profile list), every write of the
//! run addressed to one of them by UUID, and all of them deleted when the
//! run ends (`--keep-scratch` keeps them, for debugging, and names them).
//! A [`Survey`] taken before says what the account already holds, so the
//! run can warn that it will not touch it, and one taken after shows
//! anything that reached the account outside the scratch space (a client
//! under test that falls back to the default profile, D16).
//!
//! The run id comes from the injected [`IdSource`]: a shell passes
//! `OsIds`, a test a seeded source, so no logic here reads the OS RNG.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::sync::{Method, Request, Response};
use engine::transport::{HttpTransport, Transport, TransportError};
use protocol::IdSource;
use serde_json::Value;

/// What every scratch profile's name starts with, whichever tool and run
/// made it: what a survey recognises leftovers of earlier runs by.
pub const NAME_PREFIX: &str = "peek-scratch-";

/// Why the account could not be asked or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("setup: {0}")]
    Setup(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{what}: status {status}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("the scratch space is closed (the run is ending)")]
    Closed,
}

/// The profiles one run made on a live account, and the means to make
/// and remove them.
pub struct Scratch {
    base: String,
    key: String,
    /// `peek-scratch-<tool>-<run id>`.
    prefix: String,
    keep: bool,
    http: HttpTransport,
    rt: tokio::runtime::Runtime,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Profiles of this run not yet deleted: id → name.
    live: BTreeMap<String, String>,
    /// Profiles made so far (numbers the names).
    made: u64,
    deleted: u64,
    /// The server answered that it cannot delete profiles.
    no_delete: Option<String>,
    /// Deletions that failed: id → why.
    failed: BTreeMap<String, String>,
    closed: bool,
}

/// One space is one run; two spaces are the same if they are the same
/// run on the same server (what `Cast` and `ServerSpec` compare).
impl PartialEq for Scratch {
    fn eq(&self, other: &Self) -> bool {
        self.base == other.base && self.prefix == other.prefix
    }
}

impl Eq for Scratch {}

/// The key stays out of debug output.
impl fmt::Debug for Scratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scratch")
            .field("base", &self.base)
            .field("prefix", &self.prefix)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

/// What became of a run's scratch profiles at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleanup {
    pub prefix: String,
    pub deleted: u64,
    /// Profiles still on the server (kept, or not deletable): id, name.
    pub left: Vec<(String, String)>,
    pub kept: bool,
    /// Why the server cannot delete profiles, when it said so.
    pub no_delete: Option<String>,
    /// Deletions that failed, by id.
    pub failed: Vec<(String, String)>,
}

impl Cleanup {
    /// Nothing of the run is left on the server.
    pub fn clean(&self) -> bool {
        self.left.is_empty()
    }
}

impl fmt::Display for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.left.is_empty() {
            return writeln!(
                f,
                "scratch: {} profile(s) of {} deleted, none left",
                self.deleted, self.prefix
            );
        }
        if self.kept {
            writeln!(
                f,
                "scratch: kept {} profile(s) of {} (--keep-scratch):",
                self.left.len(),
                self.prefix
            )?;
        } else if let Some(why) = &self.no_delete {
            writeln!(
                f,
                "scratch: this server cannot delete profiles ({why}); {} profile(s) of {} are left, delete them by hand:",
                self.left.len(),
                self.prefix
            )?;
        } else {
            writeln!(
                f,
                "scratch: {} deleted, {} profile(s) of {} could not be deleted:",
                self.deleted,
                self.left.len(),
                self.prefix
            )?;
        }
        for (id, name) in &self.left {
            match self.failed.iter().find(|(i, _)| i == id) {
                Some((_, why)) => writeln!(f, "  {id}  {name}  ({why})")?,
                None => writeln!(f, "  {id}  {name}")?,
            }
        }
        Ok(())
    }
}

impl Scratch {
    /// A scratch space on the account `key` of the server at `base`, for
    /// one run of `tool`; the run id is drawn from `ids`. Nothing is sent
    /// yet.
    pub fn open(
        base: &str,
        key: &str,
        tool: &str,
        ids: &dyn IdSource,
        keep: bool,
    ) -> Result<Arc<Scratch>, AccountError> {
        let mut id = [0u8; 4];
        ids.fill(&mut id);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| AccountError::Setup(e.to_string()))?;
        Ok(Arc::new(Scratch {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            prefix: format!("{NAME_PREFIX}{tool}-{}", hex::encode(id)),
            keep,
            http: HttpTransport::new(base, Duration::from_secs(30))?,
            rt,
            state: Mutex::new(State::default()),
        }))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// `peek-scratch-<tool>-<run id>`: what this run's profiles are named
    /// with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn keeps(&self) -> bool {
        self.keep
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One request to the server (blocking).
    pub fn call(&self, req: Request) -> Result<Response, TransportError> {
        self.rt.block_on(self.http.send(req))
    }

    fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Request {
        let mut headers = vec![("Authorization".into(), format!("Bearer {}", self.key))];
        if body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        Request {
            method,
            path: path.to_string(),
            headers,
            body: body.map(|b| b.to_string().into_bytes()),
        }
    }

    fn json(
        &self,
        what: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, AccountError> {
        let r = self.call(self.request(method, path, body))?;
        let status = |body: &[u8]| AccountError::Status {
            what,
            status: r.status,
            body: String::from_utf8_lossy(body).chars().take(300).collect(),
        };
        if !(200..300).contains(&r.status) {
            return Err(status(&r.body));
        }
        serde_json::from_slice(&r.body).map_err(|_| status(&r.body))
    }

    /// A fresh profile of this run (`label` ends its name); its UUID.
    pub fn create(&self, label: &str) -> Result<String, AccountError> {
        let name = {
            let mut st = self.state();
            if st.closed {
                return Err(AccountError::Closed);
            }
            st.made += 1;
            format!("{} {} {label}", self.prefix, st.made)
        };
        let v = self.json(
            "create profile",
            Method::Post,
            "/profiles",
            Some(&serde_json::json!({ "name": name })),
        )?;
        let id = v["profile"]["id"]
            .as_str()
            .ok_or(AccountError::Status {
                what: "create profile",
                status: 200,
                body: "no profile id in the answer".into(),
            })?
            .to_ascii_lowercase();
        self.adopt(&id, &name);
        Ok(id)
    }

    /// Counts a profile the run made some other way (a replayed session's
    /// own `POST /profiles`) as part of the space, to be deleted with it.
    /// If the space closed meanwhile (Ctrl-C), it is deleted at once.
    pub fn adopt(&self, id: &str, name: &str) {
        let closed = {
            let mut st = self.state();
            st.live.insert(id.to_ascii_lowercase(), name.to_string());
            st.closed
        };
        if closed && !self.keep {
            self.delete(&[id.to_ascii_lowercase()]);
        }
    }

    /// Whether `id` is one of this run's profiles (still there).
    pub fn holds(&self, id: &str) -> bool {
        self.state().live.contains_key(&id.to_ascii_lowercase())
    }

    /// This run's profiles still there: id, name.
    pub fn live(&self) -> Vec<(String, String)> {
        let st = self.state();
        st.live
            .iter()
            .map(|(i, n)| (i.clone(), n.clone()))
            .collect()
    }

    /// Deletes these profiles of the run now (unless the run keeps them):
    /// a world or scenario gives back its profiles when it ends, so a long
    /// run does not pile them up.
    pub fn release(&self, ids: &[String]) {
        if !self.keep {
            self.delete(ids);
        }
    }

    fn delete(&self, ids: &[String]) {
        for id in ids {
            if self.state().no_delete.is_some() || !self.holds(id) {
                continue;
            }
            let r = self.call(self.request(Method::Delete, &format!("/profiles/{id}"), None));
            let mut st = self.state();
            match r {
                Ok(r) if (200..300).contains(&r.status) => {
                    st.live.remove(id);
                    st.deleted += 1;
                    st.failed.remove(id);
                }
                Ok(r) => {
                    let body = String::from_utf8_lossy(&r.body).to_ascii_lowercase();
                    if body.contains("not found") && body.contains("profile") {
                        // Gone already (the session deleted it itself).
                        st.live.remove(id);
                    } else if matches!(r.status, 404 | 405 | 501) {
                        st.no_delete = Some(format!("DELETE /profiles/:id answers {}", r.status));
                    } else {
                        st.failed
                            .insert(id.clone(), format!("status {}: {}", r.status, body.trim()));
                    }
                }
                Err(e) => {
                    st.failed.insert(id.clone(), e.to_string());
                }
            }
        }
    }

    /// Ends the run: no more profiles, and every one still there deleted
    /// (unless kept). Safe to call again (from a Ctrl-C handler and the
    /// end of `main`): the second call reports the same space.
    pub fn finish(&self) -> Cleanup {
        let ids: Vec<String> = {
            let mut st = self.state();
            st.closed = true;
            st.live.keys().cloned().collect()
        };
        if !self.keep {
            self.delete(&ids);
        }
        let st = self.state();
        Cleanup {
            prefix: self.prefix.clone(),
            deleted: st.deleted,
            left: st
                .live
                .iter()
                .map(|(i, n)| (i.clone(), n.clone()))
                .collect(),
            kept: self.keep,
            no_delete: st.no_delete.clone(),
            failed: st
                .failed
                .iter()
                .map(|(i, w)| (i.clone(), w.clone()))
                .collect(),
        }
    }

    /// The account's profiles now, and whether each holds items.
    pub fn survey(&self) -> Result<Survey, AccountError> {
        let v = self.json("list profiles", Method::Get, "/profiles", None)?;
        let mut profiles = Vec::new();
        for p in v["profiles"].as_array().into_iter().flatten() {
            let (Some(id), Some(name)) = (p["id"].as_str(), p["name"].as_str()) else {
                continue;
            };
            let id = id.to_ascii_lowercase();
            let slug = p["slug"].as_str().unwrap_or("").to_string();
            // Never a request without the UUID: one without `profile`
            // would create the default profile if it is missing.
            let newest = if name.starts_with(NAME_PREFIX) {
                None
            } else {
                let items = self.json(
                    "list items",
                    Method::Get,
                    &format!("/items?profile={id}&strictProfile=true&includeDeleted=true&limit=1"),
                    None,
                )?;
                items["items"].as_array().and_then(|a| a.first()).map(|it| {
                    format!(
                        "{}@{}",
                        it["id"].as_str().unwrap_or(""),
                        it["updatedAt"].as_i64().unwrap_or(0)
                    )
                })
            };
            profiles.push(Seen {
                id,
                name: name.to_string(),
                slug,
                newest,
            });
        }
        Ok(Survey { profiles })
    }

    /// Arranges for this space to be cleaned up if the process is
    /// interrupted (Ctrl-C): the profiles are deleted (or named, when
    /// kept), then the process exits with 130. For shells.
    pub fn finish_on_interrupt(self: &Arc<Self>) {
        let me = Arc::clone(self);
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
                eprintln!("\ninterrupted: cleaning up {}", me.prefix);
                eprint!("{}", me.finish());
                std::process::exit(130);
            }
        });
    }
}

/// A safety net for a run that panics before it finishes its space.
impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.state().closed {
            self.finish();
        }
    }
}

/// Profiles a world or scenario made in a run's space, given back when it
/// is dropped.
pub struct Lease {
    scratch: Arc<Scratch>,
    ids: Vec<String>,
}

impl Lease {
    pub fn new(scratch: &Arc<Scratch>) -> Self {
        Self {
            scratch: Arc::clone(scratch),
            ids: Vec::new(),
        }
    }

    pub fn scratch(&self) -> &Arc<Scratch> {
        &self.scratch
    }

    /// A fresh profile, held until the lease is dropped.
    pub fn create(&mut self, label: &str) -> Result<String, AccountError> {
        let id = self.scratch.create(label)?;
        self.ids.push(id.clone());
        Ok(id)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.scratch.release(&self.ids);
    }
}

/// One profile of the account, as a survey saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// The newest item (`id@updatedAt`), tombstones included; `None`: no
    /// items (or a scratch profile, not looked into).
    pub newest: Option<String>,
}

impl Seen {
    fn scratch(&self) -> bool {
        self.name.starts_with(NAME_PREFIX)
    }
}

/// The account's profiles at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Survey {
    pub profiles: Vec<Seen>,
}

impl Survey {
    /// The default profile (slug `default`), if the account has one.
    pub fn default_profile(&self) -> Option<&Seen> {
        self.profiles.iter().find(|p| p.slug == "default")
    }

    /// What to say before a run in `scratch`: the data it will not touch,
    /// and profiles earlier scratch runs left. `None` when the account is
    /// empty.
    pub fn warning(&self, scratch: &Scratch) -> Option<String> {
        use std::fmt::Write as _;
        let held: Vec<&Seen> = self
            .profiles
            .iter()
            .filter(|p| !p.scratch() && p.newest.is_some())
            .collect();
        let leftovers: Vec<&Seen> = self.profiles.iter().filter(|p| p.scratch()).collect();
        if held.is_empty() && leftovers.is_empty() {
            return None;
        }
        let mut s = String::new();
        if !held.is_empty() {
            let names: Vec<String> = held
                .iter()
                .map(|p| {
                    if p.slug == "default" {
                        format!("the default profile ({})", p.name)
                    } else {
                        format!("{:?}", p.name)
                    }
                })
                .collect();
            let _ = writeln!(
                s,
                "warning: this account already holds items in {}. This run does not write to them: it works in fresh profiles named {} … and deletes them at the end{}.",
                names.join(", "),
                scratch.prefix(),
                if scratch.keeps() { " unless kept (--keep-scratch)" } else { "" }
            );
        }
        if !leftovers.is_empty() {
            let _ = writeln!(
                s,
                "warning: {} profile(s) left by earlier scratch runs (interrupted, or --keep-scratch): {}",
                leftovers.len(),
                leftovers
                    .iter()
                    .map(|p| format!("{} ({})", p.id, p.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Some(s)
    }

    /// What changed in the account outside `scratch`'s space since
    /// `before`: profiles that appeared, and profiles whose newest item
    /// changed (something was written into them). Empty when the run
    /// kept to its space.
    pub fn changed_since(&self, before: &Survey, scratch: &Scratch) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.profiles {
            if p.name.starts_with(scratch.prefix()) || scratch.holds(&p.id) {
                continue;
            }
            match before.profiles.iter().find(|b| b.id == p.id) {
                None if p.slug == "default" => out.push(format!(
                    "the default profile {} was created during the run (a request without a known profile landed there)",
                    p.id
                )),
                None if !p.scratch() => out.push(format!(
                    "profile {} ({:?}) appeared during the run",
                    p.id, p.name
                )),
                Some(b) if b.newest != p.newest => out.push(format!(
                    "profile {} ({:?}) was written to during the run",
                    p.id, p.name
                )),
                _ => {}
            }
        }
        out
    }
}
