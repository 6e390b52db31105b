//! `peek-server`: the Peek sync server and its admin commands. Thin: it
//! parses arguments and wires the `server` library together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use server::boot::{self, BootOptions};
use server::clock::{IdSource, OsIds, SystemClock};
use server::{backup, AppState};

#[derive(Parser)]
#[command(
    name = "peek-server",
    version,
    about = "Peek sync server: wire-compatible with the deployed Node server and a drop-in for its data directory",
    long_about = "Peek sync server.\n\nServes the Peek sync API (/items, /items/since, the legacy /webhook, /urls, /texts, /tagsets, /images, /tags, /profiles, /backups) plus additive extensions listed by GET / (change feed, batch push, paging, edit conflicts).\n\nPoint it at a data directory written by the Node server: it migrates legacy layouts on start (with backups first), keeps the same files, and serves the same users, profiles and items.\n\nQuick start for a newcomer:\n  peek-server serve --dev --data-dir ./data\nprints an API key for a local user and listens on 127.0.0.1:3000."
)]
struct Cli {
    /// Data directory (system.db, <user>/profiles/<uuid>/datastore.sqlite, backups/).
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the HTTP server (migrations and a backup run first).
    Serve {
        /// Address to listen on. Defaults to 127.0.0.1 and $PORT (3000).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Port when --listen is not given (the Node server's PORT).
        #[arg(long, env = "PORT", default_value_t = 3000)]
        port: u16,
        /// Legacy single key: becomes user "default" if there are no users yet.
        #[arg(long, env = "API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Development: on an empty data directory, create user "local" and print its key.
        #[arg(long)]
        dev: bool,
        /// Skip the backup taken before serving.
        #[arg(long)]
        no_startup_backup: bool,
    },
    /// Manage users (API keys are printed once and stored only as SHA-256).
    #[command(subcommand)]
    User(UserCmd),
    /// Manage profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Back up system.db and every user's profiles now.
    Backup,
    /// Restore a user's profiles from one of their backups (stop the
    /// server first). Clients notice the new feed epoch, push what they
    /// have and re-read the feed, so writes newer than the backup return.
    Restore {
        #[arg(long)]
        user: String,
        /// Backup folder name, as `GET /backups` lists it.
        backup: String,
    },
    /// Run the start-up migrations without serving; --dry-run only reports.
    Migrate {
        /// Report what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Legacy single key, as for `serve`.
        #[arg(long, env = "API_KEY", hide_env_values = true)]
        api_key: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; prints its API key once.
    Create {
        name: String,
        /// Use this key instead of a generated one (e.g. to keep a Node-era key).
        #[arg(long)]
        key: Option<String>,
    },
    /// List users.
    List,
    /// Replace a user's key; prints the new key once.
    RotateKey { name: String },
}

#[derive(Subcommand)]
enum ProfileCmd {
    /// List profiles (of one user, or of all).
    List {
        #[arg(long)]
        user: Option<String>,
    },
}

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Creates and removes a file in `dir`: whether it can be written at all.
fn probe_write(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(".peek-write-probe");
    std::fs::write(&probe, b"probe")?;
    std::fs::remove_file(probe)
}

/// Opens the data directory; a read-only or full one is named as such
/// (in the log and on stderr), so the operator knows what to fix.
fn open(data_dir: &std::path::Path) -> AnyResult<AppState> {
    AppState::open(data_dir, Arc::new(SystemClock), Arc::new(OsIds)).map_err(|e| {
        // SQLite says only "unable to open" when it cannot create its WAL
        // index in a read-only directory: ask the file system.
        let fault = match probe_write(data_dir) {
            Err(p) if p.kind() == std::io::ErrorKind::ReadOnlyFilesystem => Some("read_only"),
            Err(p) if p.kind() == std::io::ErrorKind::PermissionDenied => Some("read_only"),
            Err(p) if p.kind() == std::io::ErrorKind::StorageFull => Some("disk_full"),
            _ => e.storage_fault().map(|f| f.reason()),
        };
        let why = match fault {
            Some("disk_full") => " (disk_full: free some space and start again)",
            Some("read_only") => {
                " (read_only: mount it read-write or fix its permissions, and start again)"
            }
            Some(_) => " (io_error)",
            None => "",
        };
        let msg = format!(
            "cannot open the data directory {}: {e}{why}",
            data_dir.display()
        );
        tracing::error!("{msg}");
        msg.into()
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn serve(
    cli: &Cli,
    listen: SocketAddr,
    api_key: Option<String>,
    dev: bool,
    backup_on_start: bool,
) -> AnyResult<()> {
    let state = open(&cli.data_dir)?;
    state.stores.use_background_checkpoints();
    let opts = BootOptions {
        dry_run: false,
        legacy_api_key: api_key,
        backup_on_start,
    };
    let report = boot::prepare(&state, &opts)?;
    for a in &report.actions {
        tracing::info!("{a}");
    }
    if dev && state.system.user_count()? == 0 {
        let key = state.ids.api_key();
        state.system.create_user("local", &key, &state.now_iso())?;
        println!("dev user \"local\" created; API key (shown once):\n{key}");
    }
    // WAL checkpoints off the request path, often enough that the inline
    // backstop (see `store::datastore`) finds little to copy: at 32
    // connections that keeps POST p99 under 20 ms (scripts/bench).
    let ckpt = state.clone();
    std::thread::Builder::new()
        .name("wal-checkpoint".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
            ckpt.stores.checkpoint_all();
        })?;
    let daily = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let s = daily.clone();
            match tokio::task::spawn_blocking(move || backup::run_due(&s)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(users = n, "daily backups taken"),
                Ok(Err(e)) => tracing::error!(error = %e, "daily backup failed"),
                _ => {}
            }
        }
    });
    let app = server::app(state).layer(tower_http::trace::TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, data_dir = %cli.data_dir.display(), "peek-server listening");
    println!("peek-server listening on http://{listen}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

fn run(cli: Cli) -> AnyResult<()> {
    match &cli.cmd {
        Cmd::Serve {
            listen,
            port,
            api_key,
            dev,
            no_startup_backup,
        } => {
            let addr = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], *port)));
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(serve(&cli, addr, api_key.clone(), *dev, !no_startup_backup))
        }
        Cmd::User(UserCmd::Create { name, key }) => {
            let state = open(&cli.data_dir)?;
            let key = key.clone().unwrap_or_else(|| OsIds.api_key());
            state.system.create_user(name, &key, &state.now_iso())?;
            println!("user {name} created; API key (shown once):\n{key}");
            Ok(())
        }
        Cmd::User(UserCmd::List) => {
            for u in open(&cli.data_dir)?.system.users()? {
                println!("{}\t{}", u.id, u.created_at);
            }
            Ok(())
        }
        Cmd::User(UserCmd::RotateKey { name }) => {
            let state = open(&cli.data_dir)?;
            let key = OsIds.api_key();
            if !state.system.set_key(name, &key)? {
                return Err(format!("no user named {name}").into());
            }
            println!("new API key for {name} (shown once; the old one no longer works):\n{key}");
            Ok(())
        }
        Cmd::Profile(ProfileCmd::List { user }) => {
            let state = open(&cli.data_dir)?;
            let all = match user {
                Some(u) => state.system.profiles(u)?,
                None => state.system.all_profiles()?,
            };
            for p in all {
                println!("{}\t{}\t{}\t{}", p.user_id, p.id, p.slug, p.name);
            }
            Ok(())
        }
        Cmd::Backup => {
            let state = open(&cli.data_dir)?;
            for b in backup::backup_all(&state)? {
                println!("{}", server::http::backups::created_body(&b));
            }
            Ok(())
        }
        Cmd::Restore { user, backup: name } => {
            let state = open(&cli.data_dir)?;
            let restored = backup::restore_user(&state, user, name)?;
            println!("{}", serde_json::to_value(restored)?);
            Ok(())
        }
        Cmd::Migrate { dry_run, api_key } => {
            let state = open(&cli.data_dir)?;
            let opts = BootOptions {
                dry_run: *dry_run,
                legacy_api_key: api_key.clone(),
                backup_on_start: false,
            };
            let report = boot::prepare(&state, &opts)?;
            if report.actions.is_empty() {
                println!("nothing to migrate");
            }
            for a in report.actions {
                println!("{}{a}", if *dry_run { "[dry-run] " } else { "" });
            }
            Ok(())
        }
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("peek-server: {e}");
        std::process::exit(1);
    }
}
