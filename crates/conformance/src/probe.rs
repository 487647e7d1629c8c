//! The probe of the primary server before the tests run: one IAMAT that shows it answers at all,
//! in which framing (`--framing auto` detects it), and under which name.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::expect::{now_ns, time_text};
use crate::runner::Framing;
use crate::wire::{Conn, End, Transcript, line_end};

/// `--framing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FramingChoice {
    /// Detect: line, or eof when the server answers only after half-close.
    Auto,
    Line,
    Eof,
}

/// How long the probe waits for a first byte in each framing it tries.
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Sends one IAMAT to learn in which framing the server answers and its name. A server that
/// accepts connections always gets a verdict: one that answers in neither framing is checked in
/// the chosen one (line, for auto), and every test then says what it got. Only an address that
/// refuses connections makes the suite give up.
pub(crate) async fn probe(
    addr: SocketAddr,
    choice: FramingChoice,
    timeout: Duration,
) -> Result<(Framing, Option<String>, &'static str), String> {
    let transcript = Arc::new(Transcript::default());
    let wait = PROBE_WAIT.min(timeout);
    let connect = || async {
        Conn::connect(addr, &transcript, Instant::now() + timeout)
            .await
            .map_err(|e| format!("{e}: is the server running there? (nothing to check)"))
    };
    let mut conn = connect().await?;
    let command = format!(
        "IAMAT conf-probe-{:06x} +0.000001+0.000001 {}",
        rand::random::<u32>() & 0xff_ffff,
        time_text(now_ns())
    );
    let name_of = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let mut fields = text.split_ascii_whitespace();
        (fields.next() == Some("AT"))
            .then(|| fields.next().map(str::to_owned))
            .flatten()
    };
    let io = |e: String| format!("probing {addr}: {e}");
    if choice == FramingChoice::Eof {
        conn.send(command.as_bytes()).await.map_err(io)?;
        conn.half_close().await.map_err(io)?;
        let got = probe_reply(&mut conn, wait).await;
        return Ok((Framing::Eof, name_of(&got), silent_note(&got)));
    }
    conn.send(format!("{command}\n").as_bytes())
        .await
        .map_err(io)?;
    let got = probe_reply(&mut conn, wait).await;
    if !got.is_empty() || choice == FramingChoice::Line {
        let note = if got.is_empty() {
            silent_note(&got)
        } else if !got.ends_with(b"\n") {
            " (its replies do not end with a newline; iamat/reply-shape and framing/line-client say so)"
        } else {
            ""
        };
        return Ok((Framing::Line, name_of(&got), note));
    }
    // Nothing to a line: does it answer once the client half-closes?
    if conn.half_close().await.is_err() {
        conn = connect().await?;
        conn.send(command.as_bytes()).await.map_err(io)?;
        conn.half_close().await.map_err(io)?;
    }
    let late = probe_reply(&mut conn, wait).await;
    if !late.is_empty() {
        return Ok((
            Framing::Eof,
            name_of(&late),
            " (detected: the server answered only after the client half-closed, so framing/line-client will fail)",
        ));
    }
    Ok((Framing::Line, None, silent_note(&late)))
}

/// Reads until a line ends, the server closes, or it has been quiet for a moment after some
/// bytes (a reply without newline), waiting at most `wait` for the first byte.
async fn probe_reply(conn: &mut Conn, wait: Duration) -> Vec<u8> {
    let got = conn
        .read_until(
            |b: &[u8]| (!b.is_empty()).then_some(b.len()),
            Instant::now() + wait,
        )
        .await;
    let mut bytes = got.bytes;
    if !bytes.is_empty() && !bytes.contains(&b'\n') && got.end == End::Complete {
        let rest = conn
            .read_until(line_end, Instant::now() + Duration::from_millis(300))
            .await;
        bytes.extend(rest.bytes);
    }
    bytes
}

/// The header's note for a server that answered the probe with nothing.
fn silent_note(got: &[u8]) -> &'static str {
    if got.is_empty() {
        " (the server accepted a connection but answered the probe IAMAT in neither framing; \
         every test runs and says what it got)"
    } else {
        ""
    }
}
