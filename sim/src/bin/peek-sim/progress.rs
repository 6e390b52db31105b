//! What `peek-sim explore` shows on stderr while its seeds run. On a
//! terminal: an indicatif bar (seeds done, failures, exchanges/s, elapsed,
//! ETA) redrawn in place. In a log (CI, a pipe): one plain line per tenth
//! of the run instead of thousands of redraws. The shell holds the clock
//! here; the library's `explore` only tells it when a seed is done.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use sim::explore::{Progress, SeedReport};

/// How often the bar is redrawn even without a finished seed (elapsed
/// time and ETA move on).
const TICK: Duration = Duration::from_millis(250);

pub struct Watch {
    seeds: u64,
    started: Instant,
    done: AtomicU64,
    failing: AtomicU64,
    exchanges: AtomicU64,
    view: View,
}

enum View {
    Bar(ProgressBar),
    /// The last tenth of the run logged.
    Log(Mutex<u64>),
}

impl Watch {
    /// Starts watching a run of `seeds` seeds that began at `started`.
    pub fn start(seeds: u64, started: Instant) -> Self {
        let view = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(seeds);
            let style = ProgressStyle::with_template(
                "[{bar:30}] {pos}/{len} seeds, {msg}, {elapsed}, ETA {eta}",
            )
            .map_or_else(
                |_| ProgressStyle::default_bar(),
                |s| s.progress_chars("#>."),
            );
            bar.set_style(style);
            bar.set_message("0 failing");
            bar.enable_steady_tick(TICK);
            View::Bar(bar)
        } else {
            View::Log(Mutex::new(0))
        };
        Self {
            seeds,
            started,
            done: AtomicU64::new(0),
            failing: AtomicU64::new(0),
            exchanges: AtomicU64::new(0),
            view,
        }
    }

    /// Leaves the bar's last state on the terminal.
    pub fn finish(&self) {
        if let View::Bar(bar) = &self.view {
            bar.finish();
        }
    }
}

impl Progress for Watch {
    fn seed_done(&self, report: &SeedReport) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let failing = if report.verdict.passed() {
            self.failing.load(Ordering::SeqCst)
        } else {
            self.failing.fetch_add(1, Ordering::SeqCst) + 1
        };
        let exchanges =
            self.exchanges.fetch_add(report.exchanges, Ordering::SeqCst) + report.exchanges;
        let secs = self.started.elapsed().as_secs_f64();
        match &self.view {
            View::Bar(bar) => {
                bar.set_message(format!(
                    "{failing} failing, {:.0} exchanges/s",
                    exchanges as f64 / secs.max(1e-3)
                ));
                bar.inc(1);
            }
            View::Log(logged) => {
                let tenth = n * 10 / self.seeds.max(1);
                let mut logged = logged.lock().unwrap_or_else(|e| e.into_inner());
                if tenth > *logged {
                    *logged = tenth;
                    eprintln!("{n}/{} seeds, {failing} failing, {secs:.0}s", self.seeds);
                }
            }
        }
    }
}
