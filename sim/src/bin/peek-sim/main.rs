//! `peek-sim`: the simulator's command line. Thin: parses arguments
//! (`args`), calls the library (`sim::run`, `sim::explore`, `sim::report`,
//! `sim::session`), prints; the progress bar (`progress`) is the only thing
//! it draws itself. See `peek-sim --help`.

// A shell (clippy.toml): it times runs for the people watching them; no
// wall time reaches a world, a verdict or a trace.
#![allow(clippy::disallowed_methods)]

mod args;
mod progress;
mod sessions;
mod worlds;

use args::{Cli, Cmd};
use clap::Parser as _;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    sim::report::set_program(invocation());
    std::process::exit(dispatch());
}

/// How to run this binary again from the same shell, so that the `repro:`
/// lines it prints work when pasted: through cargo when `cargo run`
/// started it (its parent is cargo, which set `CARGO_PKG_NAME` to ours),
/// by the path it was started with when that was a path, else by name.
fn invocation() -> String {
    let parent_is_cargo = std::fs::read_to_string(format!(
        "/proc/{}/comm",
        std::os::unix::process::parent_id()
    ))
    .is_ok_and(|comm| comm.trim_end() == "cargo");
    if parent_is_cargo && std::env::var("CARGO_PKG_NAME").as_deref() == Ok(env!("CARGO_PKG_NAME")) {
        let release = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        return format!("cargo run{release} -p {} --", env!("CARGO_PKG_NAME"));
    }
    match std::env::args().next() {
        Some(arg0) if arg0.contains('/') && !arg0.contains(|c: char| c.is_whitespace()) => arg0,
        _ => "peek-sim".to_string(),
    }
}

/// Parses the command line and runs the command; the exit code.
fn dispatch() -> i32 {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run {
            seed,
            world,
            trace,
            check_determinism,
            shrink_budget,
            minimized_out,
        } => match world.options() {
            Ok(opts) => worlds::cmd_run(
                seed,
                &opts,
                trace.as_deref(),
                check_determinism,
                shrink_budget,
                minimized_out.as_deref(),
            ),
            Err(e) => {
                eprintln!("peek-sim: {e}");
                2
            }
        },
        Cmd::Explore {
            seeds,
            from,
            jobs,
            shard,
            out,
            junit,
            max_cost,
            world,
        } => match world.options() {
            Ok(opts) => worlds::cmd_explore(
                from,
                seeds,
                jobs,
                shard,
                worlds::Outputs {
                    results: out.as_deref(),
                    junit: junit.as_deref(),
                    max_cost,
                },
                &opts,
            ),
            Err(e) => {
                eprintln!("peek-sim: {e}");
                2
            }
        },
        Cmd::Merge {
            files,
            partial,
            junit,
            max_cost,
        } => worlds::cmd_merge(&files, partial, junit.as_deref(), max_cost),
        Cmd::Replay {
            file,
            server,
            key,
            strict,
            keep_scratch,
            trace,
        } => {
            if sim::session::Session::sniff(&file) {
                sessions::cmd_replay(&file, &server, &key, strict, keep_scratch)
            } else {
                worlds::cmd_replay(&file, trace.as_deref())
            }
        }
        Cmd::ReplayClient {
            file,
            model,
            client,
        } => sessions::cmd_replay_client(&file, model.as_deref(), client.as_deref()),
        Cmd::Record {
            listen,
            upstream,
            out,
            exchanges,
        } => sessions::cmd_record(&listen, &upstream, &out, exchanges),
        Cmd::ImportHar { file, out, host } => {
            sessions::cmd_import_har(&file, &out, host.as_deref())
        }
        Cmd::Timeline { trace, out, format } => match sim::timeline::render_file(
            &trace,
            &out,
            format
                .as_deref()
                .and_then(sim::timeline::Format::parse)
                .unwrap_or_else(|| sim::timeline::Format::of_path(&out)),
        ) {
            Ok(n) => {
                println!("{n} exchanges drawn to {}", out.display());
                0
            }
            Err(e) => {
                eprintln!("peek-sim: {e}");
                2
            }
        },
    }
}
