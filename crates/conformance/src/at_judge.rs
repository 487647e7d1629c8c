//! The AT reply to an IAMAT (protocol.md §2), judged aspect by aspect: its terminator, its
//! fields, the server's name, the time difference, and each copied operand.
//!
//! A test names the aspects it is about, and only those can fail it: a server that leaves the
//! newline off fails `iamat/reply-shape`, not every test that sends an IAMAT; one that rewrites
//! the position fails the position tests, not the time-difference ones. The fields are found
//! leniently for that (the last three are the operands, whatever comes between), so one
//! malformed field does not hide the others.

use crate::expect::{self, diff_text, now_ns, parse_diff, split_position};
use crate::runner::{Ctx, Failure, Problem, Shape, first_line};

/// One thing an AT reply can get wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aspect {
    /// One line, ended by a single `\n`.
    Terminator,
    /// No CR anywhere in the reply.
    NoCr,
    /// `AT` and six fields, one space apart.
    Fields,
    /// The server's own name.
    Name,
    /// The difference printed with one explicit sign, as a plain decimal.
    DiffSign,
    /// The difference's value within tolerance of the true one (read even with a missing or
    /// doubled sign, which is `DiffSign`'s finding).
    DiffValue,
    ClientId,
    Position,
    Time,
}

/// Every aspect: the whole reply.
pub const WHOLE: &[Aspect] = &[
    Aspect::Terminator,
    Aspect::NoCr,
    Aspect::Fields,
    Aspect::Name,
    Aspect::DiffSign,
    Aspect::DiffValue,
    Aspect::ClientId,
    Aspect::Position,
    Aspect::Time,
];

/// The three operands, copied byte for byte.
pub const OPERANDS: &[Aspect] = &[Aspect::ClientId, Aspect::Position, Aspect::Time];

/// An IAMAT as sent and what came back.
#[derive(Debug)]
pub struct IamatExchange {
    pub id: String,
    pub position: String,
    pub time: String,
    pub reply: Vec<u8>,
    /// Just before sending and just after the reply, in ns since the epoch.
    pub sent_ns: i128,
    pub received_ns: i128,
}

/// Sends `IAMAT id position time` and returns the reply (fails when there is none).
pub async fn send_iamat(
    ctx: &Ctx,
    id: &str,
    position: &str,
    time: &str,
) -> Result<IamatExchange, Problem> {
    send_iamat_raw(
        ctx,
        format!("IAMAT {id} {position} {time}").as_bytes(),
        id,
        position,
        time,
    )
    .await
}

/// Sends `command` (an IAMAT written however the test likes) for these operands.
pub async fn send_iamat_raw(
    ctx: &Ctx,
    command: &[u8],
    id: &str,
    position: &str,
    time: &str,
) -> Result<IamatExchange, Problem> {
    let sent_ns = now_ns();
    let reply = ctx.reply_to(command, Shape::Line).await?;
    Ok(IamatExchange {
        id: id.to_owned(),
        position: position.to_owned(),
        time: time.to_owned(),
        reply,
        sent_ns,
        received_ns: now_ns(),
    })
}

/// Sends an IAMAT that a later step relies on; fails unless the reply is an `AT ` line, and
/// returns that line without its terminator (how it ends is the framing tests' business).
pub async fn setup_iamat(
    ctx: &Ctx,
    id: &str,
    position: &str,
    time: &str,
) -> Result<Vec<u8>, Problem> {
    let x = send_iamat(ctx, id, position, time).await?;
    let line = first_line(&x.reply);
    if !line.starts_with(b"AT ") {
        return Err(Problem::Fail(Failure {
            message: "setup failed: the IAMAT this test relies on did not get an AT line".into(),
            actual: Some(x.reply.clone()),
            ..Failure::default()
        }));
    }
    Ok(line.to_vec())
}

