//! The session commands: `replay` of a session file against servers,
//! `replay-client`, `record` and `import-har`. See `docs/session-format.md`.

use std::sync::Arc;

use sim::cast::{Cast, Clients, Wall};
use std::path::Path;
use std::time::Instant;

use engine::Model;
use protocol::OsIds;
use sim::account::Scratch;
use sim::session::replay::{self, Target};
use sim::session::{har, playback, record, Session};

/// `--server`/`--key` pairs (`in-process` needs no key) → targets; each
/// URL gets a scratch space on its account, its run id from the OS.
fn targets(servers: &[String], keys: &[String], keep: bool) -> Result<Vec<Target>, String> {
    if servers.is_empty() {
        return Ok(vec![Target::in_process()]);
    }
    let mut keys = keys.iter();
    servers
        .iter()
        .map(|s| {
            if s == "in-process" {
                return Ok(Target::in_process());
            }
            let key = keys
                .next()
                .ok_or_else(|| format!("--server {s} needs a --key (one per URL, in order)"))?;
            let scratch =
                Scratch::open(s, key, "replay", &OsIds, keep).map_err(|e| format!("{s}: {e}"))?;
            Ok(Target::http(scratch))
        })
        .collect()
}

/// Before a replay into a running server: what its account holds that the
/// run will not touch; after it: what became of the scratch profiles.
/// Ctrl-C in between still cleans up.
fn open_scratch(targets: &[Target]) -> Result<(), String> {
    for s in targets.iter().filter_map(Target::scratch) {
        let survey = s.survey().map_err(|e| format!("{}: {e}", s.base()))?;
        if let Some(w) = survey.warning(s) {
            eprint!("{w}");
        }
        s.finish_on_interrupt();
    }
    Ok(())
}

/// Ends every scratch space (deleting its profiles) and says what became
/// of it, to be printed after the report.
fn finish_scratch(targets: &[Target]) -> String {
    targets
        .iter()
        .filter_map(Target::scratch)
        .map(|s| format!("{}: {}", s.base(), s.finish()))
        .collect()
}

