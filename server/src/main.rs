//! `peek-server`: the Peek sync server and its admin commands. Thin: it
//! parses arguments and wires the `server` library together.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use server::boot::{self, BootOptions};
use server::clock::{IdSource, OsIds, SystemClock};
use server::data_lock::DataDirLock;
use server::metrics::Metrics;
use server::store::system::is_servable_user_id;
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
    /// Only `serve` and `user create` create it; every other command
    /// refuses one that does not exist.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// Log lines on stderr: `text` (coloured only on a terminal) or `json`
    /// (one object per line, for journald or a log shipper).
    #[arg(long, env = "PEEK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
        /// Legacy single key: becomes user "default" if there are no users
        /// yet. Also read from the Node server's API_KEY when PEEK_API_KEY
        /// is unset.
        #[arg(long, env = "PEEK_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Development: on an empty data directory, create user "local" and print its key.
        #[arg(long)]
        dev: bool,
        /// Skip the backup taken before serving.
        #[arg(long)]
        no_startup_backup: bool,
        /// Serve Prometheus metrics (GET /metrics, and GET /healthz) on this
        /// second address, without auth: bind it to localhost or a private
        /// network. Off when absent.
        #[arg(long, env = "PEEK_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
    },
    /// Manage users (API keys are printed once and stored only as SHA-256).
    #[command(subcommand)]
    User(UserCmd),
    /// Manage profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Back up system.db and every user's profiles now (`backup list`: list them).
    Backup {
        #[command(subcommand)]
        cmd: Option<BackupCmd>,
    },
    /// Restore a user's profiles from one of their backups (server stopped).
    ///
    /// Refused while a server holds the data directory. Clients notice the
    /// new feed epoch, push what they have and re-read the feed, so writes
    /// newer than the backup return. Profiles that lost their row (a
    /// deleted and re-created user) get it back.
    Restore {
        #[arg(long)]
        user: String,
        /// Backup folder name, as `GET /backups` lists it.
        backup: String,
    },
    /// Run the start-up migrations without serving; --dry-run only reports.
    ///
    /// Refused (except --dry-run) while a server holds the data directory.
    Migrate {
        /// Report what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Legacy single key, as for `serve`.
        #[arg(long, env = "PEEK_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
    },
    /// Exit 0 if a server answers GET /healthz with 200 (for HEALTHCHECK).
    ///
    /// Checks 127.0.0.1:$PORT unless --addr; needs no curl in the image.
    Healthcheck {
        #[arg(long)]
        addr: Option<SocketAddr>,
        #[arg(long, env = "PORT", default_value_t = 3000)]
        port: u16,
    },
}

#[derive(Subcommand)]
enum BackupCmd {
    /// List every backup on disk (system.db copies, then each user's,
    /// newest first): time, user, bytes, folder. Deleted users' too.
    List,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; prints its API key once. A name is 1 to 128 of
    /// A-Z a-z 0-9 - _ . @, starting with a letter or digit.
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
    /// Delete a user (after a final backup); its data folder is kept unless --purge.
    ///
    /// Its row and key go (its requests get 401 at once), and its
    /// profiles' rows. Undo: `user create NAME`, then `restore --user NAME
    /// <final backup>`.
    Delete {
        name: String,
        /// Also remove the user's data folder, after the final backup
        /// (refused while a server holds the data directory). Its backups
        /// are kept either way.
        #[arg(long)]
        purge: bool,
    },
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

/// What a command needs of its data directory. Only commands that make a
/// deployment may create one; the others would otherwise turn a mistyped
/// `--data-dir` into a fresh, empty directory and report "no users".
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// `serve` and `user create`: created if missing.
    MayCreate,
    /// `migrate`: must exist (a legacy one may have no `system.db` yet).
    Existing,
    /// Everything else: must hold `system.db`.
    SystemDb,
}

fn check_data_dir(dir: &Path, needs: Needs) -> AnyResult<()> {
    if needs == Needs::MayCreate {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(format!(
            "no data directory at {}: check --data-dir (or DATA_DIR); only `serve` and `user create` create one",
            dir.display()
        )
        .into());
    }
    if needs == Needs::SystemDb && !dir.join("system.db").is_file() {
        return Err(format!(
            "{} is not a Peek data directory (it has no system.db): check --data-dir (or DATA_DIR)",
            dir.display()
        )
        .into());
    }
    Ok(())
}

/// Takes the data directory's lock for `command` (see `server::data_lock`).
fn lock(dir: &Path, command: &str) -> AnyResult<DataDirLock> {
    Ok(DataDirLock::acquire(dir, command)?)
}

/// `--api-key`/`PEEK_API_KEY`, else the Node server's `API_KEY`, so that a
/// Node deployment's environment keeps its legacy key.
fn legacy_key(flag: &Option<String>) -> Option<String> {
    flag.clone()
        .or_else(|| std::env::var("API_KEY").ok())
        .filter(|k| !k.is_empty())
}

