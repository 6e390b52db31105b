//! `peek-sync`: the reference client on the command line. Thin: parses
//! arguments and wires the library together (the only place that reads
//! the wall clock, the OS RNG and the host name).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use engine::model::ItemType;
use engine::store::items::{Deleted, Edit, NewItem};
use engine::transport::{check_server_url, HttpTransport, DEFAULT_TIMEOUT};
use engine::{Mode, Model, Store, SyncConfig, SyncSession};
use protocol::clock::{Clock, IdSource, OsIds, SystemClock};

const AFTER_HELP: &str = "\
Examples:
  peek-sync --db ~/peek.db config --server https://peek.example --key \"$PEEK_API_KEY\"
  peek-sync --db ~/peek.db add url https://example.com --tag reading
  peek-sync --db ~/peek.db add image photo.png --tag holiday
  peek-sync --db ~/peek.db sync
  peek-sync list --db ~/peek.db            # --db also goes after the command
  export PEEK_SYNC_DB=~/peek.db; peek-sync status

Environment:
  PEEK_SYNC_DB   the database file (instead of --db)
  PEEK_API_KEY   the API key for `config` (instead of --key)

Exit status: 0 on success (deleting an item that is already deleted is a
success: it prints \"already deleted\"), 1 on an error, 2 on bad arguments.";

#[derive(Parser)]
#[command(
    name = "peek-sync",
    version,
    about = "Reference Peek sync client: a local SQLite store synced with a Peek server",
    after_help = AFTER_HELP
)]
struct Cli {
    /// The local database file: created if missing; a file that is not a
    /// peek-sync database (a server's system.db, another app's) is refused
    /// and left unchanged.
    #[arg(long, env = "PEEK_SYNC_DB", global = true, value_name = "FILE")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// A URL (CONTENT is the URL).
    Url,
    /// A text note (CONTENT is the text).
    Text,
    /// A set of tags (no CONTENT; at least one --tag).
    Tagset,
    /// An image (CONTENT is the path of the file; up to 10 MiB).
    Image,
}

