//! The writer of one profile database: commits requests one by one when
//! they come one by one, and in groups when they queue up.
//!
//! A request that finds the connection free runs at once on the caller's
//! thread (no hand-off: a lone client pays nothing; for a handler that
//! thread is the one `AppState::run` chose, never an async worker of a
//! multi-threaded server). Otherwise it is queued
//! for the writer thread, which takes the connection and commits everything
//! queued, up to [`MAX_GROUP`] requests, in one transaction (group commit):
//! the WAL write of a commit is paid once for all of them. Each request
//! still runs in its own savepoint, so it is atomic on its own (a failing
//! one rolls back alone), and its answer is sent only after the COMMIT, so
//! nobody is told "saved" before it is in the WAL.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::txn::{exec_cached, Txn};

use crate::store::error::{StoreError, StoreResult};

/// Most requests committed together.
pub const MAX_GROUP: usize = 64;

/// Called after the group's commit with the commit error, if any.
type Completion = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;
/// A queued request: runs in the group's transaction, says whether it
/// succeeded (else its savepoint is rolled back) and how to answer. Given
/// the error instead of a transaction when there is none to run in (the
/// transaction could not begin, or SQLite rolled it back), it answers
/// with that error.
type Job = Box<dyn FnOnce(Result<&Connection, &rusqlite::Error>) -> (bool, Completion) + Send>;

/// Handle on a profile's write connection; dropping it stops and joins
/// the writer thread.
pub struct Writer {
    conn: Arc<Mutex<Connection>>,
    /// Requests queued and not yet taken by the writer thread.
    pending: Arc<AtomicUsize>,
    /// Requests submitted and not yet answered: the fast path is only for
    /// a request that has the profile to itself.
    active: Arc<AtomicUsize>,
    /// The writer thread, started by the first request that has to queue:
    /// a profile only ever written one request at a time (every profile
    /// of a simulated world, most of a small server's) never starts one.
    thread: Mutex<Option<Thread>>,
    name: String,
}

/// The writer thread and its queue.
struct Thread {
    queue: mpsc::Sender<Job>,
    handle: JoinHandle<()>,
}

impl Writer {
    pub fn spawn(conn: Connection, name: &str) -> std::io::Result<Self> {
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            pending: Arc::new(AtomicUsize::new(0)),
            active: Arc::new(AtomicUsize::new(0)),
            thread: Mutex::new(None),
            name: format!("writer {name}"),
        })
    }

    /// Queues `job` for the writer thread, starting it if need be.
    fn queue(&self, job: Job) -> StoreResult<()> {
        let mut thread = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if thread.is_none() {
            let (queue, rx) = mpsc::channel::<Job>();
            let (c, p) = (self.conn.clone(), self.pending.clone());
            let handle = std::thread::Builder::new()
                .name(self.name.clone())
                .spawn(move || run(&c, &p, rx))
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot start the profile writer: {e}"))
                })?;
            *thread = Some(Thread { queue, handle });
        }
        match thread.as_ref().map(|t| t.queue.send(job)) {
            Some(Ok(())) => Ok(()),
            _ => Err(StoreError::Unavailable("profile writer stopped".into())),
        }
    }

    fn job<T, E>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        answer: impl FnOnce(Result<T, E>) + Send + 'static,
    ) -> Job
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        // Counts the request down however it ends: answered, or dropped
        // unrun because its group could not begin.
        let guard = Active(self.active.clone());
        let answer = move |r| {
            drop(guard);
            answer(r)
        };
        Box::new(move |tx: Result<&Connection, &rusqlite::Error>| {
            let tx = match tx {
                Ok(tx) => tx,
                Err(e) => {
                    let err = commit_error(e);
                    let done: Completion = Box::new(move |_| answer(Err(err.into())));
                    return (false, done);
                }
            };
            let out = catch_unwind(AssertUnwindSafe(|| f(tx))).unwrap_or_else(|_| {
                tracing::error!("a write panicked; its savepoint is rolled back");
                Err(StoreError::Aborted("a write panicked".into()).into())
            });
            let ok = out.is_ok();
            let done: Completion = Box::new(move |commit_err| {
                answer(match (out, commit_err) {
                    (Ok(v), None) => Ok(v),
                    (Ok(_), Some(e)) => Err(commit_error(e).into()),
                    (Err(e), _) => Err(e),
                })
            });
            (ok, done)
        })
    }

    /// Runs `job` now if it is the only request in flight and the
    /// connection is free; otherwise queues it for the writer thread.
    /// (`active` was counted up when the job was made.)
    fn dispatch(&self, job: Job, alone: bool) -> StoreResult<()> {
        if alone && self.pending.load(Ordering::Acquire) == 0 {
            if let Ok(mut conn) = self.conn.try_lock() {
                run_group(&mut conn, vec![job]);
                return Ok(());
            }
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        let queued = self.queue(job);
        if queued.is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
        queued
    }

    /// Runs `f` in a write transaction and waits for its committed result,
    /// blocking the calling thread: a request alone runs right here, others
    /// wait here while the writer thread commits their group. Handlers call
    /// it from `AppState::run` (off the async workers); start-up, admin
    /// commands and tests call it directly.
    ///
    /// `f`'s error type is the caller's: anything the store's own failures
    /// (a commit that did not land, a panic) convert into.
    pub fn submit<T, E>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        let alone = self.active.fetch_add(1, Ordering::AcqRel) == 0;
        let job = self.job(f, move |r| {
            let _ = tx.send(r);
        });
        self.dispatch(job, alone)?;
        rx.recv().unwrap_or_else(|_| {
            Err(StoreError::Unavailable("write not committed (see server log)".into()).into())
        })
    }
}

