//! `peek-sim`: the simulator's command line. Thin: parses arguments, calls
//! `sim::run`, prints. See `peek-sim --help`.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
