//! The catalogue: every test, by section, and the checks several sections share (sending an
//! IAMAT and judging its AT reply field by field).

pub mod errors;
pub mod flood;
pub mod framing;
pub mod herd;
pub mod iamat;
pub mod places;
pub mod resilience;
pub mod whatsat;

use crate::expect::{self, diff_text, now_ns, parse_diff, time_text};
use crate::runner::{Ctx, Failure, Problem, Shape, TestCase};

/// Every test, in report order.
pub fn all() -> Vec<&'static TestCase> {
    [
        iamat::TESTS,
        whatsat::TESTS,
        places::TESTS,
        errors::TESTS,
        framing::TESTS,
        flood::TESTS,
        resilience::TESTS,
    ]
    .iter()
    .flat_map(|section| section.iter())
    .collect()
}

/// A position no other test uses, with 6 fractional digits whose last digit is not 0 (so only
/// the tests meant to catch a re-rendered position do), away from the poles and the zero-results
/// area. Returns the text and the numbers.
pub fn unique_position() -> (String, f64, f64) {
    let digits = |whole: u32| {
        let int = rand::random_range(0..whole);
        let frac = rand::random_range(0..100_000u32) * 10 + rand::random_range(1..10u32);
        (int, frac)
    };
    let (lat_i, lat_f) = digits(50);
    let (lng_i, lng_f) = digits(170);
    let lat_sign = if rand::random::<bool>() { '+' } else { '-' };
    let lng_sign = if rand::random::<bool>() { '+' } else { '-' };
    let text = format!("{lat_sign}{lat_i}.{lat_f:06}{lng_sign}{lng_i}.{lng_f:06}");
    // Parse the text, as a server would, so the numbers are bit-identical to what Places sees.
    let num = |sign: char, i: u32, f: u32| {
        let v: f64 = format!("{i}.{f:06}").parse().unwrap_or(f64::NAN);
        if sign == '-' { -v } else { v }
    };
    (
        text,
        num(lat_sign, lat_i, lat_f),
        num(lng_sign, lng_i, lng_f),
    )
}

/// A client time `offset_ns` from now, with 9 fractional digits.
pub fn time_from_now(offset_ns: i128) -> String {
    time_text(now_ns() + offset_ns)
}

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

/// Sends an IAMAT that a later step relies on; fails unless the reply is one `AT ` line, and
/// returns that line without its newline.
pub async fn setup_iamat(
    ctx: &Ctx,
    id: &str,
    position: &str,
    time: &str,
) -> Result<Vec<u8>, Problem> {
    let x = send_iamat(ctx, id, position, time).await?;
    let line = x.reply.strip_suffix(b"\n").unwrap_or(&x.reply);
    if !x.reply.starts_with(b"AT ") || !x.reply.ends_with(b"\n") || line.contains(&b'\n') {
        return Err(Problem::Fail(Failure {
            message: "setup failed: the IAMAT this test relies on did not get one AT line".into(),
            actual: Some(x.reply.clone()),
            ..Failure::default()
        }));
    }
    Ok(line.to_vec())
}

/// Judges the reply to an IAMAT (§2): `AT`, the server's name, a signed decimal difference within
/// tolerance of the true one, then the three operands byte for byte, one space apart, one `\n`.
/// Every deviation is named; the expected bytes reuse the actual difference when it is acceptable
/// so the first-difference marker points at the real problem.
pub fn check_at_reply(ctx: &Ctx, x: &IamatExchange) -> Result<(), Problem> {
    let (problems, expected) = at_reply_problems(ctx, x);
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

fn at_reply_problems(ctx: &Ctx, x: &IamatExchange) -> (Vec<String>, Vec<u8>) {
    let mut problems = Vec::new();
    let client_ns = expect::parse_time_ns(&x.time);
    let tolerance = i128::try_from(ctx.env.clock_tolerance.as_nanos()).unwrap_or(i128::MAX);
    let window = client_ns.map(|c| (x.sent_ns - c - tolerance, x.received_ns - c + tolerance));
    let mid = client_ns.map_or(0, |c| (x.sent_ns + x.received_ns) / 2 - c);
    let target_name = ctx.target().name.clone();

    let reply = &x.reply;
    let text = String::from_utf8_lossy(reply);
    let fields: Vec<&str> = text.trim_end_matches('\n').split(' ').collect();
    let mut diff_shown = diff_text(mid);
    let name_shown = target_name
        .clone()
        .or_else(|| fields.get(1).map(|s| (*s).to_owned()))
        .unwrap_or_default();

    if reply.starts_with(b"? ") {
        problems.push("a valid IAMAT was answered as invalid (`? `)".to_owned());
    } else if !reply.ends_with(b"\n") {
        problems.push("the reply does not end with a newline".to_owned());
    } else if reply.ends_with(b"\r\n") {
        problems.push("the reply ends with CRLF; it must end with a single \\n".to_owned());
    } else if text.trim_end_matches('\n').contains('\n') || reply.ends_with(b"\n\n") {
        problems.push("more than one line in reply to an IAMAT".to_owned());
    }
    if !reply.starts_with(b"? ") {
        let ws_fields = text.split_ascii_whitespace().count();
        if fields.len() != 6 {
            if ws_fields == 6 {
                problems.push("fields are not separated by exactly one space".to_owned());
            } else {
                problems.push(format!(
                    "expected 6 fields (AT, server, difference, client, position, time), got {ws_fields}"
                ));
            }
        } else {
            if fields[0] != "AT" {
                problems.push(format!("the reply starts with `{}`, not `AT`", fields[0]));
            }
            match &target_name {
                Some(name) if fields[1] != name => problems.push(format!(
                    "wrong server name `{}`: the server is `{name}`",
                    fields[1]
                )),
                _ if fields[1].is_empty() => problems.push("empty server name".to_owned()),
                _ => {}
            }
            match (parse_diff(fields[2]), window) {
                (Err(e), _) => problems.push(e),
                (Ok(d), Some((lo, hi))) if d.ns < lo || d.ns > hi => {
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
                (Ok(_), _) => diff_shown = fields[2].to_owned(),
            }
            copy_problem(&mut problems, "client ID", &x.id, fields[3]);
            copy_problem(&mut problems, "position", &x.position, fields[4]);
            copy_problem(&mut problems, "client time", &x.time, fields[5]);
        }
    }
    let expected = format!(
        "AT {name_shown} {diff_shown} {} {} {}\n",
        x.id, x.position, x.time
    );
    (problems, expected.into_bytes())
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

/// Splits an ISO 6709 position into two signed decimal strings.
fn split_position(text: &str) -> Option<(f64, f64)> {
    let second = text
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i)?;
    let lat: f64 = text[..second].parse().ok()?;
    let lng: f64 = text[second..].parse().ok()?;
    Some((lat, lng))
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
            assert!(!text.ends_with('0'));
        }
    }

    #[test]
    fn catalogue_ids_are_unique_and_sectioned() {
        let tests = all();
        let mut ids: Vec<&str> = tests.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate test IDs");
        for t in &tests {
            assert!(t.id.contains('/'), "{}", t.id);
            assert!(t.requirement.ends_with('.'), "{}", t.id);
        }
    }
}