struct ServeOptions {
    listen: SocketAddr,
    api_key: Option<String>,
    dev: bool,
    backup_on_start: bool,
    metrics_listen: Option<SocketAddr>,
}

async fn serve(cli: &Cli, o: ServeOptions) -> AnyResult<()> {
    check_data_dir(&cli.data_dir, Needs::MayCreate)?;
    // Before anything reads or migrates: a second server fails here, at
    // once, naming the first.
    let held = lock(&cli.data_dir, "peek-server serve")?;
    held.set_listen(&o.listen.to_string())?;
    let state = open(&cli.data_dir)?;
    state.stores.use_background_checkpoints();
    let opts = BootOptions {
        dry_run: false,
        legacy_api_key: o.api_key,
        backup_on_start: o.backup_on_start,
    };
    let report = boot::prepare(&state, &opts)?;
    for a in &report.actions {
        tracing::info!("{a}");
    }
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    if o.dev && state.system.user_count()? == 0 {
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
    let metrics = o.metrics_listen.map(|_| Metrics::new());
    if let (Some(addr), Some(m)) = (o.metrics_listen, &metrics) {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
        let addr = l.local_addr().unwrap_or(addr);
        let app = server::metrics::router(state.clone(), m.clone());
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        });
    }
    let app = server::http::observe::layer(server::app(state), metrics);
    let listener = tokio::net::TcpListener::bind(o.listen).await.map_err(|e| {
        format!(
            "cannot listen on {}: {e} (is another server using that address?)",
            o.listen
        )
    })?;
    let listen = listener.local_addr().unwrap_or(o.listen);
    held.set_listen(&listen.to_string())?;
    tracing::info!(%listen, data_dir = %cli.data_dir.display(), "peek-server listening");
    println!("peek-server listening on http://{listen}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    drop(held);
    Ok(())
}

