//! One function per subcommand: check, send, read, print, and decide the exit status.

use std::io::Write;

use serde_json::{Value, json};

use crate::cli::{Cli, Command, Framing};
use crate::exchange::{Request, exchange};
use crate::render::{self, ERROR};
use crate::reply::{NotUnderstood, Reply, ReplyKind, kinds_for_request, parse_reply, reply_end};
use crate::target::{self, Target};
use crate::{Outcome, check, json, where_view};

/// How to print replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pretty,
    Raw,
    Json,
}

impl Mode {
    pub fn of(cli: &Cli) -> Mode {
        if cli.raw {
            Mode::Raw
        } else if cli.json {
            Mode::Json
        } else {
            Mode::Pretty
        }
    }
}

/// Runs the command; every failure has been reported on stderr when this returns.
pub fn run(cli: &Cli) -> Outcome {
    let result = match &cli.command {
        Command::Iamat {
            client,
            position,
            time,
        } => iamat(cli, client, position, time.as_deref()),
        Command::Whatsat {
            client,
            radius,
            bound,
        } => whatsat(cli, client, radius, bound),
        Command::Raw { line } => raw(cli, line.as_encoded_bytes()),
        Command::Where { client } => check::client_id(client).and_then(|()| {
            let servers = target::every_server(&cli.target)?;
            Ok(where_view::run(cli, client, &servers))
        }),
    };
    result.unwrap_or_else(|message| fail(&message))
}

/// Reports an error on stderr: one line, exit status 2.
pub fn fail(message: &str) -> Outcome {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{ERROR}herd-client: error:{ERROR:#} {message}");
    Outcome::Failed
}

/// Reports a `?` reply on stderr with what it means; exit status 1.
fn rejected(line: &str, meaning: &str) -> Outcome {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{line}");
    let _ = writeln!(
        err,
        "{ERROR}herd-client:{ERROR:#} the server answered `?`: {meaning}"
    );
    Outcome::Rejected
}

fn not_understood(target: &Target, e: &NotUnderstood) -> String {
    format!("{}: reply not understood: {e}", target.address)
}

fn iamat(cli: &Cli, client: &str, position: &str, time: Option<&str>) -> Result<Outcome, String> {
    check::client_id(client)?;
    check::position(position)?;
    let time = check::client_time(time)?;
    let target = target::resolve(&cli.target)?;
    let line = format!("IAMAT {client} {position} {time}");
    ask(
        cli,
        &target,
        &line,
        ReplyKind::OneLine,
        "it found the IAMAT invalid",
    )
}

fn whatsat(cli: &Cli, client: &str, radius: &str, bound: &str) -> Result<Outcome, String> {
    check::client_id(client)?;
    check::radius(radius)?;
    check::bound(bound)?;
    let target = target::resolve(&cli.target)?;
    let line = format!("WHATSAT {client} {radius} {bound}");
    let meaning = format!(
        "no server of the herd has heard of client `{client}` (or it found the command invalid)"
    );
    ask(cli, &target, &line, ReplyKind::Whatsat, &meaning)
}

/// Sends one checked command and prints its reply in the chosen mode.
fn ask(
    cli: &Cli,
    target: &Target,
    line: &str,
    kind: ReplyKind,
    meaning: &str,
) -> Result<Outcome, String> {
    let request = format!("{line}\n");
    let bytes = exchange(&Request {
        address: &target.address,
        bytes: request.as_bytes(),
        framing: cli.target.framing,
        timeout: cli.target.timeout,
        expect: &[kind],
    })
    .map_err(|e| e.to_string())?;
    let reply = parse_reply(&bytes, kind);
    let mut out = anstream::stdout();
    let written = match (Mode::of(cli), &reply) {
        (Mode::Raw, _) => out.write_all(&bytes),
        (Mode::Json, Ok(reply)) => {
            let mut object = json!({
                "command": line,
                "address": target.address,
                "framing": cli.target.framing.name(),
            });
            add_reply(&mut object, reply);
            writeln!(out, "{}", pretty_json(&object))
        }
        (Mode::Pretty, Ok(Reply::At { at, places })) => render::at_summary(&mut out, at, target)
            .and_then(|()| match places {
                Some(places) => render::places_table(&mut out, at, places),
                None => Ok(()),
            }),
        _ => Ok(()),
    };
    written.map_err(|e| format!("cannot write the output: {e}"))?;
    match reply {
        Ok(Reply::At { .. }) => Ok(Outcome::Answered),
        Ok(Reply::Invalid(line)) => Ok(rejected(&line, meaning)),
        Err(e) => Err(not_understood(target, &e)),
    }
}

/// Adds `reply` (`at`, `places` or `invalid`) to a JSON object.
pub fn add_reply(object: &mut Value, reply: &Reply) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    match reply {
        Reply::At { at, places } => {
            object.insert("reply".into(), "at".into());
            object.insert("at".into(), json::at_object(at));
            if let Some(places) = places {
                object.insert("places".into(), places.clone());
            }
        }
        Reply::Invalid(line) => {
            object.insert("reply".into(), "invalid".into());
            object.insert("invalid".into(), line.as_str().into());
        }
    }
}

