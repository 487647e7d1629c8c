//! `whatsat/*`: the reply to WHATSAT (protocol.md §3) — the stored AT line, the Places JSON cut to
//! the bound, the newline rules, Google's layout, and Places errors passed through.
//!
//! The expected JSON is the stand-in's answer to the Places request the server made for the
//! WHATSAT, legacy or New (see [`crate::places_call`]), with its place list cut to the bound.

use std::time::Duration;

use serde_json::Value;

use crate::at_judge::setup_iamat;
use crate::case;
use crate::expect::google_layout;
use crate::fixtures::{position_with_signs, time_from_now, unique_position};
use crate::places_call::{self, Expected, expected_relay};
use crate::runner::{
    Ctx, Failure, Problem, Shape, TestCase, fail, same_update, same_update_and_position_bytes,
};

pub static TESTS: &[TestCase] = &[
    case!(
        "whatsat/at-line-stored",
        Must,
        [],
        "The first line of a WHATSAT reply is the AT line the client's IAMAT produced, byte for byte (not recomputed).",
        at_line_stored
    ),
    case!(
        "whatsat/json-value",
        Must,
        [],
        "The JSON equals the Places answer to the server's request for the client, its place list (`results`, or `places` for Places API (New)) cut to the bound.",
        json_value
    ),
    case!(
        "whatsat/bound-0",
        Must,
        [],
        "Bound 0 is valid and gives no places (`results` or `places` empty), the rest of the answer unchanged.",
        bound_0
    ),
    case!(
        "whatsat/bound-20",
        Must,
        [],
        "Bound 20 is valid and gives Google's 20 places.",
        bound_20
    ),
    case!(
        "whatsat/bound-above-count",
        Must,
        [],
        "A bound above the number of places found leaves them all (4 places for 1 km, bound 10).",
        bound_above_count
    ),
    case!(
        "whatsat/radius-50",
        Must,
        [],
        "Radius 50 (the maximum) is valid.",
        radius_50
    ),
    case!(
        "whatsat/fractional-radius",
        Should,
        [],
        "A fractional radius (`10.5`) is valid and answered (no crash, no `?`).",
        fractional_radius
    ),
    case!(
        "whatsat/two-final-newlines",
        Must,
        [],
        "The reply ends with the JSON followed by exactly two newlines.",
        two_final_newlines
    ),
    case!(
        "whatsat/no-blank-lines",
        Must,
        [],
        "Inside the reply, no run of two or more newlines appears before the final two.",
        no_blank_lines
    ),
    case!(
        "whatsat/google-layout",
        Should,
        [],
        "The JSON is laid out like Google's legacy answer: 3-space indent, `\"key\" : value` (not judged for Places API (New)).",
        google_layout_test
    ),
    case!(
        "whatsat/zero-results",
        Must,
        [],
        "An answer with no places (legacy `ZERO_RESULTS`, New `{}`) is passed through as it is.",
        zero_results
    ),
    case!(
        "whatsat/places-failure",
        Should,
        [Alone],
        "When Places fails (HTTP 500), the reply is still the AT line and a JSON object that is not a success answer: never `?`, never silence.",
        places_failure
    ),
    case!(
        "whatsat/keeps-newest",
        Must,
        [],
        "After an older IAMAT, WHATSAT still shows the newer one (older updates are dropped).",
        keeps_newest
    ),
    case!(
        "whatsat/newer-replaces",
        Must,
        [],
        "After a newer IAMAT, WHATSAT shows the newer AT line and position.",
        newer_replaces
    ),
    case!(
        "whatsat/white-space",
        Must,
        [],
        "Runs of spaces and tabs between WHATSAT fields are accepted.",
        white_space
    ),
    case!(
        "whatsat/position-plus-sign",
        Must,
        [],
        "The AT line of a WHATSAT reply keeps the position as sent, the longitude's `+` included (`-33.86+151.20`).",
        position_plus_sign
    ),
    case!(
        "whatsat/integer-position",
        Must,
        [],
        "A client whose IAMAT gave an integer position (`+34-118`) is answered by WHATSAT like any other.",
        integer_position
    ),
];

