//! Talking to any server of the herd by name: its address, an IAMAT whose AT line a later step
//! needs, and asking what a server knows of a client. Both the flood checks and the runner's
//! warm-up stand on these.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::context::{Ctx, Shape};
use super::outcome::{Failure, Problem};
use crate::patience::Alive;
use crate::shown::escape;
use crate::wire::End;
use herd_spawn::Spawner;

/// The address of server `name`.
pub fn addr(ctx: &Ctx, name: &str) -> Result<SocketAddr, Problem> {
    ctx.topology()?.address(name).ok_or_else(|| {
        Problem::Fail(Failure::new(format!(
            "`{name}` is not a server of the herd"
        )))
    })
}

/// The herd's server names.
pub fn names(ctx: &Ctx) -> Result<Vec<String>, Problem> {
    Ok(ctx.topology()?.names().to_vec())
}

/// Process control, or why the test cannot run.
pub fn procs(ctx: &Ctx) -> Result<&Arc<Spawner>, Problem> {
    ctx.env
        .procs
        .as_ref()
        .ok_or_else(|| Problem::Skip("needs to stop and start servers: run with --spawn".into()))
}

/// The first line of a reply, without its `\n`: what an IAMAT or WHATSAT answered, however the
/// reply ended (its newline, the server's close in eof framing, or a quiet period from a server
/// that leaves its lines unterminated — the tests about line endings judge that, not this).
pub fn first_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = &bytes[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Sends `IAMAT client position time` to `server`; returns its AT line (without terminator).
pub async fn iamat_at(
    ctx: &Ctx,
    server: &str,
    client: &str,
    position: &str,
    time: &str,
) -> Result<Vec<u8>, Problem> {
    let command = format!("IAMAT {client} {position} {time}");
    let deadline = Instant::now() + ctx.env.timeout;
    let got = ctx
        .exchange_with(
            addr(ctx, server)?,
            command.as_bytes(),
            Shape::Line,
            deadline,
        )
        .await
        .map_err(|e| Problem::Fail(Failure::new(format!("{server}: {e}"))))?;
    let line = first_line(&got.bytes);
    if !line.starts_with(b"AT ") {
        let why = match &got.end {
            _ if !got.bytes.is_empty() => "see the actual bytes".to_owned(),
            End::Eof => "it closed the connection without replying".to_owned(),
            End::Unresponsive { .. } => "it answers nothing, not even a probe".to_owned(),
            _ => "no reply".to_owned(),
        };
        return Err(Problem::Fail(Failure {
            message: format!("{server} did not answer `{command}` with an AT line ({why})"),
            actual: Some(got.bytes.clone()),
            ..Failure::default()
        }));
    }
    Ok(line.to_vec())
}

/// What a server says about a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The AT line it serves.
    Known(Vec<u8>),
    /// `? WHATSAT ...`: it has not heard of the client.
    Unknown,
    /// No usable reply (why).
    Unavailable(String),
}

/// Asks `server` for `client` with `WHATSAT client 1 1`; keeps the AT line. The server gets the
/// per-test timeout to answer, whatever the flood deadline.
pub async fn ask(ctx: &Ctx, server: SocketAddr, client: &str) -> Answer {
    let command = format!("WHATSAT {client} 1 1");
    let deadline = Instant::now() + ctx.env.timeout;
    match ctx
        .poll_with(server, command.as_bytes(), Shape::Poll, deadline)
        .await
    {
        Err(e) => Answer::Unavailable(e),
        Ok(got) if got.bytes.starts_with(b"? ") => Answer::Unknown,
        Ok(got) if got.bytes.starts_with(b"AT ") => Answer::Known(first_line(&got.bytes).to_vec()),
        Ok(got) if got.bytes.is_empty() => Answer::Unavailable(format!(
            "no reply to `{command}` ({})",
            match got.end {
                End::Eof => "connection closed",
                End::Unresponsive { .. } => "it answers nothing, not even a probe",
                End::Silent { .. } => "silent, while it answers a probe IAMAT",
                End::PlacesStalled { .. } =>
                    "nor to a probe WHATSAT, while it answers IAMAT: its WHATSATs wait on \
                     something outside it, most likely its Places request",
                _ => "timed out",
            }
        )),
        Ok(got) => Answer::Unavailable(format!(
            "unexpected reply to `{command}`: {}",
            escape(&got.bytes[..got.bytes.len().min(80)])
        )),
    }
}