/// Judges `aspects` of the reply to an IAMAT. Every deviation among them is named; the
/// expected bytes reuse the actual difference when it is acceptable, so the marked differences
/// point at the real problems.
pub fn check_at_reply(ctx: &Ctx, x: &IamatExchange, aspects: &[Aspect]) -> Result<(), Problem> {
    let (problems, expected) = at_reply_problems(ctx, x, aspects);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problem::Fail(Failure::bytes(
            problems.join("; "),
            &expected,
            &x.reply,
        )))
    }
}

fn at_reply_problems(ctx: &Ctx, x: &IamatExchange, aspects: &[Aspect]) -> (Vec<String>, Vec<u8>) {
    let on = |a: Aspect| aspects.contains(&a);
    let mut problems = Vec::new();
    let client_ns = expect::parse_time_ns(&x.time);
    let tolerance = i128::try_from(ctx.env.clock_tolerance.as_nanos()).unwrap_or(i128::MAX);
    let window = client_ns.map(|c| (x.sent_ns - c - tolerance, x.received_ns - c + tolerance));
    let mid = client_ns.map_or(0, |c| (x.sent_ns + x.received_ns) / 2 - c);
    let target_name = ctx.target().name.clone();

    let reply = &x.reply;
    let text = String::from_utf8_lossy(reply);
    let line = String::from_utf8_lossy(first_line(reply)).into_owned();
    let spaced: Vec<&str> = line.split(' ').collect();
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let mut diff_shown = diff_text(mid);
    let name_shown = target_name
        .clone()
        .or_else(|| fields.get(1).map(|s| (*s).to_owned()))
        .unwrap_or_default();

    if reply.starts_with(b"? ") {
        problems.push("a valid IAMAT was answered as invalid (`? `)".to_owned());
        return (problems, expected_line(&name_shown, &diff_shown, x));
    }
    if on(Aspect::Terminator) {
        if !reply.ends_with(b"\n") {
            problems.push(
                "the reply does not end with a newline (a line client waits for it forever)"
                    .to_owned(),
            );
        } else if text.trim_end_matches(['\n', '\r']).contains('\n') || reply.ends_with(b"\n\n") {
            problems.push("more than one line in reply to an IAMAT".to_owned());
        }
    }
    if on(Aspect::NoCr) && reply.contains(&b'\r') {
        problems.push("the reply carries a CR; it must end with a single \\n".to_owned());
    }
    if on(Aspect::Fields) {
        if fields.len() != 6 {
            // A course style (protocol.md §7): the whole command is echoed after the difference.
            let echoed = if fields.iter().skip(1).any(|f| *f == "IAMAT") {
                ": the reply echoes the command word `IAMAT`, which the AT line leaves out"
            } else {
                ""
            };
            problems.push(format!(
                "expected 6 fields (AT, server, difference, client, position, time), got {}{echoed}",
                fields.len()
            ));
        } else if spaced.len() != 6 {
            problems.push("fields are not separated by exactly one space".to_owned());
        }
        if fields.first() != Some(&"AT") {
            problems.push(format!(
                "the reply starts with `{}`, not `AT`",
                fields.first().unwrap_or(&"")
            ));
        }
    }
    if fields.len() < 6 {
        if !on(Aspect::Fields) {
            problems.push(format!(
                "the AT line has {} fields, too few to find the {}",
                fields.len(),
                aspects_named(aspects)
            ));
        }
        return (problems, expected_line(&name_shown, &diff_shown, x));
    }
    if on(Aspect::Name) {
        match &target_name {
            Some(name) if fields[1] != name => problems.push(format!(
                "wrong server name `{}`: the server is `{name}`",
                fields[1]
            )),
            _ => {}
        }
    }
    let strict = parse_diff(fields[2]);
    let value = expect::lenient_diff(fields[2]);
    match (&strict, &value) {
        (Err(e), _) if on(Aspect::DiffSign) => problems.push(e.clone()),
        // Not a number at all: its value cannot be judged either.
        (Err(e), None) if on(Aspect::DiffValue) => problems.push(e.clone()),
        _ => {}
    }
    let off = value
        .zip(window)
        .is_some_and(|(d, (lo, hi))| d.ns < lo || d.ns > hi);
    if let (true, Some((lo, hi))) = (off && on(Aspect::DiffValue), window) {
        problems.push(format!(
            "time difference {} is off: the true difference was between {} and {} \
             (± {} s clock tolerance){}",
            fields[2],
            diff_text(lo + tolerance),
            diff_text(hi - tolerance),
            ctx.env.clock_tolerance.as_secs_f64(),
            if x.time.len() > 25 {
                "; was the client time rounded through a float?"
            } else {
                ""
            }
        ));
    }
    if !off && value.is_some() && strict.is_ok() {
        diff_shown = fields[2].to_owned();
    }
    let operands = &fields[fields.len() - 3..];
    if on(Aspect::ClientId) {
        copy_problem(&mut problems, "client ID", &x.id, operands[0]);
    }
    if on(Aspect::Position) {
        copy_problem(&mut problems, "position", &x.position, operands[1]);
    }
    if on(Aspect::Time) {
        copy_problem(&mut problems, "client time", &x.time, operands[2]);
    }
    (problems, expected_line(&name_shown, &diff_shown, x))
}