fn run(cli: Cli) -> AnyResult<()> {
    let dir = cli.data_dir.clone();
    match &cli.cmd {
        Cmd::Serve {
            listen,
            port,
            api_key,
            dev,
            no_startup_backup,
            metrics_listen,
        } => {
            let opts = ServeOptions {
                listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], *port))),
                api_key: legacy_key(api_key),
                dev: *dev,
                backup_on_start: !no_startup_backup,
                metrics_listen: *metrics_listen,
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(serve(&cli, opts))
        }
        Cmd::User(UserCmd::Create { name, key }) => {
            check_data_dir(&dir, Needs::MayCreate)?;
            let state = open(&dir)?;
            let key = key.clone().unwrap_or_else(|| OsIds.api_key());
            state.system.create_user(name, &key, &state.now_iso())?;
            println!("user {name} created; API key (shown once):\n{key}");
            Ok(())
        }
        Cmd::User(UserCmd::List) => {
            check_data_dir(&dir, Needs::SystemDb)?;
            for u in open(&dir)?.system.users()? {
                if is_servable_user_id(&u.id) {
                    println!("{}\t{}", u.id, u.created_at);
                } else {
                    println!(
                        "{:?}\t{}\tinvalid name: not served (peek-server user delete {:?})",
                        u.id, u.created_at, u.id
                    );
                }
            }
            Ok(())
        }
        Cmd::User(UserCmd::RotateKey { name }) => {
            check_data_dir(&dir, Needs::SystemDb)?;
            let state = open(&dir)?;
            let key = OsIds.api_key();
            if !state.system.set_key(name, &key)? {
                return Err(format!("no user named {name}").into());
            }
            println!("new API key for {name} (shown once; the old one no longer works):\n{key}");
            Ok(())
        }
        Cmd::User(UserCmd::Delete { name, purge }) => {
            check_data_dir(&dir, Needs::SystemDb)?;
            // Removing files a running server may have open needs it
            // stopped; removing rows does not.
            let _held = match purge {
                true => Some(lock(&dir, "peek-server user delete --purge")?),
                false => None,
            };
            delete_user(&open(&dir)?, name, *purge)
        }
        Cmd::Profile(ProfileCmd::List { user }) => {
            check_data_dir(&dir, Needs::SystemDb)?;
            let state = open(&dir)?;
            let all = match user {
                Some(u) => state.system.profiles(u)?,
                None => state.system.all_profiles()?,
            };
            for p in all {
                println!("{}\t{}\t{}\t{}", p.user_id, p.id, p.slug, p.name);
            }
            Ok(())
        }
        Cmd::Backup { cmd: None } => {
            check_data_dir(&dir, Needs::SystemDb)?;
            let state = open(&dir)?;
            for b in backup::backup_all(&state)? {
                println!("{}", server::http::backups::created_body(&b));
            }
            Ok(())
        }
        Cmd::Backup {
            cmd: Some(BackupCmd::List),
        } => {
            check_data_dir(&dir, Needs::SystemDb)?;
            let all = backup::list_all(&dir)?;
            if all.is_empty() {
                println!("no backups in {}", dir.join("backups").display());
            }
            for b in all {
                println!(
                    "{}\t{}\t{}\t{}",
                    server::timestamp::format_iso(b.taken_ms),
                    b.user.as_deref().unwrap_or("(system.db)"),
                    b.size,
                    b.name
                );
            }
            Ok(())
        }
        Cmd::Restore { user, backup: name } => {
            check_data_dir(&dir, Needs::SystemDb)?;
            let _held = lock(&dir, "peek-server restore")?;
            let state = open(&dir)?;
            if !state.system.user_exists(user)? {
                return Err(format!(
                    "no user named {user}: to bring a deleted user back, `peek-server user create {user}` first, then restore"
                )
                .into());
            }
            let restored = backup::restore_user(&state, user, name)?;
            let (back, left) = backup::reregister_profiles(&state, user, name, &restored)?;
            let mut out = serde_json::to_value(&restored)?;
            if !back.is_empty() {
                out["reregistered"] = serde_json::json!(back);
            }
            if !left.is_empty() {
                out["unregistered"] = serde_json::json!(left);
                eprintln!("peek-server: restored but not served (their slug is taken by a newer profile): {left:?}");
            }
            println!("{out}");
            Ok(())
        }
        Cmd::Healthcheck { addr, port } => {
            healthcheck(addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], *port))))
        }
        Cmd::Migrate { dry_run, api_key } => {
            check_data_dir(&dir, Needs::Existing)?;
            let _held = match dry_run {
                true => None,
                false => Some(lock(&dir, "peek-server migrate")?),
            };
            let state = open(&dir)?;
            let opts = BootOptions {
                dry_run: *dry_run,
                legacy_api_key: legacy_key(api_key),
                backup_on_start: false,
            };
            let report = boot::prepare(&state, &opts)?;
            for w in &report.warnings {
                eprintln!("peek-server: warning: {w}");
            }
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

/// `healthcheck`: one `GET /healthz`, every step bounded by a timeout.
fn healthcheck(addr: SocketAddr) -> AnyResult<()> {
    use std::io::{BufRead, Write};
    let limit = std::time::Duration::from_secs(3);
    let mut s = std::net::TcpStream::connect_timeout(&addr, limit)
        .map_err(|e| format!("no server at {addr}: {e}"))?;
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))?;
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut status = String::new();
    std::io::BufReader::new(s).read_line(&mut status)?;
    match status.split_whitespace().nth(1) {
        Some("200") => {
            println!("ok");
            Ok(())
        }
        _ => Err(format!("{addr} answered {:?} to GET /healthz", status.trim()).into()),
    }
}

/// `user delete`: a final backup, then the rows, then (with `purge`) the
/// data folder. Each step says what it did and where things are.
fn delete_user(state: &AppState, name: &str, purge: bool) -> AnyResult<()> {
    if !state.system.user_exists(name)? {
        return Err(format!("no user named {name:?}").into());
    }
    // A row with an invalid name never had a folder: nothing to back up.
    let servable = is_servable_user_id(name);
    let last = match servable {
        true => backup::backup_user(state, name)?,
        false => None,
    };
    let gone = state
        .system
        .delete_user(name)?
        .ok_or_else(|| format!("no user named {name:?}"))?;
    println!(
        "user {name:?} deleted: its key no longer works; {} profile(s) unregistered",
        gone.profiles.len()
    );
    if let Some(b) = &last {
        println!("final backup: {}", b.path.display());
    }
    let folder = state.data_dir.join(name);
    if servable && folder.is_dir() {
        if purge {
            std::fs::remove_dir_all(&folder)
                .map_err(|e| format!("cannot remove {}: {e}", folder.display()))?;
            println!("removed its data folder {}", folder.display());
        } else {
            println!(
                "its data is kept in {} (remove it by hand, or delete with --purge)",
                folder.display()
            );
        }
    }
    if servable {
        println!(
            "its backups are kept in {}",
            state.data_dir.join("backups").join(name).display()
        );
    }
    Ok(())
}

/// Log lines to stderr, as `--log-format` says. Colours only on a
/// terminal (a file or journald gets plain text) and never with NO_COLOR.
/// The default `info` shows the start-up steps and one access line per
/// request (`http::observe`).
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            b.with_ansi(ansi).init();
        }
        LogFormat::Json => b
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

fn main() {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    if let Err(e) = run(cli) {
        eprintln!("peek-server: {e}");
        std::process::exit(1);
    }
}
