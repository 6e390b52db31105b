//! `peek-sync`: the reference client on the command line. Thin: parses
//! arguments and wires the library together (the only place that reads
//! the wall clock and the OS RNG).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use engine::model::ItemType;
use engine::store::items::{Edit, NewItem};
use engine::transport::{HttpTransport, DEFAULT_TIMEOUT};
use engine::{Mode, Model, Store, SyncConfig};
use protocol::clock::{Clock, OsIds, SystemClock};

#[derive(Parser)]
#[command(name = "peek-sync", about = "Reference Peek sync client")]
struct Cli {
    /// The local database file.
    #[arg(long, env = "PEEK_SYNC_DB")]
    db: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Url,
    Text,
    Tagset,
}

#[derive(Subcommand)]
enum Cmd {
    /// Sets the server URL, API key, server profile and platform model.
    Config {
        #[arg(long)]
        server: String,
        #[arg(long)]
        key: String,
        /// Server profile UUID (default: the server's default profile).
        #[arg(long)]
        profile: Option<String>,
        /// reference (default), js-engine, electron, tauri-desktop, tauri-mobile, extension.
        #[arg(long, default_value = "reference")]
        model: String,
    },
    /// Adds an item and prints its local id.
    Add {
        kind: Kind,
        content: Option<String>,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Edits an item: new content and/or a new tag set.
    Update {
        id: String,
        #[arg(long)]
        content: Option<String>,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    /// Deletes an item (a tombstone that syncs).
    Delete { id: String },
    /// Lists items.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        include_deleted: bool,
    },
    /// Pushes local changes and pulls the server's.
    Sync {
        #[arg(long, conflicts_with = "push_only")]
        pull_only: bool,
        #[arg(long)]
        push_only: bool,
    },
    /// Shows the configuration and what is waiting to be pushed.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peek-sync: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> engine::Result<()> {
    let mut store = Store::open(&cli.db)?;
    // Local edits behave as the configured model's app makes them.
    if let Ok(cfg) = SyncConfig::load(&store) {
        store.set_tag_edits_mark_changed(cfg.model.behaviour().tag_edits_mark_changed);
    }
    let clock = SystemClock;
    let ids = Arc::new(OsIds);
    let now = clock.now_ms();
    match cli.cmd {
        Cmd::Config {
            server,
            key,
            profile,
            model,
        } => {
            let model = Model::parse(&model)
                .ok_or_else(|| engine::Error::Invalid(format!("unknown model {model}")))?;
            let cfg = SyncConfig {
                server_url: server,
                api_key: key,
                server_profile: profile,
                model,
            };
            cfg.save(&mut store)?;
            println!("configured {} (model {})", cfg.server_key(), model.name());
        }
        Cmd::Add {
            kind,
            content,
            tags,
        } => {
            let kind = match kind {
                Kind::Url => ItemType::Url,
                Kind::Text => ItemType::Text,
                Kind::Tagset => ItemType::Tagset,
            };
            let id = store.add_item(
                ids.as_ref(),
                now,
                NewItem {
                    kind: Some(kind),
                    content,
                    tags,
                    ..NewItem::default()
                },
            )?;
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
        Cmd::Delete { id } => {
            store.delete_item(now, &id)?;
            println!("deleted");
        }
        Cmd::List {
            json,
            include_deleted,
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
                    println!(
                        "{}  {:6}  {}  [{}]{del}",
                        it.id,
                        it.kind.as_str(),
                        it.content.unwrap_or_default(),
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
            eprintln!(
                "syncing with {} (model {}) ...",
                cfg.server_key(),
                cfg.model.name()
            );
            let transport = HttpTransport::new(&cfg.server_url, DEFAULT_TIMEOUT)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| engine::Error::Invalid(e.to_string()))?;
            let summary =
                rt.block_on(engine::run(&mut store, &transport, &clock, ids, cfg, mode))?;
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
