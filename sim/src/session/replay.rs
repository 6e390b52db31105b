//! Replaying a session against a server: the recorded requests in order,
//! recorded server ids rewritten to the ids the target chose, each answer
//! compared semantically with the recorded one (`compare`). The default
//! target is a fresh in-process server (one per recorded server label, with
//! the session's profiles and, when the session says when, the recorded
//! server clock); any running server can be given by URL and key, and is
//! then replayed into in a scratch space of that account
//! (`crate::account`): each profile the session used (the default profile
//! too, and a request that named none) becomes a fresh scratch profile,
//! every request is addressed to it by UUID with `strictProfile=true` so
//! that nothing falls back to the account's default profile, and requests
//! that would reach outside the space (a backup of the whole account,
//! deleting a profile the run did not make) are not sent.
//!
//! Replaying one session against two targets and comparing their answers
//! with each other is a differential test of two server generations.

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::sync::{Method, Request, Response};

use super::compare::{compare_responses, Divergence, IdMap};
use super::TraceEvent;
use super::{Exchange, Header, Line, Resp, Session, SessionError};
use crate::account::{AccountError, Scratch};
use crate::host::{ServerHost, KEY};

/// Where replayed requests go.
pub enum Target {
    /// Fresh in-process servers, one per recorded server label.
    InProcess(BTreeMap<String, ServerHost>),
    /// A running server, through a scratch space on its account (all
    /// recorded server labels go to it, each with profiles of its own).
    Http(Arc<Scratch>),
}

/// Why a replay could not run at all (divergences are not errors).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("server: {0}")]
    Host(#[from] crate::host::HostError),
    #[error("{0}")]
    Setup(String),
    #[error("scratch space: {0}")]
    Account(#[from] AccountError),
}

impl Target {
    pub fn in_process() -> Target {
        Target::InProcess(BTreeMap::new())
    }

    /// A running server, replayed into through `scratch`.
    pub fn http(scratch: Arc<Scratch>) -> Target {
        Target::Http(scratch)
    }

    /// A name for reports.
    pub fn name(&self) -> String {
        match self {
            Target::InProcess(_) => "in-process".into(),
            Target::Http(s) => s.base().to_string(),
        }
    }

    /// The scratch space of a running server.
    pub fn scratch(&self) -> Option<&Arc<Scratch>> {
        match self {
            Target::InProcess(_) => None,
            Target::Http(s) => Some(s),
        }
    }

    fn host(&mut self, label: &str, seed: u64) -> Result<Option<&mut ServerHost>, ReplayError> {
        match self {
            Target::InProcess(hosts) => {
                if !hosts.contains_key(label) {
                    let h = ServerHost::new(label, seed ^ 0x5E55_1011, crate::config::EPOCH_MS)?;
                    hosts.insert(label.to_string(), h);
                }
                Ok(hosts.get_mut(label))
            }
            Target::Http(_) => Ok(None),
        }
    }

    fn send(&mut self, label: &str, at: Option<i64>, req: Request) -> Result<Response, String> {
        match self {
            Target::InProcess(hosts) => {
                let h = hosts.get(label).ok_or("no such server")?;
                if let Some(at) = at {
                    h.set_time(at);
                }
                h.call(req).map_err(|e| e.to_string())
            }
            Target::Http(s) => s.call(req).map_err(|e| e.to_string()),
        }
    }

    fn key(&self) -> &str {
        match self {
            Target::InProcess(_) => KEY,
            Target::Http(s) => s.key(),
        }
    }
}

/// What became of one recorded exchange.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seq: u64,
    pub device: String,
    /// `POST /items?…` as recorded.
    pub line: String,
    /// Not sent: the server never received it in the recording.
    pub skipped: bool,
    /// The target's status, if it answered.
    pub status: Option<u16>,
    /// The transport error, if the target did not answer.
    pub error: Option<String>,
    pub divergences: Vec<Divergence>,
}

/// A replay's result.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: String,
    pub outcomes: Vec<Outcome>,
    /// Server events (restart, backup, restore) the target could not
    /// reproduce: divergences after them are expected.
    pub unreproduced: Vec<String>,
}

impl Report {
    pub fn sent(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.skipped).count()
    }

    pub fn divergent(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| !o.divergences.is_empty())
    }

    pub fn is_clean(&self) -> bool {
        self.divergent().next().is_none()
    }
}

/// Where two targets answered one exchange differently.
pub type Difference = (u64, String, Vec<Divergence>);

