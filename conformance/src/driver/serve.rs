//! A driver's side of the protocol over any in-process [`Client`]: reads
//! request lines, answers reply lines. `peek-conform-driver` is this over
//! the engine, syncing over real HTTP; it proves the protocol end to end.

use std::io::{BufRead, Write};

use engine::Mode;
use serde_json::{json, Value};

use super::{Command, Envelope, Reply, ReplyError};
use crate::client::{Client, ClientError};
use crate::server::{Remote, Server};

/// Serves requests until `shutdown` or end of input. `name` is what
/// `hello` answers.
pub fn serve(
    client: &mut dyn Client,
    name: &str,
    input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<()> {
    let mut server: Option<Remote> = None;
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let (reply, stop) = match serde_json::from_str::<Envelope>(&line) {
            Err(e) => (
                Reply {
                    id: serde_json::from_str::<Value>(&line)
                        .ok()
                        .and_then(|v| v["id"].as_u64())
                        .unwrap_or(0),
                    ok: false,
                    result: None,
                    error: Some(ReplyError {
                        kind: "refused".into(),
                        message: format!("bad request: {e}"),
                    }),
                },
                false,
            ),
            Ok(env) => {
                let stop = env.cmd == Command::Shutdown;
                let r = handle(client, name, &mut server, env.cmd);
                (
                    match r {
                        Ok(v) => Reply {
                            id: env.id,
                            ok: true,
                            result: Some(v),
                            error: None,
                        },
                        Err(e) => Reply {
                            id: env.id,
                            ok: false,
                            result: None,
                            error: Some(ReplyError {
                                kind: kind(&e).into(),
                                message: e.to_string(),
                            }),
                        },
                    },
                    stop,
                )
            }
        };
        let text = serde_json::to_string(&reply).unwrap_or_else(|_| "{}".into());
        writeln!(output, "{text}")?;
        output.flush()?;
        if stop {
            break;
        }
    }
    Ok(())
}

fn kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Sync(_) => "sync",
        ClientError::Refused(_) => "refused",
        ClientError::Unsupported(_) => "unsupported",
        ClientError::Driver(_) => "internal",
    }
}

fn handle(
    client: &mut dyn Client,
    name: &str,
    server: &mut Option<Remote>,
    cmd: Command,
) -> Result<Value, ClientError> {
    let need = |s: &Option<Remote>| -> Result<(), ClientError> {
        s.as_ref()
            .map(|_| ())
            .ok_or_else(|| ClientError::Refused("configure first".into()))
    };
    Ok(match cmd {
        // The engine's store is its own temp file, rebuilt in process by
        // `restart`; it keeps metadata and seeds rows as creates.
        Command::Hello { .. } => json!({
            "name": name,
            "protocol": sim::driver::PROTOCOL,
            "capabilities": {"restart": "in-process", "metadata": true, "concurrent": false, "seed": true},
        }),
        Command::Configure {
            server_url,
            api_key,
            server_profile_id,
        } => {
            client.configure(&server_url, &api_key, server_profile_id.as_deref())?;
            *server = Some(
                Remote::connect(&server_url, &api_key, None)
                    .map_err(|e| ClientError::Driver(e.to_string()))?,
            );
            json!({})
        }
        Command::Create {
            kind,
            content,
            tags,
            metadata,
        } => {
            need(server)?;
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            let s = server.as_ref().map(|s| s as &dyn Server);
            let id = client.create_with_metadata(
                s.ok_or_else(unconfigured)?,
                &kind,
                content.as_deref(),
                &tags,
                metadata.as_deref(),
            )?;
            json!({ "id": id })
        }
        Command::Update { id, content, tags } => {
            let s = server.as_ref().ok_or_else(unconfigured)?;
            let tags: Option<Vec<&str>> = tags
                .as_ref()
                .map(|t| t.iter().map(String::as_str).collect());
            client.update(s, &id, content.as_deref(), tags.as_deref())?;
            json!({})
        }
        Command::Delete { id } => {
            client.delete(server.as_ref().ok_or_else(unconfigured)?, &id)?;
            json!({})
        }
        Command::Tag { id, tag } => {
            client.tag(server.as_ref().ok_or_else(unconfigured)?, &id, &tag)?;
            json!({})
        }
        Command::Sync { mode } => {
            let mode = match mode.as_str() {
                "full" => Mode::Full,
                "pull" => Mode::PullOnly,
                "push" => Mode::PushOnly,
                other => return Err(ClientError::Refused(format!("unknown mode {other}"))),
            };
            let r = client.sync(server.as_ref().ok_or_else(unconfigured)?, mode)?;
            json!({ "pulled": r.pulled, "pushed": r.pushed })
        }
        Command::Items { include_deleted } => json!({ "items": client.items(include_deleted)? }),
        Command::SetClock { offset_ms } => {
            client.set_clock_offset(offset_ms)?;
            json!({})
        }
        Command::SeedRow {
            kind,
            content,
            tags,
            sync_id: _,
        } => {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            let s = server.as_ref().ok_or_else(unconfigured)?;
            json!({ "id": client.seed_row(s, &kind, content.as_deref(), &tags)? })
        }
        Command::Restart => {
            client.restart()?;
            json!({})
        }
        Command::Shutdown => json!({}),
    })
}

fn unconfigured() -> ClientError {
    ClientError::Refused("configure first".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::EngineClient;

    fn session(input: &str) -> Vec<Reply> {
        let mut c = EngineClient::new(engine::Model::Reference, 1).unwrap();
        let mut out = Vec::new();
        serve(&mut c, "peek-sync test", input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn every_line_gets_one_reply_with_its_id() {
        let r = session(concat!(
            "{\"id\":1,\"cmd\":\"hello\"}\n",
            "{\"id\":2,\"cmd\":\"create\",\"type\":\"url\",\"content\":\"https://a\"}\n",
            "not json\n",
            "{\"id\":4,\"cmd\":\"fly\"}\n",
            "{\"id\":5,\"cmd\":\"items\"}\n",
            "{\"id\":6,\"cmd\":\"shutdown\"}\n",
            "{\"id\":7,\"cmd\":\"hello\"}\n",
        ));
        assert_eq!(r.len(), 6, "nothing after shutdown");
        assert_eq!(r[0].result.as_ref().unwrap()["name"], "peek-sync test");
        assert_eq!(
            r[1].error.as_ref().unwrap().kind,
            "refused",
            "configure first"
        );
        assert_eq!((r[2].id, r[2].ok), (0, false));
        assert_eq!(
            (r[3].id, r[3].error.as_ref().unwrap().kind.as_str()),
            (4, "refused")
        );
        assert_eq!(
            r[4].result.as_ref().unwrap()["items"],
            serde_json::json!([])
        );
        assert!(r[5].ok);
    }
}