/// A client known to the server: its ID, position numbers and stored AT line.
struct Known {
    id: String,
    lat: f64,
    lng: f64,
    at_line: Vec<u8>,
}

async fn known_client(ctx: &Ctx) -> Result<Known, Problem> {
    let id = ctx.client_id("");
    let (position, lat, lng) = unique_position();
    let at_line = setup_iamat(ctx, &id, &position, &time_from_now(-1_000_000)).await?;
    Ok(Known {
        id,
        lat,
        lng,
        at_line,
    })
}

/// The whole reply the suite expects (Google layout, two final newlines).
fn expected_reply(at_line: &[u8], json: &Value) -> Vec<u8> {
    let mut out = at_line.to_vec();
    out.push(b'\n');
    out.extend_from_slice(google_layout(json).as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

/// Sends a WHATSAT and returns a non-`?` reply split into (first line, rest).
async fn whatsat(ctx: &Ctx, command: &str) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>), Problem> {
    whatsat_shaped(ctx, command, Shape::Whatsat).await
}

async fn whatsat_shaped(
    ctx: &Ctx,
    command: &str,
    shape: Shape,
) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>), Problem> {
    let reply = ctx.reply_to(command.as_bytes(), shape).await?;
    if reply.starts_with(b"? ") {
        return Err(Problem::Fail(Failure {
            message: format!("a valid WHATSAT was answered as invalid: `{command}`"),
            actual: Some(reply),
            ..Failure::default()
        }));
    }
    let split = reply
        .iter()
        .position(|&b| b == b'\n')
        .map_or(reply.len(), |i| i + 1);
    let first = reply[..split]
        .strip_suffix(b"\n")
        .unwrap_or(&reply[..split])
        .to_vec();
    let rest = reply[split..].to_vec();
    Ok((reply, first, rest))
}

/// Parses the JSON of a reply body (newlines around it ignored).
fn body_json(reply: &[u8], body: &[u8], expected: &[u8]) -> Result<Value, Problem> {
    let trimmed = crate::expect::trim(body);
    serde_json::from_slice(trimmed).map_err(|e| {
        Problem::Fail(Failure::bytes(
            format!("the text after the AT line is not one JSON value: {e}"),
            expected,
            reply,
        ))
    })
}

/// How much of the JSON a test judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// All of it: the tests about the JSON.
    Whole,
    /// Only the place list, which shows that the right client's position was searched: the
    /// tests about something else, so a deviation elsewhere in the JSON fails only the tests
    /// about the JSON.
    PlaceList,
    /// The answer's own keys, by value: a key the answer does not have is the finding of
    /// whatsat/json-value, not again of the tests about what the answer holds.
    AnswerKeys,
}

/// Fails unless the reply's JSON is `expected` by value (within `scope`); names every deviation.
fn check_json(
    reply: &[u8],
    body: &[u8],
    at_line: &[u8],
    expected: &Expected,
    scope: Scope,
) -> Result<(), Problem> {
    let expected_bytes = expected_reply_like(at_line, expected, body);
    let actual = body_json(reply, body, &expected_bytes)?;
    let judged = match scope {
        Scope::Whole => actual.clone(),
        Scope::PlaceList => {
            let key = expected.list_key();
            let mut only = expected.value.clone();
            if let (Value::Object(only), Some(list)) = (&mut only, actual.get(key)) {
                only.insert(key.to_owned(), list.clone());
            }
            only
        }
        Scope::AnswerKeys => {
            let mut known = actual.clone();
            if let (Value::Object(known), Value::Object(keys)) = (&mut known, &expected.value) {
                known.retain(|key, _| keys.contains_key(key));
            }
            known
        }
    };
    if expected.matches(&judged) {
        return Ok(());
    }
    let deviations = places_call::deviations(expected, &judged);
    let message = match deviations.as_slice() {
        [] => "the JSON differs from the Places answer".to_owned(),
        [one] if one.contains(" not cut to the bound") || one.starts_with("a spurious") => {
            one.clone()
        }
        many => format!(
            "the JSON differs from the Places answer to the server's request: {}",
            many.join("; ")
        ),
    };
    Err(Problem::Fail(Failure::bytes(
        message,
        &expected_bytes,
        reply,
    )))
}