/// `peek-sim replay SESSION [--server URL --key KEY]… [--strict]`.
pub fn cmd_replay(
    file: &Path,
    servers: &[String],
    keys: &[String],
    strict: bool,
    keep_scratch: bool,
) -> i32 {
    let (header, lines) = match Session::stream(file) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("peek-sim: {}: {e}", file.display());
            return 2;
        }
    };
    let mut targets = match targets(servers, keys, keep_scratch) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("peek-sim: {e}");
            return 2;
        }
    };
    if let Err(e) = open_scratch(&targets) {
        eprintln!("peek-sim: {e}");
        eprint!("{}", finish_scratch(&targets));
        return 2;
    }
    println!(
        "session {}: recorded by {} ({}), replaying against {}",
        file.display(),
        header.recorder.tool,
        header.recorder.mode,
        targets
            .iter()
            .map(Target::name)
            .collect::<Vec<_>>()
            .join(" and ")
    );
    let started = Instant::now();
    let replayed = replay::replay_all(&header, lines, &mut targets);
    let cleanup = finish_scratch(&targets);
    let (reports, diffs) = match replayed {
        Ok(r) => r,
        Err(e) => {
            eprint!("{cleanup}");
            eprintln!("peek-sim: replay could not run: {e}");
            return 2;
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let mut diverged = false;
    for report in &reports {
        print!("{}", replay::render(report, strict));
        diverged |= !report.is_clean();
    }
    let exchanges = reports.first().map_or(0, |r| r.outcomes.len());
    let sent: usize = reports.iter().map(replay::Report::sent).sum();
    println!(
        "replayed {exchanges} exchanges ({sent} requests sent) in {secs:.2} s: {:.0} exchanges/s",
        exchanges as f64 / secs.max(1e-9)
    );
    if reports.len() > 1 {
        println!(
            "differential {} vs the others: {} exchanges answered differently",
            reports[0].target,
            diffs.len()
        );
        for (seq, line, d) in diffs.iter().take(if strict { 1 } else { usize::MAX }) {
            println!("  #{seq} {line}");
            for x in d.iter().take(5) {
                println!("      {x}");
            }
        }
        diverged |= !diffs.is_empty();
    }
    print!("{cleanup}");
    if diverged && strict {
        println!("FAIL: divergence (--strict)");
        1
    } else {
        0
    }
}

/// `peek-sim replay-client SESSION [--model M | --client driver:CMD]`.
pub fn cmd_replay_client(file: &Path, model: Option<&str>, client: Option<&str>) -> i32 {
    let (header, lines) = match Session::stream(file) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("peek-sim: {}: {e}", file.display());
            return 2;
        }
    };
    let model = match model.map(|m| Model::parse(m).ok_or(m)).transpose() {
        Ok(m) => m,
        Err(m) => {
            eprintln!("peek-sim: unknown model {m:?}");
            return 2;
        }
    };
    let cast = match client {
        None => Cast::default(),
        Some(c) => match c.strip_prefix("driver:").map(str::trim) {
            Some(cmd) if !cmd.is_empty() => Cast {
                clients: Clients::Driver(cmd.to_string()),
                real_time: Some(Arc::new(Wall)),
                ..Cast::default()
            },
            _ => {
                eprintln!(
                    "peek-sim: --client takes driver:CMD (docs/driver-protocol.md), got {c:?}"
                );
                return 2;
            }
        },
    };
    let started = Instant::now();
    let reports = match playback::replay_client_lines(&header, lines, model, &cast) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("peek-sim: {e}");
            return 2;
        }
    };
    let mut clean = true;
    for r in &reports {
        clean &= r.is_clean();
        println!(
            "{} ({}): {} requests recorded, {} made, {} differ",
            r.device, r.model, r.recorded, r.made, r.divergent
        );
        if let Some((i, line, d)) = &r.first {
            println!("  first at request {i}: recorded {line}");
            for x in d.iter().take(5) {
                println!("      {x}");
            }
        }
    }
    let made: usize = reports.iter().map(|r| r.made).sum();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "replayed {made} requests in {secs:.2} s ({:.0}/s, the world's local work included)",
        made as f64 / secs.max(1e-9)
    );
    if clean {
        println!("ok: every device made exactly the recorded requests");
        0
    } else {
        println!("FAIL: the client's requests differ from the recording");
        1
    }
}

/// `peek-sim record --listen ADDR --upstream URL --out FILE`.
pub fn cmd_record(listen: &str, upstream: &str, out: &Path, limit: Option<u64>) -> i32 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peek-sim: {e}");
            return 2;
        }
    };
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("peek-sim: cannot listen on {listen}: {e}");
                return 2;
            }
        };
        let addr = listener
            .local_addr()
            .map_or(listen.to_string(), |a| a.to_string());
        eprintln!(
            "recording: point the app at http://{addr} (forwarding to {upstream}); writing {}; Ctrl-C stops",
            out.display()
        );
        match record::run(listener, upstream, out, limit).await {
            Ok(n) => {
                println!("{n} exchanges recorded to {}", out.display());
                0
            }
            Err(e) => {
                eprintln!("peek-sim: {e}");
                2
            }
        }
    })
}

/// `peek-sim import-har HAR --out FILE [--host URL]`.
pub fn cmd_import_har(file: &Path, out: &Path, host: Option<&str>) -> i32 {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("peek-sim: {}: {e}", file.display());
            return 2;
        }
    };
    match har::import(&text, host) {
        Ok(s) => {
            let n = s.exchanges().count();
            if let Err(e) = std::fs::write(out, s.to_jsonl()) {
                eprintln!("peek-sim: {}: {e}", out.display());
                return 2;
            }
            println!("{n} exchanges imported to {}", out.display());
            0
        }
        Err(e) => {
            eprintln!("peek-sim: {}: {e}", file.display());
            2
        }
    }
}
