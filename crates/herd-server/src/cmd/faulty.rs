//! The hooks through which the deliberate faults (`crate::faults`) bend the request path: each
//! is one call at one step of a command, does nothing on a correct server, and keeps every
//! faulty branch here, so the real commands read as if faults did not exist.
//!
//! The steps: [`instead`] (what a client line gets instead of its answer), [`store`],
//! [`floods_instead`], [`whatsat_reply`]; the byte-level rewrites they use are in
//! `crate::faults`.

use std::sync::Arc;

use herd_wire::AtLine;
use herd_wire::command::{Command, CommandError};
use serde::Serialize;

use crate::cmd::{Outcome, whatsat};
use crate::db::Stored;
use crate::faults::{Fault, Faults};
use crate::state::ServerState;

/// A client time later than any real one: what a stored `nan` amounts to under
/// [`Fault::NanTimeBlocks`] (every later update compares as older).
const BLOCKING_TIME: &str = "99999999999999999999";

/// What a faulty server does with a client line instead of answering it as a correct server
/// would (`None`: answer it as usual). `parsed` is the line as the server parsed it.
pub fn instead(
    line: &[u8],
    parsed: &Result<Option<Command>, CommandError>,
    state: &ServerState,
) -> Option<Outcome> {
    let faults = &state.faults;
    if faults.is_empty() {
        return None;
    }
    if faults.has(Fault::CrashFloatRadius) && Faults::has_fractional_radius(line) {
        return Some(Outcome::HangUp);
    }
    match parsed {
        Ok(None) if faults.has(Fault::ReplyBlank) => Some(Outcome::Reply(b"? \n".to_vec())),
        Err(CommandError::Position(_) | CommandError::Time(_))
            if let Some(reply) = faults.nonfinite_reply(&state.name, line) =>
        {
            store_nonfinite(line, state);
            Some(Outcome::Reply([reply.as_slice(), b"\n"].concat()))
        }
        Err(CommandError::Time(_)) if faults.has(Fault::RejectedOverwrites) => {
            // Still answered `?`, as a correct server would; the damage is in the table.
            overwrite_position(line, state);
            None
        }
        Err(CommandError::UnknownCommand) if faults.has(Fault::SilentInvalid) => {
            Some(Outcome::Silent(None))
        }
        _ => None,
    }
}

/// Stores `at` if it is the newest, or always under [`Fault::StaleAccepted`].
pub fn store(at: &Arc<AtLine>, state: &ServerState) -> Stored {
    if !state.faults.has(Fault::StaleAccepted) {
        return state.db.update(at);
    }
    if state.db.put(at) {
        Stored::Newer
    } else {
        Stored::NotNewer
    }
}

/// Floods `at` the way a faulty server does, if a fault changes that, whether or not `at` was
/// news; true when it did (the caller then floods nothing). `from` is the neighbour it came
/// from, `None` for an IAMAT.
pub fn floods_instead(at: &Arc<AtLine>, from: Option<&str>, state: &ServerState) -> bool {
    let faults = &state.faults;
    if faults.is_empty() {
        return false;
    }
    if from.is_some() && faults.has(Fault::FloodLoop) {
        if faults.loop_again(at.as_bytes()) {
            state.flooder.forward_to(at, |_| true);
        }
        return true;
    }
    faults.has(Fault::NoFlood) || (from.is_some() && faults.has(Fault::OneHop))
}

/// The WHATSAT reply (stored line, JSON) as a faulty server prints it; `None` on a correct one.
pub fn whatsat_reply(at: &AtLine, json: &str, state: &ServerState) -> Option<Vec<u8>> {
    let faults = &state.faults;
    if faults.is_empty() {
        return None;
    }
    let json = match faults.has(Fault::Indent4) {
        true => indent4(json).unwrap_or_else(|| json.to_owned()),
        false => json.to_owned(),
    };
    let line = if faults.has(Fault::RecomputeDiff) {
        Faults::relabelled(at, &state.name)
    } else {
        faults.rewrite_whatsat_line(at.as_bytes())
    };
    let ending: &[u8] = if faults.has(Fault::SingleNewline) {
        b"\n"
    } else {
        b"\n\n"
    };
    Some(whatsat::reply(&line, &json, ending))
}

/// The `indent4` mistake: Python's `json.dumps(indent=4)` layout.
fn indent4(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    value
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut out, formatter,
        ))
        .ok()?;
    String::from_utf8(out).ok()
}

/// Under [`Fault::NanTimeBlocks`], stores `IAMAT client position nan` for a new client so that it
/// blocks every later update of that client.
fn store_nonfinite(line: &[u8], state: &ServerState) {
    if !state.faults.has(Fault::NanTimeBlocks) {
        return;
    }
    let fields: Vec<&[u8]> = herd_wire::fields::split(line).collect();
    let [_, client, position, _] = fields.as_slice() else {
        return;
    };
    if state.db.get(client).is_some() {
        return;
    }
    let text = [
        format!("AT {} +0.000000000", state.name).as_bytes(),
        client,
        position,
        BLOCKING_TIME.as_bytes(),
    ]
    .join(&b' ');
    if let Ok(at) = AtLine::parse(&text) {
        state.db.put(&Arc::new(at));
    }
}

/// Under [`Fault::RejectedOverwrites`], writes the position of an IAMAT refused for its time into
/// the line stored for that client.
fn overwrite_position(line: &[u8], state: &ServerState) {
    let fields: Vec<&[u8]> = herd_wire::fields::split(line).collect();
    let [b"IAMAT", client, position, _] = fields.as_slice() else {
        return;
    };
    let Some(stored) = state.db.get(client) else {
        return;
    };
    if herd_wire::Position::parse(position).is_err() {
        return;
    }
    let mut parts: Vec<&[u8]> = stored.as_bytes().split(|b| *b == b' ').collect();
    if parts.len() != 6 {
        return;
    }
    parts[4] = position;
    if let Ok(at) = AtLine::parse(&parts.join(&b' ')) {
        state.db.put(&Arc::new(at));
    }
}