/// Whether the server at `address` is busy now: a slow WHATSAT may be its Places request, so a
/// test that calls a slow reply a busy server confirms it with a probe IAMAT (never flooded: the
/// same client and an old time each time). True when the probe takes longer than `limit` or
/// gets no answer; false when the suite does not pace its reads.
pub async fn busy_now(ctx: &Ctx, address: SocketAddr, limit: Duration) -> bool {
    match ctx.env.paces.of(address) {
        None => false,
        Some(pace) => match pace.alive_now().await {
            Alive::Answered(rtt) => rtt > limit,
            Alive::NoAnswer(_) => true,
        },
    }
}

/// The update an AT line carries: its last three fields (client, position, client time), which
/// a server must copy byte for byte whatever it does to the rest of the line.
pub fn update_of(line: &[u8]) -> Option<[&[u8]; 3]> {
    let fields: Vec<&[u8]> = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .collect();
    match fields.as_slice() {
        [.., client, position, time] if fields.len() >= 6 => Some([client, position, time]),
        _ => None,
    }
}

/// Whether two AT lines carry the same update (whatever their server name or difference): the
/// same client and client time, and the same position, byte for byte or re-rendered (`+34.50`
/// as `34.5`, a `+` dropped). A re-rendered position is the finding of the tests about the line
/// (whatsat/at-line-stored, whatsat/position-plus-sign), not of every test that looks an update
/// up through WHATSAT.
pub fn same_update(a: &[u8], b: &[u8]) -> bool {
    match (update_of(a), update_of(b)) {
        (Some([client_a, position_a, time_a]), Some([client_b, position_b, time_b])) => {
            client_a == client_b && time_a == time_b && same_position(position_a, position_b)
        }
        _ => false,
    }
}

/// Like [`same_update`], with the position's bytes unchanged (not re-rendered): for the tests
/// whose point is the position's text, or that must tell a re-rendered position from the rest.
pub fn same_update_and_position_bytes(a: &[u8], b: &[u8]) -> bool {
    fn position(line: &[u8]) -> Option<&[u8]> {
        update_of(line).map(|[_, position, _]| position)
    }
    same_update(a, b) && position(a) == position(b)
}

/// The same position: the same bytes, the same bytes but for `+` signs, or the same numbers.
fn same_position(a: &[u8], b: &[u8]) -> bool {
    let unsigned = |p: &[u8]| -> Vec<u8> { p.iter().copied().filter(|&c| c != b'+').collect() };
    let value = |p: &[u8]| {
        std::str::from_utf8(p)
            .ok()
            .and_then(crate::expect::split_position)
    };
    a == b
        || unsigned(a) == unsigned(b)
        || matches!((value(a), value(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_compared_by_their_operands() {
        let line = b"AT Riley +0.5 kiwi +34.1-118.2 1621464827.959498503";
        assert_eq!(
            update_of(line),
            Some([&b"kiwi"[..], b"+34.1-118.2", b"1621464827.959498503"])
        );
        assert!(same_update(
            line,
            b"AT Jaquez -0.000001 kiwi +34.1-118.2 1621464827.959498503"
        ));
        // An echoed IAMAT word does not hide the update.
        assert!(same_update(
            line,
            b"AT Riley +0.5 IAMAT kiwi +34.1-118.2 1621464827.959498503"
        ));
        assert!(!same_update(
            line,
            b"AT Riley +0.5 kiwi +34.1-118.3 1621464827.959498503"
        ));
        // A re-rendered position is still the same update.
        for rendered in [&b"34.1-118.2"[..], b"+34.10-118.20", b"+34.1-118.2000"] {
            let other = [
                &b"AT Riley +0.5 kiwi "[..],
                rendered,
                b" 1621464827.959498503",
            ]
            .concat();
            assert!(same_update(line, &other), "{rendered:?}");
        }
        assert!(same_update(
            b"AT R +0.5 k -7.959104+50.827541 1.5",
            b"AT R +0.5 k -7.95910450.827541 1.5"
        ));
        assert!(!same_update(
            line,
            b"AT Riley +0.5 kiwi +34.1-118.2 1621464827.959498504"
        ));
        assert_eq!(update_of(b"AT Riley kiwi"), None);
        assert_eq!(first_line(b"AT x\r\nrest"), b"AT x");
        assert_eq!(first_line(b"AT x"), b"AT x");
    }
}