/// The reply the suite expects, its JSON laid out like `actual_body` where the layout is not the
/// point (a Places API (New) answer has no layout of record), so the marked difference is a real
/// one.
fn expected_reply_like(at_line: &[u8], expected: &Expected, actual_body: &[u8]) -> Vec<u8> {
    if expected.api != mocks::PlacesApi::New {
        return expected_reply(at_line, &expected.value);
    }
    let indent = actual_body
        .split(|&b| b == b'\n')
        .find_map(|l| {
            let n = l.iter().take_while(|&&b| b == b' ').count();
            (n > 0).then_some(n)
        })
        .unwrap_or(2);
    let spaces = vec![b' '; indent];
    let mut json = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
    let mut serializer = serde_json::Serializer::with_formatter(&mut json, formatter);
    if serde::Serialize::serialize(&expected.value, &mut serializer).is_err() {
        return expected_reply(at_line, &expected.value);
    }
    [at_line, b"\n", &json, b"\n\n"].concat()
}

/// The JSON a WHATSAT for client `k` with `radius_km` and `bound` must relay, from the Places
/// request the server made for it.
async fn relay_for(
    ctx: &Ctx,
    k: &Known,
    radius_km: f64,
    bound: usize,
) -> Result<Expected, Problem> {
    let request = places_call::request_at(ctx, k.lat, k.lng).await;
    if request.is_none() {
        places_call::needs_stand_in_asked(ctx).await?;
    }
    Ok(expected_relay(
        request.as_ref(),
        (k.lat, k.lng),
        radius_km,
        bound,
    ))
}

/// One known client, one WHATSAT, JSON checked by value.
async fn judge_json(
    ctx: &Ctx,
    radius: &str,
    radius_km: f64,
    bound: usize,
    scope: Scope,
) -> Result<(), Problem> {
    let k = known_client(ctx).await?;
    let (reply, _, body) = whatsat(ctx, &format!("WHATSAT {} {radius} {bound}", k.id)).await?;
    let expected = relay_for(ctx, &k, radius_km, bound).await?;
    check_json(&reply, &body, &k.at_line, &expected, scope)
}

async fn at_line_stored(ctx: &Ctx) -> Result<(), Problem> {
    let k = known_client(ctx).await?;
    // Let the clock move on, so a recomputed difference cannot match by chance.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let (_, first, _) = whatsat(ctx, &format!("WHATSAT {} 10 3", k.id)).await?;
    if first == k.at_line {
        return Ok(());
    }
    Err(at_line_mismatch(&k.at_line, None, &first))
}

async fn position_plus_sign(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (position, _, _) = position_with_signs('-', '+');
    let at_line = setup_iamat(ctx, &id, &position, &time_from_now(-1_000_000)).await?;
    let (_, first, _) = whatsat(ctx, &format!("WHATSAT {id} 10 1")).await?;
    // The position's bytes (this test's point), not the rest of the line: a recomputed
    // difference is whatsat/at-line-stored's finding.
    if same_update_and_position_bytes(&first, &at_line) {
        return Ok(());
    }
    Err(at_line_mismatch(&at_line, None, &first))
}

async fn integer_position(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let position = format!(
        "+{}-{}",
        rand::random_range(1..80u32),
        rand::random_range(1..170u32)
    );
    let at_line = setup_iamat(ctx, &id, &position, &time_from_now(-1_000_000)).await?;
    let (_, first, _) = whatsat(ctx, &format!("WHATSAT {id} 10 1")).await?;
    // The update, not the line's bytes: a recomputed line is whatsat/at-line-stored's finding.
    if same_update(&first, &at_line) {
        return Ok(());
    }
    Err(at_line_mismatch(&at_line, None, &first))
}