fn expected_line(name: &str, diff: &str, x: &IamatExchange) -> Vec<u8> {
    format!("AT {name} {diff} {} {} {}\n", x.id, x.position, x.time).into_bytes()
}

fn aspects_named(aspects: &[Aspect]) -> String {
    let names: Vec<&str> = aspects
        .iter()
        .map(|a| match a {
            Aspect::Terminator | Aspect::NoCr | Aspect::Fields => "line",
            Aspect::Name => "server name",
            Aspect::DiffSign | Aspect::DiffValue => "time difference",
            Aspect::ClientId => "client ID",
            Aspect::Position => "position",
            Aspect::Time => "client time",
        })
        .collect();
    names.join(", ")
}

/// Names an operand that was not copied byte for byte, and says when it was re-rendered.
fn copy_problem(problems: &mut Vec<String>, what: &str, sent: &str, got: &str) {
    if sent == got {
        return;
    }
    let rerendered = match what {
        "position" => same_position_value(sent, got),
        "client time" => numbers_close(sent, got),
        _ => false,
    };
    if rerendered {
        problems.push(format!(
            "{what} re-rendered from numbers: sent `{sent}`, got `{got}` (same value, different text); \
             copy the operand byte for byte"
        ));
    } else {
        problems.push(format!(
            "{what} not copied byte for byte: sent `{sent}`, got `{got}`"
        ));
    }
}

fn same_position_value(sent: &str, got: &str) -> bool {
    match (split_position(sent), split_position(got)) {
        (Some((a, b)), Some((c, d))) => (a - c).abs() < 1e-6 && (b - d).abs() < 1e-6,
        _ => false,
    }
}

fn numbers_close(sent: &str, got: &str) -> bool {
    match (sent.parse::<f64>(), got.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() <= a.abs() * 1e-12 + 1e-6,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::split_position;
    use crate::fixtures::unique_position;

    #[test]
    fn positions() {
        assert_eq!(
            split_position("+34.068930-118.445127"),
            Some((34.06893, -118.445127))
        );
        assert_eq!(split_position("-33+151"), Some((-33.0, 151.0)));
        assert!(same_position_value(
            "+34.068930-118.445127",
            "+34.06893-118.445127"
        ));
        assert!(same_position_value("+34-118", "+34.0-118.0"));
        assert!(!same_position_value("+34-118", "+35-118"));
        for _ in 0..100 {
            let (text, lat, lng) = unique_position();
            assert_eq!(split_position(&text), Some((lat, lng)), "{text}");
        }
    }
}
