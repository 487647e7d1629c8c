//! One module per command, and the dispatch: a line is parsed into a command (or a handshake
//! step, or an update on a peer link) and answered here; the connection driver writes the reply.

pub mod at;
mod faulty;
pub mod iamat;
pub mod whatsat;

use std::borrow::Cow;

use herd_wire::ClientTime;
use herd_wire::command::{Command, error_reply, parse_command};

use crate::db::Stored;
use crate::log::printable;
use crate::party::Party;
use crate::peer_auth::Admission;
use crate::state::ServerState;

/// What a line gets. The connection handler writes the reply, then hands the request and the
/// reply to the log as one event, so answering a line formats nothing for the log.
pub enum Outcome {
    /// The reply to a valid command.
    Reply(Vec<u8>),
    /// The `? ` reply to an invalid line, and why it is invalid.
    Invalid(Vec<u8>, String),
    /// A reply whose event is already logged (a peer-link challenge).
    Logged(Vec<u8>),
    /// No reply: a blank line, a peer's update, or a faulty server's silence; with what became
    /// of the line when the log should say.
    Silent(Option<Cow<'static, str>>),
    /// Drop the connection without a reply (only under a fault).
    HangUp,
    /// Reply, then close the connection, for this reason (a refused peer link).
    Refuse(Vec<u8>, String),
}

/// The reply to one line, if it gets one.
pub async fn answer(line: &[u8], party: &mut Party, state: &ServerState) -> Outcome {
    let received = ClientTime::now();
    match party {
        Party::Peer { name, .. } => return peer_line(line, name, state),
        Party::Challenged { .. } => {
            let label = party.label();
            let Party::Challenged { name, nonce, .. } = party else {
                return Outcome::Silent(None);
            };
            return match state.peers.verify(name, nonce, line) {
                Ok(()) => {
                    state
                        .log
                        .line(format!("in {label}: peer link from {name}, proof accepted"));
                    let link = state.peers.register(name);
                    *party = Party::peer(name, link);
                    Outcome::Silent(None)
                }
                Err(why) => refuse(line, &label, why, state),
            };
        }
        Party::Client(_) => {}
    }
    let parsed = state.faults.parse(line);
    if let Some(outcome) = faulty::instead(line, &parsed, state) {
        return outcome;
    }
    let reply = match parsed {
        Ok(None) => return Outcome::Silent(None),
        Ok(Some(Command::Iamat(iamat))) => iamat::run(&iamat, received, state),
        Ok(Some(Command::Whatsat(whatsat))) => whatsat::run(&whatsat, state)
            .await
            .ok_or_else(|| "no server has heard of this client".to_owned()),
        Ok(Some(Command::Peer(name))) if state.neighbours.contains(&name) => {
            let Party::Client(address) = *party else {
                return Outcome::Silent(None);
            };
            let label = party.label();
            return match state.peers.admit(&name, address.ip()) {
                Admission::Open => {
                    state.log.line(format!(
                        "in {label}: {} (peer link from {name})",
                        printable(line)
                    ));
                    let link = state.peers.register(&name);
                    *party = Party::peer(&name, link);
                    Outcome::Silent(None)
                }
                Admission::Challenge(nonce) => {
                    state.log.line(format!(
                        "in {label}: {} (challenged to prove the herd's secret)",
                        printable(line)
                    ));
                    let challenge = format!("CHALLENGE {nonce}\n").into_bytes();
                    *party = Party::Challenged {
                        address,
                        name,
                        nonce,
                    };
                    Outcome::Logged(challenge)
                }
                Admission::Refused(why) => refuse(line, &label, why, state),
            };
        }
        Ok(Some(Command::Peer(_))) => Err("PEER from a server that is not a neighbour".to_owned()),
        Ok(Some(Command::At(_))) => Err("AT is accepted only on a peer link".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    match reply {
        Ok(reply) => Outcome::Reply(reply),
        Err(why) => Outcome::Invalid(state.faults.error_reply(line), why),
    }
}

/// A line on an established peer link: an update is stored and flooded if it is new and within
/// this server's bounds; anything else is logged and ignored (peers get no replies).
fn peer_line(line: &[u8], name: &str, state: &ServerState) -> Outcome {
    let verdict = match parse_command(line) {
        Ok(Some(Command::At(at))) => match at::run(at, name, state) {
            Ok(Stored::Newer) => Cow::Borrowed("stored"),
            Ok(Stored::NotNewer) => Cow::Borrowed("not newer, dropped"),
            Ok(Stored::Full) => Cow::Owned(format!(
                "dropped: this server holds its limit of {} clients",
                state.limits.max_clients
            )),
            Err(why) => Cow::Owned(format!("dropped: {why}")),
        },
        Ok(None) => return Outcome::Silent(None),
        _ => Cow::Borrowed("not an update, ignored"),
    };
    Outcome::Silent(Some(verdict))
}

/// Refuses a peer link: `? ` and a copy of `line`, then the connection closes.
fn refuse(line: &[u8], label: &str, why: String, state: &ServerState) -> Outcome {
    state.log.line(format!(
        "in {label}: {} (peer link refused: {why})",
        printable(line)
    ));
    Outcome::Refuse(error_reply(line), format!("peer link refused: {why}"))
}
