//! The suite's own reading of protocol.md: white space, `? ` copies, the time-difference grammar,
//! Google's JSON layout, and helpers to describe how two JSON values differ.
//!
//! Deliberately independent of `herd_wire`: the expectations are small and written from the spec
//! here, so a bug shared by the wire crate and the reference server cannot hide.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Protocol white space (§1): space, tab, CR, LF, FF, VT.
pub fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | 0x0c | 0x0b)
}

/// `bytes` without leading and trailing protocol white space.
pub fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The exact reply to an invalid line (§4): `? `, the line trimmed, a newline.
pub fn error_reply(line: &[u8]) -> Vec<u8> {
    let mut out = b"? ".to_vec();
    out.extend_from_slice(trim(line));
    out.push(b'\n');
    out
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// A client time with exactly 9 fractional digits.
pub fn time_text(ns: i128) -> String {
    format!(
        "{}.{:09}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000)
    )
}

/// Parses a client time the suite wrote (`digits[.digits]`) into nanoseconds.
pub fn parse_time_ns(text: &str) -> Option<i128> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let int: i128 = int.parse().ok()?;
    let frac: i128 = format!("{frac:0<9}").parse().ok()?;
    Some(int * 1_000_000_000 + frac)
}

/// A difference that passed the grammar `^[+-]\d+(\.\d+)?$`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Diff {
    /// Value in nanoseconds (digits past the 9th are dropped).
    pub ns: i128,
    /// How many fractional digits were printed.
    pub frac_digits: usize,
}

/// The value of a time difference whose sign is missing (`1.2`: positive) or doubled (`--1.2`:
/// negative), so the tests about the value judge it while the tests about the sign report the
/// sign. `None` when what follows the signs is not a plain decimal.
pub fn lenient_diff(text: &str) -> Option<Diff> {
    let digits = text.trim_start_matches(['+', '-']);
    let signs = &text[..text.len() - digits.len()];
    let sign = if signs.contains('-') { '-' } else { '+' };
    parse_diff(&format!("{sign}{digits}")).ok()
}

/// Checks a time difference against `^[+-]\d+(\.\d+)?$` (§2 MUST: explicit sign, decimal, no
/// exponent); the error names the deviation.
pub fn parse_diff(text: &str) -> Result<Diff, String> {
    let bytes = text.as_bytes();
    if bytes.len() >= 2 && matches!(bytes[0], b'+' | b'-') && matches!(bytes[1], b'+' | b'-') {
        return Err(format!(
            "doubled sign in the time difference `{text}` (a sign printed before an already signed number)"
        ));
    }
    let (negative, rest) = match bytes.first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => {
            return Err(format!(
                "no explicit sign on the time difference `{text}`: it must start with `+` or `-`"
            ));
        }
    };
    if rest.contains(['e', 'E']) {
        return Err(format!(
            "exponent notation in the time difference `{text}`: print a plain decimal"
        ));
    }
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (rest.contains('.') && !digits(frac)) {
        return Err(format!(
            "the time difference `{text}` is not a decimal number (want ^[+-]\\d+(\\.\\d+)?$)"
        ));
    }
    let int_value: i128 = int
        .parse()
        .map_err(|_| format!("time difference `{text}` is too large"))?;
    let kept: String = frac.chars().take(9).collect();
    let frac_value: i128 = format!("{kept:0<9}").parse().unwrap_or(0);
    let magnitude = int_value
        .checked_mul(1_000_000_000)
        .and_then(|v| v.checked_add(frac_value))
        .ok_or_else(|| format!("time difference `{text}` is too large"))?;
    Ok(Diff {
        ns: if negative { -magnitude } else { magnitude },
        frac_digits: frac.len(),
    })
}

/// Renders nanoseconds as a signed decimal with 9 digits (for showing expectations).
pub fn diff_text(ns: i128) -> String {
    let sign = if ns < 0 { '-' } else { '+' };
    let a = ns.abs();
    format!("{sign}{}.{:09}", a / 1_000_000_000, a % 1_000_000_000)
}

/// Renders `value` in Google's legacy layout: 3-space indent, `"key" : value`, empty containers as
/// `{}` / `[]`, arrays of scalars on one line as `[ a, b ]`, no trailing newline.
pub fn google_layout(value: &Value) -> String {
    let mut out = String::new();
    layout_into(&mut out, value, 0);
    out
}

fn layout_into(out: &mut String, value: &Value, depth: usize) {
    let pad = |out: &mut String, depth: usize| out.push_str(&"   ".repeat(depth));
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (key, member)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                pad(out, depth + 1);
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(" : ");
                layout_into(out, member, depth + 1);
            }
            out.push('\n');
            pad(out, depth);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            if items.iter().all(|v| !v.is_object() && !v.is_array()) {
                let inner: Vec<String> = items.iter().map(Value::to_string).collect();
                out.push_str(&format!("[ {} ]", inner.join(", ")));
            } else {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    pad(out, depth + 1);
                    layout_into(out, item, depth + 1);
                }
                out.push('\n');
                pad(out, depth);
                out.push(']');
            }
        }
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The first difference between two JSON values, as a path and what differs.
pub fn json_difference(expected: &Value, actual: &Value) -> Option<String> {
    json_differences(expected, actual).into_iter().next()
}

/// Most differences a report lists for one JSON value.
const DIFFERENCES_SHOWN: usize = 8;