/// Headers not carried over: the target's own auth replaces the redacted
/// one; the rest are per connection.
const DROP_HEADERS: [&str; 7] = [
    "authorization",
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "accept-encoding",
    "x-api-key",
];

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// The profile UUIDs a request names.
fn profiles_of(x: &Exchange) -> Vec<String> {
    x.request
        .query
        .split('&')
        .filter_map(|p| p.strip_prefix("profile="))
        .filter(|v| is_uuid(v))
        .map(str::to_lowercase)
        .collect()
}

/// Routes that take no `?profile=` (§1.4): the health check, the profile
/// list and the backups.
fn account_route(path: &str) -> bool {
    path == "/"
        || path == "/profiles"
        || path.starts_with("/profiles/")
        || path == "/backups"
        || path.starts_with("/backups/")
}

/// Which of the session's profiles a request is in: its `profile` value
/// (a UUID lower-cased, a slug as it is), `default` when it names none;
/// `None` for routes that take no profile. A UUID the recorded server did
/// not know fell back to its default profile there; here it gets a
/// scratch profile of its own (the recording does not say which it was).
fn profile_key(x: &Exchange) -> Option<String> {
    if account_route(&x.request.path) {
        return None;
    }
    let named = x
        .request
        .query
        .split('&')
        .find_map(|p| p.strip_prefix("profile="))
        .filter(|v| !v.is_empty())
        .unwrap_or("default");
    Some(if is_uuid(named) {
        named.to_ascii_lowercase()
    } else {
        named.to_string()
    })
}

/// `path` addressed to `profile` only: any `profile` and `strictProfile`
/// the session sent replaced by the scratch profile's UUID, strictly.
fn scoped_path(path: &str, profile: &str) -> String {
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| !p.starts_with("profile=") && !p.starts_with("strictProfile="))
        .collect();
    let scope = format!("profile={profile}&strictProfile=true");
    params.push(&scope);
    format!("{route}?{}", params.join("&"))
}

/// The request to send for a recorded exchange, ids rewritten.
fn request(x: &Exchange, ids: &IdMap, key: &str) -> Result<Request, String> {
    let method = Method::parse(&x.request.method)
        .ok_or_else(|| format!("unsupported method {}", x.request.method))?;
    let mut headers: Vec<(String, String)> = x
        .request
        .headers
        .iter()
        .filter(|(k, _)| !DROP_HEADERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), ids.rewrite(v)))
        .collect();
    headers.push(("authorization".into(), format!("Bearer {key}")));
    let body = match x.request.body.json() {
        Some(v) => Some(serde_json::to_vec(&ids.rewrite_value(&v)).unwrap_or_default()),
        None if x.request.body.is_empty() => None,
        None => Some(x.request.body.to_bytes()),
    };
    Ok(Request {
        method,
        path: ids.rewrite(&x.request.target()),
        headers,
        body,
    })
}

/// One target's running state during a replay.
struct Run<'a> {
    target: &'a mut Target,
    ids: IdMap,
    /// (server label, profile) pairs already set up on the target.
    profiles: std::collections::BTreeSet<(String, String)>,
    /// A running server: (server label, profile key) → the scratch
    /// profile standing in for it.
    scoped: BTreeMap<(String, String), String>,
    report: Report,
}