/// JSON text; serialising a `Value` cannot fail, but say so rather than panic.
pub fn pretty_json(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// `raw`: the line goes out unchecked; the reply comes back as bytes.
fn raw(cli: &Cli, line: &[u8]) -> Result<Outcome, String> {
    let target = target::resolve(&cli.target)?;
    let mut request = line.to_vec();
    // A line needs its terminator, or a line-framed server waits for the rest of it.
    if cli.target.framing == Framing::Line && !request.ends_with(b"\n") {
        request.push(b'\n');
    }
    let kinds = kinds_for_request(&request);
    let bytes = exchange(&Request {
        address: &target.address,
        bytes: &request,
        framing: cli.target.framing,
        timeout: cli.target.timeout,
        expect: &kinds,
    })
    .map_err(|e| e.to_string())?;
    // Cut the bytes into the replies the lines get; whatever is left is one more.
    let mut replies = Vec::new();
    let mut at = 0;
    for kind in &kinds {
        if at >= bytes.len() {
            break;
        }
        let end = reply_end(&bytes[at..], *kind).map_or(bytes.len(), |n| at + n);
        replies.push(parse_reply(&bytes[at..end], *kind));
        at = end;
    }
    let mut out = anstream::stdout();
    let written = if Mode::of(cli) == Mode::Json {
        let parsed: Vec<Value> = replies
            .iter()
            .map(|reply| {
                let mut object = json!({});
                match reply {
                    Ok(reply) => add_reply(&mut object, reply),
                    Err(e) => object = json!({"reply": "not understood", "error": e.to_string()}),
                }
                object
            })
            .collect();
        let object = json!({
            "sent": String::from_utf8_lossy(&request),
            "address": target.address,
            "framing": cli.target.framing.name(),
            "received": String::from_utf8_lossy(&bytes),
            "replies": parsed,
        });
        writeln!(out, "{}", pretty_json(&object))
    } else {
        out.write_all(&bytes)
    };
    written.map_err(|e| format!("cannot write the output: {e}"))?;
    if let Some(Err(e)) = replies.iter().find(|r| r.is_err()) {
        return Err(not_understood(&target, e));
    }
    if replies.len() < kinds.len() {
        return Err(format!(
            "{}: {} replies expected, {} received before the server closed",
            target.address,
            kinds.len(),
            replies.len()
        ));
    }
    if replies.iter().any(|r| matches!(r, Ok(Reply::Invalid(_)))) {
        let mut err = anstream::stderr();
        let _ = writeln!(
            err,
            "{ERROR}herd-client:{ERROR:#} the server answered `?`: it found the command invalid"
        );
        return Ok(Outcome::Rejected);
    }
    Ok(Outcome::Answered)
}