/// One request in flight; counted down when dropped.
struct Active(Arc<AtomicUsize>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(Thread { queue, handle }) = thread {
            drop(queue);
            let _ = handle.join();
        }
    }
}

/// The commit's error for each job of its group. SQLite failures keep
/// their code, so that "disk full" and "read-only" reach the client as such.
fn commit_error(e: &rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, msg)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::CannotOpen
            ) =>
        {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(*f, msg.clone()))
        }
        _ => StoreError::Unavailable(format!("commit failed: {e}")),
    }
}

/// What the jobs of a group hear when SQLite rolled their transaction
/// back under them.
fn rolled_back() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the transaction was rolled back by SQLite (disk full or I/O error)".into()),
    )
}

/// The writer thread: takes everything queued and commits it as a group.
fn run(conn: &Mutex<Connection>, pending: &AtomicUsize, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        pending.fetch_sub(jobs.len(), Ordering::AcqRel);
        let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
        run_group(&mut c, jobs);
    }
}

/// One transaction, a savepoint per job, answers after the commit.
fn run_group(conn: &mut Connection, jobs: Vec<Job>) {
    let tx = match Txn::immediate(conn) {
        Ok(tx) => tx,
        Err(e) => {
            // Each caller hears why (disk full, read-only...); nothing
            // was written.
            tracing::error!(error = %e, "cannot begin a write transaction");
            for job in jobs {
                let (_, done) = job(Err(&e));
                done(None);
            }
            return;
        }
    };
    // A request alone in its group needs no savepoint: if it fails, the
    // whole transaction is rolled back. (Savepoints copy every page they
    // touch into a sub-journal: a third of a batch push's time.)
    if jobs.len() == 1 {
        let mut jobs = jobs;
        let Some(job) = jobs.pop() else { return };
        let (ok, completion) = job(Ok(tx.conn()));
        let result = if ok { tx.commit() } else { tx.rollback() };
        if let Err(e) = &result {
            tracing::error!(error = %e, "commit failed; nothing was written");
        }
        completion(result.as_ref().err());
        return;
    }
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        // SQLite may roll the whole transaction back on SQLITE_FULL or an
        // I/O error. A SAVEPOINT now would open a fresh transaction and
        // its RELEASE would commit it: jobs reported as failed would be
        // half written. So the jobs not run yet are answered with the
        // error, unrun, and the ones run are told below.
        if tx.conn().is_autocommit() {
            let (_, d) = job(Err(&rolled_back()));
            done.push(d);
            continue;
        }
        if let Err(e) = exec_cached(tx.conn(), "SAVEPOINT request") {
            tracing::error!(error = %e, "savepoint failed");
            continue;
        }
        let (ok, completion) = job(Ok(tx.conn()));
        let end = if ok {
            exec_cached(tx.conn(), "RELEASE request")
        } else {
            exec_cached(tx.conn(), "ROLLBACK TO request")
                .and_then(|()| exec_cached(tx.conn(), "RELEASE request"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "savepoint end failed");
        }
        done.push(completion);
    }
    let result = if tx.conn().is_autocommit() {
        Err(rolled_back())
    } else {
        tx.commit()
    };
    if let Err(e) = &result {
        tracing::error!(error = %e, "group commit failed; nothing in it was written");
    }
    for d in done {
        d(result.as_ref().err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let c = Connection::open(dir.path().join("w.db")).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER)")
            .unwrap();
        (dir, Writer::spawn(c, "test").unwrap())
    }

    fn started(w: &Writer) -> bool {
        w.thread.lock().map(|t| t.is_some()).unwrap_or(true)
    }

    /// Requests one at a time run on the caller's thread: no writer
    /// thread is started for them (nor joined when the profile closes).
    #[test]
    fn a_profile_written_one_request_at_a_time_starts_no_thread() {
        let (_dir, w) = writer();
        for i in 0..20i64 {
            w.submit(move |tx| {
                Ok::<_, StoreError>(tx.execute("INSERT INTO t (v) VALUES (?1)", [i])?)
            })
            .unwrap();
        }
        assert!(!started(&w));
    }

    #[test]
    fn a_failing_request_in_a_group_rolls_back_alone() {
        let (_dir, w) = writer();
        // Many callers at once, as the blocking pool runs them: some find
        // the connection free, the rest queue up and are committed in groups.
        let results: Vec<StoreResult<i64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..200i64)
                .map(|i| {
                    let w = &w;
                    s.spawn(move || {
                        w.submit(move |tx| {
                            tx.execute("INSERT INTO t (v) VALUES (?1)", [i])?;
                            if i % 7 == 0 {
                                return Err(StoreError::invalid("no"));
                            }
                            Ok(i)
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(StoreError::Aborted("join".into())))
                })
                .collect()
        });
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert!(
            started(&w),
            "200 callers at once queue for the writer thread"
        );
        let n: i64 = w
            .submit(|tx| {
                Ok::<_, StoreError>(tx.query_row(
                    "SELECT COUNT(*) FROM t WHERE v % 7 <> 0",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        let bad: i64 = w
            .submit(|tx| {
                Ok::<_, StoreError>(tx.query_row(
                    "SELECT COUNT(*) FROM t WHERE v % 7 = 0",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!((ok, n, bad), (171, 171, 0));
    }

    /// A job after which SQLite has rolled the group's transaction back
    /// (simulated with a plain ROLLBACK): nobody in the group is told
    /// "saved", and the jobs after it are not written outside a
    /// transaction. The group is run directly (no threads), so its makeup
    /// is exactly these five jobs.
    #[test]
    fn a_group_whose_transaction_sqlite_rolled_back_writes_nothing() {
        let (_dir, w) = writer();
        let (tx, rx) = mpsc::channel();
        let jobs: Vec<Job> = (0..5i64)
            .map(|i| {
                let tx = tx.clone();
                w.job(
                    move |t| {
                        t.execute("INSERT INTO t (v) VALUES (?1)", [i])?;
                        if i == 1 {
                            t.execute_batch("ROLLBACK")?;
                        }
                        Ok(())
                    },
                    move |r: StoreResult<()>| {
                        let _ = tx.send((i, r.is_ok()));
                    },
                )
            })
            .collect();
        drop(tx);
        {
            let mut conn = w.conn.lock().unwrap_or_else(|e| e.into_inner());
            run_group(&mut conn, jobs);
        }
        let mut outcomes: Vec<(i64, bool)> = rx.iter().collect();
        outcomes.sort();
        let told_saved: Vec<i64> = outcomes.iter().filter(|o| o.1).map(|o| o.0).collect();
        let stored: Vec<i64> = w
            .submit(|t| {
                let mut st = t.prepare("SELECT v FROM t ORDER BY v")?;
                let rows = st.query_map([], |r| r.get(0))?;
                Ok::<_, StoreError>(rows.collect::<Result<Vec<i64>, _>>()?)
            })
            .unwrap();
        assert_eq!(outcomes.len(), 5, "every caller is answered");
        assert_eq!(told_saved, Vec::<i64>::new());
        assert_eq!(
            stored, told_saved,
            "rows written although their callers were told no"
        );
    }

    #[test]
    fn a_panicking_request_does_not_kill_the_writer() {
        let (_dir, w) = writer();
        let r: StoreResult<()> = w.submit(|_| panic!("boom"));
        assert!(r.is_err());
        assert_eq!(w.submit(|_| Ok::<_, StoreError>(5)).unwrap(), 5);
    }
}