/// Names how a WHATSAT's first line differs from the stored AT line `want` (`older`: the AT line
/// of an older IAMAT for the same client, when the test sent one).
fn at_line_mismatch(want: &[u8], older: Option<&[u8]>, got: &[u8]) -> Problem {
    let fields = |l: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(l)
            .split(' ')
            .map(str::to_owned)
            .collect()
    };
    let (w, g) = (fields(want), fields(got));
    let message = if older.is_some_and(|o| o == got) {
        "an older IAMAT replaced the newer one: WHATSAT shows the older AT line (updates older \
         than the stored one must be dropped)"
    } else if w.len() == 6 && g.len() == 6 && w[..4] == g[..4] && w[4] != g[4] && w[5] == g[5] {
        "the position in the AT line was re-rendered when answering WHATSAT: it must be the \
         stored line, the position byte for byte as the IAMAT sent it"
    } else if w.len() == 6 && g.len() == 6 && w[3..] == g[3..] {
        "the AT line was recomputed when answering WHATSAT (different difference or server \
         name): it must be the stored line the IAMAT produced, byte for byte"
    } else {
        "the first line of the WHATSAT reply is not the AT line of the client's newest IAMAT"
    };
    let mut expected = want.to_vec();
    expected.push(b'\n');
    let mut actual = got.to_vec();
    actual.push(b'\n');
    Problem::Fail(Failure::bytes(message, &expected, &actual))
}

async fn json_value(ctx: &Ctx) -> Result<(), Problem> {
    judge_json(ctx, "10", 10.0, 5, Scope::Whole).await
}

async fn bound_0(ctx: &Ctx) -> Result<(), Problem> {
    judge_json(ctx, "10", 10.0, 0, Scope::AnswerKeys).await
}

async fn bound_20(ctx: &Ctx) -> Result<(), Problem> {
    judge_json(ctx, "10", 10.0, 20, Scope::PlaceList).await
}

async fn bound_above_count(ctx: &Ctx) -> Result<(), Problem> {
    judge_json(ctx, "1", 1.0, 10, Scope::PlaceList).await
}

async fn radius_50(ctx: &Ctx) -> Result<(), Problem> {
    judge_json(ctx, "50", 50.0, 3, Scope::PlaceList).await
}

async fn fractional_radius(ctx: &Ctx) -> Result<(), Problem> {
    judge_json(ctx, "10.5", 10.5, 3, Scope::PlaceList).await
}

async fn two_final_newlines(ctx: &Ctx) -> Result<(), Problem> {
    let k = known_client(ctx).await?;
    let (reply, _, body) =
        whatsat_shaped(ctx, &format!("WHATSAT {} 5 2", k.id), Shape::WhatsatLinger).await?;
    let trailing = body.iter().rev().take_while(|&&b| b == b'\n').count();
    if trailing == 2 {
        return Ok(());
    }
    let json = body_json(&reply, &body, &reply)?;
    let expected = expected_reply(&k.at_line, &json);
    let message = match trailing {
        0 => "the reply does not end with a newline; it must end with the JSON and two newlines"
            .to_owned(),
        1 => "only one newline after the JSON; a WHATSAT reply ends with exactly two".to_owned(),
        n => format!(
            "{n} newlines after the JSON (an extra newline); a WHATSAT reply ends with exactly two"
        ),
    };
    // Compare the tails: the layout is another test's business.
    let mut expected_tail = json_tail(&expected);
    let actual_tail = json_tail(&reply);
    if expected_tail.is_empty() {
        expected_tail = expected;
    }
    Err(Problem::Fail(Failure::bytes(
        message,
        &expected_tail,
        &actual_tail,
    )))
}

