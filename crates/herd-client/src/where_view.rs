//! `where`: ask every server of the herd about one client, all at once, and show who knows what —
//! a view of how far a flood has spread. Each server gets its own connection and the cheapest
//! question, `WHATSAT CLIENT 1 0`; a `?` means the server has not heard of the client.

use std::io::Write;

use serde_json::{Value, json};

use crate::cli::Cli;
use crate::commands::{Mode, pretty_json};
use crate::exchange::{Request, exchange};
use crate::render::{self, ERROR, LABEL, WARN};
use crate::reply::{Reply, ReplyKind, parse_reply};
use crate::target::Target;
use crate::{Outcome, human, json};

/// What one server said.
#[derive(Debug)]
pub enum Knowledge {
    /// The AT line it holds for the client.
    Knows(herd_wire::AtLine),
    /// It answered `?`.
    Unknown,
    /// It could not be asked, or its answer made no sense.
    Failed(String),
}

/// One server's answer, with the bytes as received.
#[derive(Debug)]
pub struct Answer {
    pub target: Target,
    pub knowledge: Knowledge,
    pub bytes: Vec<u8>,
}

/// Asks every server in parallel (one thread each; a herd is a handful of servers).
pub fn ask_all(cli: &Cli, client: &str, servers: &[Target]) -> Vec<Answer> {
    let request = format!("WHATSAT {client} 1 0\n");
    std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|target| {
                let request = request.as_bytes();
                scope.spawn(move || ask_one(cli, target, request))
            })
            .collect();
        handles
            .into_iter()
            .zip(servers)
            .map(|(handle, target)| {
                handle.join().unwrap_or_else(|_| Answer {
                    target: target.clone(),
                    knowledge: Knowledge::Failed("the query thread panicked".to_owned()),
                    bytes: Vec::new(),
                })
            })
            .collect()
    })
}

fn ask_one(cli: &Cli, target: &Target, request: &[u8]) -> Answer {
    let result = exchange(&Request {
        address: &target.address,
        bytes: request,
        framing: cli.target.framing,
        timeout: cli.target.timeout,
        expect: &[ReplyKind::Whatsat],
    });
    let (knowledge, bytes) = match result {
        Err(e) => (Knowledge::Failed(e.to_string()), Vec::new()),
        Ok(bytes) => {
            let knowledge = match parse_reply(&bytes, ReplyKind::Whatsat) {
                Ok(Reply::At { at, .. }) => Knowledge::Knows(*at),
                Ok(Reply::Invalid(_)) => Knowledge::Unknown,
                Err(e) => {
                    Knowledge::Failed(format!("{}: reply not understood: {e}", target.address))
                }
            };
            (knowledge, bytes)
        }
    };
    Answer {
        target: target.clone(),
        knowledge,
        bytes,
    }
}

/// The distinct AT lines held, in order of first appearance; index 0 is version `A`.
fn versions(answers: &[Answer]) -> Vec<&[u8]> {
    let mut versions: Vec<&[u8]> = Vec::new();
    for answer in answers {
        if let Knowledge::Knows(at) = &answer.knowledge
            && !versions.contains(&at.as_bytes())
        {
            versions.push(at.as_bytes());
        }
    }
    versions
}

fn version_letter(index: usize) -> String {
    u8::try_from(index).ok().filter(|i| *i < 26).map_or_else(
        || format!("#{}", index + 1),
        |i| char::from(b'A' + i).to_string(),
    )
}

/// One line on the state of the herd for this client.
pub fn verdict(client: &str, answers: &[Answer]) -> String {
    let total = answers.len();
    let knowing = answers
        .iter()
        .filter(|a| matches!(a.knowledge, Knowledge::Knows(_)))
        .count();
    let failed = answers
        .iter()
        .filter(|a| matches!(a.knowledge, Knowledge::Failed(_)))
        .count();
    let distinct = versions(answers).len();
    if knowing == total && distinct == 1 {
        format!("converged: all {total} servers hold the same location for {client}")
    } else if knowing == 0 && failed == 0 {
        format!("no server of the {total} has heard of {client}")
    } else {
        let mut parts = vec![format!(
            "not converged: {knowing} of {total} servers know {client}"
        )];
        if distinct > 1 {
            parts.push(format!("{distinct} different locations"));
        }
        if failed > 0 {
            parts.push(format!("{failed} could not be asked"));
        }
        parts.join(", ")
    }
}