/// Every difference between two JSON values (up to a few), each as a path and what differs:
/// missing and unexpected keys, differing scalars, arrays of another length. Numbers compare by
/// value (`1` equals `1.0`).
pub fn json_differences(expected: &Value, actual: &Value) -> Vec<String> {
    fn short(v: &Value) -> String {
        let s = v.to_string();
        if s.chars().count() > 60 {
            format!("{}…", s.chars().take(60).collect::<String>())
        } else {
            s
        }
    }
    fn walk(path: &str, e: &Value, a: &Value, out: &mut Vec<String>) {
        if out.len() >= DIFFERENCES_SHOWN {
            return;
        }
        match (e, a) {
            (Value::Object(em), Value::Object(am)) => {
                for (k, ev) in em {
                    match am.get(k) {
                        None => out.push(format!("{path}.{k}: missing (expected {})", short(ev))),
                        Some(av) => walk(&format!("{path}.{k}"), ev, av, out),
                    }
                }
                for k in am.keys().filter(|k| !em.contains_key(*k)) {
                    out.push(format!("{path}.{k}: not expected (got {})", short(&am[k])));
                }
            }
            (Value::Array(ev), Value::Array(av)) => {
                for (i, (x, y)) in ev.iter().zip(av).enumerate() {
                    walk(&format!("{path}[{i}]"), x, y, out);
                }
                if ev.len() != av.len() {
                    out.push(format!(
                        "{path}: {} elements expected, got {}",
                        ev.len(),
                        av.len()
                    ));
                }
            }
            (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => {}
            _ if e == a => {}
            _ => out.push(format!("{path}: expected {}, got {}", short(e), short(a))),
        }
    }
    let mut out = Vec::new();
    walk("$", expected, actual, &mut out);
    out.truncate(DIFFERENCES_SHOWN);
    out
}

/// A position's latitude and longitude, split at the second sign (`None`: not two numbers).
pub(crate) fn split_position(text: &str) -> Option<(f64, f64)> {
    let second = text
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i)?;
    let lat: f64 = text[..second].parse().ok()?;
    let lng: f64 = text[second..].parse().ok()?;
    Some((lat, lng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trimming_and_error_copies() {
        assert_eq!(trim(b" \t FOO  bar\x0b\x0c\r\n"), b"FOO  bar");
        assert_eq!(trim(b" \t "), b"");
        assert_eq!(error_reply(b"  FOO\tbar \r"), b"? FOO\tbar\n");
    }

    #[test]
    fn diff_grammar() {
        assert_eq!(parse_diff("+1.5").map(|d| d.ns), Ok(1_500_000_000));
        assert_eq!(parse_diff("-0.000000001").map(|d| d.ns), Ok(-1));
        assert_eq!(
            parse_diff("+12").map(|d| (d.ns, d.frac_digits)),
            Ok((12_000_000_000, 0))
        );
        assert_eq!(parse_diff("+1.1234567891").map(|d| d.frac_digits), Ok(10));
        for (bad, word) in [
            ("--1.2", "doubled sign"),
            ("1.2", "no explicit sign"),
            ("+1e3", "exponent"),
            ("+1.", "not a decimal"),
            ("+.5", "not a decimal"),
            ("+", "not a decimal"),
            ("+nan", "not a decimal"),
        ] {
            let err = parse_diff(bad).err().unwrap_or_default();
            assert!(err.contains(word), "{bad}: {err}");
        }
    }

    #[test]
    fn lenient_diffs_read_the_value_whatever_the_sign() {
        let ns = |t: &str| lenient_diff(t).map(|d| d.ns);
        assert_eq!(ns("1.5"), Some(1_500_000_000));
        assert_eq!(ns("--1.5"), Some(-1_500_000_000));
        assert_eq!(ns("+-1.5"), Some(-1_500_000_000));
        assert_eq!(ns("+1.5"), Some(1_500_000_000));
        assert_eq!(ns("+1e3"), None);
        assert_eq!(ns("nan"), None);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_ns("1.5"), Some(1_500_000_000));
        assert_eq!(parse_time_ns("12"), Some(12_000_000_000));
        assert_eq!(parse_time_ns("1.1234567890"), None);
        assert_eq!(time_text(1_500_000_001), "1.500000001");
        assert_eq!(diff_text(-1_500_000_000), "-1.500000000");
    }

    #[test]
    fn layout() {
        let v = json!({"a": [], "b": {}, "c": ["x", 1], "d": [{"e": true}], "f": 1.5});
        assert_eq!(
            google_layout(&v),
            "{\n   \"a\" : [],\n   \"b\" : {},\n   \"c\" : [ \"x\", 1 ],\n   \"d\" : [\n      {\n         \"e\" : true\n      }\n   ],\n   \"f\" : 1.5\n}"
        );
    }

    #[test]
    fn json_differences() {
        let e = json!({"results": [1, 2], "status": "OK"});
        assert_eq!(json_difference(&e, &e.clone()), None);
        assert_eq!(
            json_difference(&e, &json!({"results": [1, 2, 3], "status": "OK"})).as_deref(),
            Some("$.results: 2 elements expected, got 3")
        );
        assert_eq!(
            json_difference(&e, &json!({"results": [1, 2], "status": "NO"})).as_deref(),
            Some("$.status: expected \"OK\", got \"NO\"")
        );
    }
}
