//! `peek-sim`: the simulator's command line. Thin: parses arguments, calls
//! `sim::run`, prints. See `peek-sim --help`.

mod cli;
mod sessions;

fn main() {
    std::process::exit(cli::main());
}
