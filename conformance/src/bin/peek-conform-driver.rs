//! `peek-conform-driver`: the reference engine behind the driver protocol
//! (`docs/driver-protocol.md`), syncing over real HTTP. It proves the
//! protocol: the suite gives the same results through it as in-process.

use clap::Parser;
use conformance::client::EngineClient;
use engine::Model;

#[derive(Parser)]
#[command(
    name = "peek-conform-driver",
    version,
    about = "The Peek reference engine as a conformance driver (JSON lines on stdin/stdout)"
)]
struct Cli {
    /// Platform model to run (`reference`, `js-engine`, `electron`, …).
    #[arg(long, default_value = "reference")]
    model: String,
}

fn main() {
    let cli = Cli::parse();
    let Some(model) = Model::parse(&cli.model) else {
        eprintln!("unknown model {:?}", cli.model);
        std::process::exit(2);
    };
    // Two driver processes in one scenario must not mint the same ids: the
    // process id seeds this device's id source.
    let mut client = match EngineClient::new(model, u64::from(std::process::id()) << 16) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let stdin = std::io::stdin();
    let name = format!(
        "peek-sync {} (model {})",
        env!("CARGO_PKG_VERSION"),
        model.name()
    );
    if let Err(e) =
        conformance::driver::serve::serve(&mut client, &name, stdin.lock(), std::io::stdout())
    {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