impl Run<'_> {
    /// Makes the profiles `x` names exist on an in-process target, with
    /// the recorded UUIDs.
    fn ensure_profiles(&mut self, label: &str, x: &Exchange, seed: u64) -> Result<(), ReplayError> {
        for p in profiles_of(x) {
            if !self.profiles.insert((label.to_string(), p.clone())) {
                continue;
            }
            let name = format!("replay {}", &p[..8]);
            if let Some(h) = self.target.host(label, seed)? {
                h.add_profile(&p, &name)?;
            }
        }
        Ok(())
    }

    /// On a running server, the scratch profile `x` goes to (made on
    /// first use); `None` for an in-process target or a route without a
    /// profile. A profile the session made itself (`POST /profiles`,
    /// its recorded id mapped by the answer) is used as it is: it is in
    /// the space already.
    fn scratch_profile(
        &mut self,
        label: &str,
        x: &Exchange,
    ) -> Result<Option<String>, ReplayError> {
        let Some(scratch) = self.target.scratch().cloned() else {
            return Ok(None);
        };
        let Some(key) = profile_key(x) else {
            return Ok(None);
        };
        let slot = (label.to_string(), key.clone());
        if let Some(id) = self.scoped.get(&slot) {
            return Ok(Some(id.clone()));
        }
        let own = self
            .ids
            .get(&key)
            .filter(|id| scratch.holds(id))
            .map(str::to_string);
        let id = match own {
            Some(id) => id,
            None => {
                let short: String = key.chars().take(12).collect();
                let id = scratch.create(&format!("{label} {short}"))?;
                if is_uuid(&key) {
                    self.ids.learn(&key, &id);
                }
                id
            }
        };
        self.scoped.insert(slot, id.clone());
        Ok(Some(id))
    }

    /// Why `req` must not reach a running server's account, if it must
    /// not: it would act outside the scratch space.
    fn outside(&self, req: &Request) -> Option<&'static str> {
        let scratch = self.target.scratch()?;
        let path = req.path.split('?').next().unwrap_or("");
        match req.method {
            Method::Post if path == "/backups" || path.starts_with("/backups/") => {
                Some("it backs up the whole account")
            }
            Method::Delete => match path.strip_prefix("/profiles/") {
                Some(id) if !scratch.holds(id) => {
                    Some("it deletes a profile this run did not make")
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// A profile the session made on a running server joins the scratch
    /// space, so it is deleted with it.
    fn adopt(&self, req: &Request, answer: &Response) {
        let Some(scratch) = self.target.scratch() else {
            return;
        };
        if req.method != Method::Post || req.path.split('?').next() != Some("/profiles") {
            return;
        }
        if !(200..300).contains(&answer.status) {
            return;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer.body) else {
            return;
        };
        if let Some(id) = v["profile"]["id"].as_str() {
            let name = v["profile"]["name"].as_str().unwrap_or("");
            scratch.adopt(id, name);
        }
    }

    /// Reproduces a recorded server restart, backup or restore.
    fn server_event(&mut self, ev: &TraceEvent, label: &str, seed: u64) -> Result<(), ReplayError> {
        let Some(h) = self.target.host(label, seed)? else {
            let what = match ev {
                TraceEvent::ServerRestart { .. } => "server-restart",
                TraceEvent::ServerBackup { .. } => "server-backup",
                _ => "server-restore",
            };
            self.report.unreproduced.push(format!("{what} of {label}"));
            return Ok(());
        };
        match ev {
            TraceEvent::ServerRestart { .. } => h.restart()?,
            TraceEvent::ServerBackup { at, .. } => {
                h.set_time(*at);
                h.backup()?;
            }
            TraceEvent::ServerRestore { .. } => {
                h.restore_newest()?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends one exchange; returns the target's answer.
    fn exchange(&mut self, x: &Exchange, seed: u64) -> Result<Option<Resp>, ReplayError> {
        let label = x.server.clone().unwrap_or_else(|| "s0".into());
        self.target.host(&label, seed)?;
        self.ensure_profiles(&label, x, seed)?;
        let scope = self.scratch_profile(&label, x)?;
        let mut o = Outcome {
            seq: x.seq,
            device: x.device.clone(),
            line: x.request.line(),
            skipped: x.delivered == 0,
            status: None,
            error: None,
            divergences: Vec::new(),
        };
        let mut answer = None;
        if x.delivered > 0 {
            let key = self.target.key().to_string();
            let req = request(x, &self.ids, &key).map(|mut r| {
                if let Some(p) = &scope {
                    r.path = scoped_path(&r.path, p);
                }
                r
            });
            let refused = req.as_ref().ok().and_then(|r| self.outside(r));
            match req {
                Err(e) => o.error = Some(e),
                Ok(_) if refused.is_some() => {
                    o.skipped = true;
                    self.report.unreproduced.push(format!(
                        "#{} {} (not sent: {})",
                        x.seq,
                        x.request.line(),
                        refused.unwrap_or_default()
                    ));
                }
                Ok(req) => {
                    let mut last = None;
                    for _ in 0..x.delivered {
                        let r = self.target.send(&label, x.at, req.clone());
                        if let Ok(answer) = &r {
                            self.adopt(&req, answer);
                        }
                        last = Some(r);
                    }
                    match last {
                        Some(Ok(r)) => {
                            let actual = Resp::from_response(&r);
                            if let Some(rec) = &x.response {
                                o.divergences = compare_responses(rec, &actual, &mut self.ids);
                            }
                            o.status = Some(actual.status);
                            answer = Some(actual);
                        }
                        Some(Err(e)) => {
                            o.divergences.push(Divergence {
                                at: "transport".into(),
                                recorded: x
                                    .response
                                    .as_ref()
                                    .map_or("no answer".into(), |r| r.status.to_string()),
                                actual: e.clone(),
                            });
                            o.error = Some(e);
                        }
                        None => {}
                    }
                }
            }
        }
        self.report.outcomes.push(o);
        Ok(answer)
    }
}

/// Replays a session's lines against every target in lockstep (exchange by
/// exchange), so a session of any size is never held in memory. With two
/// or more targets, also returns where the first and each other target
/// answered differently (the differential report).
pub fn replay_all(
    header: &Header,
    lines: impl Iterator<Item = Result<Line, SessionError>>,
    targets: &mut [Target],
) -> Result<(Vec<Report>, Vec<Difference>), ReplayError> {
    let seed = header
        .world
        .as_ref()
        .and_then(|w| w["seed"].as_u64())
        .unwrap_or(0);
    let mut runs: Vec<Run> = targets
        .iter_mut()
        .map(|t| {
            let target = t.name();
            Run {
                target: t,
                ids: IdMap::default(),
                profiles: Default::default(),
                scoped: BTreeMap::new(),
                report: Report {
                    target,
                    outcomes: Vec::new(),
                    unreproduced: Vec::new(),
                },
            }
        })
        .collect();
    let mut cross = IdMap::default();
    let mut diffs = Vec::new();
    for line in lines {
        match line.map_err(|e| ReplayError::Setup(e.to_string()))? {
            Line::Event(ev) => {
                let server = match &ev {
                    TraceEvent::ServerRestart { server, .. }
                    | TraceEvent::ServerBackup { server, .. }
                    | TraceEvent::ServerRestore { server, .. } => Some(*server),
                    _ => None,
                };
                if let Some(s) = server {
                    for r in &mut runs {
                        r.server_event(&ev, &format!("s{s}"), seed)?;
                    }
                }
            }
            Line::Exchange(x) => {
                let answers = runs
                    .iter_mut()
                    .map(|r| r.exchange(&x, seed))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Some(Some(first)) = answers.first() {
                    for other in answers.iter().skip(1).flatten() {
                        let d = compare_responses(first, other, &mut cross);
                        if !d.is_empty() {
                            diffs.push((x.seq, x.request.line(), d));
                        }
                    }
                }
            }
            Line::Header(_) => {}
        }
    }
    Ok((runs.into_iter().map(|r| r.report).collect(), diffs))
}

/// Replays an in-memory session against one target.
pub fn replay(session: &Session, target: &mut Target) -> Result<Report, ReplayError> {
    let (mut reports, _) = replay_all(
        &session.header,
        session.lines.iter().cloned().map(Ok),
        std::slice::from_mut(target),
    )?;
    reports
        .pop()
        .ok_or_else(|| ReplayError::Setup("no report".into()))
}

/// A readable report: the first divergence with the exchanges before it,
/// then (unless `first_only`) every divergent exchange, then a summary.
pub fn render(report: &Report, first_only: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let outs = &report.outcomes;
    if let Some(i) = outs.iter().position(|o| !o.divergences.is_empty()) {
        let o = &outs[i];
        let _ = writeln!(s, "first divergence at exchange #{} ({}):", o.seq, o.device);
        for p in &outs[i.saturating_sub(2)..i] {
            let status = p.status.map_or("-".into(), |s| s.to_string());
            let _ = writeln!(s, "    #{} {} {} → {status}", p.seq, p.device, p.line);
        }
        let _ = writeln!(s, "  > #{} {} {}", o.seq, o.device, o.line);
        for d in o.divergences.iter().take(10) {
            let _ = writeln!(s, "      {d}");
        }
        if !first_only {
            for o in outs[i + 1..].iter().filter(|o| !o.divergences.is_empty()) {
                let _ = writeln!(s, "  #{} {} {}", o.seq, o.device, o.line);
                for d in o.divergences.iter().take(5) {
                    let _ = writeln!(s, "      {d}");
                }
            }
        }
    }
    for u in &report.unreproduced {
        let _ = writeln!(s, "note: {u} not reproducible against {}", report.target);
    }
    let _ = writeln!(
        s,
        "{}: {} exchanges, {} sent, {} skipped (never delivered), {} divergent",
        report.target,
        outs.len(),
        report.sent(),
        outs.len() - report.sent(),
        report.divergent().count()
    );
    s
}