#[derive(Subcommand)]
enum Cmd {
    /// Sets the server URL, API key, server profile, platform model and
    /// device name.
    #[command(after_help = "\
Examples:
  peek-sync config --server http://127.0.0.1:3000 --key \"$KEY\"
  PEEK_API_KEY=... peek-sync config --server https://peek.example --device laptop
  peek-sync config --server https://peek.example --key \"$KEY\" --profile 7f3c…  # one server profile")]
    Config {
        /// Server base URL: http:// or https://, a host, optionally a port
        /// and a path prefix.
        #[arg(long, value_name = "URL")]
        server: String,
        /// API key of your user on that server.
        #[arg(long, env = "PEEK_API_KEY", hide_env_values = true)]
        key: String,
        /// Server profile UUID or slug (default: the server's default
        /// profile).
        #[arg(long, value_name = "UUID")]
        profile: Option<String>,
        /// Which client to behave like: reference (this engine, the
        /// default), js-engine, electron, tauri-desktop, tauri-mobile,
        /// extension (docs/platform-models.md).
        #[arg(long, default_value = "reference", value_name = "NAME")]
        model: String,
        /// How this install names itself to the server and in recordings
        /// (`X-Peek-Device`; default: host name and a per-install id).
        #[arg(long, value_name = "NAME")]
        device: Option<String>,
    },
    /// Adds an item and prints its local id.
    #[command(after_help = "\
Examples:
  peek-sync add url https://example.com --tag reading --tag later
  peek-sync add text \"call Ana\"
  peek-sync add tagset --tag work --tag urgent
  peek-sync add image ~/Pictures/cat.png --tag cats")]
    Add {
        /// The kind of item.
        kind: Kind,
        /// The URL, the text, or the image file's path.
        content: Option<String>,
        /// A tag (repeat for several).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Edits an item: new content and/or a new tag set.
    #[command(after_help = "\
Examples:
  peek-sync update 3f2a… --content https://example.org
  peek-sync update 3f2a… --tag done        # replaces all tags")]
    Update {
        /// The item's local id (`list` shows it).
        id: String,
        /// The new content.
        #[arg(long)]
        content: Option<String>,
        /// The new tag set: every --tag given replaces all old tags.
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Deletes an item (a tombstone that syncs). Deleting it again prints
    /// "already deleted" and succeeds.
    #[command(after_help = "Example:\n  peek-sync delete 3f2a…")]
    Delete {
        /// The item's local id (`list` shows it).
        id: String,
    },
    /// Lists items, oldest first: id, type, content (one line, shortened
    /// unless --full) and tags.
    #[command(after_help = "\
Examples:
  peek-sync list
  peek-sync list --full --include-deleted
  peek-sync list --json | jq .content")]
    List {
        /// One JSON object per line, with every field and the whole content.
        #[arg(long)]
        json: bool,
        /// Show tombstones too.
        #[arg(long)]
        include_deleted: bool,
        /// Print the whole content instead of its first ~100 characters.
        #[arg(long)]
        full: bool,
    },
    /// Pushes local changes and pulls the server's.
    #[command(after_help = "\
Examples:
  peek-sync sync
  peek-sync sync --pull-only")]
    Sync {
        /// Only pull the server's changes.
        #[arg(long, conflicts_with = "push_only")]
        pull_only: bool,
        /// Only push local changes.
        #[arg(long)]
        push_only: bool,
    },
    /// Shows the configuration and what is waiting to be pushed.
    #[command(after_help = "Example:\n  peek-sync status")]
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(db) = cli.db.clone() else {
        eprintln!("peek-sync: no database: pass --db FILE or set PEEK_SYNC_DB (see --help)");
        return ExitCode::from(2);
    };
    match run(&db, cli.cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peek-sync: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Content shown per item by `list` without `--full`, in characters.
const LIST_WIDTH: usize = 100;

/// `content` on one line (line breaks and tabs as spaces), cut to
/// `LIST_WIDTH` characters with an ellipsis: a multi-megabyte note or a
/// pasted page stays one row.
fn one_line(content: &str) -> String {
    let mut out = String::new();
    for (n, c) in content.chars().enumerate() {
        if n == LIST_WIDTH {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// Settings the CLI keeps beside the engine's: this install's id (made
/// once, with the OS RNG) and its chosen device name.
const INSTALL_ID: &str = "sync.installId";
const DEVICE_NAME: &str = "sync.deviceName";

/// The host name, if the OS tells it.
fn host_name() -> Option<String> {
    let from_file = |p: &str| std::fs::read_to_string(p).ok();
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// This install's device name: the configured one, else the host name
/// and the first 8 characters of the install id (so two stores on one
/// machine differ too). Makes the install id on first use.
fn device_name(store: &Store, ids: &dyn IdSource) -> engine::Result<String> {
    if let Some(d) = store.setting(DEVICE_NAME)?.filter(|d| !d.is_empty()) {
        return Ok(d);
    }
    let id = match store.setting(INSTALL_ID)? {
        Some(id) => id,
        None => {
            let id = ids.uuid();
            store.set_setting(INSTALL_ID, &id)?;
            id
        }
    };
    let short: String = id.chars().filter(|c| *c != '-').take(8).collect();
    Ok(format!(
        "{}-{short}",
        host_name().unwrap_or_else(|| "peek-sync".into())
    ))
}

/// `X-Peek-Client` of the reference CLI: its name, version and device.
fn client_name(device: &str) -> String {
    format!("peek-sync/{} ({device})", env!("CARGO_PKG_VERSION"))
}

fn add_item(
    store: &mut Store,
    ids: &dyn IdSource,
    now: i64,
    kind: Kind,
    content: Option<String>,
    tags: Vec<String>,
) -> engine::Result<String> {
    let new = match kind {
        Kind::Image => {
            let path = content.ok_or_else(|| {
                engine::Error::Invalid("add image needs the path of the image file".into())
            })?;
            let path = Path::new(&path);
            let bytes = std::fs::read(path).map_err(|e| {
                engine::Error::Invalid(format!("cannot read {}: {e}", path.display()))
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            NewItem::image(&name, bytes, tags)?
        }
        Kind::Url | Kind::Text | Kind::Tagset => NewItem {
            kind: Some(match kind {
                Kind::Url => ItemType::Url,
                Kind::Text => ItemType::Text,
                _ => ItemType::Tagset,
            }),
            content,
            tags,
            ..NewItem::default()
        },
    };
    store.add_item(ids, now, new)
}

fn run(db: &Path, cmd: Cmd) -> engine::Result<()> {
    let mut store = Store::open(db)?;
    // Local edits behave as the configured model's app makes them.
    if let Ok(cfg) = SyncConfig::load(&store) {
        store.set_tag_edits_mark_changed(cfg.model.behaviour().tag_edits_mark_changed);
    }
    let clock = SystemClock;
    let ids = Arc::new(OsIds);
    let now = clock.now_ms();
    match cmd {
        Cmd::Config {
            server,
            key,
            profile,
            model,
            device,
        } => {
            check_server_url(&server).map_err(engine::Error::Invalid)?;
            let model = Model::parse(&model)
                .ok_or_else(|| engine::Error::Invalid(format!("unknown model {model}")))?;
            let cfg = SyncConfig {
                server_url: server,
                api_key: key,
                server_profile: profile,
                model,
            };
            cfg.save(&mut store)?;
            if let Some(d) = device {
                store.set_setting(DEVICE_NAME, d.trim())?;
            }
            let device = device_name(&store, ids.as_ref())?;
            println!(
                "configured {} (model {}, device {device})",
                cfg.server_key(),
                model.name()
            );
        }
        Cmd::Add {
            kind,
            content,
            tags,
        } => {
            let id = add_item(&mut store, ids.as_ref(), now, kind, content, tags)?;
            println!("{id}");
        }
        Cmd::Update { id, content, tags } => {
            let edit = Edit {
                content,
                tags: (!tags.is_empty()).then_some(tags),
                ..Edit::default()
            };
            let changed = store.update_item(ids.as_ref(), now, &id, edit)?;
            println!("{}", if changed { "updated" } else { "unchanged" });
        }
        Cmd::Delete { id } => match store.soft_delete(now, &id)? {
            Deleted::Now => println!("deleted"),
            Deleted::Already => println!("already deleted"),
        },
        Cmd::List {
            json,
            include_deleted,
            full,
        } => {
            for it in store.items(include_deleted)? {
                if json {
                    let v = serde_json::json!({
                        "id": it.id, "type": it.kind.as_str(), "content": it.content, "tags": it.tags,
                        "metadata": it.metadata, "syncId": it.sync_id, "createdAt": it.created_at,
                        "updatedAt": it.updated_at, "deletedAt": it.deleted_at,
                    });
                    println!("{v}");
                } else {
                    let del = if it.is_live() { "" } else { " (deleted)" };
                    let content = it.content.unwrap_or_default();
                    let content = if full { content } else { one_line(&content) };
                    println!(
                        "{}  {:6}  {}  [{}]{del}",
                        it.id,
                        it.kind.as_str(),
                        content,
                        it.tags.join(", ")
                    );
                }
            }
        }
        Cmd::Sync {
            pull_only,
            push_only,
        } => {
            let cfg = SyncConfig::load(&store)?;
            let mode = if pull_only {
                Mode::PullOnly
            } else if push_only {
                Mode::PushOnly
            } else {
                Mode::Full
            };
            let device = device_name(&store, ids.as_ref())?;
            eprintln!(
                "syncing with {} (model {}, device {device}) ...",
                cfg.server_key(),
                cfg.model.name()
            );
            let agent = format!("peek-sync/{}", env!("CARGO_PKG_VERSION"));
            let transport =
                HttpTransport::with_user_agent(&cfg.server_url, DEFAULT_TIMEOUT, Some(&agent))?;
            let mut session = SyncSession::new(cfg.clone(), mode, ids).with_device(&device);
            // A platform model sends what its app sends; the reference
            // names this install.
            if cfg.model == Model::Reference {
                session = session.with_client(&client_name(&device));
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| engine::Error::Invalid(e.to_string()))?;
            let summary = rt.block_on(engine::drive(&mut store, &transport, &clock, session))?;
            eprintln!("{} requests", summary.requests);
            println!("{summary}");
        }
        Cmd::Status => {
            let live = store.items(false)?.len();
            let all = store.items(true)?.len();
            println!("items: {live} live, {} deleted", all - live);
            match SyncConfig::load(&store) {
                Ok(cfg) => {
                    println!("server: {} (model {})", cfg.server_key(), cfg.model.name());
                    println!("device: {}", device_name(&store, ids.as_ref())?);
                    if cfg.model == Model::Reference {
                        println!("pending: {}", engine::sync::pending_count(&store, &cfg)?);
                    }
                }
                Err(e) => println!("server: {e}"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_shows_one_shortened_line() {
        assert_eq!(one_line("a\nb\tc"), "a b c");
        let long = "é".repeat(5000);
        let short = one_line(&long);
        assert_eq!(short.chars().count(), LIST_WIDTH + 1);
        assert!(short.ends_with('…'));
        assert_eq!(one_line(&"x".repeat(LIST_WIDTH)), "x".repeat(LIST_WIDTH));
    }

    #[test]
    fn the_command_line_is_consistent_and_every_option_is_explained() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        for sub in std::iter::once(&cmd).chain(cmd.get_subcommands()) {
            for a in sub.get_arguments() {
                let builtin = matches!(a.get_id().as_str(), "help" | "version");
                if !builtin && a.get_help().is_none() {
                    missing.push(format!("{} {}", sub.get_name(), a.get_id()));
                }
            }
            if sub.get_name() != "peek-sync" && sub.get_after_help().is_none() {
                missing.push(format!("{}: no examples", sub.get_name()));
            }
        }
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }
}
