//! `security/*`: what a plain client must not be able to do (SHOULD, any implementation can be
//! held to it): make the herd store a location by sending an `AT` line itself, or pin a client
//! with an absurd time far in the future (a later, genuine update would never win again).

use std::net::SocketAddr;

use crate::case;
use crate::expect::error_reply;
use crate::fixtures::{time_from_now, unique_position};
use crate::runner::{
    Answer, Ctx, Failure, Problem, Shape, TestCase, addr, ask, names, same_update,
};

pub static TESTS: &[TestCase] = &[
    case!(
        "security/client-at-not-stored",
        Should,
        [],
        "An `AT` line sent on a plain client connection (no peer handshake; protocol form, or with a sender name after it) stores nothing: WHATSAT on every server still does not know the client.",
        client_at_not_stored
    ),
    case!(
        "security/future-time-refused",
        Should,
        [],
        "An IAMAT whose client time is more than one day ahead of now is refused with `? ` and a copy of the line.",
        future_time_refused
    ),
];

/// Nanoseconds in a day.
const DAY_NS: i128 = 86_400 * 1_000_000_000;

/// Every server to ask: the whole herd when the suite knows it, else the one under test.
fn every_server(ctx: &Ctx) -> Vec<(String, SocketAddr)> {
    let target = ctx.target();
    let herd: Option<Vec<(String, SocketAddr)>> = names(ctx).ok().map(|names| {
        names
            .into_iter()
            .filter_map(|n| addr(ctx, &n).ok().map(|a| (n, a)))
            .collect()
    });
    match herd {
        Some(servers) if !servers.is_empty() => servers,
        _ => vec![(
            target
                .name
                .clone()
                .unwrap_or_else(|| "the server".to_owned()),
            target.addr,
        )],
    }
}

async fn client_at_not_stored(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (position, _, _) = unique_position();
    // Names a real server of the herd, as a forged update would.
    let claimed = ctx
        .target()
        .name
        .clone()
        .unwrap_or_else(|| "Clark".to_owned());
    let line = format!(
        "AT {claimed} +0.000000001 {id} {position} {}",
        time_from_now(-1_000_000)
    );
    // The protocol's form, and the common flood form with the sender's name after it (on its
    // own connection, so neither reply can hide the other). Whatever they are answered (the
    // reference server: `? ` and a copy), the point is what is kept.
    for sent in [line.clone(), format!("{line} {claimed}")] {
        ctx.exchange(sent.as_bytes(), Shape::Line).await?;
    }
    // Long enough for a flood to reach every server.
    tokio::time::sleep(ctx.env.settle).await;
    let mut stored_at = Vec::new();
    // All at once: each WHATSAT may wait on the server's Places request.
    let servers = every_server(ctx);
    let answers =
        futures::future::join_all(servers.iter().map(|(_, address)| ask(ctx, *address, &id))).await;
    for ((name, _), answer) in servers.into_iter().zip(answers) {
        match answer {
            Answer::Unknown => {}
            Answer::Known(shown) if same_update(&shown, line.as_bytes()) => stored_at.push(name),
            Answer::Known(shown) => {
                return Err(Problem::Fail(Failure::bytes(
                    format!("{name} knows a client no IAMAT ever named"),
                    format!("? WHATSAT {id} 1 1\n").as_bytes(),
                    &[&shown[..], b"\n"].concat(),
                )));
            }
            Answer::Unavailable(why) => {
                return Err(Problem::Skip(format!(
                    "cannot tell whether {name} stored it: {why}"
                )));
            }
        }
    }
    if stored_at.is_empty() {
        return Ok(());
    }
    Err(Problem::Fail(Failure::new(format!(
        "an `AT` line from a plain client connection was stored (WHATSAT serves it at {}): anyone who can connect can forge any client's location; accept AT only on an authenticated peer link",
        stored_at.join(", ")
    ))))
}

async fn future_time_refused(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (position, _, _) = unique_position();
    let line = format!("IAMAT {id} {position} {}", time_from_now(2 * DAY_NS));
    let expected = error_reply(line.as_bytes());
    let got = ctx.exchange(line.as_bytes(), Shape::Line).await?;
    if got.bytes == expected || expected.strip_suffix(b"\n") == Some(&got.bytes[..]) {
        return Ok(());
    }
    let message = if got.bytes.starts_with(b"AT ") {
        "an IAMAT two days ahead of now was accepted: a client with a far-future time is pinned, its later genuine updates never replace it; refuse times more than a day ahead"
    } else {
        "an IAMAT two days ahead of now did not get `? ` and a copy of the line"
    };
    Err(Problem::Fail(Failure::bytes(
        message, &expected, &got.bytes,
    )))
}