/// Runs `where` and prints the view; exit 2 when a server failed, 1 when none knows the client.
pub fn run(cli: &Cli, client: &str, servers: &[Target]) -> Outcome {
    let answers = ask_all(cli, client, servers);
    let versions = versions(&answers);
    let version_of = |at: &herd_wire::AtLine| {
        versions
            .iter()
            .position(|v| *v == at.as_bytes())
            .map(version_letter)
            .unwrap_or_default()
    };
    let verdict = verdict(client, &answers);
    let mut out = anstream::stdout();
    let written = match Mode::of(cli) {
        Mode::Raw => answers.iter().try_for_each(|answer| {
            writeln!(out, "== {}", answer.target.describe())?;
            out.write_all(&answer.bytes)
        }),
        Mode::Json => {
            let servers: Vec<Value> = answers
                .iter()
                .map(|answer| {
                    let mut object = json!({
                        "server": answer.target.name,
                        "address": answer.target.address,
                    });
                    if let Some(fields) = object.as_object_mut() {
                        match &answer.knowledge {
                            Knowledge::Knows(at) => {
                                fields.insert("state".into(), "knows".into());
                                fields.insert("version".into(), version_of(at).into());
                                fields.insert("at".into(), json::at_object(at));
                            }
                            Knowledge::Unknown => {
                                fields.insert("state".into(), "unknown".into());
                            }
                            Knowledge::Failed(error) => {
                                fields.insert("state".into(), "failed".into());
                                fields.insert("error".into(), error.as_str().into());
                            }
                        }
                    }
                    object
                })
                .collect();
            let converged = versions.len() == 1
                && answers
                    .iter()
                    .all(|a| matches!(a.knowledge, Knowledge::Knows(_)));
            let object = json!({
                "client": client,
                "converged": converged,
                "verdict": verdict,
                "servers": servers,
            });
            writeln!(out, "{}", pretty_json(&object))
        }
        Mode::Pretty => {
            let mut table = render::table(&[
                "server",
                "address",
                "knows",
                "version",
                "position",
                "client time (UTC)",
                "received by",
                "clock skew",
            ]);
            for answer in &answers {
                let name = answer.target.name.clone().unwrap_or_default();
                let address = answer.target.address.clone();
                let row = match &answer.knowledge {
                    Knowledge::Knows(at) => vec![
                        name,
                        address,
                        "yes".to_owned(),
                        version_of(at),
                        at.position().as_str().to_owned(),
                        human::utc(at.time()),
                        at.server().to_owned(),
                        human::signed_duration(at.diff()),
                    ],
                    Knowledge::Unknown => vec![name, address, "no".to_owned()],
                    Knowledge::Failed(_) => vec![name, address, "error".to_owned()],
                };
                table.add_row(row);
            }
            writeln!(out, "{}", table.trim_fmt()).and_then(|()| {
                let style = if verdict.starts_with("converged") {
                    LABEL
                } else {
                    WARN
                };
                writeln!(out, "{style}{verdict}{style:#}")
            })
        }
    };
    if let Err(e) = written {
        return crate::commands::fail(&format!("cannot write the output: {e}"));
    }
    let mut err = anstream::stderr();
    let mut outcome = if versions.is_empty() {
        Outcome::Rejected
    } else {
        Outcome::Answered
    };
    for answer in &answers {
        if let Knowledge::Failed(error) = &answer.knowledge {
            let _ = writeln!(err, "{ERROR}herd-client: error:{ERROR:#} {error}");
            outcome = Outcome::Failed;
        }
    }
    outcome
}