/// The last line of the JSON and what follows it.
fn json_tail(reply: &[u8]) -> Vec<u8> {
    let end = reply.iter().rposition(|&b| b != b'\n').map_or(0, |i| i + 1);
    let start = reply[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    reply[start..].to_vec()
}

async fn no_blank_lines(ctx: &Ctx) -> Result<(), Problem> {
    let k = known_client(ctx).await?;
    let (reply, _, _) = whatsat(ctx, &format!("WHATSAT {} 10 4", k.id)).await?;
    let inner = reply.strip_suffix(b"\n\n").unwrap_or(&reply);
    let inner = inner.strip_suffix(b"\n").unwrap_or(inner);
    if let Some(at) = inner.windows(2).position(|w| w == b"\n\n") {
        let from = at.saturating_sub(40);
        return Err(Problem::Fail(Failure {
            message: format!(
                "a blank line at byte {at} inside the reply: runs of newlines in the JSON must be squeezed to one"
            ),
            actual: Some(reply[from..(at + 40).min(reply.len())].to_vec()),
            ..Failure::default()
        }));
    }
    Ok(())
}

async fn google_layout_test(ctx: &Ctx) -> Result<(), Problem> {
    let k = known_client(ctx).await?;
    let (reply, _, body) = whatsat(ctx, &format!("WHATSAT {} 10 2", k.id)).await?;
    let actual = body_json(&reply, &body, &reply)?;
    let got = String::from_utf8_lossy(crate::expect::trim(&body)).into_owned();
    let new_api = places_call::request_at(ctx, k.lat, k.lng)
        .await
        .is_some_and(|r| r.api == mocks::PlacesApi::New);
    if new_api {
        return Err(Problem::Skip(
            "the server calls Places API (New); the layout of record (§3) is the legacy API's"
                .into(),
        ));
    }
    let want = google_layout(&actual);
    if got == want {
        return Ok(());
    }
    let message = if got.contains("\n    \"") && !got.contains("\n   \"") {
        "the JSON uses a 4-space indent (json.dumps(indent=4)?); Google's layout is a 3-space indent with `\"key\" : value`"
    } else if got.contains("\": ") && !got.contains("\" : ") {
        "the JSON separates keys with `\": `; Google's layout writes `\"key\" : value` with a 3-space indent"
    } else {
        "the JSON is not in Google's layout (3-space indent, `\"key\" : value`, scalar arrays on one line)"
    };
    Err(Problem::Fail(Failure::bytes(
        message,
        want.as_bytes(),
        got.as_bytes(),
    )))
}

async fn zero_results(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (lat, lng) = mocks::ZERO_RESULTS_AREA.example;
    let position = format!("{lat:+.6}{lng:+.6}");
    let at_line = setup_iamat(ctx, &id, &position, &time_from_now(-1_000_000)).await?;
    let (reply, _, body) = whatsat(ctx, &format!("WHATSAT {id} 10 5")).await?;
    let k = Known {
        id,
        lat,
        lng,
        at_line,
    };
    let expected = relay_for(ctx, &k, 10.0, 5).await?;
    let empty = match expected.api {
        mocks::PlacesApi::New => expected.value.get("places").is_none(),
        _ => expected.value.get("status").and_then(Value::as_str) == Some("ZERO_RESULTS"),
    };
    if !empty {
        return fail("internal: the stand-in's zero-results area gave results");
    }
    check_json(&reply, &body, &k.at_line, &expected, Scope::AnswerKeys)
}

async fn places_failure(ctx: &Ctx) -> Result<(), Problem> {
    let k = known_client(ctx).await?;
    let stand_in = &ctx.env.stand_in;
    stand_in.set_failure(mocks::FailureMode::Http500).await;
    let got = ctx
        .exchange(format!("WHATSAT {} 10 5", k.id).as_bytes(), Shape::Whatsat)
        .await;
    stand_in.set_failure(mocks::FailureMode::None).await;
    let got = got?;
    crate::runner::no_reply_problem(&got, b"WHATSAT (Places answering HTTP 500)")?;
    let reply = got.bytes;
    let shape = "the AT line, then a JSON object that is not a success answer (legacy: `status` not `OK`; New: no `places`), then two newlines";
    if reply.starts_with(b"? ") {
        return Err(Problem::Fail(Failure {
            message: format!(
                "a Places failure was answered with `?`; the WHATSAT was valid, so the reply should be {shape}"
            ),
            actual: Some(reply),
            ..Failure::default()
        }));
    }
    let split = reply
        .iter()
        .position(|&b| b == b'\n')
        .map_or(reply.len(), |i| i + 1);
    let first = reply[..split]
        .strip_suffix(b"\n")
        .unwrap_or(&reply[..split]);
    let json: Option<Value> = serde_json::from_slice(crate::expect::trim(&reply[split..])).ok();
    let status = json
        .as_ref()
        .and_then(|j| j.get("status"))
        .and_then(Value::as_str);
    let problem = if !same_update(first, &k.at_line) {
        Some("its first line is not the client's stored AT line")
    } else if !json.as_ref().is_some_and(Value::is_object) {
        Some("no JSON object follows the AT line")
    } else if status == Some("OK") {
        Some("the JSON claims status OK")
    } else if json.as_ref().is_some_and(|j| j.get("places").is_some()) {
        Some("the JSON holds `places`, as a successful Places API (New) answer does")
    } else if !reply.ends_with(b"}\n\n") && !reply.ends_with(b"}") {
        // A reply with no newline at all is the server's way with every reply, which
        // whatsat/two-final-newlines and iamat/reply-shape report.
        Some("it does not end with the JSON and two newlines")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(Problem::Fail(Failure {
            message: format!(
                "when Places answers HTTP 500 the reply should be {shape}, but {problem}"
            ),
            actual: Some(reply),
            ..Failure::default()
        }));
    }
    Ok(())
}

async fn keeps_newest(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (new_pos, lat, lng) = unique_position();
    let (old_pos, _, _) = unique_position();
    let newer = setup_iamat(ctx, &id, &new_pos, &time_from_now(-1_000_000)).await?;
    let older = setup_iamat(ctx, &id, &old_pos, &time_from_now(-60_000_000_000)).await?;
    shows_newest(ctx, id, (lat, lng), newer, Some(&older)).await
}

async fn newer_replaces(ctx: &Ctx) -> Result<(), Problem> {
    let id = ctx.client_id("");
    let (old_pos, _, _) = unique_position();
    let (new_pos, lat, lng) = unique_position();
    setup_iamat(ctx, &id, &old_pos, &time_from_now(-60_000_000_000)).await?;
    let newer = setup_iamat(ctx, &id, &new_pos, &time_from_now(-1_000_000)).await?;
    shows_newest(ctx, id, (lat, lng), newer, None).await
}

/// A WHATSAT for `id` shows `newer` (the AT line of its newest IAMAT, at `lat, lng`) and the
/// places around that position; `older` is the AT line of an older IAMAT, when one was sent.
async fn shows_newest(
    ctx: &Ctx,
    id: String,
    (lat, lng): (f64, f64),
    newer: Vec<u8>,
    older: Option<&[u8]>,
) -> Result<(), Problem> {
    let (reply, first, body) = whatsat(ctx, &format!("WHATSAT {id} 10 2")).await?;
    if !same_update(&first, &newer) {
        return Err(at_line_mismatch(&newer, older, &first));
    }
    let k = Known {
        id,
        lat,
        lng,
        at_line: newer,
    };
    json_beside_judged_line(ctx, &reply, &body, &k, 2).await
}

/// For a test whose property is the AT line (judged before this) or the WHATSAT's acceptance:
/// the place list is checked too, unless the server asks Places elsewhere, which leaves the
/// test's own property judged and the JSON to places/endpoint's finding.
async fn json_beside_judged_line(
    ctx: &Ctx,
    reply: &[u8],
    body: &[u8],
    k: &Known,
    bound: usize,
) -> Result<(), Problem> {
    match relay_for(ctx, k, 10.0, bound).await {
        Ok(expected) => check_json(reply, body, &k.at_line, &expected, Scope::PlaceList),
        Err(Problem::Skip(_)) => Ok(()),
        Err(problem) => Err(problem),
    }
}

async fn white_space(ctx: &Ctx) -> Result<(), Problem> {
    let k = known_client(ctx).await?;
    let (reply, _, body) = whatsat(ctx, &format!(" \tWHATSAT\t {}  10 \t3 ", k.id)).await?;
    json_beside_judged_line(ctx, &reply, &body, &k, 3).await
}
